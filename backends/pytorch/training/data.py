"""Training data: image folders (one per class) or .npz arrays, read once into memory.

Images are decoded, resized and centre-cropped exactly as `cnndsl run --input` does, so a trained
network sees the same pixels at training time and when it is run. An image that cannot be decoded
is skipped with a warning naming it (one bad file in thousands should not cost a run); a folder
with no readable image at all is an error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnndsl.commands.run_inputs import IMAGE_SUFFIXES, IMAGENET_MEAN, IMAGENET_STD, read_image
from cnndsl.errors import CnnError, CnnUsageError

from .config import TrainingConfig

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Examples:
    """Inputs (uint8 pixels or float arrays, N x C x H x W) and their targets, in memory."""

    inputs: torch.Tensor
    targets: torch.Tensor  # int64 class indices (N,), or float targets shaped like the output
    classes: tuple[str, ...] | None  # the class folder names, in index order
    origin: str

    def __len__(self) -> int:
        return len(self.inputs)

    def subset(self, indices: torch.Tensor) -> Examples:
        return Examples(self.inputs[indices], self.targets[indices], self.classes, self.origin)


@dataclass(frozen=True)
class Normalization:
    """Applied to each batch on the device: pixels to 0-1, then (x - mean) / std per channel."""

    scale: float  # 1/255 for uint8 pixels, 1 for float arrays
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.float()
        if self.scale != 1:
            batch = batch * self.scale
        if self.mean is not None and self.std is not None:
            shape = (1, -1) + (1,) * (batch.dim() - 2)
            mean = torch.tensor(self.mean, device=batch.device).view(shape)
            std = torch.tensor(self.std, device=batch.device).view(shape)
            batch = (batch - mean) / std
        return batch


class AugmentedExamples(torch.utils.data.Dataset):
    """A torch Dataset over in-memory examples with random crop (after padding) and flip.

    The random numbers come from torch's generator of the process that fetches the item; the
    loop reseeds it every epoch (and DataLoader seeds its workers from the epoch's generator),
    so a resumed run draws the same crops and flips as an uninterrupted one.
    """

    def __init__(self, examples: Examples, crop_padding: int = 0, flip: bool = False):
        self.examples = examples
        self.crop_padding = crop_padding
        self.flip = flip

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.examples.inputs[index]
        if self.crop_padding:
            pad = self.crop_padding
            height, width = x.shape[-2:]
            padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
            top, left = (int(value) for value in torch.randint(0, 2 * pad + 1, (2,)))
            x = padded[..., top : top + height, left : left + width]
        if self.flip and bool(torch.rand(()) < 0.5):
            x = x.flip(-1)
        return x, self.examples.targets[index]


def read_data(
    config: TrainingConfig, input_shape: tuple[int, ...], warn: Warn
) -> tuple[Examples, Examples | None]:
    """The training and validation examples the config names (validation may be None)."""
    train, val = _read_source(Path(config.data), input_shape, warn, allow_split_folders=True)
    if config.val_data is not None:
        val, _ = _read_source(Path(config.val_data), input_shape, warn, allow_split_folders=False)
    if val is None and config.val_fraction > 0 and len(train) > 1:
        train, val = split(train, config.val_fraction, config.seed)
    if val is not None and train.classes is not None and val.classes is not None:
        val = _relabel(val, train.classes)
    return train, val


def split(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """Hold out `fraction` of the examples, chosen by a permutation seeded with `seed`."""
    order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(seed))
    held_out = min(len(examples) - 1, max(1, round(len(examples) * fraction)))
    return examples.subset(order[held_out:].sort().values), examples.subset(order[:held_out].sort().values)


def normalization(config: TrainingConfig, train: Examples) -> Normalization:
    """Pixels get `cnndsl run`'s defaults (none for grey, ImageNet's for RGB); float arrays get
    only what is asked for."""
    channels = train.inputs.shape[1]
    pixels = train.inputs.dtype == torch.uint8
    mean, std = config.mean, config.std
    if pixels and mean is None and std is None:
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,), (1.0,))
    if not config.normalize:
        mean = std = None
    if mean is not None or std is not None:
        mean, std = (
            _per_channel(mean or (0.0,), channels, "--mean"),
            _per_channel(std or (1.0,), channels, "--std"),
        )
    return Normalization(1 / 255 if pixels else 1.0, mean, std)


def _per_channel(values: tuple[float, ...], channels: int, option: str) -> tuple[float, ...]:
    if len(values) == 1:
        return tuple(values) * channels
    if len(values) != channels:
        raise CnnUsageError(f"{option} needs 1 or {channels} values, found {len(values)}")
    return tuple(values)


# ----- reading ----------------------------------------------------------------------------------
def _read_source(
    path: Path, input_shape: tuple[int, ...], warn: Warn, allow_split_folders: bool
) -> tuple[Examples, Examples | None]:
    if path.is_file() and path.suffix.lower() == ".npz":
        return read_arrays(path, input_shape), None
    if not path.is_dir():
        raise CnnUsageError(f"--data must be an image folder or an .npz file, and {path} is neither")
    if allow_split_folders and (path / "train").is_dir() and _subfolders(path / "train"):
        train = read_folder(path / "train", input_shape, warn)
        val = read_folder(path / "val", input_shape, warn) if (path / "val").is_dir() else None
        return train, val
    return read_folder(path, input_shape, warn), None


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_folder(folder: Path, input_shape: tuple[int, ...], warn: Warn) -> Examples:
    """FOLDER/CLASS/*.png (any image suffix) as uint8 pixels of the input shape and class indices."""
    if len(input_shape) != 3 or input_shape[0] not in (1, 3):
        raise CnnUsageError(
            f"image folders need a network with a 1- or 3-channel CxHxW input, but this one takes "
            f"{'x'.join(map(str, input_shape))}; give the data as an .npz file instead"
        )
    classes = _subfolders(folder)
    if not classes:
        raise CnnError(
            f"{folder} has no class folders: expected {folder}/CLASS/IMAGE.png, one folder per class"
        )
    as_read = argparse.Namespace(resize=None, no_normalize=True, mean=None, std=None)
    images, labels = [], []
    for index, class_folder in enumerate(classes):
        for file in sorted(class_folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
                continue
            try:
                pixels = read_image(file, input_shape, as_read)[0]
            except CnnError as error:
                warn(f"skipping {file}: {error.message}")
                continue
            images.append(np.rint(pixels * 255).astype(np.uint8))
            labels.append(index)
    if not images:
        raise CnnError(
            f"no readable images in {folder} (looked for {', '.join(sorted(IMAGE_SUFFIXES))} "
            f"files in {len(classes)} class folders)"
        )
    return Examples(
        torch.from_numpy(np.stack(images)),
        torch.tensor(labels, dtype=torch.int64),
        tuple(p.name for p in classes),
        str(folder),
    )


def read_arrays(path: Path, input_shape: tuple[int, ...]) -> Examples:
    """`x` (N x C x H x W, or N x H x W for one channel; uint8 is read as pixels) and `y` from an .npz."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ("x", "y") if key not in archive.files]
            if missing:
                raise CnnError(f"{path} has no array '{missing[0]}' (it holds: {', '.join(archive.files)})")
            x, y = archive["x"], archive["y"]
    except (OSError, ValueError, EOFError) as error:
        raise CnnError(f"cannot read {path} as .npz (pickled arrays are refused): {error}") from None
    if x.ndim == len(input_shape) and input_shape[0] == 1:
        x = x[:, None]  # grey images written without their channel axis
    if x.shape[1:] != tuple(input_shape) or len(x) == 0:
        raise CnnError(
            f"{path}: 'x' has shape {tuple(x.shape)}, but the network takes "
            f"{'x'.join(map(str, input_shape))} inputs: expected (N, {', '.join(map(str, input_shape))})"
        )
    if len(y) != len(x):
        raise CnnError(f"{path}: 'x' holds {len(x)} examples but 'y' holds {len(y)}")
    if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)):
        raise CnnError(f"{path}: 'x' and 'y' must hold numbers, found {x.dtype} and {y.dtype}")
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.uint8 if x.dtype == np.uint8 else np.float32))
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1:
        targets = torch.from_numpy(y.astype(np.int64))
    else:
        targets = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))
    return Examples(inputs, targets, None, str(path))


def _relabel(val: Examples, classes: tuple[str, ...]) -> Examples:
    """Validation labels in the training folders' numbering; a class training never saw is an error."""
    unknown = sorted(set(val.classes or ()) - set(classes))
    if unknown:
        raise CnnError(f"{val.origin} has the class folder '{unknown[0]}', which the training data lacks")
    mapping = torch.tensor([classes.index(name) for name in val.classes or ()], dtype=torch.int64)
    return Examples(val.inputs, mapping[val.targets], classes, val.origin)

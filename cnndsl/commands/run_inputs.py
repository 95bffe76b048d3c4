"""`cnndsl run`'s input files: sizes are checked from headers before any data is read.

An .npy header, an image's dimensions and a labels file's size are all known before the data:
a 1 KB file must not make the command allocate gigabytes, and a FIFO must not make it wait.
"""

from __future__ import annotations

import argparse
import os
import stat
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

from ..errors import CnnUsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
# torchvision's ImageNet statistics: what pretrained 3-channel classifiers expect by default.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LABELS_LIMIT = 16 * 2**20  # ImageNet's 1,000 class names take 30 KB


def regular_file(path: Path, what: str) -> None:
    """A CnnUsageError unless `path` is a regular file (not a folder, FIFO or device)."""
    if not path.exists():
        raise CnnUsageError(f"no such {what} file: {path}")
    if not path.is_file():
        raise CnnUsageError(f"{what} {path} is not a regular file")


def input_batch(path: Path, shape: tuple[int, ...]) -> int:
    """How many inputs the file holds, from its header alone: the run's batch size."""
    regular_file(path, "input")
    if path.suffix.lower() == ".npy":
        return _batch_of(_array_header(path), path, shape)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return 1
    raise CnnUsageError(f"--input must be an .npy array or an image ({', '.join(sorted(IMAGE_SUFFIXES))})")


def read_input(path: Path, shape: tuple[int, ...], args: argparse.Namespace) -> Any:
    """An (N, *shape) float32 batch from an .npy array or an image (after `input_batch` checked it)."""
    if path.suffix.lower() == ".npy":
        return read_array(path, shape)
    return read_image(path, shape, args)


def _array_header(path: Path) -> tuple[tuple[int, ...], Any]:
    """The .npy file's shape and dtype, refused if its data would not fit in the file."""
    import numpy as np

    from ..backends.numpy_engine.weights import read_npy_header

    try:
        with path.open("rb") as handle:
            shape, dtype = read_npy_header(handle, str(path))
            data_bytes = os.fstat(handle.fileno()).st_size - handle.tell()
    except (OSError, ValueError, EOFError) as error:
        raise CnnUsageError(f"cannot read {path} as .npy (pickled arrays are refused): {error}") from None
    declared = dtype.itemsize
    for size in shape:
        declared *= size
    if declared > data_bytes:
        raise CnnUsageError(
            f"{path} declares an array of shape {shape} ({declared:,} bytes) but holds {data_bytes:,} "
            "bytes of data: the file is truncated or damaged"
        )
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_) or np.issubdtype(dtype, np.complexfloating):
        raise CnnUsageError(f"{path} holds {dtype} values; expected real numbers")
    return shape, dtype


def _batch_of(header: tuple[tuple[int, ...], Any], path: Path, shape: tuple[int, ...]) -> int:
    found = header[0]
    if found == tuple(shape) or (shape[0] == 1 and found == tuple(shape[1:])):
        return 1  # one input, or a grey image written without its channel axis
    if len(found) == len(shape) + 1 and found[1:] == tuple(shape) and found[0] >= 1:
        return found[0]
    dims = "x".join(str(d) for d in shape)
    raise CnnUsageError(
        f"{path} holds an array of shape {found}, but the network expects {dims} "
        f"inputs: an array of shape {tuple(shape)} or (N, {', '.join(str(d) for d in shape)})"
    )


def read_array(path: Path, shape: tuple[int, ...]) -> Any:
    """An (N, *shape) float32 batch from an .npy file holding a batch, one input, or a grey HxW."""
    import numpy as np

    _batch_of(_array_header(path), path, shape)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise CnnUsageError(f"cannot read {path} as .npy (pickled arrays are refused): {error}") from None
    if array.shape == tuple(shape):
        array = array[None]
    elif array.shape == tuple(shape[1:]):
        array = array[None, None]
    return np.ascontiguousarray(array, dtype=np.float32)


def image_crop_box(size: tuple[int, int], target: tuple[int, int], resize: int | None) -> tuple[float, ...]:
    """The region of the image that scaling the shorter side to `resize` (default: the larger of
    the target's sides) then centre-cropping to `target` (width, height) keeps, in the image's
    own pixels: resizing only that region needs memory for the crop, whatever the aspect ratio."""
    width, height = target
    shorter = resize or max(height, width)
    scale = shorter / min(size)
    resized = (max(width, round(size[0] * scale)), max(height, round(size[1] * scale)))
    left, top = (resized[0] - width) // 2, (resized[1] - height) // 2
    x_scale, y_scale = size[0] / resized[0], size[1] / resized[1]
    return (left * x_scale, top * y_scale, (left + width) * x_scale, (top + height) * y_scale)


def read_image(path: Path, shape: tuple[int, ...], args: argparse.Namespace) -> Any:
    """Decode, resize the shorter side, centre-crop to the input size, scale to 0-1, normalise."""
    import numpy as np

    from ..plugins import require_module

    if len(shape) != 3 or shape[0] not in (1, 3):
        raise CnnUsageError(f"images need a 1- or 3-channel CxHxW input, but the network takes {shape}")
    image_module = require_module("PIL.Image", "numpy")
    channels, height, width = shape
    bombs = (image_module.DecompressionBombError, image_module.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89M and 179M pixels; here that is an error too.
            warnings.simplefilter("error", image_module.DecompressionBombWarning)
            with image_module.open(path) as opened:  # reads the header: the size is known, nothing decoded
                box = image_crop_box(opened.size, (width, height), args.resize)
                image = opened.convert("RGB" if channels == 3 else "L")
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, *bombs) as error:
        raise CnnUsageError(f"cannot read {path} as an image: {error}") from None
    image = image.resize((width, height), image_module.Resampling.BILINEAR, box=box)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels.reshape(height, width, channels).transpose(2, 0, 1)
    if not args.no_normalize:
        default_mean, default_std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,), (1.0,))
        mean = _per_channel(args.mean, default_mean, channels, "--mean")
        std = _per_channel(args.std, default_std, channels, "--std")
        if np.any(std == 0):
            raise CnnUsageError("--std must not contain 0")
        pixels = (pixels - mean[:, None, None]) / std[:, None, None]
    return np.ascontiguousarray(pixels[None], dtype=np.float32)


def _per_channel(text: str | None, default: tuple[float, ...], channels: int, option: str) -> Any:
    import numpy as np

    if text is None:
        values = default
    else:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            raise CnnUsageError(f"{option} expects numbers separated by commas, found '{text}'") from None
    if len(values) == 1:
        values = values * channels
    if len(values) != channels:
        raise CnnUsageError(f"{option} needs 1 or {channels} values, found {len(values)}")
    return np.array(values, dtype=np.float32)


def read_labels(path_text: str) -> list[str]:
    """Class names, one per line, from a regular file of at most 16 MiB (never a FIFO or device)."""
    path = Path(path_text)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise CnnUsageError(f"--labels {path} is not a regular file")
            if status.st_size > LABELS_LIMIT:
                raise CnnUsageError(
                    f"--labels {path} is {status.st_size:,} bytes; a labels file holds at most 16 MiB"
                )
            data = handle.read(LABELS_LIMIT + 1)
        return [line.strip() for line in data[:LABELS_LIMIT].decode("utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise CnnUsageError(f"cannot read labels from {path}: {error}") from None

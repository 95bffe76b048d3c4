"""Checkpoints: everything --resume needs in one file, and the weights as safetensors for `cnndsl run`.

A run folder holds `checkpoint.pt` (weights, optimizer and schedule state, the epoch, the
history, the settings and the network's identity: one file, so that a stop between two writes can
never pair weights with another epoch's optimizer state), `last.safetensors` and
`best.safetensors` (the module's state_dict under the keys `cnndsl run --weights` reads),
`labels.txt` for image folders, and `metrics.csv`. Every file is written through a temporary file
and a rename: a full disk or a kill mid-write leaves the previous version whole.

No random-number state is stored: every epoch reseeds torch from (--seed, epoch), which is what
lets a resumed run repeat the uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from cnndsl.errors import CnnUsageError
from cnndsl.model import Model
from cnndsl.output_files import write_atomically, write_through

CHECKPOINT = "checkpoint.pt"
LAST = "last.safetensors"
BEST = "best.safetensors"
INTERRUPTED = "interrupted.safetensors"
LABELS = "labels.txt"
FORMAT = 1  # bump when the checkpoint's layout changes


def identity(model: Model) -> dict[str, Any]:
    """What makes two networks the same for resuming: the generated module's source, which spells
    out every layer and size, hashed; plus the name and sizes for the message when they differ."""
    from ..backend import TorchBackend

    source = TorchBackend().generate_source(model, logits=True)
    return {
        "name": model.name,
        "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
        "params": model.params,
        "input": list(model.input_shape),
        "output": list(model.output_shape),
    }


def check_identity(stored: dict[str, Any], current: dict[str, Any], folder: Path) -> None:
    if stored["source_sha256"] == current["source_sha256"]:
        return

    def describe(network: dict[str, Any]) -> str:
        shape = "x".join(map(str, network["input"]))
        return f"'{network['name']}' ({network['params']:,} parameters, input {shape})"

    same_name = stored["name"] == current["name"]
    raise CnnUsageError(
        f"{folder} holds a run of {'a different ' if same_name else ''}network {describe(stored)}, "
        f"not {describe(current)}; resume with the same network and --set values, "
        f"or train into another -o folder"
    )


def weights_of(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict on the CPU, contiguous and unshared, as safetensors wants it."""
    return {key: value.detach().to("cpu").contiguous().clone() for key, value in network.state_dict().items()}


def save_weights(path: Path, weights: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    write_through(path, lambda temporary: save_file(weights, str(temporary), metadata=metadata))


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    write_through(folder / CHECKPOINT, lambda temporary: torch.save({"format": FORMAT, **state}, temporary))


def save_labels(folder: Path, classes: tuple[str, ...]) -> None:
    write_atomically(folder / LABELS, "".join(f"{name}\n" for name in classes))


def load_checkpoint(folder: Path) -> dict[str, Any]:
    """The state saved in `folder`, read without unpickling code (weights_only)."""
    path = folder / CHECKPOINT
    if not path.is_file():
        raise CnnUsageError(f"{folder} holds no {CHECKPOINT} to resume from")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged or foreign file
        raise CnnUsageError(f"cannot read {path} as a cnndsl checkpoint: {error}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CnnUsageError(f"{path} is not a cnndsl training checkpoint (format {FORMAT})")
    return state

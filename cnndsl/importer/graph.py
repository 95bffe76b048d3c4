"""The import graph: plain data that a capture (torch.fx, ONNX) fills and the recovery reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import CnnError

# Ops that merge several values; everything else takes exactly one input.
MERGES = ("add", "concat", "mul")


@dataclass(frozen=True)
class ImportOp:
    """One op of the captured network, already in cnndsl's terms.

    `positional` and `keywords` are the statement's arguments as values (ints, floats, tuples,
    bools, words as str); `module` is the source's module path (`layer1.0.conv1`, "" at the
    top) and `classes` the class name of each module on that path, outermost first;
    `weights` maps the names the compiled op will hold (`weight`, `running_mean`) to the
    source's own keys.
    """

    id: str
    kind: str
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    positional: tuple[Any, ...] = ()
    keywords: tuple[tuple[str, Any], ...] = ()
    module: str = ""
    classes: tuple[str, ...] = ()
    weights: tuple[tuple[str, str], ...] = ()
    where: str = ""


@dataclass
class ImportGraph:
    """Ops in a topological order; the first is the input, `output` the returned value."""

    name: str
    input_shape: tuple[int, ...]
    ops: dict[str, ImportOp] = field(default_factory=dict)
    output: str = ""
    tensors: dict[str, Any] = field(default_factory=dict)  # the source's key -> NumPy array

    def add(self, op: ImportOp) -> None:
        self.ops[op.id] = op
        self.output = op.id


class UnsupportedError(CnnError):
    """Something in the source network that a .cnn file cannot express (yet)."""


def unsupported(what: str, module: str = "", where: str = "", hint: str = "") -> UnsupportedError:
    """The error naming the op, its module path and where the source recorded it."""
    place = f" in module '{module}'" if module else ""
    at = f" (recorded at {where})" if where else ""
    more = f"; {hint}" if hint else ""
    return UnsupportedError(f"cannot import {what}{place}{at}: a .cnn file cannot express it yet{more}")

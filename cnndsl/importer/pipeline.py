"""One path for every source: import graph -> statements -> plan -> checked text (+ weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import CnnError
from ..loader import loads
from .graph import ImportGraph
from .recover import recover
from .render import render
from .structure import structure
from .weights import state_dict


@dataclass
class Imported:
    text: str
    state: dict[str, Any]


def convert(graph: ImportGraph, flat: bool = False, header: str = "", with_weights: bool = True) -> Imported:
    """The .cnn text of `graph`, checked by loading it, and its state dict."""
    items = structure(graph)
    shapes = {op.id: op.shape for op in graph.ops.values()}
    plan = recover(structure(graph), blocks_enabled=not flat, shapes=shapes)
    text = render(plan, graph.name, graph.input_shape, header)
    try:
        model = loads(text, f"{graph.name}.cnn")
    except CnnError as error:
        raise CnnError(f"internal: the imported text does not check: {error.message}\n{text}") from None
    state = state_dict(model, items, graph) if with_weights else {}
    return Imported(text, state)

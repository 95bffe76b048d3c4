"""The written file's weights: its compiled op names matched, in order, with the source's ops."""

from __future__ import annotations

from typing import Any

from ..errors import CnnError
from ..model import Model
from .graph import ImportGraph, ImportOp
from .structure import Leaf, Merge


def leaves_in_order(items: list) -> list[ImportOp]:
    """The ops in the order the written file elaborates them (bodies before shortcuts)."""
    ops: list[ImportOp] = []
    for item in items:
        if isinstance(item, Leaf):
            ops.append(item.op)
        elif isinstance(item, Merge):
            for part in item.parts:
                ops.extend(leaves_in_order(part))
    return ops


def state_dict(model: Model, items: list, graph: ImportGraph) -> dict[str, Any]:
    """NumPy arrays under the keys the compiled module of `model` expects."""
    written = [
        (node, data) for node, data in model.graph.nodes(data=True) if data["params"] or data["buffers"]
    ]
    source = [op for op in leaves_in_order(items) if op.weights]
    if len(written) != len(source):
        raise CnnError(
            f"internal: the written file has {len(written)} layers with weights, the source {len(source)}"
        )
    state: dict[str, Any] = {}
    for (node, data), op in zip(written, source):
        if data["op"] != op.kind or tuple(data["shape"]) != op.shape:
            raise CnnError(
                f"internal: '{node}' ({data['op']}) does not line up with '{op.module}' ({op.kind})"
            )
        for suffix, key in op.weights:
            state[f"{node}.{suffix}"] = graph.tensors[key]
    return state


def safetensors_bytes(state: dict[str, Any]) -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({key: np.ascontiguousarray(value) for key, value in state.items()})

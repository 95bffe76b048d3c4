"""Statements -> scopes: the module hierarchy's submodules, or (ONNX) each merge and its trailers."""

from __future__ import annotations

from typing import Any

from .graph import ImportOp
from .structure import Leaf, Merge, Scope


def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split(".")) if path else ()


def _common(paths: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    length = len(first)
    for other in paths[1:]:
        length = min(length, len(other))
        for index in range(length):
            if first[index] != other[index]:
                length = index
                break
    return first[:length]


def ops_of(item: Any) -> list[ImportOp]:
    """The ops of one statement, in order (a merge's own op after its parts')."""
    if isinstance(item, Leaf):
        return [item.op]
    if isinstance(item, Merge):
        return [op for part in item.parts for inner in part for op in ops_of(inner)] + (
            [item.op] if item.own_path else []
        )
    if isinstance(item, Scope):
        return [op for inner in item.items for op in ops_of(inner)]
    return []


def _path(item: Any) -> tuple[str, ...]:
    if isinstance(item, Scope):
        return _parts(item.path)
    return _common([_parts(op.module) for op in ops_of(item)])


def group(items: list, prefix: tuple[str, ...] = ()) -> list:
    """Consecutive statements of one submodule become a `Scope`, recursively."""
    out: list = []
    index = 0
    while index < len(items):
        item = items[index]
        path = _path(item)
        key = path[len(prefix)] if len(path) > len(prefix) and path[: len(prefix)] == prefix else None
        if key is None:
            if isinstance(item, Merge):
                item.parts = [group(part, prefix) for part in item.parts]
            out.append(item)
            index += 1
            continue
        end = index + 1
        while end < len(items):
            other = _path(items[end])
            if not (len(other) > len(prefix) and other[: len(prefix) + 1] == prefix + (key,)):
                break
            end += 1
        members = items[index:end]
        inner = prefix + (key,)
        if len(members) == 1 and isinstance(item, Leaf) and path == inner:
            out.append(item)
        else:
            classes = next((op.classes for op in ops_of(item) if len(op.classes) >= len(inner)), ())
            class_name = classes[len(inner) - 1] if classes else ""
            out.append(Scope(".".join(inner), class_name, group(members, inner)))
        index = end
    return out


# Weightless single-input ops that end a merge's unit (ResNet's relu after the add, ShuffleNet's
# channel shuffle after the concat).
_TRAILERS = {"relu", "relu6", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu", "gelu", "mish"}
_TRAILERS |= {"channelshuffle"}
_UNIT_NAMES = {"residual": "ResidualBlock", "concat": "ConcatBlock", "gate": "GateBlock", "sum": "SumBlock"}


def structural_scopes(items: list, prefix: str = "") -> list:
    """Without a module hierarchy (ONNX): every merge and the activations after it is a unit.

    Units with the same structure up to their numbers then become calls of one block, as
    module scopes do; each merge's bodies are scoped the same way.
    """
    out: list = []
    index = 0
    while index < len(items):
        item = items[index]
        if not isinstance(item, Merge):
            out.append(item)
            index += 1
            continue
        path = f"{prefix}#{len(out)}"  # not an identifier: no label
        item.parts = [structural_scopes(part, f"{path}.{number}.") for number, part in enumerate(item.parts)]
        end = index + 1
        while end < len(items) and isinstance(items[end], Leaf) and items[end].op.kind in _TRAILERS:
            end += 1
        out.append(Scope(path, _UNIT_NAMES[item.kind], items[index:end]))
        index = end
    return out


def entry(item: Any) -> str | None:
    """The id of the value a statement starts from."""
    if isinstance(item, Leaf):
        return item.op.inputs[0] if item.op.inputs else None
    if isinstance(item, Merge):
        part = next((part for part in item.parts if part), None)
        return entry(part[0]) if part else None
    if isinstance(item, Scope):
        return entry(item.items[0]) if item.items else None
    return None

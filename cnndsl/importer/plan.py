"""The recovered plan as plain data, and each statement's template and holes (the numbers in it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .structure import Leaf, Merge

# Names for the holes of a layer's positional arguments, by op kind.
POSITIONAL_NAMES = {
    "conv": ("channels", "kernel"),
    "fc": ("features",),
    "dropout": ("p",),
    "droppath": ("p",),
    "layerscale": ("init",),
    "chunk": ("groups",),
    "channelshuffle": ("groups",),
}


@dataclass
class Call:
    block: tuple  # the block's key
    values: list  # every hole of the block's body, in order
    label: str | None = None
    count: int = 1


@dataclass
class Repeat:
    count: int
    items: list


@dataclass
class Block:
    name: str
    items: list  # the first call's items; holes filled per call
    instances: list[list] = field(default_factory=list)
    hole_names: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    # For each hole: ("literal", value) or ("param", name, factor).
    holes: list[tuple] = field(default_factory=list)
    complete: bool = False  # whether `items` hold every variant's statements (see `variants.strip`)
    fallbacks: dict[str, Any] = field(default_factory=dict)  # a value for calls that leave it open
    defaults: dict[str, Any] = field(default_factory=dict)  # parameters written `name=value`
    inputs: list[int] = field(default_factory=list)  # each call's input channels, by instance
    # A parameter a call passes as its hole's value plus this (a run's count after its first unit).
    offsets: dict[str, int] = field(default_factory=dict)
    shifted: set[int] = field(default_factory=set)  # holes written `(name - offset)` (see `offsets`)


@dataclass
class Plan:
    items: list
    blocks: dict[tuple, Block]  # in definition order (callees first)


class _Wild:
    """A hole a call leaves open: a shortcut that a call keeping the shape never elaborates."""

    def __repr__(self) -> str:
        return "WILD"


WILD = _Wild()


def encode(item: Any, blocks: dict[tuple, Block]) -> tuple[tuple, list, list[str]]:
    """(template, hole values, hole names) of one statement.

    Two statements with equal templates differ only in their numbers, so they can be calls of
    one block; equal templates and values make them the same statement.
    """
    if isinstance(item, Leaf):
        op = item.op
        names = list(POSITIONAL_NAMES.get(op.kind, ()))
        names += [f"arg{index}" for index in range(len(names), len(op.positional))]
        values = list(op.positional) + [value for _, value in op.keywords]
        names = names[: len(op.positional)] + [name for name, _ in op.keywords]
        template = ("op", op.kind, len(op.positional), tuple(name for name, _ in op.keywords))
        return template, values, names
    if isinstance(item, Merge):
        encoded = [encode_items(part, blocks) for part in item.parts]
        template = ("merge", item.kind, tuple(code[0] for code in encoded))
        return template, [v for code in encoded for v in code[1]], [n for code in encoded for n in code[2]]
    if isinstance(item, Call):
        block = blocks[item.block]
        names = [_hole_name(block, index) for index in range(len(item.values))]
        if item.count != 1:
            return ("run", item.block, item.label), [item.count, *item.values], ["blocks", *names]
        return ("call", item.block, item.label), list(item.values), names
    if isinstance(item, Repeat):
        template, values, names = encode_items(item.items, blocks)
        return ("repeat", template), [item.count, *values], ["n", *names]
    raise TypeError(item)


def encode_items(items: list, blocks: dict[tuple, Block]) -> tuple[tuple, list, list[str]]:
    """`encode` of a body: its statements' templates, and their holes in order."""
    encoded = [encode(item, blocks) for item in items]
    return (
        tuple(code[0] for code in encoded),
        [v for c in encoded for v in c[1]],
        [n for c in encoded for n in c[2]],
    )


def _hole_name(block: Block, index: int) -> str:
    # A callee's decided parameter names the caller's hole (`channels`), else the op's argument.
    hole = block.holes[index] if block.holes else None
    return hole[1] if hole and hole[0] == "param" else block.hole_names[index]


def calls(items: list) -> list[Call]:
    """Every call in a body, those inside merges and repeats included."""
    found: list[Call] = []
    for item in items:
        if isinstance(item, Call):
            found.append(item)
        elif isinstance(item, Merge):
            found += [call for part in item.parts for call in calls(part)]
        elif isinstance(item, Repeat):
            found += calls(item.items)
    return found

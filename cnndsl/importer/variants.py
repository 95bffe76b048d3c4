"""Variants of one unit with and without a residual projection, merged into one block."""

from __future__ import annotations

from .plan import Block, encode, encode_items
from .structure import Merge


def strip(items: list, blocks: dict[tuple, Block], start: int = 0) -> tuple[list, list[int]]:
    """`items` without residual shortcuts, and the indices of the holes those held.

    A residual's shortcut is used exactly when its body changes the shape, so a unit with a
    projection and one without (ResNet's first bottleneck of a stage and the others) are one
    block: the written shortcut is ignored where the body keeps the shape.
    """
    out: list = []
    holes: list[int] = []
    cursor = start
    for item in items:
        if not isinstance(item, Merge):
            out.append(item)
            cursor += len(encode(item, blocks)[1])
            continue
        parts = []
        for number, part in enumerate(item.parts):
            size = len(encode_items(part, blocks)[1])
            if item.kind == "residual" and number == 1:
                holes.extend(range(cursor, cursor + size))
            else:
                stripped, inner = strip(part, blocks, cursor)
                parts.append(stripped)
                holes.extend(inner)
            cursor += size
        out.append(Merge(item.kind, item.op, parts, item.own_path))
    return out, holes


def merge_targets(variants: dict[tuple, dict[tuple, list[int]]]) -> dict[tuple, tuple]:
    """Variants without a shortcut join the one variant that has them (see `strip`).

    `variants` maps (class, stripped template) to each variant's key and its shortcut holes;
    the result maps a variant's key to (the merged block's key, the holes it must insert).
    Where no variant or several have a shortcut, which to join is unclear: none merge.
    """
    merges: dict[tuple, tuple] = {}
    for found in variants.values():
        with_shortcut = [key for key, holes in found.items() if holes]
        if len(found) < 2 or len(with_shortcut) != 1:
            continue
        target = with_shortcut[0]
        for key in found:
            merges[key] = (target, [] if key == target else found[target])
    return merges

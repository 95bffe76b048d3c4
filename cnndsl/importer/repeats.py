"""Runs in a body: identical consecutive calls -> `* n`, identical runs of statements -> `repeat n`."""

from __future__ import annotations

from typing import Any

from .plan import Block, Call, Repeat, encode
from .structure import Leaf


def compress(items: list, blocks: dict[tuple, Block]) -> list:
    """Identical consecutive calls -> `* n`; identical runs of statements -> `repeat n`."""
    calls: list = []
    for item in items:
        previous = calls[-1] if calls else None
        if (
            isinstance(item, Call)
            and isinstance(previous, Call)
            and previous.block == item.block
            and previous.values == item.values
        ):
            previous.count += item.count
            previous.label = None  # `denselayer1` to `denselayer6`: the run keeps no one name
        else:
            calls.append(item)
    return _repeats(calls, blocks)


def _repeats(items: list, blocks: dict[tuple, Block]) -> list:
    """Runs of identical statements -> `repeat n`, the shortest bodies first so that they nest.

    VGG's `conv; relu` pairs become `repeat 3 { ... }`, and two such runs each closed by a
    maxpool then `repeat 2 { repeat 3 { ... }; maxpool }`: where a run can start at more than one
    statement, the body that ends with a pooling (a stage's end) is preferred.
    """
    length = 1
    while length <= len(items) // 2:
        out: list = []
        index, changed = 0, False
        while index < len(items):
            count = _run(items, index, length, blocks)
            if count == 1:
                out.append(items[index])
                index += 1
                continue
            for shift in range(1, length):
                if (
                    _run(items, index + shift, length, blocks) == count
                    and _pools(items[index + shift + length - 1])
                    and not _pools(items[index + length - 1])
                ):
                    out.extend(items[index : index + shift])
                    index += shift
                    break
            out.append(Repeat(count, items[index : index + length]))
            index += length * count
            changed = True
        items = out
        length = 1 if changed else length + 1
    return items


def _run(items: list, index: int, length: int, blocks: dict[tuple, Block]) -> int:
    """How many times `items[index:index+length]` follows itself (calls repeat with `* n`)."""
    if index + length > len(items) or any(isinstance(item, Call) for item in items[index : index + length]):
        return 1
    count = 1
    while index + (count + 1) * length <= len(items) and all(
        _same(items[index + k], items[index + count * length + k], blocks) for k in range(length)
    ):
        count += 1
    return count


def _same(a: Any, b: Any, blocks: dict[tuple, Block]) -> bool:
    return encode(a, blocks)[:2] == encode(b, blocks)[:2]


def _pools(item: Any) -> bool:
    return isinstance(item, Leaf) and item.op.kind in ("maxpool", "avgpool")

"""A block's holes decided: literals, parameters (or multiples of one, or of `in_channels`), defaults."""

from __future__ import annotations

from fractions import Fraction

from .graph import ImportOp
from .labels import snake
from .plan import WILD, Block, Call, Repeat, encode
from .render import is_default
from .structure import Leaf, Merge


class _Derived:
    """A callee's hole that it computes itself: see `_hole_sources`."""


DERIVED = _Derived()


def decide(block: Block, blocks: dict[tuple, Block]) -> None:
    """Which holes are literals and which parameters (shared, or a multiple of another).

    A number that always equals (a multiple or a fraction of) the call's input channels reads
    `in_channels` instead of being passed. Open holes (`WILD`) match anything; a call that
    leaves a parameter's first hole open passes its fallback, a value it never elaborates.
    """
    columns = list(zip(*block.instances)) if block.instances else []
    sources = _hole_sources(block.items, blocks)
    holes: list[tuple] = []
    params: dict[str, tuple] = {}
    known: dict[str, tuple] = {}  # what a block reads without being passed it
    if len(block.inputs) == len(block.instances):
        known["in_channels"] = tuple(block.inputs)
    run_counts = _run_counts(block.items, blocks)
    for index, column in enumerate(columns):
        if sources[index] is DERIVED:
            holes.append(("literal", WILD))
            continue
        given = [value for value in column if value is not WILD]
        if all(value == given[0] for value in given):
            holes.append(("literal", given[0] if given else WILD))
            continue
        found = None
        # A parameter passed with an offset is its own: no other hole reads it as a multiple.
        offset = run_counts.get(index) or _passed_offset(sources[index])
        for name, values in [*params.items(), *known.items()]:
            if offset or name in block.offsets:
                continue
            factor = _ratio(values, column)
            if factor is not None:
                found = ("param", name, factor)
                break
        if found is None:
            base = snake(block.hole_names[index]) if block.hole_names[index] else "value"
            name, number = base, 2
            while name in params or name in known or name == block.name:
                name, number = f"{base}{number}", number + 1
            params[name] = column
            block.fallbacks[name] = given[0]
            found = ("param", name, 1)
            if offset:
                block.offsets[name] = offset
            if index in run_counts:
                block.shifted.add(index)
        holes.append(found)
    block.holes = holes
    block.params = list(params)
    _choose_defaults(block, blocks)


def _run_counts(items: list, blocks: dict[tuple, Block]) -> dict[int, int]:
    """The count holes of runs that follow one call of their block, each with 1 (that call).

    ResNet's stage `bottleneck(channels, stride=stride); bottleneck(channels) * n` has
    `n + 1` units: as a person writes it, the stage takes that real count (`blocks`) and its
    run is `* (blocks - 1)`.
    """
    found: dict[int, int] = {}
    cursor = 0
    for number, item in enumerate(items):
        previous = items[number - 1] if number else None
        if (
            isinstance(item, Call)
            and item.count != 1
            and isinstance(previous, Call)
            and previous.count == 1
            and previous.block == item.block
        ):
            found[cursor] = 1  # `encode` puts a run's count first among its holes
        cursor += len(encode(item, blocks)[1])
    return found


def _passed_offset(source: object) -> int:
    """The offset of the callee's parameter that a hole fills, passed on by the caller's own."""
    if isinstance(source, tuple) and isinstance(source[0], Block):
        return source[0].offsets.get(source[1], 0)
    return 0


def _ratio(known: tuple, column: tuple) -> Fraction | None:
    """The one factor taking `known` to `column` where the column is given, if there is one."""
    pairs = [(a, b) for a, b in zip(known, column) if b is not WILD]
    if any(a is WILD for a, _ in pairs):
        return None
    if all(a == b for a, b in pairs):
        return Fraction(1)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for pair in pairs for v in pair):
        return None
    factors = {Fraction(b, a) for a, b in pairs}
    factor = factors.pop()
    # Whole multiples or whole fractions only: `channels*4`, `in_channels/2`.
    if factors or (factor.denominator != 1 and factor.numerator != 1):
        return None
    return factor


def _choose_defaults(block: Block, blocks: dict[tuple, Block]) -> None:
    """A parameter filling an argument whose own default some call passes gets that default.

    `stride=1` as the built-ins write it: such parameters go last, and calls leave them out
    where they pass the default.
    """
    sources = _hole_sources(block.items, blocks)
    for name in block.params:
        first = next(i for i, hole in enumerate(block.holes) if hole[0] == "param" and hole[1] == name)
        if block.holes[first][2] != 1:
            continue
        column = [values[first] for values in block.instances]
        source = sources[first]
        if source is None or source is DERIVED:
            continue
        if isinstance(source[0], ImportOp):
            op, argument = source
            found = [v for v in column if v is not WILD and is_default(op, argument, v)]
        else:
            callee, param = source
            found = [v for v in column if param in callee.defaults and v == callee.defaults[param]]
        if found:
            block.defaults[name] = found[0]
    block.params.sort(key=lambda name: name in block.defaults)


def _hole_sources(items: list, blocks: dict[tuple, Block]) -> list:
    """For each hole (in `encode`'s order): (op, keyword) or (callee, parameter) it fills, or None.

    A callee's hole that is not one of its arguments is `DERIVED`.
    """
    sources: list = []
    for item in items:
        if isinstance(item, Leaf):
            op = item.op
            sources += [None] * len(op.positional)
            pooled = op.kind in ("maxpool", "avgpool")  # their stride defaults to the kernel
            sources += [None if pooled else (op, name) for name, _ in op.keywords]
        elif isinstance(item, Merge):
            for part in item.parts:
                sources += _hole_sources(part, blocks)
        elif isinstance(item, Call):
            callee = blocks[item.block]
            if item.count != 1:
                sources.append(None)
            firsts: dict[str, int] = {}
            for index, hole in enumerate(callee.holes):
                if hole[0] == "param" and hole[1] in callee.params and hole[2] == 1:
                    firsts.setdefault(hole[1], index)
            by_index = {index: name for name, index in firsts.items()}
            # The callee computes its other holes from its arguments (or its input): never passed.
            sources += [(callee, by_index[i]) if i in by_index else DERIVED for i in range(len(item.values))]
        elif isinstance(item, Repeat):
            sources.append(None)
            sources += _hole_sources(item.items, blocks)
    return sources

"""Block recovery: module scopes -> blocks whose parameters are the numbers that vary.

Decided as plain data (a `Plan`); `render.py` writes it. Two scopes are calls of one block
when their source classes and their structures match up to numbers ("holes"); a hole that
is the same in every call stays a literal, the others become parameters. Runs of identical
calls become `* n`, runs of identical statements `repeat n { ... }`, and a block called only
once is written inline.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .graph import ImportOp
from .structure import Leaf, Merge, Scope

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
    complete: bool = False  # whether `items` hold every variant's statements (see `_strip`)
    fallbacks: dict[str, Any] = field(default_factory=dict)  # a value for calls that leave it open
    defaults: dict[str, Any] = field(default_factory=dict)  # parameters written `name=value`
    inputs: list[int] = field(default_factory=list)  # each call's input channels, by instance


@dataclass
class Plan:
    items: list
    blocks: dict[tuple, Block]  # in definition order (callees first)


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


def _ops(item: Any) -> list[ImportOp]:
    if isinstance(item, Leaf):
        return [item.op]
    if isinstance(item, Merge):
        return [op for part in item.parts for inner in part for op in _ops(inner)] + (
            [item.op] if item.own_path else []
        )
    if isinstance(item, Scope):
        return [op for inner in item.items for op in _ops(inner)]
    return []


def _path(item: Any) -> tuple[str, ...]:
    if isinstance(item, Scope):
        return _parts(item.path)
    return _common([_parts(op.module) for op in _ops(item)])


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
            classes = next((op.classes for op in _ops(item) if len(op.classes) >= len(inner)), ())
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


def _encode(item: Any, blocks: dict[tuple, Block]) -> tuple[tuple, list, list[str]]:
    """(template, hole values, hole names) of one statement."""
    if isinstance(item, Leaf):
        op = item.op
        names = list(POSITIONAL_NAMES.get(op.kind, ()))
        names += [f"arg{index}" for index in range(len(names), len(op.positional))]
        values = list(op.positional) + [value for _, value in op.keywords]
        names = names[: len(op.positional)] + [name for name, _ in op.keywords]
        template = ("op", op.kind, len(op.positional), tuple(name for name, _ in op.keywords))
        return template, values, names
    if isinstance(item, Merge):
        encoded = [_encode_items(part, blocks) for part in item.parts]
        template = ("merge", item.kind, tuple(code[0] for code in encoded))
        return template, [v for code in encoded for v in code[1]], [n for code in encoded for n in code[2]]
    if isinstance(item, Call):
        block = blocks[item.block]
        names = [_hole_name(block, index) for index in range(len(item.values))]
        if item.count != 1:
            return ("run", item.block, item.label), [item.count, *item.values], ["blocks", *names]
        return ("call", item.block, item.label), list(item.values), names
    if isinstance(item, Repeat):
        template, values, names = _encode_items(item.items, blocks)
        return ("repeat", template), [item.count, *values], ["n", *names]
    raise TypeError(item)


def _encode_items(items: list, blocks: dict[tuple, Block]) -> tuple[tuple, list, list[str]]:
    encoded = [_encode(item, blocks) for item in items]
    return (
        tuple(code[0] for code in encoded),
        [v for c in encoded for v in c[1]],
        [n for c in encoded for n in c[2]],
    )


def _hole_name(block: Block, index: int) -> str:
    hole = block.holes[index] if block.holes else None
    return hole[1] if hole and hole[0] == "param" else block.hole_names[index]


def _same(a: Any, b: Any, blocks: dict[tuple, Block]) -> bool:
    return _encode(a, blocks)[:2] == _encode(b, blocks)[:2]


def _compress(items: list, blocks: dict[tuple, Block]) -> list:
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


def _pools(item: Any) -> bool:
    return isinstance(item, Leaf) and item.op.kind in ("maxpool", "avgpool")


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.lstrip("_")).lower()
    name = re.sub(r"\W+", "_", name).strip("_")
    return name if name and name[0].isalpha() else f"block_{name}"


def _label(path: str, siblings: list[str]) -> str | None:
    name = path.rsplit(".", 1)[-1]
    if name.isidentifier() and name.isascii() and not keyword.iskeyword(name) and siblings.count(name) == 1:
        return name
    return None


def recover(items: list, blocks_enabled: bool = True, shapes: dict[str, tuple] | None = None) -> Plan:
    """The plan of blocks and calls for structured statements (see `structure`).

    `shapes` (each value's shape, by op id) lets blocks read their input's channels.
    """
    if not blocks_enabled:
        return Plan(items, {})
    if any(op.module for item in items for op in _ops(item)):
        grouped = group(items)
    else:
        grouped = structural_scopes(items)
    # Passes until the merged variants settle: a merge inside changes the scopes around it.
    merges: dict[tuple, tuple] = {}
    for _ in range(4):
        trial = _Pass(merges=merges, shapes=shapes or {})
        trial.build(grouped)
        found = trial.merges_found()
        if found == merges:
            break
        merges = found
    final = _Pass(merges=trial.merges, shapes=shapes or {}, inline_counts=trial.counts)
    top = final.build(grouped)
    blocks = _callees_first(final.blocks)
    _settle_labels(top, blocks)
    for block in blocks.values():
        _settle_labels(block.items, blocks)
    for block in blocks.values():  # callees come first: their parameters name the callers' holes
        block.hole_names = _encode_items(block.items, blocks)[2]
        _decide(block, blocks)
    return Plan(top, blocks)


# Names the compiler numbers on its own besides op kinds and block names (`branch1`, `add1`).
_SCOPE_WORDS = {"add", "concat", "mul", "branch", "shortcut", "residual", "sum", "gate", "repeat"}


def _settle_labels(items: list, blocks: dict[tuple, Block]) -> None:
    """Drops labels used twice in one body, or that an unlabelled statement's own name may take.

    Inlining a scope brings its calls' labels into its parent (DenseNet's `features` inlined
    keeps `denseblock1` to `denseblock4`), where they must be unique. The statements nested in
    merges are counted with the body's, which holds for residual bodies and is safe for the rest.
    """
    from ..ops import OPS

    calls = _calls(items)
    labels = [call.label for call in calls if call.label]
    bases = set(_SCOPE_WORDS) | set(OPS) | {blocks[call.block].name for call in calls if not call.label}
    for call in calls:
        numbered = re.fullmatch(r"(.*?)\d+", call.label or "")
        if labels.count(call.label) > 1 or (numbered and numbered.group(1) in bases):
            call.label = None


def _callees_first(blocks: dict[tuple, Block]) -> dict[tuple, Block]:
    """Blocks in an order where each comes after those it calls (a merged one may come late)."""
    ordered: dict[tuple, Block] = {}

    def visit(key: tuple) -> None:
        if key in ordered:
            return
        for item in _calls(blocks[key].items):
            visit(item.block)
        ordered[key] = blocks[key]

    for key in blocks:
        visit(key)
    return ordered


def _calls(items: list) -> list[Call]:
    found: list[Call] = []
    for item in items:
        if isinstance(item, Call):
            found.append(item)
        elif isinstance(item, Merge):
            found += [call for part in item.parts for call in _calls(part)]
        elif isinstance(item, Repeat):
            found += _calls(item.items)
    return found


@dataclass
class _Pass:
    """One walk over the scopes: the blocks found, how often each is called, variants seen."""

    merges: dict[tuple, tuple]  # a variant's key -> (the merged block's key, holes to insert)
    shapes: dict[str, tuple]
    inline_counts: dict[tuple, int] | None = None  # the previous pass's counts, to inline blocks
    blocks: dict[tuple, Block] = field(default_factory=dict)
    counts: dict[tuple, int] = field(default_factory=dict)
    variants: dict[tuple, dict[tuple, list[int]]] = field(default_factory=dict)

    def build(self, items: list) -> list:
        out: list = []
        names = [item.path.rsplit(".", 1)[-1] for item in items if isinstance(item, Scope)]
        for item in items:
            if isinstance(item, Merge):
                parts = [self.build(part) for part in item.parts]
                out.append(Merge(item.kind, item.op, parts, item.own_path))
            elif isinstance(item, Scope):
                out.extend(self.scope(item, names))
            else:
                out.append(item)
        return _compress(out, self.blocks)

    def scope(self, item: Scope, names: list[str]) -> list:
        body = self.build(item.items)
        template, values, hole_names = _encode_items(body, self.blocks)
        key = (item.class_name, template)
        stripped, shortcut_holes = _strip(body, self.blocks)
        self.variants.setdefault((item.class_name, _encode_items(stripped, self.blocks)[0]), {})[key] = (
            shortcut_holes
        )
        merged, missing = self.merges.get(key, (key, []))
        self.counts[merged] = self.counts.get(merged, 0) + 1
        if self.inline_counts is not None and self.inline_counts.get(merged, 0) <= 1:
            return body  # its labels (`denseblock1`) stay: `_settle_labels` drops any that clash
        for index in missing:  # the shortcut's holes, which a call without one leaves open
            values.insert(index, WILD)
            hole_names.insert(index, "")
        block = self.blocks.get(merged)
        if block is None:
            block = self.blocks[merged] = Block(_block_name(item, self.blocks), body, hole_names=hole_names)
        elif key == merged and block.items is not body and not block.complete:
            block.items, block.hole_names = body, hole_names
        block.complete = block.complete or key == merged
        block.instances.append(values)
        entry = self.shapes.get(_entry(item) or "")
        if entry:
            block.inputs.append(entry[0])
        return [Call(merged, values, _label(item.path, names))]

    def merges_found(self) -> dict[tuple, tuple]:
        """Variants without a shortcut join the one variant that has them (see `_strip`)."""
        merges: dict[tuple, tuple] = {}
        for variants in self.variants.values():
            with_shortcut = [key for key, holes in variants.items() if holes]
            if len(variants) < 2 or len(with_shortcut) != 1:
                continue
            target = with_shortcut[0]
            for key in variants:
                merges[key] = (target, [] if key == target else variants[target])
        return merges


class _Derived:
    """A callee's hole that it computes itself: see `_hole_sources`."""


DERIVED = _Derived()


class _Wild:
    """A hole a call leaves open: a shortcut that a call keeping the shape never elaborates."""

    def __repr__(self) -> str:
        return "WILD"


WILD = _Wild()


def _entry(item: Any) -> str | None:
    """The id of the value a statement starts from."""
    if isinstance(item, Leaf):
        return item.op.inputs[0] if item.op.inputs else None
    if isinstance(item, Merge):
        part = next((part for part in item.parts if part), None)
        return _entry(part[0]) if part else None
    if isinstance(item, Scope):
        return _entry(item.items[0]) if item.items else None
    return None


def _strip(items: list, blocks: dict, start: int = 0) -> tuple[list, list[int]]:
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
            cursor += len(_encode(item, blocks)[1])
            continue
        parts = []
        for number, part in enumerate(item.parts):
            size = len(_encode_items(part, blocks)[1])
            if item.kind == "residual" and number == 1:
                holes.extend(range(cursor, cursor + size))
            else:
                stripped, inner = _strip(part, blocks, cursor)
                parts.append(stripped)
                holes.extend(inner)
            cursor += size
        out.append(Merge(item.kind, item.op, parts, item.own_path))
    return out, holes


def _block_name(scope: Scope, blocks: dict) -> str:
    from ..ops import OPS

    base = _snake(scope.class_name) if scope.class_name and scope.class_name != "Sequential" else ""
    if not base:
        base = _snake(re.sub(r"\d+$", "", scope.path.rsplit(".", 1)[-1]) or "stage")
    if base in OPS or keyword.iskeyword(base) or base in ("network", "block", "input", "output"):
        base = f"{base}_block"
    taken = {block.name for block in blocks.values()}
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def _decide(block: Block, blocks: dict[tuple, Block]) -> None:
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
    for index, column in enumerate(columns):
        if sources[index] is DERIVED:
            holes.append(("literal", WILD))
            continue
        given = [value for value in column if value is not WILD]
        if all(value == given[0] for value in given):
            holes.append(("literal", given[0] if given else WILD))
            continue
        found = None
        for name, values in [*params.items(), *known.items()]:
            factor = _ratio(values, column)
            if factor is not None:
                found = ("param", name, factor)
                break
        if found is None:
            base = _snake(block.hole_names[index]) if block.hole_names[index] else "value"
            name, number = base, 2
            while name in params or name in known or name == block.name:
                name, number = f"{base}{number}", number + 1
            params[name] = column
            block.fallbacks[name] = given[0]
            found = ("param", name, 1)
        holes.append(found)
    block.holes = holes
    block.params = list(params)
    _choose_defaults(block, blocks)


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
    from .render import _is_default

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
            found = [v for v in column if v is not WILD and _is_default(op, argument, v)]
        else:
            callee, param = source
            found = [v for v in column if param in callee.defaults and v == callee.defaults[param]]
        if found:
            block.defaults[name] = found[0]
    block.params.sort(key=lambda name: name in block.defaults)


def _hole_sources(items: list, blocks: dict[tuple, Block]) -> list:
    """For each hole (in `_encode`'s order): (op, keyword) or (callee, parameter) it fills, or None.

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

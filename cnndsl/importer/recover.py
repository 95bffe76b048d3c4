"""Block recovery: module scopes -> blocks whose parameters are the numbers that vary.

Decided as plain data (a `Plan`, see `plan.py`); `render.py` writes it. Two scopes are calls of
one block when their source classes and their structures match up to numbers ("holes"); a hole
that is the same in every call stays a literal, the others become parameters (`parameters.py`).
Runs of identical calls become `* n`, runs of identical statements `repeat n { ... }`
(`repeats.py`), and a block called only once is written inline. This module is the driver:
scopes (`scopes.py`) -> walks until the merged variants settle (`variants.py`) -> names
(`labels.py`) -> parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .labels import block_name, label, settle_labels
from .parameters import decide
from .plan import WILD, Block, Call, Plan, calls, encode_items
from .repeats import compress
from .scopes import entry, group, ops_of, structural_scopes
from .structure import Merge, Scope
from .variants import merge_targets, strip


def recover(items: list, blocks_enabled: bool = True, shapes: dict[str, tuple] | None = None) -> Plan:
    """The plan of blocks and calls for structured statements (see `structure`).

    `shapes` (each value's shape, by op id) lets blocks read their input's channels.
    """
    if not blocks_enabled:
        return Plan(items, {})
    if any(op.module for item in items for op in ops_of(item)):
        grouped = group(items)
    else:
        grouped = structural_scopes(items)
    # Passes until the merged variants settle: a merge inside changes the scopes around it.
    merges: dict[tuple, tuple] = {}
    for _ in range(4):
        trial = _Pass(merges=merges, shapes=shapes or {})
        trial.build(grouped)
        found = merge_targets(trial.variants)
        if found == merges:
            break
        merges = found
    final = _Pass(merges=trial.merges, shapes=shapes or {}, inline_counts=trial.counts)
    top = final.build(grouped)
    blocks = _callees_first(final.blocks)
    settle_labels(top, blocks)
    for block in blocks.values():
        settle_labels(block.items, blocks)
    for block in blocks.values():  # callees come first: their parameters name the callers' holes
        block.hole_names = encode_items(block.items, blocks)[2]
        decide(block, blocks)
    return Plan(top, blocks)


def _callees_first(blocks: dict[tuple, Block]) -> dict[tuple, Block]:
    """Blocks in an order where each comes after those it calls (a merged one may come late)."""
    ordered: dict[tuple, Block] = {}

    def visit(key: tuple) -> None:
        if key in ordered:
            return
        for item in calls(blocks[key].items):
            visit(item.block)
        ordered[key] = blocks[key]

    for key in blocks:
        visit(key)
    return ordered


@dataclass
class _Pass:
    """One walk over the scopes: the blocks found, how often each is called, variants seen."""

    merges: dict[tuple, tuple]  # a variant's key -> (the merged block's key, holes to insert)
    shapes: dict[str, tuple]
    inline_counts: dict[tuple, int] | None = None  # the previous pass's counts, to inline blocks
    blocks: dict[tuple, Block] = field(default_factory=dict)
    counts: dict[tuple, int] = field(default_factory=dict)
    # (class, template without shortcuts) -> each variant's key -> its shortcut's holes
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
        return compress(out, self.blocks)

    def scope(self, item: Scope, names: list[str]) -> list:
        body = self.build(item.items)
        template, values, hole_names = encode_items(body, self.blocks)
        key = (item.class_name, template)
        stripped, shortcut_holes = strip(body, self.blocks)
        self.variants.setdefault((item.class_name, encode_items(stripped, self.blocks)[0]), {})[key] = (
            shortcut_holes
        )
        merged, missing = self.merges.get(key, (key, []))
        self.counts[merged] = self.counts.get(merged, 0) + 1
        if self.inline_counts is not None and self.inline_counts.get(merged, 0) <= 1:
            return body  # its labels (`denseblock1`) stay: `settle_labels` drops any that clash
        for index in missing:  # the shortcut's holes, which a call without one leaves open
            values.insert(index, WILD)
            hole_names.insert(index, "")
        block = self.blocks.get(merged)
        if block is None:
            block = self.blocks[merged] = Block(block_name(item, self.blocks), body, hole_names=hole_names)
        elif key == merged and block.items is not body and not block.complete:
            block.items, block.hole_names = body, hole_names
        block.complete = block.complete or key == merged
        block.instances.append(values)
        start = self.shapes.get(entry(item) or "")
        if start:
            block.inputs.append(start[0])
        return [Call(merged, values, label(item.path, names))]

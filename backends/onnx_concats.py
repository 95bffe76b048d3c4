"""Nested concats again: PyTorch's exporter writes Inception's `cat([a, cat([b1, b2]), c])` as one Concat."""

from __future__ import annotations

from dataclasses import replace

from cnndsl.importer.graph import ImportGraph, ImportOp
from cnndsl.importer.structure import _dominators


def _common(idom: dict[str, str], order: dict[str, int], a: str, b: str) -> str:
    """The closest value that dominates both `a` and `b`."""
    while a != b:
        while order[a] > order[b]:
            a = idom[a]
        while order[b] > order[a]:
            b = idom[b]
    return a


def _runs(inputs: tuple[str, ...], entry: str, idom: dict, order: dict) -> list[tuple[tuple[str, ...], str]]:
    """Consecutive inputs that share a value below `entry` (one inner concat's), each with that value."""
    runs: list[tuple[tuple[str, ...], str]] = []
    for name in inputs:
        if runs:
            shared = _common(idom, order, runs[-1][1], name)
            if shared != entry:
                runs[-1] = ((*runs[-1][0], name), shared)
                continue
        runs.append(((name,), name))
    return runs


def nest_concats(graph: ImportGraph) -> ImportGraph:
    """Each run of a concat's inputs that branch from one value below the concat's own entry
    becomes an inner concat, so every branch of a `concat { }` starts from the same value.

    Concatenating along the channels is associative, so the outputs are unchanged.
    """
    idom = _dominators(graph)
    order = {name: index for index, name in enumerate(graph.ops)}
    out = ImportGraph(graph.name, graph.input_shape, tensors=graph.tensors)

    def nest(op: ImportOp, entry: str) -> tuple[str, ...]:
        inputs: list[str] = []
        for number, (run, shared) in enumerate(_runs(op.inputs, entry, idom, order)):
            if len(run) == 1 or len(run) == len(op.inputs):
                inputs.extend(run)
                continue
            channels = sum(graph.ops[name].shape[0] for name in run)
            inner = replace(op, id=f"{op.id}#{number}", inputs=run, shape=(channels, *op.shape[1:]))
            inner = replace(inner, inputs=nest(inner, shared))
            out.add(inner)
            inputs.append(inner.id)
        return tuple(inputs)

    for op in graph.ops.values():
        if op.kind == "concat" and len(op.inputs) > 2:
            op = replace(op, inputs=nest(op, idom[op.id]))
        out.add(op)
    out.output = graph.output
    return out

"""Passes over the IR: each reads what it needs from nodes and writes its annotations back.

- infer_node / infer_shapes: needs `op`, `attrs`, `inputs`; writes `shape` (and resolved attrs).
- count: needs `shape`; writes `params`, `trainable_params`, `buffers`, `macs`.
"""

from __future__ import annotations

import networkx as nx

from . import ops
from .errors import CnnShapeError, Diagnostic, DiagnosticSink


def input_shapes(graph: nx.DiGraph, node: str) -> list[ops.Shape]:
    return [graph.nodes[source]["shape"] for source in graph.nodes[node]["inputs"]]


def infer_node(graph: nx.DiGraph, node: str) -> ops.Shape:
    """Apply the op table's shape rule to one node whose inputs already have shapes."""
    data = graph.nodes[node]
    shape = ops.OPS[data["op"]].output_shape(input_shapes(graph, node), data["attrs"])
    data["shape"] = shape
    return shape


def infer_shapes(graph: nx.DiGraph) -> nx.DiGraph:
    """Recompute every node's shape in execution order (after the graph was edited, say)."""
    for node in nx.topological_sort(graph):
        infer_node(graph, node)
    return graph


def count(graph: nx.DiGraph) -> nx.DiGraph:
    """Annotate each node with what PyTorch would count: parameters, buffers and MACs.

    A count too large for 64 bits is a CnnShapeError at the op's statement, with its call chain.
    """
    sink = DiagnosticSink()
    for node, data in graph.nodes(data=True):
        op = ops.OPS[data["op"]]
        try:
            params, buffers, macs = op.counts(input_shapes(graph, node), data["shape"], data["attrs"])
        except ops.ShapeProblem as problem:
            sink.add(CnnShapeError(Diagnostic(str(problem), data.get("span"), data.get("chain", ()))))
            params = buffers = macs = 0
        data["params"] = params
        data["trainable_params"] = params if data["attrs"].get("trainable", True) else 0
        data["buffers"] = buffers
        data["macs"] = macs
    sink.raise_if_any()
    return graph


def run_passes(graph: nx.DiGraph) -> nx.DiGraph:
    """The passes every elaborated graph goes through before anyone reads its totals."""
    return count(graph)

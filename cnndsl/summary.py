"""Computing a network's summary: per-layer rows and totals (formatting.py renders them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .errors import CnnUsageError
from .expressions import describe_value

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class Row:
    """One op, or with a depth limit one block scope, as the summary lists it."""

    name: str
    op: str
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    buffers: int
    macs: int
    depth: int


@dataclass(frozen=True)
class Summary:
    """Everything the table, JSON and Markdown views show."""

    network: str
    source: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    rows: tuple[Row, ...]
    params: int
    trainable_params: int
    buffers: int
    macs: int
    activation_values: int  # sum of every op's output size, one image
    notes: tuple[str, ...] = field(default=())
    # (name, shape) of every output when `output a, b` declares several; empty for one output.
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())

    @property
    def flops(self) -> int:
        """FLOPs counted as 2 x MACs (one multiply and one add each)."""
        return 2 * self.macs

    @property
    def param_bytes(self) -> int:
        return (self.params + self.buffers) * BYTES_PER_VALUE

    @property
    def activation_bytes(self) -> int:
        return self.activation_values * BYTES_PER_VALUE


def op_rows(graph: nx.DiGraph) -> list[Row]:
    """One row per op in execution order; the input node is not an op."""
    rows = []
    for node, data in graph.nodes(data=True):
        if data["op"] == "input":
            continue
        rows.append(
            Row(
                node,
                data["op"],
                data["shape"],
                data["params"],
                data["trainable_params"],
                data["buffers"],
                data["macs"],
                len(data["scope"]),
            )
        )
    return rows


def group_rows(rows: list[Row], depth: int) -> list[Row]:
    """Fold ops nested deeper than `depth` scopes into one row per scope, like torchinfo's depth."""
    grouped: list[Row] = []
    for row in rows:
        parts = row.name.split(".")
        if len(parts) <= depth + 1:
            grouped.append(row)
            continue
        name = ".".join(parts[: depth + 1])
        last = grouped[-1] if grouped else None
        if last is not None and last.name == name:
            grouped[-1] = Row(
                name,
                "block",
                row.output_shape,
                last.params + row.params,
                last.trainable_params + row.trainable_params,
                last.buffers + row.buffers,
                last.macs + row.macs,
                depth,
            )
        else:
            totals = (row.params, row.trainable_params, row.buffers, row.macs)
            grouped.append(Row(name, "block", row.output_shape, *totals, depth))
    return grouped


def padding_notes(graph: nx.DiGraph) -> list[str]:
    notes = []
    for node, data in graph.nodes(data=True):
        attrs = data["attrs"]
        pads = attrs.get("pads")
        if attrs.get("pad") == "same" and pads and (pads[0] != pads[1] or pads[2] != pads[3]):
            top, bottom, left, right = pads
            notes.append(
                f"{node}: `same` padding is asymmetric here (top {top}, bottom {bottom}, left {left}, "
                f"right {right}), the extra row/column after, as in TensorFlow"
            )
    return notes


def output_names(graph: nx.DiGraph) -> list[str]:
    """The outputs' names as `output a, b` wrote them; the last node's id without one."""
    return list(graph.graph.get("output_names") or graph.graph["outputs"])


def summarize(graph: nx.DiGraph, depth: int | None = None) -> Summary:
    """The totals and rows of a checked graph; `depth` folds ops nested deeper than that many scopes."""
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise CnnUsageError(f"depth must be an integer >= 0, found {describe_value(depth)}")
    rows = op_rows(graph)
    inputs, outputs = graph.graph["inputs"], graph.graph["outputs"]
    shown = group_rows(rows, depth) if depth is not None else rows
    return Summary(
        network=graph.graph["network"],
        source=graph.graph["source"],
        input_shape=graph.nodes[inputs[0]]["shape"],
        output_shape=graph.nodes[outputs[0]]["shape"],
        rows=tuple(shown),
        params=sum(r.params for r in rows),
        trainable_params=sum(r.trainable_params for r in rows),
        buffers=sum(r.buffers for r in rows),
        macs=sum(r.macs for r in rows),
        activation_values=sum(_numel(r.output_shape) for r in rows),
        notes=tuple(padding_notes(graph)),
        outputs=tuple(
            (name, graph.nodes[node]["shape"]) for name, node in zip(output_names(graph), outputs)
        )
        if len(outputs) > 1
        else (),
    )


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total

"""The checked model users hold: the IR plus its totals, summary views and backend builds."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import networkx as nx

from .errors import CnnUsageError
from .expressions import describe_value
from .formatting import RENDERERS
from .program import Program
from .summary import Row, Summary, op_rows, output_names, summarize


class Model:
    """A network that passed checking: shapes, parameters and MACs are known exactly."""

    def __init__(self, graph: nx.DiGraph, program: Program):
        self.graph = graph
        self.program = program

    @property
    def name(self) -> str:
        return self.graph.graph["network"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[self.graph.graph["inputs"][0]]["shape"]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[self.graph.graph["outputs"][0]]["shape"]

    @property
    def output_shapes(self) -> list[tuple[int, ...]]:
        """Every output's shape, in the order `output a, b` lists them (one for most networks)."""
        return [self.graph.nodes[node]["shape"] for node in self.graph.graph["outputs"]]

    @property
    def output_names(self) -> list[str]:
        """The outputs' names as `output a, b` wrote them; the last node's id without one."""
        return output_names(self.graph)

    @cached_property
    def layers(self) -> list[Row]:
        return op_rows(self.graph)

    def _total(self, key: str) -> int:
        return sum(data[key] for _, data in self.graph.nodes(data=True))

    @property
    def params(self) -> int:
        return self._total("params")

    @property
    def trainable_params(self) -> int:
        return self._total("trainable_params")

    @property
    def buffers(self) -> int:
        return self._total("buffers")

    @property
    def macs(self) -> int:
        return self._total("macs")

    @property
    def flops(self) -> int:
        """FLOPs as 2 x MACs."""
        return 2 * self.macs

    def stats(self, depth: int | None = None) -> Summary:
        return summarize(self.graph, depth)

    def summary(self, format: str = "table", depth: int | None = None) -> str:  # noqa: A002 - the CLI's word
        """The summary as text: "table", "json" or "markdown"."""
        if format not in RENDERERS:
            choices = ", ".join(sorted(RENDERERS))
            shown = format if isinstance(format, str) else describe_value(format)
            raise CnnUsageError(f"unknown summary format '{shown}'; choose one of {choices}")
        return RENDERERS[format](self.stats(depth))

    def build(self, backend: str = "torch", **options: Any) -> Any:
        """Lower to a backend found through the `cnndsl.backends` entry points."""
        from .plugins import get_backend

        return get_backend(backend).build(self, **options)

    def __repr__(self) -> str:
        return f"<cnndsl.Model {self.name}: {self.params:,} params, {self.macs:,} MACs>"

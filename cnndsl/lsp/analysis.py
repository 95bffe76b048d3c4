"""Checking one editor buffer as `cnndsl check` does, into plain data: diagnostics and per-statement facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from ..elaborate import build_graph
from ..errors import CnnError, Diagnostic, DiagnosticSink
from ..loader import _gc_paused
from ..name_check import check_blocks
from ..parser import parse
from ..passes import run_passes
from ..program import FileReader, Program, load_program
from ..source import SourceFile, Span
from .names import resolve_import
from .prefix import prefix_candidates


@dataclass(frozen=True)
class Fact:
    """What one statement of the file produced: a layer's node(s), a block call's, or a network's.

    Inside a block body a statement produces nodes once per call; the fact holds the first call's.
    """

    start: int  # character offsets of the statement in the checked file
    end: int
    what: str  # "layer", "call" or "network"
    title: str  # the op kind, the call as bound ("bottleneck(64, stride=2)"), or the network's name
    op: str | None
    shape: tuple[int, ...]
    params: int
    buffers: int
    macs: int
    count: int  # nodes produced (a repeat makes several)
    input_shape: tuple[int, ...] | None = None  # of the first node: what the statement received
    call: str | None = None  # inside a block: the call these figures are for, "sig at file:line"


@dataclass
class Analysis:
    """Everything the editor features need about one buffer, computed once per version."""

    source: SourceFile
    diagnostics: list[Diagnostic]
    # The program of the whole text, or of the prefix before its first error (offsets agree).
    program: Program | None
    facts: list[Fact] = field(default_factory=list)
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)  # network -> bound values
    dependencies: frozenset[Path] = frozenset()  # every file read to check this one
    # For an error in an imported file that no call of this file reaches: the import statement
    # of this file that leads to that file (the first, if several do), by resolved path.
    import_of: dict[Path, Span] = field(default_factory=dict)


class _RecordingReader:
    """Reads imports through `read`, noting each path so edits to it re-check this file."""

    def __init__(self, read: FileReader):
        self.read = read
        self.paths: set[Path] = set()
        self.order: list[Path] = []  # first reads in order: the loader goes depth first

    def __call__(self, path: Path, name: str) -> SourceFile:
        if path not in self.paths:
            self.paths.add(path)
            self.order.append(path)
        return self.read(path, name)


@_gc_paused  # as `check`: the collector's passes over a growing graph cost a quarter of the time
def analyze(source: SourceFile, read: FileReader = SourceFile.read) -> Analysis:
    """Check `source` (its imports read through `read`) and describe every statement that checked."""
    reader = _RecordingReader(read)
    sink = DiagnosticSink()
    program: Program | None = None
    models: list[nx.DiGraph] = []
    try:
        program = load_program(source, reader)
    except CnnError as error:
        sink.add(error)
    reads = list(reader.order)
    if program is not None:
        check_blocks(program, sink)
        for network in program.networks:
            try:
                models.append(run_passes(build_graph(program, network, None, None)))
            except CnnError as error:
                sink.add(error)
            except RecursionError:  # the CLI reports this through its own guard; here, skip the network
                sink.add(CnnError("the network nests too deeply to check", network.name_span))
    diagnostics = sink.diagnostics
    facts = _facts(models, source, program)
    analysis = Analysis(source, diagnostics, program, facts, _parameters(models), frozenset(reader.paths))
    if any(_only_imported(diagnostic, source) for diagnostic in diagnostics):
        analysis.import_of = _import_of(source, program, reads)
    if diagnostics and len(models) < (len(program.networks) if program else 1):
        _add_prefix_facts(analysis, reader)
    return analysis


def _add_prefix_facts(analysis: Analysis, reader: _RecordingReader) -> None:
    """Facts for the statements before the first error, from checking only the text before it."""
    first_error = min((_offset_in(d, analysis.source) for d in analysis.diagnostics), default=None)
    if first_error is None:
        return
    for cut, prefix in prefix_candidates(analysis.source, first_error):
        try:
            program = load_program(prefix, reader)
        except CnnError:
            continue
        models = []
        for network in program.networks:
            try:
                models.append(run_passes(build_graph(program, network, None, None)))
            except (CnnError, RecursionError):
                pass
        if analysis.program is None:
            analysis.program = program
        if models:
            known = {(fact.start, fact.end, fact.what) for fact in analysis.facts}
            extra = [
                fact
                for fact in _facts(models, prefix, program)
                if (fact.start, fact.end, fact.what) not in known
                and fact.end <= cut
                and fact.what != "network"
            ]
            analysis.facts = sorted(analysis.facts + extra, key=lambda fact: (fact.start, fact.end))
            for name, values in _parameters(models).items():
                analysis.parameters.setdefault(name, values)
            return


def _only_imported(diagnostic: Diagnostic, source: SourceFile) -> bool:
    """An error in another file that no call written in `source` leads to."""
    span = diagnostic.span
    return (
        span is not None
        and span.source is not source
        and not any(frame.span.source is source for frame in diagnostic.chain)
    )


def _import_of(source: SourceFile, program: Program | None, reads: list[Path]) -> dict[Path, Span]:
    """Each file read while loading `source` -> the import statement of `source` under which it was
    read: the loader reads depth first, so a file belongs to the last top-level import read before it."""
    try:
        module = program.module if program is not None else parse(source)
    except CnnError:
        return {}
    statements = {}
    for statement in module.imports:
        path = resolve_import(source, statement.path)
        if path is not None and statement.span.source is source:
            statements.setdefault(path, statement.span)
    import_of: dict[Path, Span] = {}
    current = None
    for path in reads:
        current = statements.get(path, current)
        if current is not None:
            import_of[path] = current
    return import_of


def _offset_in(diagnostic: Diagnostic, source: SourceFile) -> int:
    """Where in `source` a diagnostic is felt: its own span, or the outermost call written there."""
    if diagnostic.span is not None and diagnostic.span.source is source:
        return diagnostic.span.start
    for frame in diagnostic.chain:
        if frame.span.source is source:
            return frame.span.start
    return 0  # in an imported file, with no call from here: nothing before it can be trusted


def _parameters(models: list[nx.DiGraph]) -> dict[str, dict[str, Any]]:
    return {graph.graph["network"]: dict(graph.graph.get("parameters", {})) for graph in models}


def _facts(models: list[nx.DiGraph], source: SourceFile, program: Program | None) -> list[Fact]:
    facts: list[Fact] = []
    for graph in models:
        facts.extend(_graph_facts(graph, source, program))
    return sorted(facts, key=lambda fact: (fact.start, fact.end))


def _graph_facts(graph: nx.DiGraph, source: SourceFile, program: Program) -> list[Fact]:
    """Group the graph's nodes by the statement of `source` that produced them (first call only)."""
    groups: dict[tuple[int, int, str], tuple[tuple, list[dict], str]] = {}

    def add(key: tuple[int, int, str], chain: tuple, data: dict, title: str) -> None:
        group = groups.get(key)
        if group is None:
            groups[key] = (chain, [data], title)
        elif group[0] == chain:  # the same call site (a repeat); other call sites are not shown
            group[1].append(data)

    for _, data in graph.nodes(data=True):
        span, chain = data.get("span"), data.get("chain", ())
        if span is not None and span.source is source:
            add((span.start, span.end, "layer"), chain, data, data["op"])
        for index, frame in enumerate(chain):
            if frame.span.source is source:
                add((frame.span.start, frame.span.end, "call"), chain[index + 1 :], data, frame.signature)
    facts = []
    for (start, end, what), (chain, nodes, title) in groups.items():
        last, first = nodes[-1], nodes[0]
        first_inputs = [graph.nodes[n]["shape"] for n in first.get("inputs", ())]
        call = f"{chain[0].signature} at {chain[0].span}" if chain else None
        facts.append(
            Fact(
                start,
                end,
                what,
                title,
                last["op"] if what == "layer" else None,
                last["shape"],
                sum(n["params"] for n in nodes),
                sum(n["buffers"] for n in nodes),
                sum(n["macs"] for n in nodes),
                len(nodes),
                first_inputs[0] if first_inputs else None,
                call,
            )
        )
    facts.append(_network_fact(graph, source, program))
    return [fact for fact in facts if fact is not None]


def _network_fact(graph: nx.DiGraph, source: SourceFile, program: Program) -> Fact | None:
    name = graph.graph["network"]
    definition = next((d for d in program.networks if d.name == name), None)
    if definition is None or definition.name_span.source is not source:
        return None
    span = definition.name_span
    shape = graph.nodes[graph.graph["outputs"][0]]["shape"]
    totals = [sum(data[key] for _, data in graph.nodes(data=True)) for key in ("params", "buffers", "macs")]
    first = graph.nodes[graph.graph["inputs"][0]]["shape"]
    return Fact(span.start, span.end, "network", name, None, shape, *totals, len(graph), first)

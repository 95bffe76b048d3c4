"""Every name written in a file, what it names and where that is defined: go-to, references, rename."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .. import ops
from .. import syntax_tree as st
from ..program import Program
from ..source import SourceFile, Span


@dataclass(frozen=True)
class Name:
    """One occurrence of a name in the file."""

    start: int
    end: int
    name: str
    kind: str  # "network", "block", "parameter", "label" or "import"
    scope: str  # the definition a parameter or label belongs to; "" for networks and blocks
    definition: Span | None  # where the name is defined (None: unknown)
    is_definition: bool = False
    path: Path | None = None  # for an import: the file it resolves to


def _name_span(span: Span, name: str) -> Span:
    """The span of `name` at the start of `span` (a parameter's or a label's span may be longer)."""
    return Span(span.source, span.start, span.start + len(name))


def walk(node: object) -> Iterator[object]:
    """Every syntax-tree node under `node`, itself included, in source order."""
    if isinstance(node, tuple):
        for item in node:
            yield from walk(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, (Span, SourceFile, type)):
        yield node
        for field in dataclasses.fields(node):
            if field.name not in ("span", "kind_span", "name_span", "label_span", "keyword_span", "value"):
                yield from walk(getattr(node, field.name))
            elif field.name == "value" and not isinstance(node, (st.NumberArray, st.Number, st.String)):
                yield from walk(getattr(node, field.name))


def resolve_import(source: SourceFile, written: str) -> Path | None:
    """The file an `import` names, as the loader finds it (relative to the file, then built-ins)."""
    here = source.path.parent if source.path else Path.cwd()
    try:
        path = here / written
        if not path.exists():
            builtin = Path(str(resources.files("cnndsl.architectures").joinpath(written)))
            path = builtin if written == Path(written).name and builtin.is_file() else path
        return path.resolve() if path.exists() else None
    except (OSError, RuntimeError, ValueError):
        return None


def index_names(program: Program, source: SourceFile) -> list[Name]:
    """Every name in `source`'s own definitions and imports, sorted by position."""
    names: list[Name] = []
    for statement in program.module.imports:
        if statement.span.source is source:
            path = resolve_import(source, statement.path)
            span = statement.span
            names.append(Name(span.start, span.end, statement.path, "import", "", None, False, path))
    for definition in program.module.definitions:
        if definition.span.source is source:
            names.extend(_definition_names(program, definition))
    return sorted(names, key=lambda name: (name.start, name.end))


def _definition_names(program: Program, definition: st.Definition) -> Iterator[Name]:
    span = definition.name_span
    yield Name(span.start, span.end, definition.name, definition.kind, "", span, True)
    parameters = {p.name: _name_span(p.span, p.name) for p in definition.parameters}
    for name, where in parameters.items():
        yield Name(where.start, where.end, name, "parameter", definition.name, where, True)
    labels: dict[str, Span] = {}
    nodes = list(walk(definition.body))
    for node in nodes:
        label, label_span = getattr(node, "label", None), getattr(node, "label_span", None)
        if label and label_span is not None:
            where = _name_span(label_span, label)
            labels.setdefault(label, where)
            yield Name(where.start, where.end, label, "label", definition.name, labels[label], True)
    for node in nodes:
        if isinstance(node, st.Call):
            yield from _block_reference(program, node.block, node.name_span)
            yield from _keywords(program, node)
        elif isinstance(node, st.Layer) and ops.lookup(node.kind) is None:
            yield from _block_reference(program, node.kind, node.kind_span)
        elif isinstance(node, st.Name):
            kind = "parameter" if node.name in parameters else "label" if node.name in labels else None
            if kind is not None:
                target = parameters.get(node.name) if kind == "parameter" else labels[node.name]
                yield Name(node.span.start, node.span.end, node.name, kind, definition.name, target)


def _block_reference(program: Program, block: str, span: Span) -> Iterator[Name]:
    definition = program.definitions.get(block)
    target = definition.name_span if definition is not None else None
    yield Name(span.start, span.end, block, "block", "", target)


def _keywords(program: Program, call: st.Call) -> Iterator[Name]:
    """`stride=2` in `bottleneck(64, stride=2)` names the block's parameter `stride`."""
    definition = program.definitions.get(call.block)
    if definition is None:
        return
    parameters = {p.name: _name_span(p.span, p.name) for p in definition.parameters}
    for argument in call.arguments:
        span = argument.keyword_span
        if argument.keyword in parameters and span is not None:
            where = _name_span(span, argument.keyword)
            yield Name(
                where.start,
                where.end,
                argument.keyword,
                "parameter",
                call.block,
                parameters[argument.keyword],
            )


def name_at(names: list[Name], offset: int) -> Name | None:
    """The name under the cursor (touching its end counts, as editors place the cursor after a word)."""
    for name in names:
        if name.start <= offset <= name.end:
            return name
    return None


def same_symbol(a: Name, b: Name) -> bool:
    """Whether two occurrences name the same thing (a block, or one definition's parameter or label)."""
    if a.kind != b.kind or a.name != b.name or a.kind == "import":
        return False
    if a.definition is not None and b.definition is not None:
        return a.definition == b.definition
    return a.scope == b.scope

"""Each editor request answered from a checked buffer, as LSP types."""

from __future__ import annotations

import difflib
import re

from lsprotocol import types as lsp

from ..errors import CnnError
from ..formatter import format_text
from ..program import Program
from ..source import Span
from . import convert
from .completion import complete
from .convert import LineIndex
from .documents import Checked, DocumentStore
from .hover import hint_label, hover_text
from .names import Name, name_at, same_symbol

_COMPLETION_KINDS = {
    "layer": lsp.CompletionItemKind.Class,
    "keyword": lsp.CompletionItemKind.Keyword,
    "block": lsp.CompletionItemKind.Function,
    "argument": lsp.CompletionItemKind.Property,
    "parameter": lsp.CompletionItemKind.Variable,
    "label": lsp.CompletionItemKind.Reference,
}


def diagnostics(checked: Checked) -> list[lsp.Diagnostic]:
    analysis = checked.analysis
    return convert.diagnostics(analysis.diagnostics, analysis.source, checked.index, analysis.import_of)


def inlay_hints(checked: Checked, visible: lsp.Range) -> list[lsp.InlayHint]:
    first, last = checked.index.offset(visible.start), checked.index.offset(visible.end)
    hints = []
    for fact in checked.analysis.facts:
        if first <= fact.end <= last and fact.what != "network":
            hints.append(
                lsp.InlayHint(
                    checked.index.position(fact.end),
                    "  " + hint_label(fact),
                    kind=lsp.InlayHintKind.Type,
                    tooltip=fact.call and f"for the call {fact.call}",
                )
            )
        elif fact.what == "network" and first <= fact.end <= last:
            hints.append(lsp.InlayHint(checked.index.position(fact.end), " " + hint_label(fact)))
    return hints


def hover(checked: Checked, position: lsp.Position) -> lsp.Hover | None:
    found = hover_text(checked.analysis, checked.names, checked.index.offset(position))
    if found is None:
        return None
    text, start, end = found
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text), checked.index.range(start, end))


def _location(span: Span) -> lsp.Location | None:
    return convert.location(span, {})


def definition(checked: Checked, position: lsp.Position) -> lsp.Location | None:
    name = name_at(checked.names, checked.index.offset(position))
    if name is None:
        return None
    if name.kind == "import":
        if name.path is None:
            return None
        start = lsp.Position(0, 0)
        return lsp.Location(convert.uri_of(name.path), lsp.Range(start, start))
    if name.definition is None:
        return None
    if name.definition.source is checked.analysis.source or name.definition.source.path is None:
        return lsp.Location(checked.uri, checked.index.range(name.definition.start, name.definition.end))
    return _location(name.definition)


def _key(name: Name, uri: str) -> tuple | None:
    """What a name refers to, comparable across files: (kind, file, start) of its definition."""
    span = name.definition
    if span is None:
        return None
    path = span.source.path.resolve() if span.source.path else uri
    return (name.kind, name.name, path, span.start)


# Where an occurrence is: the file's URI, its line index, the name.
Occurrence = tuple[str, LineIndex, Name]


def _occurrences(store: DocumentStore, checked: Checked, target: Name) -> list[Occurrence]:
    """Every occurrence of what `target` names: in this buffer, and for a block or a block's parameter
    (a keyword argument) in every open buffer and every closed file of the definition's folder."""
    found = [(checked.uri, checked.index, name) for name in checked.names if same_symbol(name, target)]
    key = _key(target, checked.uri)
    if target.kind in ("block", "parameter") and key is not None:
        for other in list(store.checked.values()):
            if other.uri != checked.uri:
                found += [(other.uri, other.index, n) for n in other.names if _key(n, other.uri) == key]
        defined_in = target.definition.source.path if target.definition is not None else None
        if defined_in is not None:
            for uri, index, names in store.closed_files(defined_in.parent, target.name):
                found += [(uri, index, name) for name in names if _key(name, uri) == key]
    return found


def references(
    store: DocumentStore, checked: Checked, position: lsp.Position, declaration: bool
) -> list[lsp.Location]:
    target = name_at(checked.names, checked.index.offset(position))
    if target is None or target.kind == "import":
        return []
    locations = []
    for uri, index, name in _occurrences(store, checked, target):
        if declaration or not name.is_definition:
            locations.append(lsp.Location(uri, index.range(name.start, name.end)))
    return locations


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def rename(
    store: DocumentStore, checked: Checked, position: lsp.Position, new_name: str
) -> lsp.WorkspaceEdit | None:
    target = name_at(checked.names, checked.index.offset(position))
    if target is None or target.kind not in ("block", "parameter", "label"):
        return None
    if not _IDENTIFIER.fullmatch(new_name):
        raise ValueError(f"'{new_name}' is not a name: use letters, digits and _")
    changes: dict[str, list[lsp.TextEdit]] = {}
    seen = set()
    for uri, index, name in _occurrences(store, checked, target):
        seen.add((uri, name.start))
        changes.setdefault(uri, []).append(lsp.TextEdit(index.range(name.start, name.end), new_name))
    span = target.definition
    if span is not None and span.source.path is not None and span.source is not checked.analysis.source:
        where = _location(span)
        if where is not None and (where.uri, span.start) not in seen and where.uri not in store.checked:
            changes.setdefault(where.uri, []).append(lsp.TextEdit(where.range, new_name))
    return lsp.WorkspaceEdit(changes=changes)


def prepare_rename(checked: Checked, position: lsp.Position) -> lsp.Range | None:
    target = name_at(checked.names, checked.index.offset(position))
    if target is None or target.kind not in ("block", "parameter", "label"):
        return None
    return checked.index.range(target.start, target.end)


def document_symbols(checked: Checked) -> list[lsp.DocumentSymbol]:
    program, index = checked.analysis.program, checked.index
    if program is None:
        return []
    symbols = []
    for definition in program.module.definitions:
        if definition.span.source is not checked.analysis.source:
            continue
        children = [
            lsp.DocumentSymbol(
                name.name,
                lsp.SymbolKind.Field,
                index.range(name.start, name.end),
                index.range(name.start, name.end),
            )
            for name in checked.names
            if name.kind == "label"
            and name.is_definition
            and name.scope == definition.name
            and definition.span.start <= name.start <= definition.span.end
        ]
        kind = lsp.SymbolKind.Class if definition.kind == "network" else lsp.SymbolKind.Function
        name_range = index.range(definition.name_span.start, definition.name_span.end)
        whole = index.range(definition.span.start, definition.span.end)
        symbols.append(
            lsp.DocumentSymbol(
                definition.name, kind, whole, name_range, detail=definition.kind, children=children
            )
        )
    return symbols


def completion(checked: Checked, position: lsp.Position, fallback: Program | None) -> lsp.CompletionList:
    program = checked.analysis.program or fallback
    items = []
    for item in complete(checked.text, checked.index.offset(position), program):
        items.append(
            lsp.CompletionItem(
                item.label,
                kind=_COMPLETION_KINDS[item.kind],
                detail=item.detail or None,
                documentation=item.documentation or None,
                insert_text=item.snippet,
                insert_text_format=lsp.InsertTextFormat.Snippet if item.snippet else None,
            )
        )
    return lsp.CompletionList(is_incomplete=False, items=items)


def formatting(checked: Checked, only: lsp.Range | None = None) -> list[lsp.TextEdit] | None:
    """The formatter's edits: the whole text, or (for a range) the changed lines that touch it."""
    try:
        formatted = format_text(checked.text, checked.analysis.source.name)
    except CnnError:
        return None  # a file that does not parse is left as it is; its diagnostics say why
    if formatted == checked.text:
        return []
    index = checked.index
    if only is None:
        return [lsp.TextEdit(index.range(0, len(checked.text)), formatted)]
    before, after = checked.text.splitlines(keepends=True), formatted.splitlines(keepends=True)
    first, last = only.start.line, only.end.line
    edits = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:  # lines changed one for one: an edit per line
            for i, j in zip(range(i1, i2), range(j1, j2)):
                if first <= i <= last:
                    end = lsp.Position(i + 1, 0) if i + 1 < len(before) else index.position(len(checked.text))
                    edits.append(lsp.TextEdit(lsp.Range(lsp.Position(i, 0), end), after[j]))
        elif tag != "equal" and i1 <= last and i2 >= first:
            start = lsp.Position(i1, 0)
            end = lsp.Position(i2, 0) if i2 < len(before) else index.position(len(checked.text))
            edits.append(lsp.TextEdit(lsp.Range(start, end), "".join(after[j1:j2])))
    return edits


_DID_YOU_MEAN = re.compile(r"\(did you mean '([^']+)'\?\)")


def code_actions(checked: Checked, uri: str, found: list[lsp.Diagnostic]) -> list[lsp.CodeAction]:
    """Fixes for diagnostics that name one: a did-you-mean suggestion, a block call without parentheses."""
    actions = []
    text, index = checked.text, checked.index
    for diagnostic in found:
        edit = None
        suggestion = _DID_YOU_MEAN.search(diagnostic.message)
        if suggestion is not None:
            edit, title = (
                lsp.TextEdit(diagnostic.range, suggestion.group(1)),
                f"Change to '{suggestion.group(1)}'",
            )
        elif "write its arguments in parentheses" in diagnostic.message:
            edit, title = _parenthesise(text, index.offset(diagnostic.range.start))
        if edit is not None:
            actions.append(
                lsp.CodeAction(
                    title,
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
                    is_preferred=True,
                )
            )
    return actions


def _parenthesise(text: str, offset: int) -> tuple[lsp.TextEdit | None, str]:
    """`unit (32)` -> `unit(32)`, `unit 32 stride=2` -> `unit(32, stride=2)`: a call written as a layer."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : len(text) if line_end < 0 else line_end].split("#")[0]
    index = LineIndex(text)
    spaced = re.search(r"([A-Za-z_][A-Za-z0-9_]*)([ \t]+)\(", line)
    if spaced is not None:
        start = line_start + spaced.start(2)
        edit = lsp.TextEdit(index.range(start, start + len(spaced.group(2))), "")
        return edit, f"Write the call as {spaced.group(1)}(...)"
    written = re.match(
        r"([ \t]*(?:[A-Za-z_][A-Za-z0-9_]*[ \t]*:[ \t]*)?[A-Za-z_][A-Za-z0-9_]*)[ \t]+(.+?)[ \t]*$", line
    )
    if written is None:
        return None, ""
    arguments = f"({', '.join(written.group(2).split())})"
    start = line_start + written.end(1)
    edit = lsp.TextEdit(index.range(start, line_start + written.end(2)), arguments)
    return edit, f"Write the call as {written.group(1).strip()}{arguments}"

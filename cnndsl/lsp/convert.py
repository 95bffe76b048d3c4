"""Plain analysis results as LSP types: positions in UTF-16 units, diagnostics with their call chains."""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from lsprotocol import types as lsp

from ..errors import Diagnostic
from ..source import SourceFile, Span


class LineIndex:
    """Character offsets <-> LSP positions (lines from 0, columns in UTF-16 code units)."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def position(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        prefix = self.text[self.starts[line] : offset]
        return lsp.Position(line, len(prefix) + sum(1 for ch in prefix if ord(ch) > 0xFFFF))

    def range(self, start: int, end: int) -> lsp.Range:
        return lsp.Range(self.position(start), self.position(max(start, end)))

    def offset(self, position: lsp.Position) -> int:
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[position.line]
        stop = self.text.find("\n", start)
        stop = len(self.text) if stop < 0 else stop
        units = 0
        for index in range(start, stop):
            if units >= position.character:
                return index
            units += 2 if ord(self.text[index]) > 0xFFFF else 1
        return stop


def uri_of(path: Path) -> str:
    return path.resolve().as_uri()


def location(span: Span, indexes: dict[int, LineIndex]) -> lsp.Location | None:
    """Where a span lies, in a file that has a path (a built-in file has one too)."""
    source = span.source
    if source.path is None:
        return None
    index = indexes.setdefault(id(source), LineIndex(source.text))
    return lsp.Location(uri_of(source.path), index.range(span.start, span.end))


def diagnostics(
    found: list[Diagnostic],
    source: SourceFile,
    index: LineIndex,
    import_of: dict[Path, Span] | None = None,
) -> list[lsp.Diagnostic]:
    """The diagnostics to show in `source`: its own, and those of imported files at the call or import
    that leads to them, with every `called at` step (and the real place) as related information.

    `import_of` maps an imported file to the import statement of `source` that leads to it."""
    indexes: dict[int, LineIndex] = {}
    shown = []
    for diagnostic in found:
        related = []
        for frame in diagnostic.chain:
            where = location(frame.span, indexes)
            if where is not None:
                related.append(
                    lsp.DiagnosticRelatedInformation(where, f"in block {frame.signature} called here")
                )
        span, message = diagnostic.span, diagnostic.message
        if span is None or span.source is not source:
            if span is not None and (where := location(span, indexes)) is not None:
                related.insert(0, lsp.DiagnosticRelatedInformation(where, diagnostic.message))
            outer = next((frame for frame in diagnostic.chain if frame.span.source is source), None)
            if outer is not None:
                span, message = outer.span, f"in block {outer.signature}: {message}"
            else:
                where_text = f" ({diagnostic.span})" if diagnostic.span is not None else ""
                path = diagnostic.span.source.path if diagnostic.span is not None else None
                leading = (import_of or {}).get(path) if path is not None else None
                span, message = leading or _first_import(source), f"{message}{where_text}"
        rng = (
            index.range(span.start, span.end)
            if span is not None
            else lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
        )
        notes = "".join(f"\nnote: {note}" for note in diagnostic.notes)
        shown.append(
            lsp.Diagnostic(
                rng,
                message + notes,
                severity=lsp.DiagnosticSeverity.Error,
                source="cnndsl",
                related_information=related or None,
            )
        )
    return shown


def _first_import(source: SourceFile) -> Span | None:
    """Where an error in an imported file is shown when no import is known to lead to it."""
    match = re.search(r"^[ \t]*import\b[^\n]*", source.text, re.MULTILINE)
    return Span(source, match.start(), match.end()) if match else None

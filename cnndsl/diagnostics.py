"""Rendering diagnostics for people: `file:line:col: error: ...`, the line, a caret, the call chain."""

from __future__ import annotations

from .errors import Diagnostic


def render(diagnostic: Diagnostic) -> str:
    # An error about the request rather than a file has no position: name the program instead.
    lines = [diagnostic.headline() if diagnostic.span else f"cnndsl: {diagnostic.headline()}"]
    span = diagnostic.span
    if span is not None and span.source.text:
        line_number, column = span.source.position(span.start)
        text = span.source.line_text(line_number)
        if text.strip():
            end_line, end_column = span.source.position(max(span.end - 1, span.start))
            width = (end_column - column + 1) if end_line == line_number else len(text) - column + 1
            # Keep tabs in the caret line so the caret sits under the same character.
            prefix = "".join(ch if ch == "\t" else " " for ch in text[: column - 1])
            lines.append(text)
            lines.append(prefix + "^" * max(width, 1))
    for frame in diagnostic.chain:
        lines.append(f"  in block {frame.signature} called at {frame.span}")
    for note in diagnostic.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def render_all(diagnostics: list[Diagnostic]) -> str:
    body = "\n".join(render(d) for d in diagnostics)
    count = len(diagnostics)
    return f"{body}\n{count} error{'s' if count != 1 else ''}\n" if count > 1 else body + "\n"

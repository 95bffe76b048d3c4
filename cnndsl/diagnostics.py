"""Rendering diagnostics for people: `file:line:col: error: ...`, the line, a caret, the call chain."""

from __future__ import annotations

import unicodedata

from .errors import MAX_SHOWN_ERRORS, Diagnostic, more_errors

# A source line longer than this is shown as a window around the culprit, so that a generated
# one-line file does not flood the terminal.
MAX_SHOWN_LINE = 120
CONTEXT_BEFORE = 40  # characters kept before the culprit in such a window
# A chain of block calls longer than this shows its innermost and outermost calls only.
MAX_SHOWN_CALLS = 10


def _display(char: str) -> str:
    """How a character is echoed: control characters and line separators (\\r, NUL, U+2028) as '?'."""
    if char == "\t":
        return char
    return "?" if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") else char


def _width(char: str) -> int:
    """Terminal columns a character takes: two for wide East Asian characters, else one."""
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _caret_lines(text: str, start: int, end: int) -> tuple[str, str]:
    """The source line (or a window of it) and the caret line under text[start:end]."""
    prefix_marker = suffix_marker = ""
    if len(text) > MAX_SHOWN_LINE:
        first = max(0, start - CONTEXT_BEFORE)
        last = min(len(text), first + MAX_SHOWN_LINE)
        prefix_marker = "..." if first > 0 else ""
        suffix_marker = "..." if last < len(text) else ""
        text, start, end = text[first:last], start - first, min(end, last) - first
    shown = prefix_marker + "".join(_display(ch) for ch in text) + suffix_marker
    # Keep tabs in the caret line so the caret sits under the same character.
    pad = " " * len(prefix_marker) + "".join(ch if ch == "\t" else " " * _width(ch) for ch in text[:start])
    width = sum(_width(ch) for ch in text[start:end])
    return shown, pad + "^" * max(width, 1)


def render(diagnostic: Diagnostic) -> str:
    # An error about the request rather than a file has no position: name the program instead.
    lines = [diagnostic.headline() if diagnostic.span else f"cnndsl: {diagnostic.headline()}"]
    span = diagnostic.span
    if span is not None and span.source.text:
        line_number, column = span.source.position(span.start)
        text = span.source.line_text(line_number)
        if text.strip():
            end_line, end_column = span.source.position(max(span.end - 1, span.start))
            # A span over several lines (a whole `residual { ... }`) is underlined to the end of its first.
            end = end_column if end_line == line_number else len(text)
            lines.extend(_caret_lines(text, column - 1, max(end, column)))
    chain = list(diagnostic.chain)
    if len(chain) > MAX_SHOWN_CALLS:
        kept = MAX_SHOWN_CALLS // 2
        hidden = len(chain) - 2 * kept
        shown = [f"  in block {f.signature} called at {f.span}" for f in chain[:kept]]
        shown.append(f"  ... {hidden:,} more block calls ...")
        shown.extend(f"  in block {f.signature} called at {f.span}" for f in chain[-kept:])
        lines.extend(shown)
    else:
        lines.extend(f"  in block {frame.signature} called at {frame.span}" for frame in chain)
    for note in diagnostic.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def render_all(diagnostics: list[Diagnostic]) -> str:
    body = "\n".join(render(d) for d in diagnostics[:MAX_SHOWN_ERRORS])
    count = len(diagnostics)
    if count > MAX_SHOWN_ERRORS:
        body += "\n" + more_errors(count - MAX_SHOWN_ERRORS)
    return f"{body}\n{count:,} error{'s' if count != 1 else ''}\n" if count > 1 else body + "\n"

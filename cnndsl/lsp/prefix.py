"""The text before an error, closed so that it parses: the editor still gets shapes for it."""

from __future__ import annotations

from collections.abc import Iterator

from ..source import SourceFile

_CLOSING = {"{": "}", "(": ")", "[": "]"}
# Each candidate is one more check; past a few, the cost outweighs the hints gained.
MAX_CANDIDATES = 3


def _open_brackets(text: str, end: int) -> list[tuple[str, int]]:
    """The brackets open at `end`, outermost first, each with its offset (comments and strings skipped)."""
    stack: list[tuple[str, int]] = []
    index = 0
    while index < end:
        char = text[index]
        if char == "#":
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        if char == '"':
            closing = text.find('"', index + 1)
            index = end if closing < 0 else closing + 1
            continue
        if char in _CLOSING:
            stack.append((char, index))
        elif char in ")]}" and stack and _CLOSING[stack[-1][0]] == char:
            stack.pop()
        index += 1
    return stack


def _line_start(text: str, offset: int) -> int:
    return text.rfind("\n", 0, offset) + 1


def prefix_candidates(source: SourceFile, error_offset: int) -> Iterator[tuple[int, SourceFile]]:
    """(cut, text): the text before the error's line, then before each enclosing statement, closed.

    Offsets in each candidate are those of `source`, so what it produces maps back unchanged.
    """
    text = source.text
    cut = _line_start(text, min(error_offset, len(text)))
    for _ in range(MAX_CANDIDATES):
        stack = _open_brackets(text, cut)
        closers = "".join(_CLOSING[char] for char, _ in reversed(stack))
        yield cut, SourceFile(source.name, text[:cut] + "\n" + "\n".join(closers) + "\n", source.path)
        # Next: drop the whole innermost statement (`residual {` ...), never the definition itself.
        if len(stack) < 2:
            return
        cut = _line_start(text, stack[-1][1])

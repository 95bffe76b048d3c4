"""The formatter's output side: lines, indentation, bracket continuations and comment placement."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

INDENT = 4
TRAILING_COMMENT_GAP = 2  # spaces between code and a trailing comment (at least)
_BLANK_LINE = re.compile(r"\n[ \t\f\r]*\n")


class Blank(Enum):
    """Whether an empty line may precede the next line written."""

    KEEP = "keep"  # one empty line if the source had at least one there
    NEVER = "never"
    FORCE = "force"


@dataclass(frozen=True)
class Comment:
    start: int
    end: int
    line: int  # 1-based source line
    text: str


@dataclass
class _Line:
    indent: int
    parts: list[str] = field(default_factory=list)
    trailing: str | None = None  # a comment after the code on this line
    own_comment: bool = False  # the line holds only a comment
    blank_before: bool = False
    statement_indent: int | None = None  # continuation lines carry their statement's indentation

    def __post_init__(self) -> None:
        if self.statement_indent is None:
            self.statement_indent = self.indent
        # Kept as parts are added: measuring the joined text at each bracket made a long line
        # quadratic.
        self.width = self.indent + sum(len(part) for part in self.parts)

    def append(self, text: str) -> None:
        self.parts.append(text)
        self.width += len(text)

    def code(self) -> str:
        return " " * self.indent + "".join(self.parts)


@dataclass
class _Bracket:
    """An open ( or [ whose contents may continue on later lines."""

    line_indent: int  # indentation of the line holding the bracket
    column_after: int  # the column just after the bracket, for aligned continuation lines
    tokens_inside: int = 0
    hanging: bool | None = None  # decided at the first line break inside

    def continuation(self) -> int:
        return self.line_indent + INDENT if self.hanging else self.column_after

    def closing(self) -> int:
        return self.line_indent if self.hanging else max(self.column_after - 1, 0)


class LayoutWriter:
    """Collects tokens into lines; places each comment at the source position it came from.

    A comment on the same source line as the token before it stays at the end of that token's
    output line (trailing); any other comment gets a line of its own before the next token.
    """

    def __init__(self, source: str, comments: list[Comment]):
        self.source = source
        self.comments = deque(sorted(comments, key=lambda c: c.start))
        self.lines: list[_Line] = []
        self.current: _Line | None = None
        self.brackets: list[_Bracket] = []
        self.last_end = 0  # source offset after the last token or comment written
        self.last_token_line = 0  # source line of the last token written
        self.last_token_output: _Line | None = None
        self.wants_space = False
        # where and how the next line starts
        self.next_indent = 0
        self.next_blank = Blank.KEEP
        self.comment_indent: int | None = None
        self.closing = False
        self.first_after_break = True
        self.continuing = False  # the next line continues a statement (inside brackets or after \\)

    # ----- what the printer calls ---------------------------------------------------------
    @property
    def depth(self) -> int:
        return len(self.brackets)

    def space(self) -> None:
        self.wants_space = True

    def no_space(self) -> None:
        self.wants_space = False

    def newline(
        self, indent: int, blank: Blank = Blank.KEEP, comment_indent: int | None = None, closing: bool = False
    ) -> None:
        """End the current line; the next token starts a line at `indent`.

        `closing` marks the line of a `}`: comments just before it are indented like the body
        (`comment_indent`) and may keep an empty line above them; the brace itself never does.
        """
        self.current = None
        self.next_indent = indent
        self.next_blank = blank
        self.comment_indent = comment_indent
        self.closing = closing
        self.first_after_break = True
        self.wants_space = False
        self.continuing = False

    def continuation_newline(self, closing_bracket: bool) -> None:
        """A line break the source had inside brackets: continue aligned with the bracket."""
        bracket = self.brackets[-1]
        if bracket.hanging is None:
            bracket.hanging = bracket.tokens_inside == 0
        indent = bracket.closing() if closing_bracket else bracket.continuation()
        self.newline(indent, Blank.NEVER, bracket.continuation())
        self.continuing = True

    def backslash_newline(self, indent: int) -> None:
        """The source continued a statement on the next line with a backslash: keep that."""
        self.emit_text(" \\", None)
        self.newline(indent, Blank.NEVER)
        self.continuing = True

    def token(self, text: str, start: int, end: int, line: int) -> None:
        """Write one token that came from source offsets [start, end) on source `line`."""
        self.flush_comments(before=start)
        if self.current is not None and self.current.trailing is not None:
            # Only reachable if a comment sat where the printer joins lines; keep the text valid.
            self._break_inside_statement()
        self.emit_text(text, start)
        self.last_end = end
        self.last_token_line = line
        self.last_token_output = self.current
        if text in ("(", "["):
            assert self.current is not None
            self.brackets.append(_Bracket(self._line_indent(), self.current.width))
        elif text in (")", "]") and self.brackets:
            self.brackets.pop()
        if self.brackets and text not in ("(", "["):
            self.brackets[-1].tokens_inside += 1

    def next_column(self) -> int:
        """The column the next token starts at on its line (after a space if one is due)."""
        if self.current is None:
            return self.next_indent
        return len(self.current.code()) + (1 if self.wants_space else 0)

    def token_lines(self, lines: list[str], start: int, end: int, line: int) -> None:
        """Write one token laid out over several lines (an array of numbers in rows).

        `lines[0]` goes where a token would; later lines carry their own indentation and
        continue the statement. What follows the token continues its last line.
        """
        self.token(lines[0], start, end, line)
        assert self.current is not None
        for text in lines[1:]:
            code = text.lstrip(" ")
            row = _Line(len(text) - len(code), [code], statement_indent=self.current.statement_indent)
            self.lines.append(row)
            self.current = row
        self.last_token_output = self.current

    def finish(self) -> str:
        self.newline(0)  # comments after the last definition belong to the top level
        self.flush_comments(before=len(self.source) + 1)
        return _render(self.lines)

    # ----- internals ----------------------------------------------------------------------
    def emit_text(self, text: str, start: int | None) -> None:
        if self.current is None:
            blank = self._blank_for(start, comment=False)
            self._start_line(self.next_indent, blank)
        elif self.wants_space:
            self.current.append(" ")
        assert self.current is not None
        self.current.append(text)
        self.wants_space = False

    def _line_indent(self) -> int:
        return self.current.indent if self.current is not None else self.next_indent

    def _start_line(self, indent: int, blank: bool) -> None:
        line = _Line(indent, blank_before=blank and bool(self.lines))
        line.statement_indent = self._statement_indent(indent)
        self.lines.append(line)
        self.current = line
        self.first_after_break = False

    def _statement_indent(self, indent: int) -> int:
        return self.lines[-1].statement_indent if self.continuing and self.lines else indent  # type: ignore[return-value]

    def _blank_for(self, start: int | None, comment: bool) -> bool:
        policy = self.next_blank
        if self.closing:
            policy = Blank.KEEP if comment else Blank.NEVER
        elif not self.first_after_break and policy is Blank.FORCE:
            policy = Blank.KEEP
        if policy is Blank.FORCE:
            return True
        if policy is Blank.NEVER or start is None:
            return False
        return bool(_BLANK_LINE.search(self.source, self.last_end, start))

    def _break_inside_statement(self) -> None:
        # Valid sources only put comments where lines end anyway; outside brackets a break here
        # would end the statement, which format_source's re-parse check then reports.
        if self.brackets:
            self.continuation_newline(closing_bracket=False)
        else:
            self.newline(self._line_indent() + INDENT, Blank.NEVER)

    def flush_comments(self, before: int) -> None:
        while self.comments and self.comments[0].start < before:
            comment = self.comments.popleft()
            text = comment.text.rstrip()
            target = self.last_token_output
            if comment.line == self.last_token_line and target is not None and target.trailing is None:
                target.trailing = text
            else:
                if self.current is not None:
                    self._break_inside_statement()
                indent = self.comment_indent if self.comment_indent is not None else self.next_indent
                blank = self._blank_for(comment.start, comment=True)
                line = _Line(indent, [text], own_comment=True, blank_before=blank and bool(self.lines))
                line.statement_indent = self._statement_indent(indent)
                self.lines.append(line)
                self.first_after_break = False
            self.last_end = comment.end


def _render(lines: list[_Line]) -> str:
    out: list[str] = []
    index = 0
    while index < len(lines):
        # Trailing comments on consecutive lines of one indentation level line up in a column.
        run_end = index
        while run_end < len(lines) and lines[run_end].trailing is not None:
            if run_end > index and _ends_alignment(lines[index], lines[run_end]):
                break
            run_end += 1
        if run_end > index:
            column = max(len(line.code()) for line in lines[index:run_end]) + TRAILING_COMMENT_GAP
            for line in lines[index:run_end]:
                _append(out, line, line.code().ljust(column) + line.trailing)
            index = run_end
            continue
        line = lines[index]
        _append(out, line, line.code())
        index += 1
    return "".join(out)


def _ends_alignment(first: _Line, line: _Line) -> bool:
    return line.blank_before or line.statement_indent != first.statement_indent


def _append(out: list[str], line: _Line, text: str) -> None:
    if line.blank_before:
        out.append("\n")
    out.append(text.rstrip() + "\n")

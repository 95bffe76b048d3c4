"""Source files and spans: where in which file a piece of the language came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, eq=False)
class SourceFile:
    """A .cnn file's text and the name it is reported under."""

    name: str
    text: str
    path: Path | None = None
    _line_starts: list[int] = field(default_factory=list, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r})"

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", starts)

    @classmethod
    def read(cls, path: Path, name: str | None = None) -> SourceFile:
        text = path.read_text(encoding="utf-8")
        return cls(name or str(path), text, path)

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        import bisect

        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of a source file."""

    source: SourceFile
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.position(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.position(self.start)[1]

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"

    def __repr__(self) -> str:
        return f"Span({self}, {self.start}:{self.end})"

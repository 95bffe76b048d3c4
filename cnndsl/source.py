"""Source files and spans: where in which file a piece of the language came from."""

from __future__ import annotations

import bisect
import re
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
        starts.extend(match.end() for match in re.finditer("\n", self.text))
        object.__setattr__(self, "_line_starts", starts)

    @classmethod
    def read(cls, path: Path, name: str | None = None) -> SourceFile:
        """Read a UTF-8 file (a leading byte-order mark, as Windows editors write, is dropped).

        Raises OSError if it cannot be read, and CnnError pointing at the first byte that is not UTF-8.
        """
        data = path.read_bytes()
        try:
            return cls(name or str(path), data.decode("utf-8-sig"), path)
        except UnicodeDecodeError as error:
            from .errors import CnnError  # errors.py imports this module

            shown = cls(name or str(path), data.decode("utf-8-sig", errors="replace"), path)
            bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
            offset = len(data[bom : error.start].decode("utf-8"))
            message = f"the file is not UTF-8 text: byte 0x{data[error.start]:02x} cannot be decoded"
            raise CnnError(message, Span(shown, offset, offset + 1)) from None

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
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

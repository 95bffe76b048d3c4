"""Source files and spans: where in which file a piece of the language came from."""

from __future__ import annotations

import bisect
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

# The largest .cnn file read: a 100,000-statement network (the op limit) written out is about
# 2.5 MB. The size is checked before reading, so a huge or endless file costs nothing.
MAX_SOURCE_BYTES = 8 * 1024 * 1024
# A file name quoted in a message is cut to this many characters.
MAX_SHOWN_NAME = 80


class NotSourceFileError(OSError):
    """A folder, a device, a FIFO or an oversized file: refused without reading it."""


class SourceTooLargeError(NotSourceFileError):
    """A file larger than MAX_SOURCE_BYTES."""


def shown_name(name: str) -> str:
    """A file name as a message quotes it: control characters escaped, a very long one cut short."""
    if not name.isprintable():
        name = repr(name)[1:-1]
    return name if len(name) <= MAX_SHOWN_NAME else name[: MAX_SHOWN_NAME - 3] + "..."


def describe_os_error(error: OSError) -> str:
    """'permission denied' rather than "[Errno 13] Permission denied: '/etc/shadow'"."""
    if isinstance(error, NotSourceFileError) or not error.strerror:
        return str(error)
    return error.strerror[:1].lower() + error.strerror[1:]


def read_source_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_SOURCE_BYTES; NotSourceFileError for anything else.

    The file is opened without blocking (a FIFO would wait for a writer) and checked through its
    descriptor, so what is read is what was checked.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        status = os.fstat(descriptor)
        if stat.S_ISDIR(status.st_mode):
            raise NotSourceFileError("it is a folder, not a file")
        if not stat.S_ISREG(status.st_mode):
            raise NotSourceFileError("it is not a regular file (a device, a pipe or a socket)")
        if status.st_size > MAX_SOURCE_BYTES:
            raise SourceTooLargeError(_too_large(f"{status.st_size:,} bytes"))
        # Files such as those in /proc report no size: read one byte past the limit to tell.
        data = b""
        while len(data) <= MAX_SOURCE_BYTES:
            chunk = os.read(descriptor, MAX_SOURCE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
        if len(data) > MAX_SOURCE_BYTES:
            raise SourceTooLargeError(_too_large(f"over {MAX_SOURCE_BYTES // 2**20} MiB"))
        return data
    finally:
        os.close(descriptor)


def _too_large(size: str) -> str:
    return f"the file is {size}; a .cnn file may have at most {MAX_SOURCE_BYTES // 2**20} MiB"


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

        Raises OSError if it cannot be read (NotSourceFileError for a folder, a device or a file larger
        than MAX_SOURCE_BYTES), and CnnError pointing at the first byte that is not UTF-8.
        """
        data = read_source_bytes(path)
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

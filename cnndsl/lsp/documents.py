"""The open buffers' analyses, recomputed when a buffer or a file it imports changes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import CnnError
from ..program import Program, load_program
from ..source import SourceFile
from .analysis import Analysis, analyze
from .convert import LineIndex, uri_of
from .names import Name, index_names

# Find references and rename look through this many closed files of a folder at most: a folder of
# thousands of .cnn files would make each request slow, and an editor's own search covers them.
MAX_FOLDER_FILES = 500


@dataclass(frozen=True)
class Checked:
    """One version of one buffer, checked."""

    uri: str
    version: int | None
    analysis: Analysis
    names: list[Name]
    index: LineIndex

    @property
    def text(self) -> str:
        return self.analysis.source.text


@dataclass(frozen=True)
class Buffer:
    uri: str
    path: Path | None
    text: str
    version: int | None


class DocumentStore:
    """Analyses by URI, for one server; `buffers` gives the editor's current texts."""

    def __init__(self, buffers: Callable[[], list[Buffer]]):
        self.buffers = buffers
        self.checked: dict[str, Checked] = {}
        # The last program that parsed, per buffer: completion while a line is half typed needs it.
        self.last_program: dict[str, Program] = {}

    def _buffer(self, uri: str) -> Buffer | None:
        return next((buffer for buffer in self.buffers() if buffer.uri == uri), None)

    def read(self, path: Path, name: str) -> SourceFile:
        """An imported file: the editor's unsaved text when it is open, else the file on disk."""
        resolved = path.resolve()
        for buffer in self.buffers():
            if buffer.path is not None and buffer.path.resolve() == resolved:
                return SourceFile(name, buffer.text, path)
        return SourceFile.read(path, name)

    def get(self, uri: str) -> Checked | None:
        """The current version's analysis, computed on first use."""
        buffer = self._buffer(uri)
        if buffer is None:
            return self.checked.get(uri)
        known = self.checked.get(uri)
        if known is not None and known.version == buffer.version and known.text == buffer.text:
            return known
        name = str(buffer.path) if buffer.path is not None else uri
        analysis = analyze(SourceFile(name, buffer.text, buffer.path), self.read)
        names = index_names(analysis.program, analysis.source) if analysis.program is not None else []
        checked = Checked(uri, buffer.version, analysis, names, LineIndex(buffer.text))
        self.checked[uri] = checked
        if analysis.program is not None:
            self.last_program[uri] = analysis.program
        return checked

    def importers(self, uri: str) -> list[str]:
        """Open buffers that read the file `uri` while being checked: they must be checked again."""
        buffer = self._buffer(uri)
        if buffer is None or buffer.path is None:
            return []
        path = buffer.path.resolve()
        return [
            other
            for other, checked in self.checked.items()
            if other != uri and path in checked.analysis.dependencies
        ]

    def closed_files(self, folder: Path, word: str) -> Iterator[tuple[str, LineIndex, list[Name]]]:
        """The names in the .cnn files of `folder` that are not open and mention `word`: what find
        references and rename reach beyond the open buffers. Files that do not load are skipped,
        and so is the folder of the built-in architectures (a rename must not edit the install)."""
        try:
            if folder.resolve() == Path(str(resources.files("cnndsl.architectures"))).resolve():
                return
            paths = sorted(folder.glob("*.cnn"))[:MAX_FOLDER_FILES]
        except OSError:
            return
        open_paths = {buffer.path.resolve() for buffer in self.buffers() if buffer.path is not None}
        mentions = re.compile(rf"\b{re.escape(word)}\b")
        for path in paths:
            try:
                resolved = path.resolve()
                if resolved in open_paths:
                    continue
                source = SourceFile.read(resolved, str(path))
                if not mentions.search(source.text):
                    continue
                program = load_program(source, self.read)
            except (OSError, CnnError, RecursionError):
                continue
            yield uri_of(resolved), LineIndex(source.text), index_names(program, source)

    def forget(self, uri: str) -> None:
        self.checked.pop(uri, None)

    def close(self, uri: str) -> None:
        self.forget(uri)
        self.last_program.pop(uri, None)

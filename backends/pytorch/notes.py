"""What the generated code says about the .cnn source: per-statement comments, the description."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cnndsl.loader import builtin_path
from cnndsl.model import Model
from cnndsl.source import SourceFile


@cache
def _builtin_folder() -> Path:
    return builtin_path("lenet5").parent.resolve()


def shown_name(source: SourceFile) -> str:
    """A source file as comments name it: built-in architectures by their bare file name.

    The front end names an imported built-in file by its path, which would put the install
    location (and the directory `compile` ran in) into every generated file.
    """
    if source.path is not None and source.path.resolve().parent == _builtin_folder():
        return source.path.name
    return source.name


class SourceComments:
    """Comment texts for each node: the block calls it is in (when they change) and its line."""

    def __init__(self) -> None:
        self.frames: tuple = ()
        self.line: tuple[str, int] | None = None

    def calls(self, data: dict) -> list[str]:
        comments = []
        chain = tuple(reversed(data["chain"]))  # outermost call first
        scope = data["scope"]
        # A frame is a new call when it, or the scope it opened, differs from the last node's.
        frames = tuple((frame, scope[: depth + 1]) for depth, frame in enumerate(chain))
        common = 0
        while common < min(len(frames), len(self.frames)) and frames[common] == self.frames[common]:
            common += 1
        for frame, _ in frames[common:]:
            comments.append(f"{frame.signature}, called at {shown_name(frame.span.source)}:{frame.span.line}")
            self.line = None
        self.frames = frames
        return comments

    def line_of(self, data: dict) -> list[str]:
        comments = []
        span = data["span"]
        where = (shown_name(span.source), span.line)
        if where != self.line:
            text = span.source.line_text(span.line).strip()
            comments.append(f"{where[0]}:{where[1]}: {text}")
            self.line = where
        return comments


def description(model: Model) -> list[str]:
    """The comment lines written just above the network's definition in the .cnn source."""
    definition = next((d for d in model.program.networks if d.name == model.name), None)
    if definition is None:
        return []
    source, line = definition.span.source, definition.span.line
    if not source.line_text(line - 1).lstrip().startswith("#") and len(model.program.networks) == 1:
        # No comment right above the network (an import between?): the file's opening comment.
        line = 1
        while source.line_text(line).lstrip().startswith("#"):
            line += 1
    lines: list[str] = []
    while line > 1 and source.line_text(line - 1).lstrip().startswith("#"):
        line -= 1
        text = source.line_text(line).lstrip()[1:]
        lines.insert(0, (text[1:] if text.startswith(" ") else text).rstrip())
    # Rejoin wrapped prose into paragraphs; indented lines (commands, tables) stay as they are.
    paragraphs: list[str] = []
    for text in lines:
        if (
            paragraphs
            and paragraphs[-1]
            and text
            and not text[0].isspace()
            and not paragraphs[-1][0].isspace()
        ):
            paragraphs[-1] += " " + text
        else:
            paragraphs.append(text)
    return paragraphs

"""The one exception family for user errors; each diagnostic carries a span and a call chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span


@dataclass(frozen=True)
class CallFrame:
    """One step of the chain of block calls that led to a diagnostic."""

    signature: str  # e.g. "bottleneck(128, stride=2)"
    span: Span  # where the call was written


@dataclass(frozen=True)
class Diagnostic:
    """One error: what went wrong, where, and through which block calls."""

    message: str
    span: Span | None = None
    chain: tuple[CallFrame, ...] = ()
    notes: tuple[str, ...] = ()
    kind: str = "error"

    def headline(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}error: {self.message}"


class CnnError(Exception):
    """A user error in a .cnn program or a request; holds one or more diagnostics."""

    def __init__(self, diagnostics: Diagnostic | list[Diagnostic] | str, span: Span | None = None):
        if isinstance(diagnostics, str):
            diagnostics = Diagnostic(diagnostics, span)
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.headline() for d in self.diagnostics))

    @property
    def message(self) -> str:
        return self.diagnostics[0].message


class CnnSyntaxError(CnnError):
    """The text does not follow the grammar."""


class CnnNameError(CnnError):
    """An unknown or duplicate layer, block, network or parameter name."""


class CnnArgumentError(CnnError):
    """A missing, extra, duplicate or ill-typed argument."""


class CnnShapeError(CnnError):
    """Shapes that do not fit: a kernel larger than its input, a mismatched merge."""


class CnnImportError(CnnError):
    """A missing import, an import cycle, or a file that cannot be read."""


class CnnUsageError(CnnError):
    """A bad request from the command line or API rather than a bad program."""


@dataclass
class DiagnosticSink:
    """Collects independent errors so one run can report all of them."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def add(self, error: CnnError) -> None:
        for diagnostic in error.diagnostics:
            # The same mistake reached twice (a block checked on its own and when called) is one error.
            key = (diagnostic.message, diagnostic.span)
            if all((d.message, d.span) != key for d in self.diagnostics):
                self.diagnostics.append(diagnostic)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise CnnError(in_source_order(self.diagnostics))


def in_source_order(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics file by file (in the order files first appear), each file's top to bottom."""
    files: dict[int, int] = {}
    for diagnostic in diagnostics:
        if diagnostic.span is not None:
            files.setdefault(id(diagnostic.span.source), len(files))

    def key(diagnostic: Diagnostic) -> tuple[int, int]:
        if diagnostic.span is None:
            return (-1, 0)
        return (files[id(diagnostic.span.source)], diagnostic.span.start)

    return sorted(diagnostics, key=key)

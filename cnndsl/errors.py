"""The one exception family for user errors; each diagnostic carries a span and a call chain."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span

# Like the parser's MAX_SYNTAX_ERRORS: past this many errors, the rest are counted, not shown
# (all of them stay in CnnError.diagnostics, for an editor that lists them).
MAX_SHOWN_ERRORS = 20


def more_errors(count: int) -> str:
    """The line that stands for errors not shown."""
    return f"... and {count:,} more error{'s' if count != 1 else ''}, not shown"


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
        headlines = [d.headline() for d in self.diagnostics[:MAX_SHOWN_ERRORS]]
        if len(self.diagnostics) > MAX_SHOWN_ERRORS:
            headlines.append(more_errors(len(self.diagnostics) - MAX_SHOWN_ERRORS))
        super().__init__("\n".join(headlines))

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
    """Collects independent errors so one run can report all of them, each mistake once.

    A diagnostic is the same mistake as another when its message, place and call chain are the
    same: one mistake in a block, reached from two call sites, is reported for each, with its
    own chain. A diagnostic without a chain (a block's text checked on its own) stands for every
    chained copy of itself, so a block checked alone and then when called is reported once.
    """

    diagnostics: list[Diagnostic] = field(default_factory=list)
    _seen: set[tuple] = field(default_factory=set, init=False, repr=False)
    _chained: dict[tuple, int] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        kept, self.diagnostics = self.diagnostics, []
        for diagnostic in kept:
            self._add(diagnostic)

    def add(self, error: CnnError) -> None:
        for diagnostic in error.diagnostics:
            self._add(diagnostic)

    def _add(self, diagnostic: Diagnostic) -> None:
        # Hashed keys: checking a file with 50,000 errors must not compare each with every other.
        place = (diagnostic.message, diagnostic.span)
        key = (*place, diagnostic.chain)
        if key in self._seen or (diagnostic.chain and (*place, ()) in self._seen):
            return
        self._seen.add(key)
        if diagnostic.chain:
            self._chained[place] = self._chained.get(place, 0) + 1
        elif self._chained.pop(place, 0):
            self.diagnostics = [d for d in self.diagnostics if (d.message, d.span) != place]
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

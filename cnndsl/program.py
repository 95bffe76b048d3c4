"""Loading a .cnn file with its imports into one namespace of networks and blocks."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import ops
from . import syntax_tree as st
from .errors import CnnError, CnnImportError, CnnNameError, Diagnostic, DiagnosticSink
from .parser import parse
from .source import SourceFile, Span, describe_os_error, shown_name

# Imports nest a few files deep in practice; each level costs Python stack, which is finite.
MAX_IMPORT_DEPTH = 100


@dataclass
class Program:
    """A main file, every definition visible from it, and the networks it defines itself."""

    source: SourceFile
    module: st.Module
    definitions: dict[str, st.Definition] = field(default_factory=dict)
    # Errors that need not stop checking (a name defined twice: the first definition is used),
    # reported together with whatever elaboration finds.
    problems: list[Diagnostic] = field(default_factory=list)
    # Did-you-mean hints for unknown layer and block names, one per name (name_check.py): the
    # check of a block on its own and its elaboration word one mistake the same way.
    name_hints: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def networks(self) -> list[st.Definition]:
        return [d for d in self.module.definitions if d.kind == "network"]

    @property
    def blocks(self) -> list[st.Definition]:
        return [d for d in self.definitions.values() if d.kind == "block"]


# How an imported file is read: from disk, or (a language server) from an editor's unsaved buffer.
FileReader = Callable[[Path, str], SourceFile]


class _Loader:
    def __init__(self, read: FileReader = SourceFile.read) -> None:
        self.read = read
        self.sink = DiagnosticSink()
        self.duplicates = DiagnosticSink()
        self.modules: dict[Path, st.Module | None] = {}
        self.definitions: dict[str, st.Definition] = {}

    def load(self, source: SourceFile, stack: tuple[Path, ...]) -> st.Module | None:
        try:
            module = parse(source)
        except CnnError as error:
            self.sink.add(error)
            return None
        for definition in module.definitions:
            self._define(definition)
        here = source.path.parent if source.path else Path.cwd()
        for imported in module.imports:
            self._import(here / imported.path, imported, stack)
        return module

    def _define(self, definition: st.Definition) -> None:
        self._check_parameters(definition)
        op = ops.lookup(definition.name)
        if definition.kind == "block" and op is not None and not op.structural:
            # A statement `relu` always means the layer: such a block could never be used.
            name = definition.name
            message = f"block '{name}' has the name of a layer, so `{name}` would always mean the layer"
            self.duplicates.add(CnnNameError(f"{message}; rename the block", definition.name_span))
        earlier = self.definitions.get(definition.name)
        if earlier is not None and earlier is not definition:
            message = f"{definition.kind} '{definition.name}' is already defined at {earlier.name_span}"
            self.duplicates.add(CnnNameError(message, definition.name_span))
            return
        self.definitions[definition.name] = definition

    def _check_parameters(self, definition: st.Definition) -> None:
        """Each parameter name once: `network n(a=1, a=2)` would silently keep one of the values."""
        first: dict[str, Span] = {}
        for parameter in definition.parameters:
            start = parameter.span.start
            where = Span(parameter.span.source, start, start + len(parameter.name))
            if parameter.name in first:
                message = f"parameter '{parameter.name}' is already defined at {first[parameter.name]}"
                self.duplicates.add(CnnNameError(message, where))
            else:
                first[parameter.name] = where

    def _import(self, path: Path, statement: st.Import, stack: tuple[Path, ...]) -> None:
        try:
            resolved = _importable(path, statement.path, stack)
        except _RefusedImportError as refusal:
            message = f"cannot import '{shown_name(statement.path)}': {refusal}"
            self.sink.add(CnnImportError(message, statement.span))
            return
        if resolved in stack:
            cycle = " -> ".join(p.name for p in (*stack[stack.index(resolved) :], resolved))
            self.sink.add(CnnImportError(f"import cycle: {cycle}", statement.span))
            return
        if resolved in self.modules:
            return
        try:
            source = self.read(resolved, _display_name(resolved))
        except FileNotFoundError:
            message = f"cannot import '{shown_name(statement.path)}': no such file {shown_name(str(path))}"
            self.sink.add(CnnImportError(message + " (nor a built-in one)", statement.span))
            return
        except OSError as error:
            message = f"cannot import '{shown_name(statement.path)}': {describe_os_error(error)}"
            self.sink.add(CnnImportError(message, statement.span))
            return
        except CnnError as error:  # not UTF-8: the diagnostic points into the imported file
            self.sink.add(error)
            return
        self.modules[resolved] = None
        self.modules[resolved] = self.load(source, (*stack, resolved))


class _RefusedImportError(Exception):
    """Why an import statement names nothing that may be read; said at the statement."""


def _importable(path: Path, written: str, stack: tuple[Path, ...]) -> Path:
    """The resolved .cnn file an import names, checked before anything is read from it.

    Only .cnn files are read, so that a mistaken or hostile `import "/etc/shadow"` never quotes
    another file's lines as syntax errors.
    """
    if len(stack) > MAX_IMPORT_DEPTH:
        raise _RefusedImportError(f"imports nest more than {MAX_IMPORT_DEPTH} files deep")
    if "\0" in written:
        raise _RefusedImportError("a file name cannot contain a NUL character")
    if not written.endswith(".cnn"):
        raise _RefusedImportError("only .cnn files can be imported")
    try:
        if not path.exists() and written == Path(written).name and (_BUILTIN_FOLDER / written).is_file():
            # Shipped block libraries (resnet_blocks.cnn) can be imported from anywhere.
            path = _BUILTIN_FOLDER / written
        resolved = path.resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: Python 3.12 and older on a link loop
        raise _RefusedImportError(_path_problem(error)) from None
    if resolved.suffix != ".cnn":
        raise _RefusedImportError(f"it leads to {shown_name(str(resolved))}, which is not a .cnn file")
    return resolved


def _path_problem(error: OSError | RuntimeError) -> str:
    if isinstance(error, RuntimeError) or getattr(error, "errno", None) == errno.ELOOP:
        return "its symbolic links form a loop"
    return describe_os_error(error)


def _nothing_defined(source: SourceFile, module: st.Module) -> str:
    """An empty file is more likely a mistake (the wrong file, an editor that lost it) than a library."""
    if module.imports:
        return "the file defines no network or block, and its imports define none"
    what = "it is empty" if not source.text.strip(" \t\f\r\n\ufeff") else "it holds only comments"
    return f"the file defines no network or block: {what}"


def _display_name(path: Path) -> str:
    """How diagnostics name a file: built-in files by their bare name, others relative to the cwd."""
    if path.parent == _BUILTIN_FOLDER.resolve():
        return path.name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_BUILTIN_FOLDER = Path(str(resources.files("cnndsl.architectures")))


def load_program(source: SourceFile, read: FileReader = SourceFile.read) -> Program:
    """Parse `source` and everything it imports; raise one CnnError listing every problem."""
    loader = _Loader(read)
    stack = (source.path.resolve(),) if source.path else ()
    if source.path:
        loader.modules[source.path.resolve()] = None
    module = loader.load(source, stack)
    if module is not None and not loader.definitions:
        loader.sink.add(CnnError(_nothing_defined(source, module), Span(source, 0, 0)))
    if loader.sink.diagnostics:
        loader.sink.diagnostics.extend(loader.duplicates.diagnostics)
        loader.sink.raise_if_any()
    assert module is not None
    return Program(source, module, loader.definitions, loader.duplicates.diagnostics)

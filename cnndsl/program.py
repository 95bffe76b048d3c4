"""Loading a .cnn file with its imports into one namespace of networks and blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from . import syntax_tree as st
from .errors import CnnError, CnnImportError, CnnNameError, Diagnostic, DiagnosticSink
from .parser import parse
from .source import SourceFile


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


class _Loader:
    def __init__(self) -> None:
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
        earlier = self.definitions.get(definition.name)
        if earlier is not None and earlier is not definition:
            message = f"{definition.kind} '{definition.name}' is already defined at {earlier.name_span}"
            self.duplicates.add(CnnNameError(message, definition.name_span))
            return
        self.definitions[definition.name] = definition

    def _import(self, path: Path, statement: st.Import, stack: tuple[Path, ...]) -> None:
        if not path.is_file() and (_BUILTIN_FOLDER / statement.path).is_file():
            # Shipped block libraries (resnet_blocks.cnn) can be imported from anywhere.
            path = _BUILTIN_FOLDER / statement.path
        resolved = path.resolve()
        if resolved in stack:
            cycle = " -> ".join(p.name for p in (*stack[stack.index(resolved) :], resolved))
            self.sink.add(CnnImportError(f"import cycle: {cycle}", statement.span))
            return
        if resolved in self.modules:
            return
        if not resolved.is_file():
            message = f"cannot import '{statement.path}': no such file {path} (nor a built-in one)"
            self.sink.add(CnnImportError(message, statement.span))
            return
        try:
            source = SourceFile.read(resolved, _display_name(resolved))
        except OSError as error:
            self.sink.add(CnnImportError(f"cannot read '{statement.path}': {error}", statement.span))
            return
        except CnnError as error:  # not UTF-8: the diagnostic points into the imported file
            self.sink.add(error)
            return
        self.modules[resolved] = None
        self.modules[resolved] = self.load(source, (*stack, resolved))


def _display_name(path: Path) -> str:
    """How diagnostics name a file: built-in files by their bare name, others relative to the cwd."""
    if path.parent == _BUILTIN_FOLDER.resolve():
        return path.name
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_BUILTIN_FOLDER = Path(str(resources.files("cnndsl.architectures")))


def load_program(source: SourceFile) -> Program:
    """Parse `source` and everything it imports; raise one CnnError listing every problem."""
    loader = _Loader()
    stack = (source.path.resolve(),) if source.path else ()
    if source.path:
        loader.modules[source.path.resolve()] = None
    module = loader.load(source, stack)
    if loader.sink.diagnostics:
        loader.sink.diagnostics.extend(loader.duplicates.diagnostics)
        loader.sink.raise_if_any()
    assert module is not None
    return Program(source, module, loader.definitions, loader.duplicates.diagnostics)

"""Name resolution: unknown layers and blocks (with did-you-mean), checked statically too."""

from __future__ import annotations

from . import ops
from . import syntax_tree as st
from .errors import CnnError, CnnNameError, Diagnostic, DiagnosticSink
from .expressions import did_you_mean
from .program import Program

# Unknown layer and block names that get a did-you-mean: the first a check finds, which are
# mostly those shown. A hint compares the name with every block's (4,000 blocks took 33 s).
SUGGESTED_NAMES = 20


def unknown_name(program: Program, name: str, what: str) -> str:
    return f"unknown {what} '{name}'{_hint(program, name)}"


def _hint(program: Program, name: str) -> str:
    hints = program.name_hints
    if name not in hints:
        if len(hints) >= SUGGESTED_NAMES:
            return ""  # and so for this name ever after: the hints never shrink
        known = [*ops.LAYER_KINDS, *(d.name for d in program.blocks)]
        hints[name] = did_you_mean(name, known)
    return hints[name]


def layer_written_as_call(call: st.Call) -> CnnNameError:
    return CnnNameError(
        f"'{call.block}' is a layer: write its arguments after a space, without parentheses",
        call.name_span,
    )


def check_blocks(program: Program, sink: DiagnosticSink | None = None) -> list[Diagnostic]:
    """Problems visible in blocks without calling them: unknown layer and block names, and the
    program's duplicate names (reported here too for a file of blocks only)."""
    sink = DiagnosticSink() if sink is None else sink
    for problem in program.problems:
        sink.add(CnnError(problem))
    for definition in program.definitions.values():
        _check_names(program, sink, definition.body)
    return sink.diagnostics


def _check_names(program: Program, sink: DiagnosticSink, statements: tuple[st.Statement, ...]) -> None:
    for statement in statements:
        try:
            if isinstance(statement, st.Layer):
                definitions = program.definitions
                known = ops.lookup(statement.kind) is not None or statement.kind in definitions
                if not known:
                    message = unknown_name(program, statement.kind, "layer or block")
                    raise CnnNameError(message, statement.kind_span)
            elif isinstance(statement, st.Call):
                if statement.block not in program.definitions:
                    if ops.lookup(statement.block) is not None:
                        raise layer_written_as_call(statement)
                    raise CnnNameError(unknown_name(program, statement.block, "block"), statement.name_span)
        except CnnError as error:
            sink.add(error)
        for inner in _children(statement):
            _check_names(program, sink, inner)


def _children(statement: st.Statement) -> list[tuple[st.Statement, ...]]:
    if isinstance(statement, st.Repeat):
        return [statement.body]
    if isinstance(statement, st.Residual):
        return [statement.body] + ([statement.shortcut] if statement.shortcut else [])
    if isinstance(statement, (st.Concat, st.Sum)):
        return [branch.body for branch in statement.branches]
    if isinstance(statement, st.Gate):
        return [statement.body]
    if isinstance(statement, st.If):
        bodies = [body for _, body in statement.branches]
        return bodies + ([statement.otherwise] if statement.otherwise else [])
    return []

"""Name resolution: unknown layers and blocks (with did-you-mean), checked statically too."""

from __future__ import annotations

from . import ops
from . import syntax_tree as st
from .errors import CnnError, CnnNameError, Diagnostic, DiagnosticSink
from .expressions import did_you_mean
from .program import Program


def unknown_name(program: Program, name: str, what: str, suggest: bool = True) -> str:
    """The message for an unknown name; `suggest=False` skips the did-you-mean (see SUGGESTED_ERRORS)."""
    if not suggest:
        return f"unknown {what} '{name}'"
    known = [*ops.LAYER_KINDS, *(d.name for d in program.blocks)]
    return f"unknown {what} '{name}'{did_you_mean(name, known)}"


def layer_written_as_call(call: st.Call) -> CnnNameError:
    return CnnNameError(
        f"'{call.block}' is a layer: write its arguments after a space, without parentheses",
        call.name_span,
    )


def check_blocks(program: Program, sink: DiagnosticSink | None = None) -> list[Diagnostic]:
    """Problems visible in blocks without calling them: unknown layer and block names."""
    sink = DiagnosticSink() if sink is None else sink
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
                    message = unknown_name(program, statement.kind, "layer or block", sink.suggesting)
                    raise CnnNameError(message, statement.kind_span)
            elif isinstance(statement, st.Call):
                if statement.block not in program.definitions:
                    if ops.lookup(statement.block) is not None:
                        raise layer_written_as_call(statement)
                    message = unknown_name(program, statement.block, "block", sink.suggesting)
                    raise CnnNameError(message, statement.name_span)
        except CnnError as error:
            sink.add(error)
        for inner in _children(statement):
            _check_names(program, sink, inner)


def _children(statement: st.Statement) -> list[tuple[st.Statement, ...]]:
    if isinstance(statement, st.Repeat):
        return [statement.body]
    if isinstance(statement, st.Residual):
        return [statement.body] + ([statement.shortcut] if statement.shortcut else [])
    if isinstance(statement, st.Concat):
        return [branch.body for branch in statement.branches]
    return []

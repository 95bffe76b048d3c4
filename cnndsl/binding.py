"""Binding arguments: a layer's to the op table's arguments, a block call's and a network's to
their parameters. Every problem points at the argument that caused it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from . import ops
from . import syntax_tree as st
from .arguments import ArgumentProblem
from .errors import CallFrame, CnnArgumentError, CnnError, CnnUsageError, DiagnosticSink
from .expressions import describe_value, did_you_mean
from .expressions import evaluate as evaluate_expression
from .source import Span

Evaluate = Callable[[st.Expr], Any]  # an expression's value in the caller's scope


def bind_layer_arguments(
    op: ops.OpDef, layer: st.Layer, evaluate: Evaluate
) -> tuple[dict[str, Any], dict[str, Span]]:
    """The layer's attrs (every argument, defaults filled in) and where each was written."""
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    positional = op.positional
    problems: list[CnnError] = []
    for index, argument in enumerate(layer.arguments):
        if argument.keyword is None:
            if any(a.keyword for a in layer.arguments[:index]):
                message = "a positional argument cannot follow a keyword argument"
                problems.append(CnnArgumentError(message, argument.span))
                continue
            if index >= len(positional):
                # One error for all the extra arguments, underlining them together.
                if index == len(positional):
                    count, where = _extra_positional(layer.arguments, len(positional))
                    names = ", ".join(a.name for a in positional) or "no positional arguments"
                    message = (
                        f"{op.kind} takes {len(positional)} positional argument"
                        f"{'' if len(positional) == 1 else 's'} ({names}), but {count} were given"
                    )
                    problems.append(CnnArgumentError(message, where))
                continue
            spec = positional[index]
        else:
            spec = op.arg(argument.keyword)
            if spec is None:
                hint = did_you_mean(argument.keyword, [a.name for a in op.args])
                problems.append(
                    CnnArgumentError(
                        f"{op.kind} has no argument '{argument.keyword}'{hint}",
                        argument.keyword_span or argument.span,
                    )
                )
                continue
        if spec.name in values:
            problems.append(CnnArgumentError(f"argument '{spec.name}' is given twice", argument.span))
            continue
        try:
            raw = evaluate(argument.value)
            values[spec.name] = spec.convert(raw)
        except ArgumentProblem as problem:
            problems.append(CnnArgumentError(f"{op.kind} {spec.name}: {problem}", argument.value.span))
            continue
        except CnnError as error:
            problems.append(error)
            continue
        spans[spec.name] = argument.value.span
    missing = [spec.name for spec in op.args if spec.name not in values and spec.default is ops.REQUIRED]
    if missing and not problems:
        usage = " ".join(a.name for a in positional)
        problems.append(
            CnnArgumentError(
                f"{op.kind} needs {' and '.join(missing)} "
                f"(usage: {op.kind} {usage}; e.g. `{op.example.splitlines()[-1]}`)",
                layer.span,
            )
        )
    for spec in op.args:
        values.setdefault(spec.name, spec.default)
    if problems:
        raise CnnError([d for p in problems for d in p.diagnostics])
    return values, spans


def bind_block_arguments(
    definition: st.Definition, call: st.Call, evaluate: Evaluate, inputs: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The block body's bound names, and the call as the chain shows it: `stage(64, blocks=3)`.

    `inputs` (`in_channels`...) are bound first: defaults may read them, parameters replace them.
    """
    parameters = {p.name: p for p in definition.parameters}
    order = [p.name for p in definition.parameters]
    given: dict[str, Any] = {}
    problems: list[CnnError] = []
    shown: list[str] = []
    # A parameter left without a value (its argument failed or is missing, or its default
    # failed): later defaults may be computed from it, and would only repeat the error.
    unknown_values = False
    for index, argument in enumerate(call.arguments):
        if argument.keyword is None:
            if any(a.keyword for a in call.arguments[:index]):
                problems.append(
                    CnnArgumentError(
                        "a positional argument cannot follow a keyword argument", argument.span
                    )
                )
                continue
            if index >= len(order):
                if index == len(order):
                    count, where = _extra_positional(call.arguments, len(order))
                    problems.append(
                        CnnArgumentError(
                            f"block {definition.name}({', '.join(order)}) takes {len(order)} argument"
                            f"{'' if len(order) == 1 else 's'}, but {count} were given",
                            where,
                        )
                    )
                continue
            name = order[index]
        else:
            name = argument.keyword
            if name not in parameters:
                problems.append(
                    CnnArgumentError(
                        f"block '{definition.name}' has no parameter '{name}'{did_you_mean(name, order)}",
                        argument.keyword_span or argument.span,
                    )
                )
                continue
        if name in given:
            problems.append(CnnArgumentError(f"argument '{name}' is given twice", argument.span))
            continue
        try:
            given[name] = evaluate(argument.value)
        except CnnError as error:
            problems.append(error)
            unknown_values = True
            continue
        value_text = describe_value(given[name])
        shown.append(value_text if argument.keyword is None else f"{name}={value_text}")
    env: dict[str, Any] = dict(inputs or {})
    signature = f"{definition.name}({', '.join(shown)})"
    for parameter in definition.parameters:
        if parameter.name in given:
            env[parameter.name] = given[parameter.name]
        elif parameter.default is not None:
            if unknown_values:
                continue
            try:
                env[parameter.name] = evaluate_expression(parameter.default, env)
            except CnnError as error:
                # The default is evaluated inside this call (`pad=kernel//2` fails for one
                # caller's kernel and not another's): its chain starts with the call.
                frame = CallFrame(signature, call.span)
                problems.append(CnnError([replace(d, chain=(frame, *d.chain)) for d in error.diagnostics]))
                unknown_values = True
        else:
            unknown_values = True
            if not problems:
                problems.append(
                    CnnArgumentError(
                        f"missing argument '{parameter.name}' in call to block "
                        f"{definition.name}({_parameter_list(definition)})",
                        call.span,
                    )
                )
    if problems:
        raise CnnError([d for p in problems for d in p.diagnostics])
    return env, signature


def bind_network_parameters(
    network: st.Definition, overrides: Mapping[str, Any], sink: DiagnosticSink
) -> dict[str, Any]:
    """The network body's bound names: --set values, else defaults; problems go to `sink`."""
    names = [p.name for p in network.parameters]
    for name in overrides:
        if name not in names:
            # A request for a parameter the network lacks is a usage error (exit 2), not a bad file.
            raise CnnUsageError(
                f"network '{network.name}' has no parameter '{name}'{did_you_mean(name, names)}"
                + (f"; its parameters are {', '.join(names)}" if names else "; it takes no parameters"),
                network.name_span,
            )
    env: dict[str, Any] = {}
    for parameter in network.parameters:
        if parameter.name in overrides:
            env[parameter.name] = overrides[parameter.name]
        elif parameter.default is not None:
            try:
                env[parameter.name] = evaluate_expression(parameter.default, env)
            except CnnError as error:
                sink.add(error)
        else:
            sink.add(
                CnnArgumentError(
                    f"network parameter '{parameter.name}' has no default; "
                    f"set it (--set {parameter.name}=...)",
                    parameter.span,
                )
            )
    return env


def _extra_positional(arguments: tuple[st.Argument, ...], limit: int) -> tuple[int, Span]:
    """How many positional arguments lead `arguments`, and the span of those past `limit`."""
    leading = 0
    while leading < len(arguments) and arguments[leading].keyword is None:
        leading += 1
    first, last = arguments[limit].span, arguments[leading - 1].span
    return leading, Span(first.source, first.start, last.end)


def _parameter_list(definition: st.Definition) -> str:
    return ", ".join(p.name if p.default is None else f"{p.name}=..." for p in definition.parameters)

"""Network parameters as constructor arguments of the generated class (`Lenet5(classes=100)`).

The IR holds evaluated numbers, not the expressions they came from. So each parameter is
probed: the network is elaborated again with two other values, and every number in
`__init__` that follows the parameter exactly (v -> v2 -> v3) becomes the parameter's name.
A parameter becomes an argument only if nothing else changes with it — no other number in
`__init__`, no forward statement, no class attribute. Otherwise (`width` feeding `width * 4`,
a repeat count, the input size) its value stays baked into the module.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

from cnndsl.elaborate import build_graph
from cnndsl.errors import CnnError
from cnndsl.loader import select_network
from cnndsl.model import Model
from cnndsl.passes import run_passes

from . import layers, lowering, naming
from .pyformat import Call, Expr, Keyword, Name, Num, Seq

# Names the generated __init__ may use: a parameter called so would shadow one (`getattr`
# reaching a keyword-named submodule, `super` and its hidden `__class__`, `nn`, ...).
_USED_NAMES = frozenset({"self", "torch", "nn", *dir(builtins)})


def _probe_values(value: int | float) -> tuple[int | float, int | float] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        step = max(abs(value), 1)
        return value + step, value + 2 * step
    if isinstance(value, float):
        return (value / 2, value / 4) if value else (0.25, 0.125)
    return None


def _tokens(expr: Expr | Keyword) -> Iterator[Any]:
    """The expression flattened in a fixed order: numbers as Num, everything else as markers."""
    if isinstance(expr, Num):
        yield expr
    elif isinstance(expr, Keyword):
        yield ("keyword", expr.name)
        yield from _tokens(expr.value)
    elif isinstance(expr, Call):
        yield ("call", expr.func, len(expr.args))
        for arg in expr.args:
            yield from _tokens(arg)
    elif isinstance(expr, Seq):
        yield ("seq", expr.brackets, len(expr.items))
        for item in expr.items:
            yield from _tokens(item)
    else:
        yield expr


def _section_tokens(lines: list) -> list[Any]:
    tokens: list[Any] = []
    for line in lines:
        if isinstance(line, lowering.Comment):
            continue  # comments quote evaluated block calls; they may differ harmlessly
        if isinstance(line, layers.Statement):
            tokens.append(("statement", line.target, line.operator))
            tokens.extend(_tokens(line.value))
        else:  # (name, value) pairs: constants and class attributes
            tokens.append(("binding", line[0]))
            tokens.extend(_tokens(line[1]))
    return tokens


def _fixed_tokens(plan: lowering.Plan) -> list[Any]:
    return (
        _section_tokens(plan.constants)
        + _section_tokens(plan.class_attributes)
        + _section_tokens(plan.forward)
    )


def _owned(base: lowering.Plan, variants: list[lowering.Plan], values: tuple) -> set[int] | None:
    """Positions of the init numbers that equal the parameter in every variant; None if unusable."""
    if any(_fixed_tokens(variant) != _fixed_tokens(base) for variant in variants):
        return None
    streams = [_section_tokens(plan.init) for plan in (base, *variants)]
    if len({len(stream) for stream in streams}) != 1:
        return None
    owned = set()
    for index, tokens in enumerate(zip(*streams)):
        if not isinstance(tokens[0], Num):
            if any(token != tokens[0] for token in tokens):
                return None
            continue
        if not all(isinstance(token, Num) for token in tokens):
            return None
        numbers = tuple(token.value for token in tokens)
        if len(set(numbers)) == 1:
            continue
        if numbers == values and all(type(n) is type(values[0]) for n in numbers):
            owned.add(index)
        else:
            return None
    return owned


def _substitute(lines: list, names: dict[int, str]) -> list:
    """`lines` with the numbers at the given token positions replaced by parameter names."""
    counter = [0]

    def walk(expr: Any) -> Any:
        if isinstance(expr, Num):
            position = counter[0]
            counter[0] += 1
            return Name(names[position]) if position in names else expr
        counter[0] += 1  # every other node is one marker token, as in _tokens
        if isinstance(expr, Keyword):
            return Keyword(expr.name, walk(expr.value))
        if isinstance(expr, Call):
            return Call(expr.func, tuple(walk(arg) for arg in expr.args))
        if isinstance(expr, Seq):
            return Seq(tuple(walk(item) for item in expr.items), expr.brackets)
        return expr

    result = []
    for line in lines:
        if isinstance(line, layers.Statement):
            counter[0] += 1  # the ("statement", ...) marker
            result.append(layers.Statement(line.target, walk(line.value), line.operator))
        else:
            result.append(line)
    return result


def _elaborate(model: Model, overrides: dict[str, Any], input_shape) -> Model:
    network = select_network(model.program, model.name)
    graph = build_graph(model.program, network, overrides, input_shape)
    return Model(run_passes(graph), model.program)


def parameterized_plan(model: Model, logits: bool = False) -> lowering.Plan:
    """The plan for `model` with every cleanly separable network parameter as an argument."""
    base = lowering.lower(model, logits)
    bound: dict[str, Any] = dict(model.graph.graph.get("parameters", {}))
    candidates = {
        name: value
        for name, value in bound.items()
        if naming.is_plain_name(name)
        and name.islower()
        and not name.startswith("_")
        and name not in _USED_NAMES
        and _probe_values(value) is not None
    }
    if not candidates:
        return base
    try:  # an --input override must stay fixed while the parameters move
        declared = _elaborate(model, bound, None).input_shape
    except CnnError:
        return base
    input_shape = None if declared == model.input_shape else model.input_shape
    names: dict[int, str] = {}
    arguments: list[tuple[str, int | float]] = []
    for name, value in candidates.items():
        probes = _probe_values(value)
        try:
            variants = [
                lowering.lower(_elaborate(model, {**bound, name: v}, input_shape), logits) for v in probes
            ]
        except CnnError:
            continue  # the network does not accept other values (groups must divide, ...)
        owned = _owned(base, variants, (value, *probes))
        if owned:
            names.update(dict.fromkeys(owned, name))
            arguments.append((name, value))
    if arguments:
        base.init = _substitute(base.init, names)
        base.parameters = arguments
    return base

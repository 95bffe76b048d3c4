"""Elaboration: a network's syntax tree -> the networkx IR, one node per op.

Blocks are expanded, repetitions unrolled and arguments evaluated to exact integers. Each
node's output shape is inferred as soon as the node exists (passes.infer_node), because the
language needs it during elaboration: a residual uses its shortcut projection only when the
branch changes the shape.

Node attributes: op, attrs, inputs (ordered node ids), shape, span, chain, scope.
Node insertion order is a topological (execution) order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from . import ops
from . import syntax_tree as st
from .arguments import ArgumentProblem, image_shape
from .binding import bind_block_arguments, bind_layer_arguments, bind_network_parameters
from .errors import (
    CallFrame,
    CnnArgumentError,
    CnnError,
    CnnNameError,
    CnnShapeError,
    CnnUsageError,
    DiagnosticSink,
)
from .expressions import Unavailable, describe_integer, describe_value, evaluate, truth
from .name_check import layer_written_as_call, unknown_name
from .named_values import INPUT, ValueScope
from .passes import infer_node
from .program import Program
from .source import Span

# Bounds on unrolling, so a typo like `repeat 10000000000` or `repeat 99999 { repeat 99999 { } }`
# fails in well under a second instead of hanging: far above any real CNN (ResNet-152 has 517 ops;
# 100,000 ops check in a few seconds).
MAX_OPS = 100_000
MAX_UNROLLED_BODIES = 1_000_000  # block bodies elaborated, including empty ones
# Bodies (residual, concat branches, repeat, block calls) nested inside each other, block calls
# included: each level is a few Python frames, and the recursion limit is about 1,000.
MAX_DEPTH = 100
# Bound in every block and network body to the shape of the value entering it (parameters of
# the same name take precedence, so files that pass `in_channels` by hand keep their meaning).
INPUT_NAMES = ("in_channels", "in_height", "in_width")


@dataclass
class _Scope:
    """A level of hierarchical names (`layer3.bottleneck2`), numbering ops per kind."""

    path: tuple[str, ...]
    counters: dict[str, int] = field(default_factory=dict)
    used: dict[str, Span | None] = field(default_factory=dict)  # name -> the statement that took it

    def fresh(self, base: str, span: Span | None = None) -> str:
        while True:
            self.counters[base] = self.counters.get(base, 0) + 1
            name = f"{base}{self.counters[base]}"
            if name not in self.used:
                self.used[name] = span
                return name

    def claim(self, label: str, span: Span) -> str:
        if label in self.used:
            earlier = self.used[label]
            # An automatic name (`conv1` for the first unlabelled conv) can collide with a label.
            where = f" by the statement at line {earlier.line}" if earlier is not None else ""
            raise CnnNameError(f"the name '{label}' is already used in this scope{where}", span)
        self.used[label] = span
        return label

    def name(self, label: str | None, base: str, span: Span) -> str:
        return self.claim(label, span) if label else self.fresh(base, span)

    def child(self, name: str) -> _Scope:
        return _Scope((*self.path, name))

    def qualified(self, name: str) -> str:
        return ".".join((*self.path, name))


@dataclass(frozen=True)
class _Frame:
    """What a statement is elaborated in: the bound names and the block calls that led here."""

    env: Mapping[str, Any]
    chain: tuple[CallFrame, ...] = ()
    active: tuple[str, ...] = ()
    values: ValueScope | None = None  # the named values visible here (named_values.py)


Value = str | None  # the node id carrying the current tensor; None once an error made it unknown


class _Elaborator:
    def __init__(self, program: Program):
        self.program = program
        self.graph = nx.DiGraph()
        self.sink = DiagnosticSink(list(program.problems))
        self.depth = 0  # bodies currently being elaborated, one inside the other
        self.bodies = 0  # bodies elaborated so far, to bound unrolling
        self.declared_outputs: list[Value] | None = None  # from `output a, b`; None: the last value

    # ----- errors ---------------------------------------------------------------------------
    def report(self, error: CnnError, frame: _Frame) -> None:
        # A diagnostic may already hold the innermost frame: an error in a block parameter's
        # default is inside the call that evaluated it.
        chained = [replace(d, chain=(*d.chain, *frame.chain)) for d in error.diagnostics]
        self.sink.add(CnnError(chained))

    def evaluate(self, expr: st.Expr, frame: _Frame) -> Any:
        try:
            return evaluate(expr, frame.env)
        except RecursionError:
            # Brackets are limited by the parser, but a chain of hundreds of operators is not.
            raise CnnArgumentError("this expression is too deeply nested to evaluate", expr.span) from None

    # ----- nodes ----------------------------------------------------------------------------
    def add_node(
        self,
        op: ops.OpDef,
        attrs: dict[str, Any],
        inputs: list[str],
        node_id: str,
        scope: _Scope,
        span: Span,
        frame: _Frame,
        argument_spans: Mapping[str, Span] | None = None,
    ) -> str:
        if self.graph.number_of_nodes() >= MAX_OPS:
            raise CnnShapeError(f"the network has more than {MAX_OPS:,} ops; refusing to unroll further", span)  # noqa: E501
        self.graph.add_node(
            node_id,
            op=op.kind,
            attrs=attrs,
            inputs=list(inputs),
            span=span,
            chain=frame.chain,
            scope=scope.path,
        )
        for index, source in enumerate(inputs):
            self.graph.add_edge(source, node_id, index=index)
        try:
            infer_node(self.graph, node_id)
        except ops.ShapeProblem as problem:
            self.graph.remove_node(node_id)
            where = (argument_spans or {}).get(problem.argument or "", span)
            raise CnnShapeError(str(problem), where) from None
        return node_id

    # ----- statements -----------------------------------------------------------------------
    def body(self, statements: tuple[st.Statement, ...], x: Value, scope: _Scope, frame: _Frame) -> Value:
        self.bodies += 1
        if not statements:
            return x
        # Reported here rather than raised, so the chain names the block this body belongs to.
        if self.bodies > MAX_UNROLLED_BODIES:
            message = f"unrolling elaborates a body more than {MAX_UNROLLED_BODIES:,} times; stopping here"
            self.report(CnnShapeError(message, statements[0].span), frame)
            return None
        if self.depth >= MAX_DEPTH:
            message = (
                f"blocks nest more than {MAX_DEPTH} levels deep here "
                "(counting residual, concat, repeat and block calls)"
            )
            self.report(CnnNameError(message, statements[0].span), frame)
            return None
        self.depth += 1
        if frame.values is not None:
            frame = replace(frame, values=frame.values.child())
        try:
            for statement in statements:
                try:
                    x = self.statement(statement, x, scope, frame)
                except CnnError as error:
                    self.report(error, frame)
                    x = None
                if statement.label and frame.values is not None:
                    frame.values.define(statement.label, x)
        finally:
            self.depth -= 1
        return x

    def statement(self, statement: st.Statement, x: Value, scope: _Scope, frame: _Frame) -> Value:
        if isinstance(statement, st.Layer):
            return self.layer_or_bare_call(statement, x, scope, frame)
        if isinstance(statement, st.Call):
            return self.call(statement, x, scope, frame)
        if isinstance(statement, st.Repeat):
            return self.repeat(statement, x, scope, frame)
        if isinstance(statement, st.Residual):
            return self.residual(statement, x, scope, frame)
        if isinstance(statement, st.Concat):
            return self.concat(statement, x, scope, frame)
        if isinstance(statement, st.If):
            return self.if_statement(statement, x, scope, frame)
        if isinstance(statement, st.Gate):
            return self.gate(statement, x, scope, frame)
        if isinstance(statement, st.Sum):
            return self.sum(statement, x, scope, frame)
        if isinstance(statement, st.StartFrom):
            return self.named_value(statement.source, frame)
        if isinstance(statement, st.Outputs):
            return self.outputs(statement, x, frame)
        raise TypeError(f"unknown statement {statement!r}")

    def layer_or_bare_call(self, layer: st.Layer, x: Value, scope: _Scope, frame: _Frame) -> Value:
        op = ops.lookup(layer.kind)
        if op is not None and not op.structural and op.kind != "input":
            return self.layer(op, layer, x, scope, frame)
        if layer.kind == "input":
            raise CnnNameError("`input` must be the first statement of a network", layer.kind_span)
        definition = self.program.definitions.get(layer.kind)
        if definition is not None and definition.kind == "block":
            if layer.arguments:
                raise CnnArgumentError(
                    f"'{layer.kind}' is a block: write its arguments in parentheses, {layer.kind}(...)",
                    layer.arguments[0].span,
                )
            call = st.Call(layer.kind, (), layer.span, layer.kind_span, None, layer.label)
            return self.call(call, x, scope, frame)
        raise CnnNameError(unknown_name(self.program, layer.kind, "layer or block"), layer.kind_span)

    def layer(self, op: ops.OpDef, layer: st.Layer, x: Value, scope: _Scope, frame: _Frame) -> Value:
        sized = self.size_like(op, layer, frame)
        if sized is None:  # `like=` names a value an earlier error left unknown
            scope.name(layer.label, op.kind, _label_span(layer))
            return None
        layer = sized
        attrs, spans = bind_layer_arguments(op, layer, lambda expr: self.evaluate(expr, frame))
        name = scope.name(layer.label, op.kind, _label_span(layer))
        if x is None:
            return None
        return self.add_node(op, attrs, [x], scope.qualified(name), scope, layer.span, frame, spans)

    def call(self, call: st.Call, x: Value, scope: _Scope, frame: _Frame) -> Value:
        definition = self.program.definitions.get(call.block)
        if definition is None or definition.kind != "block":
            if ops.lookup(call.block) is not None:
                raise layer_written_as_call(call)
            if definition is not None:
                raise CnnNameError(f"'{call.block}' is a network, not a block", call.name_span)
            raise CnnNameError(unknown_name(self.program, call.block, "block"), call.name_span)
        if call.block in frame.active:
            cycle = " -> ".join((*frame.active[frame.active.index(call.block) :], call.block))
            message = f"block '{call.block}' calls itself ({cycle}); blocks cannot recurse"
            raise CnnNameError(message, call.name_span)
        env, signature = bind_block_arguments(
            definition, call, lambda expr: self.evaluate(expr, frame), self.input_names(x)
        )
        times = 1
        if call.times is not None:
            times = self.repetitions(call.times, frame)
        chain = (CallFrame(signature, call.span), *frame.chain)
        inner_frame = _Frame(env, chain, (*frame.active, call.block))
        repeated = call.label and call.times is not None
        outer = scope.child(scope.claim(call.label, _label_span(call))) if repeated else scope
        for index in range(times):
            if index:  # `in_channels` and friends describe this repetition's input, not the first's
                env, signature = bind_block_arguments(
                    definition, call, lambda expr: self.evaluate(expr, frame), self.input_names(x)
                )
                inner_frame = _Frame(env, (CallFrame(signature, call.span), *frame.chain), inner_frame.active)
            label = call.label if call.times is None else None
            block_scope = outer.child(outer.name(label, call.block, _label_span(call)))
            before = self._progress()
            values = ValueScope.root(definition.body, x, in_block=True)
            x = self.body(definition.body, x, block_scope, replace(inner_frame, values=values))
            if index == 0 and call.times is not None:
                self._check_unrolling(before, times, call.times.span)
        return x

    def _progress(self) -> tuple[int, int]:
        return self.graph.number_of_nodes(), self.bodies

    def _check_unrolling(self, before: tuple[int, int], times: int, span: Span) -> None:
        """After the first of `times` repetitions, refuse early if all of them would be too many."""
        ops_each, bodies_each = (now - then for now, then in zip(self._progress(), before))
        ops_total = self.graph.number_of_nodes() + ops_each * (times - 1)
        bodies_total = self.bodies + bodies_each * (times - 1)
        if ops_total > MAX_OPS:
            raise CnnShapeError(
                f"{times:,} repetitions of {ops_each:,} ops would unroll about {ops_total:,} ops "
                f"(the limit is {MAX_OPS:,})",
                span,
            )
        if bodies_total > MAX_UNROLLED_BODIES:
            raise CnnShapeError(
                f"{times:,} repetitions would elaborate a body about {bodies_total:,} times "
                f"(the limit is {MAX_UNROLLED_BODIES:,})",
                span,
            )

    def repetitions(self, expr: st.Expr, frame: _Frame) -> int:
        times = self.evaluate(expr, frame)
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise CnnArgumentError(
                f"a repetition count must be an integer >= 0, found {describe_value(times)}", expr.span
            )
        if times > MAX_UNROLLED_BODIES:
            raise CnnArgumentError(
                f"{describe_integer(times, commas=True)} repetitions are more than the limit of "
                f"{MAX_UNROLLED_BODIES:,}",
                expr.span,
            )
        return times

    def repeat(self, repeat: st.Repeat, x: Value, scope: _Scope, frame: _Frame) -> Value:
        times = self.repetitions(repeat.times, frame)
        target = scope.child(scope.claim(repeat.label, _label_span(repeat))) if repeat.label else scope
        for index in range(times):
            before = self._progress()
            x = self.body(repeat.body, x, target, frame)
            if index == 0:
                self._check_unrolling(before, times, repeat.times.span)
        return x

    def residual(self, residual: st.Residual, x: Value, scope: _Scope, frame: _Frame) -> Value:
        target = scope.child(scope.claim(residual.label, _label_span(residual))) if residual.label else scope
        if residual.condition is not None and not self.condition(residual.condition, frame):
            return self.body(residual.body, x, target, frame)  # `residual if COND`: no skip this time
        main = self.body(residual.body, x, target, frame)
        if main is None or x is None:
            return None
        shape_in, shape_out = self.graph.nodes[x]["shape"], self.graph.nodes[main]["shape"]
        other = x
        if shape_out != shape_in:
            if residual.shortcut is None:
                raise CnnShapeError(
                    f"the residual branch changes the shape from {_dims(shape_in)} to {_dims(shape_out)}, "
                    "so the identity shortcut cannot be added; add a `shortcut { ... }` projection",
                    residual.span,
                )
            shortcut_scope = target.child(target.fresh("shortcut"))
            other = self.body(residual.shortcut, x, shortcut_scope, frame)
            if other is None:
                return None
            shortcut_shape = self.graph.nodes[other]["shape"]
            if shortcut_shape != shape_out:
                raise CnnShapeError(
                    f"the residual branch gives {_dims(shape_out)} "
                    f"but the shortcut gives {_dims(shortcut_shape)}",
                    residual.span,
                )
        node_id = target.qualified(target.fresh("add"))
        return self.add_node(ops.OPS["add"], {}, [main, other], node_id, target, residual.span, frame)

    def concat(self, concat: st.Concat, x: Value, scope: _Scope, frame: _Frame) -> Value:
        target = scope.child(scope.claim(concat.label, _label_span(concat))) if concat.label else scope
        if not concat.branches:
            raise CnnArgumentError("concat needs at least one branch", concat.span)
        outputs = []
        for branch in concat.branches:
            start = self.branch_input(branch, x, frame)
            outputs.append(self.body(branch.body, start, target.child(target.fresh("branch")), frame))
        if x is None or any(output is None for output in outputs):
            return None
        shapes = [self.graph.nodes[o]["shape"] for o in outputs]
        if any(len(s) != len(shapes[0]) or s[1:] != shapes[0][1:] for s in shapes):
            listed = ", ".join(f"branch {i + 1}: {_dims(s)}" for i, s in enumerate(shapes))
            message = f"concat needs the same height and width in every branch; {listed}"
            raise CnnShapeError(message, concat.span)
        node_id = target.qualified(target.fresh("concat"))
        return self.add_node(ops.OPS["concat"], {}, outputs, node_id, target, concat.span, frame)

    # ----- adaptive blocks and merges (gate, sum) ----------------------------------------
    def input_names(self, x: Value) -> dict[str, Any]:
        """`in_channels`, `in_height`, `in_width`: the shape of the value entering a body."""
        if x is None:  # unknown after an earlier error: reading them reports nothing more
            unknown = Unavailable(None)
            return dict.fromkeys(INPUT_NAMES, unknown)
        shape = self.graph.nodes[x]["shape"]
        if len(shape) != 3:
            flat = Unavailable(f"the input here is the flat vector {_dims(shape)}")
            return {"in_channels": shape[0], "in_height": flat, "in_width": flat}
        return dict(zip(INPUT_NAMES, shape))

    def condition(self, expr: st.Expr, frame: _Frame) -> bool:
        return truth(self.evaluate(expr, frame), expr)

    def if_statement(self, statement: st.If, x: Value, scope: _Scope, frame: _Frame) -> Value:
        for condition, body in statement.branches:
            if self.condition(condition, frame):
                return self.body(body, x, scope, frame)
        return self.body(statement.otherwise or (), x, scope, frame)

    def gate(self, gate: st.Gate, x: Value, scope: _Scope, frame: _Frame) -> Value:
        target = scope.child(scope.claim(gate.label, _label_span(gate))) if gate.label else scope
        factor = self.body(gate.body, x, target, frame)
        if factor is None or x is None:
            return None
        if factor == x:
            message = "gate needs a body that computes the factor, e.g. `gate { sigmoid }`"
            raise CnnArgumentError(message, gate.span)
        node_id = target.qualified(target.fresh("mul"))
        return self.add_node(ops.OPS["mul"], {}, [x, factor], node_id, target, gate.span, frame)

    def sum(self, merge: st.Sum, x: Value, scope: _Scope, frame: _Frame) -> Value:
        target = scope.child(scope.claim(merge.label, _label_span(merge))) if merge.label else scope
        if len(merge.branches) < 2:
            raise CnnArgumentError("sum needs at least two branches", merge.span)
        outputs = [  # a branch starts from the sum's input, or from `branch from NAME` (FPN)
            self.body(branch.body, start, target.child(target.fresh("branch")), frame)
            for branch, start in ((b, self.branch_input(b, x, frame)) for b in merge.branches)
        ]
        if x is None or any(output is None for output in outputs):
            return None
        shapes = [self.graph.nodes[o]["shape"] for o in outputs]
        if any(s != shapes[0] for s in shapes):
            listed = ", ".join(f"branch {i + 1}: {_dims(s)}" for i, s in enumerate(shapes))
            raise CnnShapeError(f"sum needs the same shape in every branch; {listed}", merge.span)
        node_id = target.qualified(target.fresh("add"))
        return self.add_node(ops.OPS["add"], {}, outputs, node_id, target, merge.span, frame)

    # ----- named values and several outputs (named_values.py) -----------------------------
    def named_value(self, name: st.Name, frame: _Frame) -> Value:
        assert frame.values is not None
        return frame.values.resolve(name)

    def branch_input(self, branch: st.Branch, x: Value, frame: _Frame) -> Value:
        """What a branch starts from: the merge's input, or the value `branch from NAME` names."""
        if branch.source is None:
            return x
        try:
            return self.named_value(branch.source, frame)
        except CnnError as error:
            self.report(error, frame)
            return None

    def size_like(self, op: ops.OpDef, layer: st.Layer, frame: _Frame) -> st.Layer | None:
        """`crop like=enc4`: the layer with `size=HxW` set to that value's height and width."""
        like = next((a for a in layer.arguments if a.keyword == "like"), None)
        if like is None:
            return layer
        if not ops.takes_size(op):
            takers = ", ".join(sorted({o.kind for o in ops.OPS.values() if ops.takes_size(o)}))
            message = f"{op.kind} has no size to take from another value; like= works with {takers}"
            raise CnnArgumentError(message, like.keyword_span or like.span)
        if not isinstance(like.value, st.Name):
            raise CnnArgumentError("like= takes the name of a value, e.g. like=enc4", like.value.span)
        source = self.named_value(like.value, frame)
        if source is None:
            return None
        shape = self.graph.nodes[source]["shape"]
        if len(shape) != 3:
            message = f"like={like.value.name} needs a CxHxW value, but '{like.value.name}' is {_dims(shape)}"
            raise CnnShapeError(message, like.value.span)
        size = st.Argument(st.Dims(tuple(shape[1:]), like.value.span), like.span, "size", like.keyword_span)
        return replace(layer, arguments=tuple(size if a is like else a for a in layer.arguments))

    def outputs(self, statement: st.Outputs, x: Value, frame: _Frame) -> Value:
        values = frame.values
        assert values is not None
        if values.in_block:
            message = "only a network declares outputs; `output` cannot appear in a block"
            raise CnnNameError(message, statement.span)
        top_level = values.parent is not None and values.parent.parent is None
        if not top_level or values.statements[-1] is not statement:
            raise CnnNameError("`output` must be the last statement of a network", statement.span)
        problems: list[CnnError] = []
        found: list[Value] = []
        for name in statement.names:
            try:
                value = self.named_value(name, frame)
            except CnnError as error:
                problems.append(error)
                value = None
            if value is not None and value in found:
                problems.append(CnnNameError(f"output lists the value '{name.name}' twice", name.span))
            elif value is not None and self.graph.nodes[value]["op"] == "input":
                message = f"'{name.name}' is the network's input, which cannot also be an output"
                problems.append(CnnNameError(message, name.span))
            found.append(value)
        self.declared_outputs = found
        if problems:
            raise CnnError([d for problem in problems for d in problem.diagnostics])
        return x

    # ----- networks -------------------------------------------------------------------------
    def network(
        self, network: st.Definition, overrides: Mapping[str, Any], input_shape: tuple[int, ...] | None
    ) -> nx.DiGraph:
        known_problems = len(self.sink.diagnostics)
        env = bind_network_parameters(network, overrides, self.sink)
        if len(self.sink.diagnostics) > known_problems:
            # A parameter without a value would make every use of it a second, dependent error.
            return self.graph
        frame = _Frame(env, values=ValueScope.root(network.body, None, in_block=False))
        scope = _Scope(())
        body = network.body
        first = body[0] if body else None
        if not (isinstance(first, st.Layer) and first.kind == "input"):
            where = first.span if first is not None else network.name_span
            message = f"network '{network.name}' must start with `input CxHxW` (e.g. `input 3x224x224`)"
            self.sink.add(CnnNameError(message, where))
            return self.graph
        x: Value = None
        try:
            op = ops.OPS["input"]
            attrs, spans = bind_layer_arguments(op, first, lambda expr: self.evaluate(expr, frame))
            if input_shape is not None:
                attrs["shape"] = _requested_input_shape(input_shape)
            node_id = scope.claim(first.label or "input", _label_span(first))
            x = self.add_node(op, attrs, [], node_id, scope, first.span, frame, spans)
        except CnnUsageError:
            raise
        except CnnError as error:
            self.report(error, frame)
        # The network body's `in_channels` and friends describe its input; parameters come first.
        frame = replace(frame, env={**self.input_names(x), **env})
        assert frame.values is not None
        frame.values.define(INPUT, x)
        if first.label:
            frame.values.define(first.label, x)
        output = self.body(body[1:], x, scope, frame)
        outputs = [output] if self.declared_outputs is None else self.declared_outputs
        if self.declared_outputs is not None:
            # The names the caller sees (ONNX output names, summary rows): as `output` wrote them.
            self.graph.graph["output_names"] = [name.name for name in body[-1].names]
        self.graph.graph.update(
            network=network.name,
            parameters=dict(env),
            inputs=[x] if x else [],
            outputs=outputs if all(outputs) else [],
            source=self.program.source.name,
        )
        return self.graph



def _label_span(statement: st.Statement) -> Span:
    """Where a statement's `label:` was written, or the statement itself when it has none."""
    return statement.label_span or statement.span


def _requested_input_shape(shape: Any) -> ops.Shape:
    """An input shape asked for by --input or `load(input=...)`: a usage error if it is not one."""
    try:
        return image_shape(tuple(shape) if isinstance(shape, list) else shape)
    except ArgumentProblem as problem:
        raise CnnUsageError(f"input shape: {problem}") from None


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def build_graph(
    program: Program,
    network: st.Definition,
    overrides: Mapping[str, Any] | None = None,
    input_shape: tuple[int, ...] | None = None,
) -> nx.DiGraph:
    """Elaborate `network` into the IR; raise one CnnError listing every independent problem."""
    elaborator = _Elaborator(program)
    try:
        graph = elaborator.network(network, overrides or {}, input_shape)
    except CnnUsageError:
        raise
    except CnnError as error:
        elaborator.sink.add(error)
        graph = elaborator.graph
    if overrides and elaborator.sink.diagnostics:
        # The file may be fine and the values asked for not (`fc classes` with classes=abc).
        asked = ", ".join(f"{name}={describe_value(value)}" for name, value in overrides.items())
        note = f"checked with {asked} set from outside the file"
        noted = [replace(d, notes=(*d.notes, note)) for d in elaborator.sink.diagnostics]
        elaborator.sink.diagnostics = noted
    elaborator.sink.raise_if_any()
    return graph

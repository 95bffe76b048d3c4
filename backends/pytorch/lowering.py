"""IR -> Plan: every submodule, literal value and forward statement of the module, as data.

Deciding is kept apart from writing (render.py): parameters.py compares plans built for
different parameter values before any text exists.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import networkx as nx

from cnndsl.errors import CnnUsageError
from cnndsl.model import Model
from cnndsl.summary import output_names

from ..python_text import string_literal
from . import helpers, layers, naming
from .dataflow import Dataflow, plan_dataflow
from .fusion import ChannelsLastRun, channels_last_runs, channels_last_statements
from .notes import SourceComments, description
from .pyformat import Call, Expr, Raw, Seq

HEADS = ("softmax", "sigmoid")  # output activations a loss function wants left out


@dataclass(frozen=True)
class Comment:
    text: str


Line = Comment | layers.Statement


@dataclass
class Plan:
    """Everything the generated module contains, before it is text."""

    network: str
    class_name: str
    source: str
    description: list[str]
    totals: str
    constants: list[tuple[str, Expr]] = field(default_factory=list)
    class_attributes: list[tuple[str, Expr]] = field(default_factory=list)
    init: list[Line] = field(default_factory=list)
    forward: list[Line] = field(default_factory=list)
    parameters: list[tuple[str, int | float]] = field(default_factory=list)  # constructor args
    logits: bool = False
    example_key: str = ""  # the first parameter's state_dict key, quoted in the docstring
    helpers: list[str] = field(default_factory=list)  # classes from helpers.py the module defines
    outputs: list[str] = field(default_factory=list)  # the names of several outputs; empty for one


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def lower(model: Model, logits: bool = False) -> Plan:
    """Decide the generated module for `model`; `logits` leaves out a trailing softmax/sigmoid."""
    graph: nx.DiGraph = model.graph
    output = graph.graph["outputs"][0]
    several = len(graph.graph["outputs"]) > 1
    if logits and several:
        raise CnnUsageError(f"logits=True needs a network with one output; {model.name} has several")
    dropped = None
    if logits and graph.nodes[output]["op"] in HEADS:
        dropped, output = graph.nodes[output]["op"], graph.nodes[output]["inputs"][0]
    order = [node for node in graph.nodes if not (dropped and node == graph.graph["outputs"][0])]
    activation = graph.nodes[output]["op"] if graph.nodes[output]["op"] in HEADS else None

    result = Plan(
        network=model.name,
        class_name=naming.class_name(model.name),
        source=graph.graph.get("source", ""),
        description=description(model),
        totals=f"{_dims(model.input_shape)} -> {', '.join(_dims(s) for s in model.output_shapes)}, "
        f"{model.params:,} parameters, {model.macs:,} MACs",
        logits=logits,
        example_key=next((f"{node}.weight" for node in order if graph.nodes[node]["params"]), ""),
    )
    result.class_attributes = [
        ("input_shape", Seq(tuple(Raw(str(d)) for d in model.input_shape), "()")),
        ("output_activation", Raw(string_literal(activation) if activation else "None")),
        ("dropped_head", Raw(string_literal(dropped) if dropped else "None")),
    ]
    result.outputs = output_names(graph) if several else []
    flow = plan_dataflow(graph, order, graph.graph["outputs"] if several else output)
    taken: set[str] = set()

    def constant(node_id: str, what: str) -> str:
        name = naming.constant_name(node_id, what)
        while name in taken:  # `a_b.c` and `a.b_c` would both give A_B_C
            name += "_"
        taken.add(name)
        return name

    modules = {}
    for node_id in order[1:]:
        data = graph.nodes[node_id]
        node = layers.Node(
            node_id,
            data["op"],
            data["attrs"],
            graph.nodes[data["inputs"][0]]["shape"],
            data["shape"],
            node_id in flow.inplace,
        )
        modules[node_id] = (node, layers.construct(node, lambda what, n=node_id: constant(n, what)))
    naming.check_names(
        {n: graph.nodes[n]["span"] for n, (_, built) in modules.items() if built.module is not None},
        naming.reserved_names(),
    )
    _plan_init(result, graph, modules)
    runs = channels_last_runs(graph, flow.order, flow.outputs)
    called = [b.module.func for _, b in modules.values() if b.module]
    result.helpers = helpers.helpers_used(called)
    _plan_forward(result, graph, modules, flow, runs)
    return result


def _plan_init(result: Plan, graph: nx.DiGraph, modules: dict) -> None:
    comments = SourceComments()
    containers: set[str] = set()
    for node_id, (_, built) in modules.items():
        if built.module is None:
            continue
        result.init.extend(_notes(comments.calls(graph.nodes[node_id])))
        parts = node_id.split(".")
        for depth in range(1, len(parts)):
            container = ".".join(parts[:depth])
            if container not in containers:
                containers.add(container)
                result.init.extend(_attach(container, Call("nn.Module")))
        result.init.extend(_notes(comments.line_of(graph.nodes[node_id])))
        result.init.extend(_attach(node_id, built.module))
        path = naming.attribute_path("self", node_id)
        result.constants.extend(built.constants)
        for suffix, value in built.setup:
            if suffix:
                result.init.append(layers.Statement(f"{path}{suffix}", value))
            else:  # a method call on the submodule itself
                assert isinstance(value, Call)
                result.init.append(layers.Statement("", Call(f"{path}{value.func}", value.args)))


def _attach(node_id: str, constructor: Call) -> list[layers.Statement]:
    owner, last = naming.owner_and_name("self", node_id)
    if naming.is_plain_name(last):
        return [layers.Statement(f"{owner}.{last}", constructor)]
    return [layers.Statement("", Call(f"{owner}.add_module", (Raw(string_literal(last)), constructor)))]


def _plan_forward(
    result: Plan, graph: nx.DiGraph, modules: dict, flow: Dataflow, runs: dict[str, ChannelsLastRun]
) -> None:
    comments = SourceComments()
    # A local alias never shadows a name forward() may use: a module, a builtin, a variable.
    taken = set(flow.variables.values()) | {"self", "torch", "nn"} | set(dir(builtins))
    alias: tuple[str, str] | None = None  # (container path, local name) bound in forward

    def module_path(node_id: str) -> str:
        nonlocal alias
        parts = node_id.split(".")
        if modules[node_id][1].module is None or len(parts) == 1:
            return naming.attribute_path("self", node_id)
        # A local name for the block's container (`bottleneck1 = self.layer1.bottleneck1`):
        # one attribute lookup per layer afterwards, as in a hand-written block's forward().
        depth = min(2, len(parts) - 1)
        container = ".".join(parts[:depth])
        if alias is None or alias[0] != container:
            alias = (container, _alias_name(parts[depth - 1], taken))
            lookup = Raw(naming.attribute_path("self", container))
            result.forward.append(layers.Statement(alias[1], lookup))
        return naming.attribute_path(alias[1], ".".join(parts[depth:]))

    fused: set[str] = set()
    for node_id in flow.order[1:]:
        if node_id in fused:
            continue
        node, built = modules[node_id]
        data = graph.nodes[node_id]
        inputs = [flow.variables[source] for source in data["inputs"]]
        run = runs.get(node_id)
        if run is not None:
            for member in run.nodes:
                result.forward.extend(_notes(comments.calls(graph.nodes[member])))
                result.forward.extend(_notes(comments.line_of(graph.nodes[member])))
            fused.update(run.nodes)
            paths = {member: module_path(member) for member in run.nodes}
            target = flow.variables[run.nodes[-1]]
            for member, statement in channels_last_statements(run, paths, inputs[0], target):
                result.forward.append(statement)
                if member is not None:
                    _delete(result, [name for name in flow.deleted.get(member, ()) if name != target])
            continue
        result.forward.extend(_notes(comments.calls(data)))
        module = module_path(node_id)
        result.forward.extend(_notes(comments.line_of(data)))
        result.forward.extend(layers.statements(node, module, inputs, flow.variables[node_id]))
        _delete(result, flow.deleted.get(node_id, []))
    returned = ", ".join(flow.variables[node] for node in flow.outputs)  # a tuple for several outputs
    result.forward.append(layers.Statement("return", Raw(returned), ""))


def _delete(result: Plan, names: list[str]) -> None:
    if names:
        result.forward.append(layers.Statement("del", Raw(", ".join(names)), ""))


def _alias_name(name: str, taken: set[str]) -> str:
    if not naming.is_plain_name(name) or name in taken or not name.islower() or name.startswith("_"):
        name = "block"
    while name in taken:
        name += "_"
    return name


def _notes(texts: list[str]) -> list[Comment]:
    return [Comment(text) for text in texts]

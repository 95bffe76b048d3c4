"""What `cnndsl graph` draws: visible nodes with their labels, edges and nested block clusters.

Computing the picture is kept apart from drawing it (graph_render.py writes DOT and Mermaid).
With a depth limit, every op nested in more than `depth` scopes folds into one node for its
scope at that depth, exactly as `cnndsl summary --depth` folds rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .errors import CallFrame
from .summary import output_names

Scope = tuple[str, ...]

# Op families share a colour in the picture.
FAMILIES = {
    "input": "input",
    "conv": "conv",
    "maxpool": "pool",
    "avgpool": "pool",
    "globalavgpool": "pool",
    "globalmaxpool": "pool",
    "adaptiveavgpool": "pool",
    "batchnorm": "norm",
    "lrn": "norm",
    "relu": "activation",
    "leakyrelu": "activation",
    "tanh": "activation",
    "sigmoid": "activation",
    "softmax": "activation",
    "relu6": "activation",
    "hardswish": "activation",
    "hardsigmoid": "activation",
    "silu": "activation",
    "gelu": "activation",
    "mish": "activation",
    "elu": "activation",
    "prelu": "activation",
    "layernorm": "norm",
    "groupnorm": "norm",
    "instancenorm": "norm",
    "layerscale": "norm",
    "fc": "fc",
    "add": "merge",
    "concat": "merge",
    "upsample": "pool",  # resampling, drawn as pooling is
    "convtranspose": "conv",
    "pixelshuffle": "pool",
    "channelshuffle": "pool",
    "mul": "merge",
}


@dataclass
class ViewNode:
    id: str
    lines: list[str]  # the label, one entry per line
    family: str
    cluster: Scope  # the innermost drawn scope holding the node


@dataclass
class Cluster:
    scope: Scope
    label: str
    nodes: list[str] = field(default_factory=list)
    children: list[Scope] = field(default_factory=list)
    # node ids and child scopes in execution order, for drawings that follow the source
    contents: list[str | Scope] = field(default_factory=list)


@dataclass
class GraphView:
    name: str  # the network's
    title: str
    nodes: dict[str, ViewNode]
    edges: list[tuple[str, str]]
    clusters: dict[Scope, Cluster]  # the root () holds the top-level nodes


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def describe_op(op: str, attrs: dict) -> str:
    """A short form of the op and its main arguments: `conv 64 7x7 /2`."""
    parts = [op]
    if op == "conv":
        parts += [str(attrs["out_channels"]), _dims(attrs["kernel"])]
    elif op in ("maxpool", "avgpool"):
        parts.append(_dims(attrs["kernel"]))
    elif op == "adaptiveavgpool":
        parts.append(_dims(attrs["size"]))
    elif op == "fc":
        parts.append(str(attrs["out_features"]))
    elif op in ("dropout", "droppath"):
        parts.append(f"{attrs['p']:g}")
    elif op == "lrn":
        parts.append(str(attrs["size"]))
    elif op == "convtranspose":
        parts += [str(attrs["out_channels"]), _dims(attrs["kernel"])]
    elif op == "upsample":
        scale = attrs["scale"]
        if scale:
            parts.append(f"x{scale[0]}" if scale[0] == scale[1] else f"x({scale[0]}, {scale[1]})")
        else:
            parts.append(f"to {_dims(attrs['size'])}")
        parts.append(attrs["mode"])
    elif op == "pixelshuffle":  # channelshuffle's groups are shown below, as a conv's are
        parts.append(str(attrs["factor"]))
    elif op == "crop":
        parts.append(_dims(attrs["size"]))
    stride = attrs.get("stride")
    if stride and stride != (1, 1):
        parts.append(f"/{stride[0]}" if stride[0] == stride[1] else f"/{_dims(stride)}")
    if attrs.get("groups", 1) != 1:
        parts.append(f"groups={attrs['groups']}")
    return " ".join(parts)


def _params_line(params: int) -> list[str]:
    return [f"{params:,} params"] if params else []


def _common_frames(chains: list[tuple[CallFrame, ...]]) -> tuple[CallFrame, ...]:
    """The outer block calls every chain shares (chains list the innermost call first)."""
    if not chains:
        return ()
    common = list(reversed(chains[0]))
    for chain in chains[1:]:
        outer = list(reversed(chain))
        size = 0
        while size < min(len(common), len(outer)) and common[size] == outer[size]:
            size += 1
        common = common[:size]
    return tuple(reversed(common))


class _Scopes:
    """Which block call made each scope, found from the call chains of the ops inside it."""

    def __init__(self, graph: nx.DiGraph):
        self.members: dict[Scope, list[tuple[CallFrame, ...]]] = {(): []}
        for _, data in graph.nodes(data=True):
            scope = data["scope"]
            for size in range(len(scope) + 1):
                self.members.setdefault(scope[:size], []).append(data["chain"])

    def call(self, scope: Scope) -> str | None:
        """`bottleneck(128, stride=2)` when the scope is one block call's body, else None."""
        if not scope:
            return None
        inner = _common_frames(self.members[scope])
        outer = _common_frames(self.members[scope[:-1]])
        new = inner[: len(inner) - len(outer)]
        return new[-1].signature if new else None

    def label(self, scope: Scope) -> str:
        call = self.call(scope)
        return f"{scope[-1]}: {call}" if call else scope[-1]


def build_view(graph: nx.DiGraph, depth: int | None = None) -> GraphView:
    """The nodes, edges and clusters to draw; scopes deeper than `depth` fold into single nodes."""
    scopes = _Scopes(graph)
    nodes: dict[str, ViewNode] = {}
    representative: dict[str, str] = {}
    folded: dict[str, list[str]] = {}
    outputs = graph.graph["outputs"]
    # Several outputs: each output node says which one it is (`output aux`).
    declared = dict(zip(outputs, output_names(graph))) if len(outputs) > 1 else {}
    for node, data in graph.nodes(data=True):
        scope = data["scope"]
        if depth is not None and len(scope) > depth:
            fold_scope = scope[: depth + 1]
            fold_id = ".".join(fold_scope)
            representative[node] = fold_id
            folded.setdefault(fold_id, []).append(node)
            if fold_id not in nodes:
                nodes[fold_id] = ViewNode(fold_id, [], "block", fold_scope[:-1])
            continue
        representative[node] = node
        name = node.rsplit(".", 1)[-1]
        if data["op"] == "input":
            lines = ["input", _dims(data["shape"])]
        else:
            op_text = describe_op(data["op"], data["attrs"])
            lines = [name, op_text, _dims(data["shape"]), *_params_line(data["params"])]
        if node in declared:
            lines.append(f"output {declared[node]}")
        nodes[node] = ViewNode(node, lines, FAMILIES.get(data["op"], "other"), scope)
    for fold_id, members in folded.items():
        fold_scope = tuple(fold_id.split("."))
        last = graph.nodes[members[-1]]
        params = sum(graph.nodes[m]["params"] for m in members)
        count = f"{len(members)} op{'s' if len(members) != 1 else ''}"
        nodes[fold_id].lines = [scopes.label(fold_scope), _dims(last["shape"]), *_params_line(params), count]
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for node, data in graph.nodes(data=True):
        for source in data["inputs"]:
            edge = (representative[source], representative[node])
            if edge[0] != edge[1] and edge not in seen:
                seen.add(edge)
                edges.append(edge)
    return GraphView(graph.graph["network"], _title(graph), nodes, edges, _clusters(nodes, scopes))


def _clusters(nodes: dict[str, ViewNode], scopes: _Scopes) -> dict[Scope, Cluster]:
    clusters: dict[Scope, Cluster] = {(): Cluster((), "")}
    for node in nodes.values():
        scope = node.cluster
        for size in range(1, len(scope) + 1):
            prefix = scope[:size]
            if prefix not in clusters:
                clusters[prefix] = Cluster(prefix, scopes.label(prefix))
                clusters[prefix[:-1]].children.append(prefix)
                clusters[prefix[:-1]].contents.append(prefix)
        clusters[scope].nodes.append(node.id)
        clusters[scope].contents.append(node.id)
    return clusters


def _title(graph: nx.DiGraph) -> str:
    inputs, outputs = graph.graph["inputs"], graph.graph["outputs"]
    params = sum(data["params"] for _, data in graph.nodes(data=True))
    shape_in = _dims(graph.nodes[inputs[0]]["shape"]) if inputs else "?"
    shape_out = ", ".join(_dims(graph.nodes[node]["shape"]) for node in outputs) or "?"
    return f"{graph.graph['network']}: {shape_in} -> {shape_out}, {params:,} params"

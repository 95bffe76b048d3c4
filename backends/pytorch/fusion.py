"""Runs of layers `forward` computes channels-last in one call: ConvNeXt's pointwise MLP.

`layernorm -> conv 1x1 -> [activation] -> conv 1x1 -> [layerscale]` over a CxHxW value is what
torchvision's CNBlock writes as permute, LayerNorm, Linear, GELU, Linear, permute. As NCHW 1x1
convolutions and a LayerNorm2d that permutes there and back, the same numbers cost PyTorch's CPU
kernels 15-20% more, so such a run is lowered to those statements in `forward`, on the existing
submodules: the state dict, and so weights shared with the NumPy engine, is unchanged. They are
statements rather than one helper call so that each value is freed when its successor exists,
as in CNBlock's nn.Sequential (a call's argument would outlive the whole run).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import networkx as nx

from .layers import Statement
from .pyformat import Call, Raw

# Elementwise activations without parameters: the same function channels-last as channels-first.
# Not softmax (over dim 1) and not prelu (a weight per channel of dim 1).
ELEMENTWISE = frozenset(
    {"relu", "relu6", "leakyrelu", "elu", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "tanh"}
    | {"sigmoid"}
)


@dataclass(frozen=True)
class ChannelsLastRun:
    """The node ids of one fused run; activation and scale are None when the run has none."""

    norm: str
    expand: str
    activation: str | None
    project: str
    scale: str | None

    @property
    def nodes(self) -> tuple[str, ...]:
        members = (self.norm, self.expand, self.activation, self.project, self.scale)
        return tuple(node for node in members if node is not None)


def _pointwise(data: dict) -> bool:
    """A conv that is a per-pixel matrix product: 1x1, stride 1, no padding, dilation or groups."""
    if data["op"] != "conv":
        return False
    a = data["attrs"]
    return (
        a["kernel"] == (1, 1)
        and a["stride"] == (1, 1)
        and not any(a["pads"])
        and a["dilation"] == (1, 1)
        and a["groups"] == 1
    )


def channels_last_runs(graph: nx.DiGraph, order: list[str], outputs: list[str]) -> dict[str, ChannelsLastRun]:
    """The fusable runs in `order` (the forward's execution order), keyed by their first node.

    A run's members are consecutive in `order`, each reads only the one before it, and every
    value but the last has no other reader and is not an output, so nothing else needs them.
    """
    readers = Counter(source for node in order for source in graph.nodes[node]["inputs"])
    readers.update(outputs)
    position = {node: index for index, node in enumerate(order)}
    runs: dict[str, ChannelsLastRun] = {}
    index = 0
    while index < len(order):
        run = _run_at(graph, order, index, readers, position)
        if run is None:
            index += 1
            continue
        runs[run.norm] = run
        index += len(run.nodes)
    return runs


def _run_at(
    graph: nx.DiGraph, order: list[str], index: int, readers: Counter, position: dict
) -> ChannelsLastRun | None:
    norm = order[index]
    data = graph.nodes[norm]
    if data["op"] != "layernorm" or len(data["shape"]) != 3:
        return None
    members = [norm]

    def follow(accept) -> str | None:
        """The next node in order, if it reads only the last member and `accept`s; else None."""
        last = members[-1]
        at = position[last] + 1
        if at >= len(order) or readers[last] != 1:
            return None
        node = order[at]
        if list(graph.nodes[node]["inputs"]) != [last] or not accept(graph.nodes[node]):
            return None
        members.append(node)
        return node

    expand = follow(_pointwise)
    if expand is None:
        return None
    activation = follow(lambda d: d["op"] in ELEMENTWISE)
    project = follow(_pointwise)
    if project is None:
        return None
    scale = follow(lambda d: d["op"] == "layerscale")
    return ChannelsLastRun(norm, expand, activation, project, scale)


def channels_last_statements(
    run: ChannelsLastRun, paths: dict[str, str], source: str, target: str
) -> list[tuple[str | None, Statement]]:
    """`forward`'s statements for `run`, each with the member whose value it completes (or None).

    `paths` gives each member's submodule path, `source` the variable entering the run, `target`
    the one that leaves it; the 1x1 convs run as linear layers on their weights viewed out x in.
    """

    def linear(conv: str) -> Call:
        weight, bias = Raw(f"{paths[conv]}.weight.flatten(1)"), Raw(f"{paths[conv]}.bias")
        return Call("nn.functional.linear", (Raw(target), weight, bias))

    norm = paths[run.norm]
    fields = ("normalized_shape", "weight", "bias", "eps")
    layer_norm = Call("nn.functional.layer_norm", (Raw(target), *(Raw(f"{norm}.{f}") for f in fields)))
    lines: list[tuple[str | None, Statement]] = [
        (None, Statement(target, Raw(f"{source}.permute(0, 2, 3, 1)"))),  # NCHW -> NHWC, a view
        (run.norm, Statement(target, layer_norm)),
        (run.expand, Statement(target, linear(run.expand))),
    ]
    if run.activation is not None:
        lines.append((run.activation, Statement(target, Call(paths[run.activation], (Raw(target),)))))
    lines.append((None, Statement(target, linear(run.project))))
    lines.append((run.project, Statement(target, Raw(f"{target}.permute(0, 3, 1, 2)"))))
    if run.scale is not None:
        lines.append((run.scale, Statement(target, Raw(f"{target} * {paths[run.scale]}.weight"))))
    return lines

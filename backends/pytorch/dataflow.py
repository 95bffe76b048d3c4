"""Which local variable holds each value in `forward`, and which ops may run in place.

`forward` is straight-line code over a few reused names (`x`, `y`, ...): a value whose last
reader is the op being emitted hands its name to that op's output, as hand-written code does
with `x = layer(x)`. Branches (residual shortcuts, inception branches) keep their input alive
in a second name until the merge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count

import networkx as nx

# Ops whose output is a fresh tensor that autograd does not keep for their own backward pass,
# so a following ReLU or residual sum may overwrite it in place (as torchvision's ResNet does
# with `out += identity; out = relu(out)`). Not ReLU/tanh/sigmoid/softmax (backward reads
# their output), not dropout (the identity in eval mode) and not flatten (a view).
INPLACE_SAFE_PRODUCERS = frozenset(
    {
        "conv",
        "batchnorm",
        "fc",
        "add",
        "mul",
        "concat",
        "maxpool",
        "avgpool",
        "globalavgpool",
        "globalmaxpool",
        "adaptiveavgpool",
        "convtranspose",
    }
)
# The activations torch.nn can apply in place (torchvision's MobileNets and EfficientNet do).
INPLACE_OPS = frozenset({"relu", "add", "relu6", "hardswish", "hardsigmoid", "silu"})


def _names() -> Iterator[str]:
    yield from ("x", "y", "z")
    for number in count(3):
        yield f"x{number}"


@dataclass
class Dataflow:
    """Variables and in-place decisions for the nodes of `forward`, in execution order."""

    order: list[str]
    output: str  # the first output
    outputs: list[str] = field(default_factory=list)  # all of them, in the declared order
    variables: dict[str, str] = field(default_factory=dict)
    inplace: set[str] = field(default_factory=set)


def plan_dataflow(graph: nx.DiGraph, order: list[str], output: str | list[str]) -> Dataflow:
    """Assign variables to `order` (the input node first; the outputs computed last or earlier)."""
    outputs = [output] if isinstance(output, str) else list(output)
    last_use: dict[str, int] = {}
    for index, node in enumerate(order):
        for source in graph.nodes[node]["inputs"]:
            last_use[source] = index
    for node in outputs:
        last_use[node] = len(order)  # returned at the end

    flow = Dataflow(order, outputs[0], outputs)
    free: list[str] = []
    fresh = _names()

    def allocate() -> str:
        if free:
            free.sort(key=_rank)
            return free.pop(0)
        return next(fresh)

    flow.variables[order[0]] = allocate()
    for index, node in enumerate(order[1:], start=1):
        data = graph.nodes[node]
        inputs = data["inputs"]
        first = inputs[0]
        first_dies = last_use.get(first) == index and inputs.count(first) == 1
        # Rebinding a name is free; overwriting a tensor in place is not (the network's input
        # belongs to the caller), hence the producer check below.
        if first_dies:
            flow.variables[node] = flow.variables[first]
        else:
            flow.variables[node] = allocate()
        if (
            data["op"] in INPLACE_OPS
            and first_dies
            and graph.nodes[first]["op"] in INPLACE_SAFE_PRODUCERS
            and len({flow.variables[source] for source in inputs}) == len(inputs)
        ):
            flow.inplace.add(node)
        for source in set(inputs):
            variable = flow.variables[source]
            if last_use.get(source) == index and variable != flow.variables[node]:
                free.append(variable)
        if node not in last_use:  # computed but never read: its name is free again at once
            free.append(flow.variables[node])
    return flow


def _rank(name: str) -> tuple[int, str]:
    return (0, name) if name in ("x", "y", "z") else (1, name.rjust(8))

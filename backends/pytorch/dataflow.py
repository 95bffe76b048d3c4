"""Which local variable holds each value in `forward`, and which ops may run in place.

`forward` is straight-line code over a few reused names (`x`, `y`, ...): a value whose last
reader is the op being emitted hands its name to that op's output, as hand-written code does
with `x = layer(x)`. Branches (residual shortcuts, inception branches) keep their input alive
in a second name until the merge.

Values are freed where a hand-written module of nested submodules frees them, because with
glibc's default malloc the order of frees decides which activations come back as fresh pages
that the kernel must fault in and zero (MobileNetV2 ran 6% slower than its hand-written twin with
the same kernels): a block's input lives until the block's last op, as a submodule's argument
lives until the call returns, and a value is deleted right after its last reader (`del y`)
rather than when its name is next reused.
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
    deleted: dict[str, list[str]] = field(default_factory=dict)  # node -> names to `del` after it


def plan_dataflow(graph: nx.DiGraph, order: list[str], output: str | list[str]) -> Dataflow:
    """Assign variables to `order` (the input node first; the outputs computed last or earlier)."""
    outputs = [output] if isinstance(output, str) else list(output)
    last_use: dict[str, int] = {}
    for index, node in enumerate(order):
        for source in graph.nodes[node]["inputs"]:
            last_use[source] = index
    _keep_block_inputs(graph, order, last_use)
    for node in outputs:
        last_use[node] = len(order)  # returned at the end
    dying: dict[int, list[str]] = {}
    for source, index in last_use.items():
        dying.setdefault(index, []).append(source)

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
        dead = [source for source in dying.get(index, ()) if flow.variables[source] != flow.variables[node]]
        if node not in last_use:  # computed but never read: its name is free again at once
            dead.append(node)
        free.extend(flow.variables[source] for source in dead)
        # The network's input belongs to the caller, who holds it anyway: its name is reused
        # without a `del`, as in hand-written `x = self.conv1(x)`.
        deleted = [flow.variables[source] for source in dead if source != order[0]]
        if deleted:
            flow.deleted[node] = sorted(deleted, key=_rank)
    return flow


def _keep_block_inputs(graph: nx.DiGraph, order: list[str], last_use: dict[str, int]) -> None:
    """Extend each value read inside a block (any scope) from outside it to the block's end."""
    ends: dict[tuple[str, ...], int] = {}
    for index, node in enumerate(order):
        scope = graph.nodes[node]["scope"]
        for depth in range(1, len(scope) + 1):
            ends[scope[:depth]] = index
    for node in order:
        scope = graph.nodes[node]["scope"]
        for source in graph.nodes[node]["inputs"]:
            shared = _common_prefix(scope, graph.nodes[source]["scope"])
            # Read from outside the block scope[:shared + 1]. Not the network's input: the caller
            # holds it anyway, so `x = stem.conv1(x)` may rebind its name at once.
            if shared < len(scope) and source != order[0]:
                last_use[source] = max(last_use[source], ends[scope[: shared + 1]])


def _common_prefix(first: tuple[str, ...], second: tuple[str, ...]) -> int:
    shared = 0
    while shared < min(len(first), len(second)) and first[shared] == second[shared]:
        shared += 1
    return shared


def _rank(name: str) -> tuple[int, str]:
    return (0, name) if name in ("x", "y", "z") else (1, name.rjust(8))

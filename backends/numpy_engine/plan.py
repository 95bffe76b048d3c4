"""The step plan: which IR nodes run together as one step, in execution order.

A conv or fc absorbs the batchnorm that alone reads it (folded into its weights at load), then
a residual `add` whose other input is already computed, then an activation (relu, relu6,
hardswish, silu, ...): each absorbed op saves a pass over memory, and the kernels apply it to
each output block while that is still in cache. Dropout and drop path are the identity at
inference and become aliases, not steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Step:
    """One unit of execution: `head` computes, the other nodes are fused into it."""

    head: str
    op: str
    inputs: tuple[str, ...]  # values read: the head's inputs, then the fused add's shortcut
    members: tuple[str, ...]  # the IR nodes it computes, head first; the last one names its output
    batchnorm: str | None = None  # folded into a conv or fc
    shortcut: str | None = None  # the other operand of a fused residual add
    activation: str | None = None  # the op name of a fused activation (FUSABLE_ACTIVATIONS)

    @property
    def output(self) -> str:
        return self.members[-1]


# Ops whose step can end in a fused activation (they apply it to their output block in cache),
# and the activations that can be fused: elementwise, parameter-free, able to write in place.
_ACTIVATION_FUSABLE = {"conv", "fc", "add", "batchnorm"}
FUSABLE_ACTIVATIONS = ("relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid")


# Ops that are the identity at inference: aliases of their input, and fusion looks past them.
IDENTITY_OPS = ("dropout", "droppath")

# Trailing ops that `logits=True` leaves out, as the torch backend does: losses want raw scores.
PROBABILITY_HEADS = {"softmax", "sigmoid"}


def plan_steps(
    graph: nx.DiGraph, fuse: bool = True, logits: bool = False
) -> tuple[list[Step], dict[str, str]]:
    """The steps in execution order, and the value each node id stands for (fusion, dropout).

    With `logits`, a softmax or sigmoid producing the network's output is left out.
    """
    order = {node: index for index, node in enumerate(graph.nodes)}
    consumers: dict[str, list[str]] = {node: [] for node in graph.nodes}
    for node, data in graph.nodes(data=True):
        for source in data["inputs"]:
            consumers[source].append(node)
    outputs = set(graph.graph["outputs"])

    def sole_consumer(node: str) -> tuple[str, str] | None:
        readers = consumers[node]
        if len(readers) != 1 or node in outputs:
            return None
        return readers[0], graph.nodes[readers[0]]["op"]

    def next_consumer(node: str) -> tuple[tuple[str, str] | None, list[str]]:
        """The sole consumer past any dropout or drop path (EfficientNet's bn -> droppath -> add),
        and the identities passed on the way."""
        passed = []
        following = sole_consumer(node) if fuse else None
        while following and following[1] in IDENTITY_OPS:
            passed.append(following[0])
            following = sole_consumer(following[0])
        return following, passed

    value: dict[str, str] = {}
    steps: list[Step] = []
    covered: set[str] = set()
    for node, data in graph.nodes(data=True):
        if node in covered:
            continue
        op = data["op"]
        inputs = tuple(value[source] for source in data["inputs"])
        if op == "input":
            value[node] = node
            continue
        if op in IDENTITY_OPS or (logits and node in outputs and op in PROBABILITY_HEADS):
            value[node] = inputs[0]
            continue
        members, batchnorm, shortcut, activation = [node], None, None, None
        following, passed = next_consumer(node)
        if following and following[1] == "batchnorm" and op in ("conv", "fc"):
            batchnorm = following[0]
            members += [*passed, batchnorm]
            following, passed = next_consumer(batchnorm)
        if following and following[1] == "add" and op == "conv":
            operands = graph.nodes[following[0]]["inputs"]
            others = [source for source in operands if source != (passed or members)[-1]]
            # The shortcut must already exist when this step runs: computed by an earlier node.
            if len(operands) == 2 and len(others) == 1 and order[others[0]] < order[node]:
                shortcut = value[others[0]]
                members += [*passed, following[0]]
                following, passed = next_consumer(following[0])
        # With `logits`, a sigmoid producing an output is left out, so it must not be fused either.
        left_out = logits and following and following[0] in outputs and following[1] in PROBABILITY_HEADS
        if following and following[1] in FUSABLE_ACTIVATIONS and op in _ACTIVATION_FUSABLE and not left_out:
            activation = following[1]
            members += [*passed, following[0]]
        extra = (shortcut,) if shortcut else ()
        steps.append(Step(node, op, inputs + extra, tuple(members), batchnorm, shortcut, activation))
        covered.update(members)
        for member in members:
            value[member] = members[-1]
    return steps, value

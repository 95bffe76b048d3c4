"""From the import graph's data flow to nested statements: sequences, residuals, concats, gates.

A merge (add, concat, mul) is matched with the value all of its inputs come from, its
immediate dominator; the paths from there to each input become the construct's bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .graph import ImportGraph, ImportOp, UnsupportedError, unsupported


@dataclass
class Leaf:
    op: ImportOp


@dataclass
class Merge:
    """`residual` (parts: body[, shortcut]), `sum`, `concat` (parts: branches) or `gate` (body)."""

    kind: str
    op: ImportOp
    parts: list[list]
    own_path: bool = True  # whether the merge op's module path says where the construct belongs


@dataclass
class Scope:
    """Statements that one source module computed: a block call once recovered."""

    path: str
    class_name: str
    items: list = field(default_factory=list)


def flatten_concats(graph: ImportGraph) -> tuple[ImportGraph, set[str]]:
    """DenseNet's `cat([x0, n1, ..., nk])` as `cat(cat([x0, ..., n(k-1)]), nk)` where that exists.

    A one-input concat is dropped. Returns the new graph and the ids of rewritten concats,
    whose own module path (the next layer's) does not say where they belong.
    """
    rename: dict[str, str] = {}
    made: dict[tuple[str, ...], str] = {}
    rewritten: set[str] = set()
    out = ImportGraph(graph.name, graph.input_shape)
    for op in graph.ops.values():
        inputs = tuple(rename.get(name, name) for name in op.inputs)
        if op.kind == "concat":
            if len(inputs) == 1:
                rename[op.id] = inputs[0]
                continue
            made[inputs] = op.id
            if len(inputs) > 2 and inputs[:-1] in made:
                inputs = (made[inputs[:-1]], inputs[-1])
                rewritten.add(op.id)
        out.add(replace(op, inputs=inputs))
    out.output = rename.get(graph.output, graph.output)
    return out, rewritten


def _dominators(graph: ImportGraph) -> dict[str, str]:
    order = {name: index for index, name in enumerate(graph.ops)}
    idom: dict[str, str] = {}
    for name, op in graph.ops.items():
        if not op.inputs:
            idom[name] = name
            continue
        dominator = op.inputs[0]
        for other in op.inputs[1:]:
            a, b = dominator, other
            while a != b:
                while order[a] > order[b]:
                    a = idom[a]
                while order[b] > order[a]:
                    b = idom[b]
            dominator = a
        idom[name] = dominator
    return idom


def structure(graph: ImportGraph) -> list:
    """The statements computing the graph's output from its input, in execution order."""
    graph, rewritten = flatten_concats(graph)
    idom = _dominators(graph)
    users: dict[str, int] = {}
    for op in graph.ops.values():
        for name in op.inputs:
            users[name] = users.get(name, 0) + 1
    placed: set[str] = set()

    def sequence(start: str, end: str) -> list:
        items: list = []
        current = end
        while current != start:
            op = graph.ops[current]
            if current in placed:
                raise unsupported(
                    f"the value of '{op.kind}'",
                    op.module,
                    op.where,
                    "it is used by two separate parts of the network",
                )
            placed.add(current)
            if len(op.inputs) == 1:
                items.append(Leaf(op))
                current = op.inputs[0]
                continue
            if not op.inputs:
                raise unsupported("a second input", op.module, op.where)
            entry = idom[current]
            parts = [sequence(entry, name) for name in op.inputs]
            items.append(_merge(graph, op, entry, parts, op.id not in rewritten))
            current = entry
        items.reverse()
        return items

    first = next(iter(graph.ops))
    items = sequence(first, graph.output)
    missing = [
        op for name, op in graph.ops.items() if name not in placed and name != first and users.get(name)
    ]
    if missing:
        op = missing[0]
        raise unsupported(
            f"the value of '{op.kind}'",
            op.module,
            op.where,
            "it is used by two separate parts of the network",
        )
    return items


def _merge(graph: ImportGraph, op: ImportOp, entry: str, parts: list[list], own_path: bool) -> Merge:
    if op.kind == "concat":
        # A concat belongs where its branches are: DenseNet's is made by the next layer.
        return Merge("concat", op, parts, own_path=False)
    if op.kind == "mul":
        empty = [part for part in parts if not part]
        if len(parts) != 2 or not empty:
            raise unsupported(
                "a product of two computed values", op.module, op.where, "only x * f(x) (a gate)"
            )
        return Merge("gate", op, [next(part for part in parts if part)], own_path)
    if op.kind != "add":
        raise UnsupportedError(f"internal: unknown merge {op.kind}")
    nonempty = [part for part in parts if part]
    if len(parts) == 2 and len(nonempty) == 1:
        return Merge("residual", op, nonempty, own_path)
    if len(parts) == 2 and len(nonempty) == 2 and graph.ops[entry].shape != op.shape:
        body, shortcut = sorted(nonempty, key=_size, reverse=True)
        return Merge("residual", op, [body, shortcut], own_path)
    return Merge("sum", op, parts, own_path)


def _size(items: list) -> int:
    return sum(_size(part) for item in items if isinstance(item, Merge) for part in item.parts) + len(items)

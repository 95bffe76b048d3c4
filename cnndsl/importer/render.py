"""A recovered plan as .cnn text: blocks first (callees before callers), then the network."""

from __future__ import annotations

from typing import Any

from ..formatter import format_text
from .graph import ImportOp
from .plan import WILD, Block, Call, Plan, Repeat
from .structure import Leaf, Merge

# Statements written on the line of the layer they follow, as the built-ins do.
FOLLOWERS = {
    "batchnorm",
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "hardswish",
    "hardsigmoid",
    "silu",
    "gelu",
    "mish",
    "elu",
    "leakyrelu",
    "prelu",
    "layernorm",
    "groupnorm",
    "instancenorm",
}
MAX_JOINED = 92
INDENT = "    "


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if len(value) >= 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
            return "x".join(str(v) for v in value)
        return "(" + ", ".join(value_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _normal(name: str, value: Any) -> Any:
    """Values compared with the op table's defaults: sizes as tuples, paddings as four sides."""
    if name in ("stride", "dilation", "output_padding") and isinstance(value, int):
        return (value, value)
    if name == "pad":
        if isinstance(value, int):
            value = (value, value)
        if isinstance(value, tuple) and len(value) == 2 and name == "pad":
            return (value[0], value[0], value[1], value[1])
    return value


def is_default(op: ImportOp, name: str, value: Any) -> bool:
    """Whether `value` is what the op's argument `name` would be if it were left out."""
    from ..ops import OPS

    if name == "stride" and op.kind in ("maxpool", "avgpool"):
        kernel = op.positional[0] if op.positional else None
        return _normal("stride", value) == _normal("stride", kernel) or value is None
    for argument in OPS[op.kind].args:
        if argument.name == name:
            if name == "pad" and op.kind == "convtranspose":
                return _normal("stride", value) == argument.default
            return _normal(name, value) == argument.default
    return False


class _Writer:
    """Fills a body's holes in order: literals as themselves, parameters by name."""

    def __init__(self, plan: Plan, fill):
        self.plan = plan
        self.fill = fill  # hole value -> (text, is_literal)
        self.cursor = 0

    def take(self, value: Any) -> tuple[str, bool]:
        text = self.fill(self.cursor, value)
        self.cursor += 1
        return text

    def items(self, items: list) -> list[tuple[str, str | None]]:
        """(line, kind) pairs; kind is the leaf op's kind for simple statements, else None."""
        lines: list[tuple[str, str | None]] = []
        for item in items:
            lines.extend(self.item(item))
        return _join(lines)

    def item(self, item: Any) -> list[tuple[str, str | None]]:
        if isinstance(item, Leaf):
            return [(self.leaf(item.op), item.op.kind)]
        if isinstance(item, Merge):
            return self.merge(item)
        if isinstance(item, Call):
            return [(self.call(item), None)]
        if isinstance(item, Repeat):
            count, _ = self.take(item.count)
            body = self.items(item.items)
            if len(body) == 1:
                return [(f"repeat {count} {{ {body[0][0]} }}", None)]
            return [(f"repeat {count} {{", None), *_indent(body), ("}", None)]
        raise TypeError(item)

    def leaf(self, op: ImportOp) -> str:
        words = [op.kind]
        for value in op.positional:
            words.append(self.take(value)[0])
        for name, value in op.keywords:
            text, literal = self.take(value)
            if literal and is_default(op, name, value):
                continue
            words.append(f"{name}={text}")
        return " ".join(words)

    def merge(self, item: Merge) -> list[tuple[str, str | None]]:
        bodies = [self.items(part) for part in item.parts]
        if item.kind in ("residual", "gate"):
            lines = [(f"{item.kind} {{", None), *_indent(bodies[0])]
            if len(bodies) > 1:
                lines += [("} shortcut {", None), *_indent(bodies[1])]
            return [*lines, ("}", None)]
        lines = [(f"{item.kind} {{", None)]
        for body in bodies:
            if not body:
                lines.append((INDENT + "branch { }", None))
            elif len(body) == 1:
                lines.append((INDENT + f"branch {{ {body[0][0]} }}", None))
            else:
                lines += [(INDENT + "branch {", None), *_indent(_indent(body)), (INDENT + "}", None)]
        return [*lines, ("}", None)]

    def call(self, call: Call) -> str:
        block = self.plan.blocks[call.block]
        count = self.take(call.count)[0] if call.count != 1 else None
        filled = [self.take(value) for value in call.values]
        arguments = []
        for param in block.params:
            first = next(
                i
                for i, hole in enumerate(block.holes)
                if hole[0] == "param" and hole[1] == param and hole[2] == 1
            )
            text, literal = filled[first]
            text = value_text(block.fallbacks[param]) if text is None else text
            offset = block.offsets.get(param, 0)
            if offset and literal:  # a caller's own parameter already counts the offset
                value = call.values[first]
                text = value_text((block.fallbacks[param] if value is WILD else value) + offset)
            if param not in block.defaults:
                arguments.append(text)
            elif text != value_text(block.defaults[param]):
                arguments.append(f"{param}={text}")
        text = f"{block.name}({', '.join(arguments)})"
        if count is not None:
            text += f" * {count}"
        return f"{call.label}: {text}" if call.label else text


def _indent(lines: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [(INDENT + line, None) for line, _ in lines]


def _join(lines: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for line, kind in lines:
        if (
            kind in FOLLOWERS
            and out
            and out[-1][1] is not None
            and len(out[-1][0]) + len(line) + 2 <= MAX_JOINED
        ):
            out[-1] = (f"{out[-1][0]}; {line}", kind)
        else:
            out.append((line, kind))
    return out


def _literal(index: int, value: Any) -> tuple[str | None, bool]:
    return (None if value is WILD else value_text(value)), True


def _block_filler(block: Block):
    def fill(index: int, value: Any) -> tuple[str, bool]:
        hole = block.holes[index]
        if hole[0] == "literal":
            return (None if hole[1] is WILD else value_text(hole[1])), True
        factor = hole[2]
        if index in block.shifted:
            return f"({hole[1]} - {block.offsets[hole[1]]})", False
        if factor == 1:
            return hole[1], False
        if factor.denominator == 1:
            return f"{hole[1]}*{factor.numerator}", False
        return f"{hole[1]}/{factor.denominator}", False

    return fill


def _signature(block: Block) -> list[str]:
    return [
        f"{param}={value_text(block.defaults[param])}" if param in block.defaults else param
        for param in block.params
    ]


def render(plan: Plan, name: str, input_shape: tuple[int, ...], header: str = "") -> str:
    """The .cnn text of the plan, in `cnndsl fmt`'s layout."""
    chunks: list[str] = [header] if header else []
    for block in plan.blocks.values():
        writer = _Writer(plan, _block_filler(block))
        body = writer.items(block.items)
        chunks.append(
            f"block {block.name}({', '.join(_signature(block))}) {{\n"
            + "".join(f"{INDENT}{line}\n" for line, _ in body)
            + "}\n"
        )
    writer = _Writer(plan, _literal)
    body = writer.items(plan.items)
    shape = value_text(input_shape) if len(input_shape) > 1 else str(input_shape[0])
    chunks.append(
        f"network {name} {{\n{INDENT}input {shape}\n"
        + "".join(f"{INDENT}{line}\n" for line, _ in body)
        + "}\n"
    )
    return format_text("\n".join(chunks), f"{name}.cnn")

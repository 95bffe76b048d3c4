"""What completion offers at a cursor, as plain items: layer kinds, arguments, blocks, names in scope."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import ops
from .. import syntax_tree as st
from ..op_reference import language_value
from ..program import Program
from .names import walk

KEYWORDS = ("residual", "concat", "branch", "repeat", "if", "else", "gate", "sum", "from", "output", "input")
_STATEMENT_START = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?[A-Za-z_]*$")
_LAYER_STATEMENT = re.compile(r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?([A-Za-z_][A-Za-z0-9_]*)\s+[^(]*$")
_CALL_OPEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)$")


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "layer", "keyword", "block", "argument", "parameter", "label"
    detail: str = ""
    snippet: str | None = None  # text to insert with $1 placeholders, when not the label
    documentation: str = ""


def _layer_items() -> list[Item]:
    items = []
    for kind in ops.LAYER_KINDS:
        op = ops.OPS[kind]
        items.append(Item(kind, "layer", op.summary.split(".")[0], documentation=op.example))
    return items


def _argument_items(kind: str) -> list[Item]:
    op = ops.lookup(kind)
    if op is None:
        return []
    items = []
    for arg in op.args:
        if arg.default is ops.REQUIRED:
            detail = "required" + (", positional" if arg.positional else "")
        else:
            detail = f"default {language_value(arg.default)}" if arg.default is not None else "optional"
        items.append(Item(f"{arg.name}=", "argument", detail, documentation=arg.help))
    return items


def _block_items(program: Program) -> list[Item]:
    items = []
    for definition in program.blocks:
        required = [p for p in definition.parameters if p.default is None]
        placeholders = ", ".join(f"${{{i}:{p.name}}}" for i, p in enumerate(required, 1))
        signature = ", ".join(
            p.name if p.default is None else f"{p.name}={_text(p.default.span)}"
            for p in definition.parameters
        )
        items.append(
            Item(
                definition.name,
                "block",
                f"block {definition.name}({signature})",
                f"{definition.name}({placeholders})",
            )
        )
    return items


def _text(span) -> str:
    return span.source.text[span.start : span.end]


def _enclosing(program: Program, offset: int) -> st.Definition | None:
    for definition in program.module.definitions:
        if definition.span.start <= offset <= definition.span.end:
            return definition
    return None


def _scope_items(program: Program, offset: int) -> list[Item]:
    """The enclosing definition's parameters and labels."""
    definition = _enclosing(program, offset)
    if definition is None:
        return []
    items = [Item(p.name, "parameter", f"parameter of {definition.name}") for p in definition.parameters]
    for node in walk(definition.body):
        label = getattr(node, "label", None)
        if label:
            items.append(Item(label, "label", "label"))
    return items


def complete(text: str, offset: int, program: Program | None) -> list[Item]:
    """Items for the cursor at `offset` of `text`; `program` is the last one that parsed (may be None)."""
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    if "#" in line:
        return []  # in a comment
    call = _CALL_OPEN.search(line)
    if call is not None and program is not None and call.group(1) in program.definitions:
        definition = program.definitions[call.group(1)]
        items = [
            Item(f"{p.name}=", "argument", f"parameter of {definition.name}") for p in definition.parameters
        ]
        return items + _scope_items(program, offset)
    if _STATEMENT_START.match(line):
        items = _layer_items() + [Item(word, "keyword") for word in KEYWORDS]
        return items + (_block_items(program) if program is not None else [])
    layer = _LAYER_STATEMENT.match(line)
    items = _argument_items(layer.group(1)) if layer else []
    return items + (_scope_items(program, offset) if program is not None else [])

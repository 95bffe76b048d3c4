"""Named values: which labelled outputs a statement can see, and why one it names is not there.

A label (`enc1: stage(64)`) names its statement's output from the next statement to the end of
the body it is written in, bodies nested there included. `input` names the network's input, or
in a block body the block's input. A block body sees only its own names; a name from inside a
branch, residual, shortcut or repeat body is not visible outside that body.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from . import syntax_tree as st
from .errors import CnnNameError
from .expressions import did_you_mean

INPUT = "input"  # the predefined name of the network's (or the block's) input


@dataclass
class ValueScope:
    """The names one body defines, over those of the bodies around it (within one definition)."""

    parent: ValueScope | None
    statements: tuple[st.Statement, ...]  # the whole definition's body, to explain a miss
    in_block: bool
    names: dict[str, str | None] = field(default_factory=dict)  # None: unknown after an error

    @classmethod
    def root(cls, statements: tuple[st.Statement, ...], x: str | None, in_block: bool) -> ValueScope:
        return cls(None, statements, in_block, {INPUT: x})

    def child(self) -> ValueScope:
        return ValueScope(self, self.statements, self.in_block)

    def define(self, name: str, value: str | None) -> None:
        self.names[name] = value

    def visible(self) -> dict[str, str | None]:
        scope: ValueScope | None = self
        seen: dict[str, str | None] = {}
        while scope is not None:
            for name, value in scope.names.items():
                seen.setdefault(name, value)
            scope = scope.parent
        return seen

    def resolve(self, name: st.Name) -> str | None:
        """The node id that `name` stands for here; None if an earlier error left it unknown."""
        visible = self.visible()
        if name.name in visible:
            return visible[name.name]
        raise CnnNameError(self._why_missing(name, visible), name.span)

    def _why_missing(self, name: st.Name, visible: dict[str, str | None]) -> str:
        use = name.span.start
        everywhere = list(_labels(self.statements, (0, float("inf"))))
        matches = [(span, done, extent) for label, span, done, extent in everywhere if label == name.name]
        for span, done, (start, end) in matches:
            if start <= use < end and done > use and span.start < use:
                return (
                    f"the value '{name.name}' is used inside the statement that defines it (line "
                    f"{span.line}); it exists only after that statement"
                )
            if start <= use < end and done > use:
                return (
                    f"the value '{name.name}' is used before it exists: it is defined at line "
                    f"{span.line}, after this statement"
                )
        if matches:
            line = matches[0][0].line
            return (
                f"the value '{name.name}' (line {line}) cannot be seen from here: a name given inside "
                "a branch, residual, shortcut or repeat body is visible only inside that body"
            )
        hint = did_you_mean(name.name, visible, numbered_variants=False)
        where = " in this block (a block sees only its own names and its `input`)" if self.in_block else ""
        return f"unknown value '{name.name}'{where}{hint}"


def _labels(statements: tuple[st.Statement, ...], extent: tuple[float, float]):
    """Every label: (label, its span, where its statement ends, the extent of the body holding it)."""
    for statement in statements:
        if getattr(statement, "label", None) and statement.label_span is not None:
            yield statement.label, statement.label_span, statement.span.end, extent
        for body in _bodies(statement):
            if body:
                inner = (body[0].span.start, body[-1].span.end)
                yield from _labels(body, inner)


def _bodies(statement: st.Statement) -> list[tuple[st.Statement, ...]]:
    """The bodies a statement holds, found by their type so that every compound statement counts."""
    bodies = []
    for item in fields(statement):
        value = getattr(statement, item.name)
        if not isinstance(value, tuple) or not value:
            continue
        if all(isinstance(part, st.Branch) for part in value):
            bodies.extend(branch.body for branch in value)
        elif all(hasattr(part, "label_span") for part in value):
            bodies.append(value)
    return bodies

"""Python expressions as small trees, rendered with the line breaks `ruff format` would choose.

The generated module must come out already formatted (ruff's default 88 columns), so that
`ruff format --check` leaves it alone. The rules below are the subset of ruff's (Black's)
style that calls, lists and tuples of numbers and names need:

- an expression that fits on its line stays on it;
- a call that does not fit moves its arguments to the next line, indented, if they fit there
  together; otherwise one argument per line with a trailing comma; a lone argument is split
  recursively instead, without a comma;
- a list or tuple that does not fit always goes one element per line with a trailing comma
  (a lone element again without one).
"""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl import number_arrays

from ..python_text import comment_text

LINE_LENGTH = 88  # ruff's and Black's default, so the file is clean under a default config
INDENT = "    "


@dataclass(frozen=True)
class Raw:
    """Code written out as is: a name, a string literal, an attribute path."""

    text: str


@dataclass(frozen=True)
class Num:
    """A number derived from the network; a network parameter may stand in for it later."""

    value: int | float


@dataclass(frozen=True)
class Name:
    """A constructor parameter of the generated class, standing for a number."""

    name: str


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr | Keyword, ...] = ()


@dataclass(frozen=True)
class Seq:
    """A list `[...]` or tuple `(...)` literal."""

    items: tuple[Expr, ...]
    brackets: str = "[]"


@dataclass(frozen=True)
class Array:
    """Literal values in row-major order, written as nested lists of `shape`.

    Held flat, not as a Seq of Nums, so that a megabyte of weights renders in milliseconds.
    """

    values: tuple[float, ...]
    shape: tuple[int, ...]

    def nested(self) -> list:
        return number_arrays.nest([number(value) for value in self.values], self.shape)


Expr = Raw | Num | Name | Call | Seq | Array


def number(value: int | float | bool) -> str:
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return 'float("inf")' if value > 0 else 'float("-inf")'
    return repr(value)


def flat(expr: Expr | Keyword) -> str:
    """The expression on one line."""
    if isinstance(expr, Raw):
        return expr.text
    if isinstance(expr, Num):
        return number(expr.value)
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Keyword):
        return f"{expr.name}={flat(expr.value)}"
    if isinstance(expr, Array):
        return number_arrays.one_line(expr.nested())
    if isinstance(expr, Call):
        return f"{expr.func}({', '.join(flat(arg) for arg in expr.args)})"
    body = ", ".join(flat(item) for item in expr.items)
    if expr.brackets == "()" and len(expr.items) == 1:
        body += ","
    return f"{expr.brackets[0]}{body}{expr.brackets[1]}"


def render(expr: Expr | Keyword, indent: str, prefix: str = "", suffix: str = "") -> list[str]:
    """`indent + prefix + expr + suffix` as one or more lines of at most LINE_LENGTH columns."""
    line = f"{indent}{prefix}{flat(expr)}{suffix}"
    if len(line) <= LINE_LENGTH:
        return [line]
    if isinstance(expr, Keyword):
        return render(expr.value, indent, f"{prefix}{expr.name}=", suffix)
    if isinstance(expr, Call):
        opener, items, closer = f"{expr.func}(", expr.args, ")"
    elif isinstance(expr, Seq):
        opener, items, closer = expr.brackets[0], expr.items, expr.brackets[1]
    else:
        return [line]  # a name or number cannot be split; ruff would leave it too
    inner = indent + INDENT
    head, tail = f"{indent}{prefix}{opener}", f"{indent}{closer}{suffix}"
    if len(items) == 1:
        return [head, *render(items[0], inner), tail]
    if isinstance(expr, Call):
        body = f"{inner}{', '.join(flat(item) for item in items)}"
        if len(body) <= LINE_LENGTH:
            return [head, body, tail]
    lines = [head]
    for item in items:
        lines.extend(render(item, inner, suffix=","))
    lines.append(tail)
    return lines


def assign(target: str, value: Expr, indent: str) -> list[str]:
    if isinstance(value, Array):
        return assign_rows(target, value, indent)
    return render(value, indent, f"{target} = ")


def assign_rows(target: str, value: Array, indent: str) -> list[str]:
    """`target = [...]`, an array too long for a line written one row per line, NumPy's way.

    ruff would put every number on a line of its own; `# fmt: off` keeps the rows.
    """
    head = f"{indent}{target} = "
    rows = number_arrays.layout(value.nested(), len(head), LINE_LENGTH)
    if len(rows) == 1:
        return [head + rows[0]]
    return [f"{indent}# fmt: off", head + rows[0], *rows[1:], f"{indent}# fmt: on"]


def comment(text: str, indent: str) -> str:
    """A comment line, shortened to fit (a comment cannot be wrapped without changing it).

    The text may come from anywhere in a .cnn program: comment_text keeps it on this one line.
    """
    text = comment_text(text)
    line = f"{indent}# {text}"
    if len(line) > LINE_LENGTH:
        line = line[: LINE_LENGTH - 3].rstrip() + "..."
    return line

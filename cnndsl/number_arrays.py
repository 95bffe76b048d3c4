"""Arrays of numbers read as one token (fast), and laid out in rows for `fmt` and generated code.

Lark builds a parse tree node per number, about 100 microseconds each: a megabyte of literal
weights took 25 s. The grammar's ARRAY terminal matches a whole bracketed array of plain numbers
in one token instead; `read` turns its text into nested lists with `json` (C speed), and only
when that cannot (`1.`, `.5`, `01`, a trailing comma, a number too large) builds the same syntax
tree Lark would have built, one located node per number, so that diagnostics keep their spans.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from itertools import chain
from typing import Any

# The grammar's numbers (INT and FLOAT of cnn.lark), with a minus sign glued to the front.
NUMBER = r"-?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+)"
# One piece of an ARRAY token, for reading it the general way: a number, a bracket or a comma.
PIECE = re.compile(rf"(?P<number>{NUMBER})|(?P<mark>[\[\],])")
_QUOTE_NUMBER = re.compile(NUMBER)
_TRAILING_COMMA = re.compile(r",(\s*)\]")


class NumberArray(list):
    """A list read from an ARRAY token: `shape` and row-major `flat` values when it is regular."""

    shape: tuple[int, ...] | None = None
    flat: tuple[float, ...] = ()


def read(text: str) -> NumberArray | None:
    """The nested lists an ARRAY token's text stands for, or None when `json` cannot read it
    exactly (the caller then builds per-number syntax nodes, which report any problem)."""
    try:
        value = json.loads(text)
    except ValueError:  # JSON lacks `1.`, `.5`, `01`, `\f` and trailing commas; or a huge integer
        return None
    shape, leaves = regular_shape(value)
    try:
        flat = tuple(map(float, leaves))
    except OverflowError:  # an integer beyond a float: the general way says where
        return None
    if float("inf") in flat or float("-inf") in flat:
        return None
    array = NumberArray(value)
    if shape is not None:
        array.shape, array.flat = shape, flat
    return array


def regular_shape(value: list) -> tuple[tuple[int, ...] | None, list]:
    """(shape, row-major leaves) of nested lists; shape is None for a ragged array.

    Works a level at a time so that a megabyte of numbers takes milliseconds, not a recursion
    per number.
    """
    shape: list[int] = []
    level: list[Any] = [value]
    while True:
        kinds = set(map(type, level))  # map and set run in C: no Python call per number
        if list not in kinds and NumberArray not in kinds:
            return tuple(shape), level
        sizes = set(map(len, level)) if len(kinds) == 1 else set()
        if len(sizes) != 1 or 0 in sizes:
            return None, list(_leaves(value))
        shape.append(sizes.pop())
        level = list(chain.from_iterable(level))


def _leaves(value: Any):
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            yield item


# ----- layout -------------------------------------------------------------------------------
def texts(text: str) -> list:
    """An ARRAY token's numbers as written, in nested lists: `[[1, .5]]` -> [["1", ".5"]].

    Each number is quoted and the text read as JSON: C speed, where a loop per number is not.
    """
    quoted = _QUOTE_NUMBER.sub(r'"\g<0>"', text.replace("\f", " "))
    return json.loads(_TRAILING_COMMA.sub(r"\1]", quoted))


def nest(items: Sequence[str], shape: Sequence[int]) -> list:
    """Row-major `items` as nested lists of `shape` (strings stay strings)."""
    nested: list = list(items)
    for size in reversed(shape[1:]):
        nested = [nested[i : i + size] for i in range(0, len(nested), size)]
    return nested


def one_line(nested: list) -> str:
    if nested and isinstance(nested[0], list):
        return "[" + ", ".join(one_line(item) for item in nested) + "]"
    return "[" + ", ".join(nested) + "]"


def layout(nested: list, column: int, width: int) -> list[str]:
    """The array on one line if it fits in `width` from `column`, otherwise in `rows`."""
    line = one_line(nested)
    return [line] if column + len(line) <= width else rows(nested, column, width)


def rows(nested: list, column: int, width: int) -> list[str]:
    """Nested lists of number texts, one innermost row per line, NumPy's way.

    The first line starts at `column` (its text is returned without indentation); later lines
    carry their indentation, each level aligned one column right of its bracket. A row longer
    than `width` wraps, its continuation aligned after the row's bracket.
    """
    depth, level = 1, nested
    while level and isinstance(level[0], list):
        depth, level = depth + 1, level[0]
    lines: list[str] = []
    # Room for the closing brackets that end the last row of each level.
    _rows(nested, column, width - depth + 1, lines, first=True)
    return lines


def _rows(nested: list, column: int, width: int, lines: list[str], first: bool) -> None:
    indent = "" if first else " " * column
    if not nested or not isinstance(nested[0], list):
        line = indent + "["
        room = width - column - 1
        used = 0
        for index, number in enumerate(nested):
            piece = number + ("]" if index == len(nested) - 1 else ",")
            if used and used + 1 + len(piece) > room:
                lines.append(line)
                line, used = " " * (column + 1), 0
            elif used:
                line += " "
                used += 1
            line += piece
            used += len(piece)
        lines.append(line)
        return
    for index, item in enumerate(nested):
        start = len(lines)
        _rows(item, column + 1, width, lines, first=index == 0)
        if index == 0:
            lines[start] = indent + "[" + lines[start]
        lines[-1] += "]" if index == len(nested) - 1 else ","

"""Evaluating argument expressions: exact integer arithmetic over parameters, nothing else."""

from __future__ import annotations

import difflib
import heapq
import math
from collections.abc import Mapping
from typing import Any

from . import syntax_tree as st
from .errors import CnnArgumentError, CnnNameError

# Bare words that stand for themselves when no parameter of that name is in scope.
SYMBOLS = frozenset({"same", "valid", "true", "false", "none"})
# Integer results beyond this many bits are refused: no size is that large, and Python cannot
# even print an integer of more than 4,300 digits (about 14,000 bits) by default.
MAX_INTEGER_BITS = 4096


class Symbol(str):
    """A bare word such as `same` or `true` used as a value."""

    def __repr__(self) -> str:
        return str(self)


# No suggestion for longer words: difflib's cost grows with the product of the lengths, and
# nobody misspells a 60-character name into another one.
MAX_SUGGESTED_LENGTH = 60


# difflib compares a word with at most this many names (its ratio is the costly part: 4,000
# blocks named alike took 0.7 s per unknown name); from a longer list, the names that share
# the most letter pairs with the word.
MAX_COMPARED = 100
# Layers and functions that other frameworks have under these names: a user who writes one
# means it, and is not helped by a suggestion of a neighbour (`selu` is not `silu`).
WELL_KNOWN_FUNCTIONS = frozenset(
    """relu relu6 leakyrelu prelu rrelu elu selu celu gelu silu swish mish hardswish hardsigmoid
    hardtanh sigmoid logsigmoid tanh tanhshrink softplus softsign softmax softmin logsoftmax glu
    conv1d conv2d conv3d maxpool1d maxpool2d maxpool3d avgpool1d avgpool2d avgpool3d
    batchnorm1d batchnorm2d layernorm groupnorm instancenorm upsample pixelshuffle""".split()
)


def did_you_mean(word: str, candidates: Any) -> str:
    """' (did you mean 'x'?)' when `word` looks like a misspelling of a candidate, else ''."""
    if len(word) > MAX_SUGGESTED_LENGTH:
        return ""
    plausible = sorted({c for c in candidates if could_be_misspelt(c, word)})
    if len(plausible) > MAX_COMPARED:
        pairs = _letter_pairs(word)
        plausible = heapq.nlargest(MAX_COMPARED, plausible, key=lambda c: len(pairs & _letter_pairs(c)))
        plausible.sort()
    close = difflib.get_close_matches(word, plausible, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _letter_pairs(word: str) -> set[str]:
    return {word[i : i + 2] for i in range(len(word) - 1)}


def could_be_misspelt(name: str, word: str) -> bool:
    """Whether `word` may be `name` mistyped rather than the name of something else.

    Short names of different functions are close by difflib's measure (`gelu`, `elu` and `prelu`
    against `relu`; `relu6` and `conv1d` against `relu` and `conv`), so: the first letter is
    kept or swapped with the second (`ocnv`), as typing slips do, and neither word is the other
    with a suffix starting with a digit, which names a variant; and a word that names a
    well-known function is meant as that function, unless only its case is wrong.
    """
    if name.lower() == word.lower():
        return name != word
    if word.lower() in WELL_KNOWN_FUNCTIONS:
        return False
    same_start = name[:1].lower() == word[:1].lower() or name[:2].lower() == word[1::-1].lower()
    if not same_start:
        return False
    shorter, longer = sorted((name, word), key=len)
    return not (longer.startswith(shorter) and longer[len(shorter) : len(shorter) + 1].isdigit())


def evaluate(expr: st.Expr, scope: Mapping[str, Any]) -> Any:
    """The value of `expr` with the names in `scope` bound; raises CnnError at the culprit."""
    if isinstance(expr, st.Number):
        if isinstance(expr.value, float) and not math.isfinite(expr.value):
            raise CnnArgumentError("this number is too large for a 64-bit float", expr.span)
        return expr.value
    if isinstance(expr, st.String):
        return expr.value
    if isinstance(expr, st.Dims):
        return expr.values
    if isinstance(expr, st.Name):
        if expr.name in scope:
            return scope[expr.name]
        if expr.name in SYMBOLS:
            return Symbol(expr.name)
        raise CnnNameError(f"unknown name '{expr.name}'{did_you_mean(expr.name, scope)}", expr.span)
    if isinstance(expr, st.Negate):
        value = evaluate(expr.operand, scope)
        _require_number(value, expr.operand, "-")
        return -value
    if isinstance(expr, st.BinaryOp):
        left = evaluate(expr.left, scope)
        right = evaluate(expr.right, scope)
        _require_number(left, expr.left, expr.operator)
        _require_number(right, expr.right, expr.operator)
        try:
            result = _apply(expr, left, right)
        except OverflowError:  # an integer too large to mix with a float, e.g. 10**400 / 1.5
            result = math.inf
        if isinstance(result, float) and not math.isfinite(result):
            raise CnnArgumentError(f"'{expr.operator}' overflows a 64-bit float here", expr.span)
        if isinstance(result, int) and result.bit_length() > MAX_INTEGER_BITS:
            message = f"'{expr.operator}' gives an integer of more than {MAX_INTEGER_BITS} bits"
            raise CnnArgumentError(message, expr.span)
        return result
    if isinstance(expr, st.TupleExpr):
        return tuple(evaluate(item, scope) for item in expr.items)
    if isinstance(expr, st.ListExpr):
        return [evaluate(item, scope) for item in expr.items]
    raise TypeError(f"not an expression: {expr!r}")


def _require_number(value: Any, expr: st.Expr, operator: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CnnArgumentError(
            f"operator '{operator}' needs numbers, found {describe_value(value)}", expr.span
        )


def _apply(expr: st.BinaryOp, left: int | float, right: int | float) -> int | float:
    operator = expr.operator
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        raise CnnArgumentError(f"division by zero in '{operator}'", expr.right.span)
    if operator == "//":
        return left // right
    if operator == "%":
        return left % right
    # `/` stays an exact integer when it divides evenly, so `c / 2` can size a layer.
    if isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    return left / right


def describe_value(value: Any) -> str:
    """How a value reads in a diagnostic: `3x3`, `same`, `[...]`."""
    if isinstance(value, Symbol):
        return f"'{value}'"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        return "x".join(describe_value(v) if abs(v).bit_length() > 200 else str(v) for v in value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        digits = str(abs(value))
        return f"{'-' if value < 0 else ''}{digits[:6]}... (an integer of {len(digits):,} digits)"
    return repr(value)

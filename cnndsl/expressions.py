"""Evaluating argument expressions: exact integer arithmetic over parameters, nothing else."""

from __future__ import annotations

import difflib
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


def did_you_mean(word: str, candidates: Any) -> str:
    """' (did you mean 'x'?)' when a candidate is close to `word`, else ''."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


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

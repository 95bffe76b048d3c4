"""Evaluating argument expressions: exact integer arithmetic over parameters, nothing else."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from . import syntax_tree as st
from .errors import CnnArgumentError, CnnNameError

# Bare words that stand for themselves when no parameter of that name is in scope.
SYMBOLS = frozenset({"same", "valid", "true", "false", "none"})


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
        return _apply(expr, left, right)
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
        return "x".join(str(v) for v in value)
    if isinstance(value, list):
        return "a list"
    return repr(value)

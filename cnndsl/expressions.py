"""Evaluating argument expressions: exact integer arithmetic over parameters, nothing else."""

from __future__ import annotations

import difflib
import heapq
import math
import operator
from collections.abc import Mapping
from typing import Any

from . import syntax_tree as st
from .errors import CnnArgumentError, CnnError, CnnNameError

# Bare words that stand for themselves when no parameter of that name is in scope
# (`tanh` for `gelu approximate=tanh`; as a statement it is still the layer).
SYMBOLS = frozenset({"same", "valid", "true", "false", "none", "tanh"})
SYMBOLS |= {"nearest", "bilinear"}  # upsample's interpolation modes
# Integers beyond this many bits (1,233 digits) are refused, written or computed: no size is that
# large, and Python cannot even print an integer of more than 4,300 digits by default.
MAX_INTEGER_BITS = 4096
# Diagnostics show integers longer than this many digits as their first and last digits and a count.
SHOWN_DIGITS = 40


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
TRUE, FALSE = Symbol("true"), Symbol("false")


class Unavailable:
    """A name bound to no value here, such as `in_height` where the input is flat: reading it is an error."""

    def __init__(self, why: str | None):
        self.why = why

    def reason(self, name: str) -> str:
        return f"'{name}' has no value here: {self.why}"


def truth(value: Any, expr: st.Expr, what: str = "a condition") -> bool:
    """`value` as a truth value, or an error at `expr`: only `true` and `false` are conditions."""
    if isinstance(value, Symbol) and value in ("true", "false"):
        return value == "true"
    raise CnnArgumentError(
        f"{what} needs true or false (e.g. a comparison such as `stride == 1`), "
        f"found {describe_value(value)}",
        expr.span,
    )


def _compare(expr: st.Compare, left: Any, right: Any) -> Symbol:
    operator = expr.operator
    if operator in ("==", "!="):
        # Numbers compare by value (2 == 2.0); anything else only to its own kind (`pad == same`).
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
        equal = left == right if numbers or type(left) is type(right) else False
        return TRUE if equal == (operator == "==") else FALSE
    _require_number(left, expr.left, operator)
    _require_number(right, expr.right, operator)
    try:
        result = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]
    except OverflowError:  # not reached for ints and floats, but keep comparisons total
        result = False
    return TRUE if result else FALSE


def did_you_mean(word: str, candidates: Any, numbered_variants: bool = True) -> str:
    """' (did you mean 'x'?)' when `word` looks like a misspelling of a candidate, else ''.

    `numbered_variants`: `relu6` names a different function from `relu`; but among a network's
    own labels, `encoder` for `encoder1` is a slip, so name lookups pass False.
    """
    if len(word) > MAX_SUGGESTED_LENGTH:
        return ""
    plausible = sorted({c for c in candidates if could_be_misspelt(c, word, numbered_variants)})
    if len(plausible) > MAX_COMPARED:
        pairs = _letter_pairs(word)
        plausible = heapq.nlargest(MAX_COMPARED, plausible, key=lambda c: len(pairs & _letter_pairs(c)))
        plausible.sort()
    close = difflib.get_close_matches(word, plausible, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _letter_pairs(word: str) -> set[str]:
    return {word[i : i + 2] for i in range(len(word) - 1)}


def could_be_misspelt(name: str, word: str, numbered_variants: bool = True) -> bool:
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
    variant = longer.startswith(shorter) and longer[len(shorter) : len(shorter) + 1].isdigit()
    return not (numbered_variants and variant)


def evaluate(expr: st.Expr, scope: Mapping[str, Any]) -> Any:
    """The value of `expr` with the names in `scope` bound; raises CnnError at the culprit."""
    if isinstance(expr, st.Number):
        if isinstance(expr.value, float) and not math.isfinite(expr.value):
            raise CnnArgumentError("this number is too large for a 64-bit float", expr.span)
        if isinstance(expr.value, int) and expr.value.bit_length() > MAX_INTEGER_BITS:
            raise CnnArgumentError(_too_many_bits(expr.value), expr.span)
        return expr.value
    if isinstance(expr, st.String):
        return expr.value
    if isinstance(expr, st.Dims):
        return expr.values
    if isinstance(expr, st.Name):
        if expr.name in scope:
            value = scope[expr.name]
            if isinstance(value, Unavailable):
                if value.why is None:  # unknown because of an error already reported
                    raise CnnError([])
                raise CnnNameError(value.reason(expr.name), expr.span)
            return value
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
    if isinstance(expr, st.Compare):
        return _compare(expr, evaluate(expr.left, scope), evaluate(expr.right, scope))
    if isinstance(expr, st.Logical):
        left = truth(evaluate(expr.left, scope), expr.left, f"'{expr.operator}'")
        # The right side is read only when it decides: `in_height > 1 or ...` on a flat input is fine.
        if left == (expr.operator == "or"):
            return TRUE if left else FALSE
        return TRUE if truth(evaluate(expr.right, scope), expr.right, f"'{expr.operator}'") else FALSE
    if isinstance(expr, st.Not):
        return FALSE if truth(evaluate(expr.operand, scope), expr.operand, "'not'") else TRUE
    if isinstance(expr, st.TupleExpr):
        return tuple(evaluate(item, scope) for item in expr.items)
    if isinstance(expr, st.ListExpr):
        return [evaluate(item, scope) for item in expr.items]
    if isinstance(expr, st.NumberArray):
        return expr.value  # never changed: converters read values, they do not edit them
    raise TypeError(f"not an expression: {expr!r}")


def _too_many_bits(value: int) -> str:
    limit = f"integers are limited to {MAX_INTEGER_BITS} bits, about 1,200 digits"
    return f"{describe_value(value)} is too large ({limit})"


# Nesting of lists and tuples given from Python: the language's own brackets stop at 100 levels.
MAX_VALUE_NESTING = 100


def from_python(value: Any, nesting: int = 0) -> Any:
    """A parameter value given from Python (`load(..., classes=10)`) as the language's value.

    Only what a .cnn file could write is accepted: integers within MAX_INTEGER_BITS, finite
    floats, words (`"same"`, and True, False and None as `true`, `false` and `none`), and tuples
    and lists of these. Anything else raises ValueError saying why.
    """
    if nesting > MAX_VALUE_NESTING:
        raise ValueError(f"lists and tuples nest more than {MAX_VALUE_NESTING} levels deep")
    if isinstance(value, bool) or value is None:
        return Symbol(str(value).lower())
    if isinstance(value, Symbol):
        return value
    if isinstance(value, str):
        if not value.isascii() or not value.isidentifier():
            raise ValueError(f"expected a word such as same or a number, found {describe_value(value)}")
        return Symbol(value)
    if not isinstance(value, int) and hasattr(type(value), "__index__"):
        try:
            value = operator.index(value)  # NumPy's integers
        except TypeError:  # an array, say
            pass
    if isinstance(value, int):
        if value.bit_length() > MAX_INTEGER_BITS:
            raise ValueError(_too_many_bits(value))
        return int(value)  # an IntEnum as a plain int
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {describe_value(value)}")
        return float(value)
    if isinstance(value, tuple):
        return tuple(from_python(item, nesting + 1) for item in value)
    if isinstance(value, list):
        return [from_python(item, nesting + 1) for item in value]
    raise ValueError(
        "expected an integer, a number, sizes such as (3, 32, 32) or a word such as same, "
        f"found {describe_value(value)}"
    )


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
    """How a value reads in a diagnostic: `3x3`, `same`, `[...]`; long numbers and text shortened."""
    if isinstance(value, Symbol):
        return f"'{value}'"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 60 else f'"{value[:40]}..." ({len(value):,} characters)'
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return describe_integer(value)
    if isinstance(value, tuple) and value and all(type(v) is int for v in value):
        return "x".join(describe_integer(v) for v in value)
    if isinstance(value, tuple):
        return "(" + ", ".join(describe_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (float, complex)):
        return repr(value)
    return f"a Python {type(value).__name__}"


def describe_integer(value: int, commas: bool = False) -> str:
    """`1234` (or `1,234`), or for a very long integer `123456...654321 (an integer of 4,000 digits)`.

    Never converts a huge integer to text whole: Python refuses more than 4,300 digits.
    """
    magnitude = abs(value)
    digits = _digit_count(magnitude)
    sign = "-" if value < 0 else ""
    if digits <= SHOWN_DIGITS:
        return f"{value:,}" if commas else str(value)
    first = magnitude // 10 ** (digits - 6)
    last = magnitude % 10**6
    return f"{sign}{first}...{last:06d} (an integer of {digits:,} digits)"


def _digit_count(magnitude: int) -> int:
    """Decimal digits of a non-negative integer, exactly, without converting it to text."""
    estimate = max(1, int(magnitude.bit_length() * 0.30102999566398120))  # log10(2)
    while estimate > 1 and 10 ** (estimate - 1) > magnitude:
        estimate -= 1
    while 10**estimate <= magnitude:
        estimate += 1
    return estimate

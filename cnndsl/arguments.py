"""Argument converters: check a layer argument's value and normalise it (`3` -> (3, 3))."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .expressions import Symbol, describe_integer, describe_value
from .number_arrays import NumberArray

Shape = tuple[int, ...]

# The largest size (channels, features, height, width, stride, padding) a program may ask for:
# what a signed 64-bit index can hold, far beyond any memory but still exact to count with.
MAX_SIZE = 2**63 - 1


class ArgumentProblem(Exception):  # noqa: N818 - a problem the elaborator turns into a CnnError
    """An argument value of the wrong type or range (the elaborator adds the span)."""


@dataclass(frozen=True)
class Weights:
    """Literal filter values written in the source, in row-major order.

    `written` holds the values as the source gave them; one filter used for every channel pair
    is repeated only when `values` is first read (by a backend): checking a network of 10^12
    channels never builds its weights.
    """

    shape: tuple[int, ...]
    written: tuple[float, ...]

    @cached_property
    def values(self) -> tuple[float, ...]:
        return self.written * (math.prod(self.shape) // len(self.written))

    def reshaped(self, shape: tuple[int, ...]) -> Weights:
        return Weights(shape, self.written)

    def fitted(self, shape: tuple[int, ...], kernel: tuple[int, ...]) -> Weights | None:
        """These values as the filters of `shape` (out x in x kh x kw), or None if they don't fit.

        Sizes of 1 may be left out (a 1x1 conv's weights as an out x in matrix), all the
        values may be one flat list, and one filter of the `kernel`'s size alone is used for
        every (output, input) channel pair. Leaving out a size of 1 never moves a value, so
        each form means the same row-major values.
        """
        written = tuple(size for size in self.shape if size != 1)
        if math.prod(self.shape) == math.prod(shape) and (
            written == tuple(size for size in shape if size != 1) or len(self.shape) == 1
        ):
            return Weights(shape, self.written)
        if written == tuple(size for size in kernel if size != 1):
            return Weights(shape, self.written)  # `values` repeats the one filter
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_size(value: int) -> int:
    if value > MAX_SIZE:
        raise ArgumentProblem(
            f"{describe_value(value)} is too large (sizes are limited to 2**63 - 1 = {MAX_SIZE:,})"
        )
    return value


def positive_int(value: Any) -> int:
    if not _is_int(value):
        raise ArgumentProblem(f"expected a positive integer, found {describe_value(value)}")
    if value < 1:
        raise ArgumentProblem(f"expected a positive integer, found {describe_value(value)}")
    return _check_size(value)


def non_negative_int(value: Any) -> int:
    if not _is_int(value) or value < 0:
        raise ArgumentProblem(f"expected an integer >= 0, found {describe_value(value)}")
    return _check_size(value)


def real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentProblem(f"expected a number, found {describe_value(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond 1.8e308
        number = math.inf
    if not math.isfinite(number):
        raise ArgumentProblem(f"expected a finite 64-bit float, found {describe_value(value)}")
    return number


def positive_real(value: Any) -> float:
    number = real(value)
    if not number > 0:
        raise ArgumentProblem(f"expected a number > 0, found {describe_value(value)}")
    return number


def probability(value: Any) -> float:
    number = real(value)
    if not 0 <= number < 1:
        raise ArgumentProblem(f"expected a probability in [0, 1), found {describe_value(value)}")
    return number


def boolean(value: Any) -> bool:
    if isinstance(value, Symbol) and value in ("true", "false"):
        return value == "true"
    raise ArgumentProblem(f"expected true or false, found {describe_value(value)}")


def pair(value: Any) -> tuple[int, int]:
    """`3`, `3x5` or `(3, 5)` -> (height, width)."""
    if _is_int(value):
        if value < 1:
            raise ArgumentProblem(f"expected a positive size, found {describe_value(value)}")
        value = (value, value)
    if not (isinstance(value, tuple) and len(value) == 2 and all(_is_int(v) for v in value)):
        raise ArgumentProblem(f"expected a size such as 3, 3x3 or (3, 5), found {describe_value(value)}")
    if min(value) < 1:
        raise ArgumentProblem(f"sizes must be positive, found {describe_value(value)}")
    _check_size(max(value))
    return value


def optional_pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, Symbol) and value == "none":
        return None
    return pair(value)


def padding(value: Any) -> str | tuple[int, int, int, int]:
    """`valid`, `same`, N, (h, w) or (top, bottom, left, right)."""
    if isinstance(value, Symbol) and value in ("same", "valid"):
        return str(value)
    if _is_int(value):
        value = (value,)
    if isinstance(value, tuple) and all(_is_int(v) for v in value) and len(value) in (1, 2, 4):
        if min(value) < 0:
            raise ArgumentProblem(f"padding must not be negative, found {describe_value(value)}")
        _check_size(max(value))
        if len(value) == 1:
            return (value[0],) * 4
        if len(value) == 2:
            return (value[0], value[0], value[1], value[1])
        return value
    raise ArgumentProblem(
        "expected padding valid, same, N, (h, w) or (top, bottom, left, right), "
        f"found {describe_value(value)}"
    )


def image_shape(value: Any) -> Shape:
    """`3x224x224` (channels x height x width) or `784` (a flat vector)."""
    if _is_int(value):
        value = (value,)
    if isinstance(value, tuple) and len(value) in (1, 3) and all(_is_int(v) for v in value):
        if min(value) < 1:
            raise ArgumentProblem(f"sizes must be positive, found {describe_value(value)}")
        _check_size(max(value))
        if math.prod(value) > MAX_SIZE:
            raise ArgumentProblem(
                f"{describe_value(value)} has {describe_integer(math.prod(value), commas=True)} values; "
                f"the values of a tensor are limited to 2**63 - 1 = {MAX_SIZE:,}"
            )
        return value
    raise ArgumentProblem(f"expected a shape such as 3x224x224 or 784, found {describe_value(value)}")


def literal_weights(value: Any) -> Weights | None:
    if isinstance(value, Symbol) and value == "none":
        return None
    if not isinstance(value, list):
        raise ArgumentProblem(f"expected nested lists of numbers, found {describe_value(value)}")
    if isinstance(value, NumberArray) and value.shape is not None:
        return Weights(value.shape, value.flat)  # read and checked in one piece by the parser
    shape: list[int] = []
    level: Any = value
    while isinstance(level, list):
        if not level:
            raise ArgumentProblem("weights must not contain an empty list")
        shape.append(len(level))
        level = level[0]
    values: list[float] = []

    def walk(item: Any, depth: int) -> None:
        if depth == len(shape):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ArgumentProblem(f"weights must be numbers, found {describe_value(item)}")
            values.append(real(item))
            return
        if not isinstance(item, list) or len(item) != shape[depth]:
            expected = describe_value(tuple(shape))
            raise ArgumentProblem(f"weights must be a regular array; expected shape {expected}")
        for sub in item:
            walk(sub, depth + 1)

    walk(value, 0)
    return Weights(tuple(shape), tuple(values))


def bias_spec(value: Any) -> bool | tuple[float, ...]:
    """`true`, `false`, or literal values `[0.5, -1]`."""
    if isinstance(value, NumberArray) and value.shape is not None and len(value.shape) == 1:
        return value.flat
    if isinstance(value, list):
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise ArgumentProblem("bias values must be numbers")
        return tuple(real(v) for v in value)
    return boolean(value)


# ----- resampling (upsample, convtranspose) ---------------------------------------------------
def _positive_number(value: Any) -> int | float:
    """A positive int, or a float that is not a whole number (2.0 reads as 2)."""
    number = real(value)
    if not number > 0:
        raise ArgumentProblem(f"expected a positive scale, found {describe_value(value)}")
    if _is_int(value):
        return _check_size(value)
    return int(number) if number.is_integer() else number


def optional_scale(value: Any) -> tuple[int | float, int | float] | None:
    """`none`, `2`, `1.5`, `2x3` or `(2, 1.5)` -> (height factor, width factor)."""
    if isinstance(value, Symbol) and value == "none":
        return None
    if isinstance(value, tuple) and len(value) == 2:
        return (_positive_number(value[0]), _positive_number(value[1]))
    if isinstance(value, tuple) or isinstance(value, bool) or not isinstance(value, (int, float)):
        expected = "a scale such as 2, 1.5, 2x3 or (2, 1.5)"
        raise ArgumentProblem(f"expected {expected}, found {describe_value(value)}")
    number = _positive_number(value)
    return (number, number)


def non_negative_pair(value: Any) -> tuple[int, int]:
    """`0`, `1`, `1x2` or `(1, 2)` -> (height, width), zeros allowed (padding, output_padding)."""
    if _is_int(value):
        value = (value, value)
    if not (isinstance(value, tuple) and len(value) == 2 and all(_is_int(v) for v in value)):
        raise ArgumentProblem(f"expected N or (h, w), found {describe_value(value)}")
    if min(value) < 0:
        raise ArgumentProblem(f"expected sizes >= 0, found {describe_value(value)}")
    _check_size(max(value))
    return value


def choice(*options: str):
    """A converter accepting one of the given words (`mode=bilinear`)."""

    def convert(value: Any) -> str:
        if isinstance(value, Symbol) and value in options:
            return str(value)
        raise ArgumentProblem(f"expected one of {', '.join(options)}, found {describe_value(value)}")

    convert.__name__ = f"choice_of_{'_'.join(options)}"
    return convert

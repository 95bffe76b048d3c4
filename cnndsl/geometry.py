"""Sliding-window arithmetic: output sizes and `same` padding, in exact integers."""

from __future__ import annotations


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def window_output_size(
    size: int,
    kernel: int,
    stride: int,
    pad_before: int,
    pad_after: int,
    dilation: int = 1,
    ceil: bool = False,
) -> int:
    """floor((n + p_before + p_after - d*(f-1) - 1)/s) + 1, or PyTorch's ceil-mode variant.

    With d = 1 and symmetric padding this is the lecture's floor((n + 2p - f)/s) + 1.
    """
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = ceil_div(span, stride) + 1
    # PyTorch (and Caffe) drop a last window that would start entirely in the right padding.
    if (out - 1) * stride >= size + pad_before:
        out -= 1
    return out


def describe_output_size(
    size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int, ceil: bool
) -> str:
    """The formula with the numbers filled in, for diagnostics."""
    rounding = "ceil" if ceil else "floor"
    result = window_output_size(size, kernel, stride, pad_before, pad_after, dilation, ceil)
    extent = f"{kernel}" if dilation == 1 else f"{dilation}*({kernel}-1) - 1"
    return f"{rounding}(({size} + {pad_before} + {pad_after} - {extent})/{stride}) + 1 = {result}"


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's `same`: output = ceil(n/s); any odd leftover padding goes after (bottom/right)."""
    out = ceil_div(size, stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2

"""Resampling and channel ops on NHWC float32 arrays: upsample, transposed conv, pixel/channel shuffle.

Index and weight tables follow PyTorch's CPU kernels step for step, in float32, so nearest
neighbour picks the very pixels PyTorch picks. Like conv_kernels.py this module needs only
numpy, so codegen.py copies it into standalone modules.
"""

from __future__ import annotations

import numpy as np

from .conv_kernels import reshape_view


def _source_scale(in_size: int, out_size: int, factor, align_corners: bool) -> np.float32:
    """PyTorch's area_pixel_compute_scale: 1/factor when the module was given a factor, else in/out."""
    if align_corners:
        return np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.float32(0)
    if factor is not None:
        return np.float32(1.0 / factor)  # computed in double, then rounded, as PyTorch does
    return np.float32(in_size) / np.float32(out_size)


def nearest_indices(in_size: int, out_size: int, factor=None) -> np.ndarray:
    """Source index of each output position: min(floor(dst * scale), in - 1) in float32."""
    if out_size == in_size:
        return np.arange(out_size)
    if out_size == 2 * in_size:
        return np.arange(out_size) >> 1
    scale = _source_scale(in_size, out_size, factor, False)
    positions = np.arange(out_size, dtype=np.float32) * scale
    return np.minimum(np.floor(positions).astype(np.int64), in_size - 1)


def linear_weights(in_size: int, out_size: int, factor=None, align_corners: bool = False):
    """(first index, second index, weight of the first, weight of the second) per output position."""
    scale = _source_scale(in_size, out_size, factor, align_corners)
    positions = np.arange(out_size, dtype=np.float32)
    if align_corners:
        source = positions * scale
    else:
        source = np.maximum(scale * (positions + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    first = source.astype(np.int64)  # truncation: source is never negative
    second = first + (first < in_size - 1)
    weight = np.clip(source - first.astype(np.float32), np.float32(0), np.float32(1))
    return first, second, np.float32(1) - weight, weight


def upsample(x: np.ndarray, mode: str, factors, align_corners: bool, out: np.ndarray) -> np.ndarray:
    """Nearest or bilinear resizing of x (N, H, W, C) to out's size.

    `factors` is (height, width) when the torch module holds a scale_factor, else None: PyTorch
    then maps coordinates by in/out instead of 1/factor.
    """
    (rows, columns), (out_rows, out_columns) = x.shape[1:3], out.shape[1:3]
    factor_h, factor_w = factors if factors is not None else (None, None)
    if mode == "nearest":
        picked = np.take(x, nearest_indices(rows, out_rows, factor_h), axis=1)
        return np.take(picked, nearest_indices(columns, out_columns, factor_w), axis=2, out=out)
    top, bottom, top_weight, bottom_weight = linear_weights(rows, out_rows, factor_h, align_corners)
    left, right, left_weight, right_weight = linear_weights(columns, out_columns, factor_w, align_corners)
    vertical = x[:, top] * top_weight[:, None, None]
    vertical += x[:, bottom] * bottom_weight[:, None, None]
    np.multiply(vertical[:, :, left], left_weight[:, None], out=out)
    out += vertical[:, :, right] * right_weight[:, None]
    return out


def pack_transposed_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(in, out/groups, kh, kw) -> (groups, in/groups, kh*kw*out/groups): one GEMM per group."""
    in_channels, per_group, kh, kw = weight.shape
    packed = weight.reshape(groups, in_channels // groups, per_group, kh, kw).transpose(0, 1, 3, 4, 2)
    rows = kh * kw * per_group
    return np.ascontiguousarray(packed.reshape(groups, in_channels // groups, rows), np.float32)


def conv_transpose(
    x: np.ndarray,
    weight: np.ndarray,
    bias,
    kernel: tuple,
    stride: tuple,
    dilation: tuple,
    pads: tuple,
    out: np.ndarray,
) -> np.ndarray:
    """Transposed conv as GEMM + col2im: every input pixel times the filter, added at stride.

    One GEMM per group gives each pixel's kh*kw*out/groups contributions; each filter tap then
    adds its plane into a strided view of the uncropped output (kh*kw vectorised adds), and the
    padding is cropped off. Rows past the uncropped output (output_padding) get the bias only.
    """
    groups, group_in, row = weight.shape
    images, rows, columns, _ = x.shape
    kh, kw = kernel
    per_group = row // (kh * kw)
    out_rows, out_columns = out.shape[1], out.shape[2]
    pixels = images * rows * columns
    grouped = reshape_view(x, (pixels, groups, group_in)).transpose(1, 0, 2)
    contributions = np.matmul(grouped, weight).reshape(groups, images, rows, columns, kh, kw, per_group)
    full_rows = max((rows - 1) * stride[0] + dilation[0] * (kh - 1) + 1, pads[0] + out_rows)
    full_columns = max((columns - 1) * stride[1] + dilation[1] * (kw - 1) + 1, pads[1] + out_columns)
    full = np.zeros((images, full_rows, full_columns, groups, per_group), np.float32)
    for i in range(kh):
        top = i * dilation[0]
        band = full[:, top : top + stride[0] * (rows - 1) + 1 : stride[0]]
        for j in range(kw):
            left = j * dilation[1]
            target = band[:, :, left : left + stride[1] * (columns - 1) + 1 : stride[1]]
            np.add(target, contributions[:, :, :, :, i, j].transpose(1, 2, 3, 0, 4), out=target)
    cropped = full[:, pads[0] : pads[0] + out_rows, pads[1] : pads[1] + out_columns]
    np.copyto(out, cropped.reshape(out.shape))
    if bias is not None:
        np.add(out, bias, out=out)
    return out


def pixel_shuffle(x: np.ndarray, factor: int, out: np.ndarray) -> np.ndarray:
    """Channel c*r*r + i*r + j of pixel (h, w) goes to channel c of pixel (h*r + i, w*r + j)."""
    images, rows, columns, channels = x.shape
    r, kept = factor, channels // (factor * factor)
    target = reshape_view(out, (images, rows, r, columns, r, kept))
    np.copyto(target, x.reshape(images, rows, columns, kept, r, r).transpose(0, 1, 4, 2, 5, 3))
    return out


def channel_shuffle(x: np.ndarray, groups: int, out: np.ndarray) -> np.ndarray:
    """Channels read as (groups, C/groups), written as (C/groups, groups): ShuffleNet's shuffle."""
    images, rows, columns, channels = x.shape
    target = reshape_view(out, (images, rows, columns, channels // groups, groups))
    np.copyto(target, x.reshape(images, rows, columns, groups, channels // groups).transpose(0, 1, 2, 4, 3))
    return out

"""Every op but convolution on float32 arrays: images NHWC (channels last), vectors (N, F).

Pooling, normalisation, activations, fc and merges, each writing into a caller-provided `out`
(the engine reuses buffers; generated modules pass fresh arrays). Semantics follow PyTorch's
modules in eval mode. Like conv_kernels.py this module needs only numpy, so codegen.py copies it.
"""

from __future__ import annotations

import numpy as np


def window_starts(count: int, stride: int) -> range:
    return range(0, stride * count, stride)


def pool_padded_size(size: int, kernel: int, stride: int, before: int, after: int, out_size: int) -> int:
    """Padded extent a pool reads: ceil mode's last window may run past the written padding."""
    return max(before + size + after, (out_size - 1) * stride + kernel)


def _taps(padded: np.ndarray, kernel: tuple, stride: tuple, out_rows: int, out_columns: int):
    for i in range(kernel[0]):
        rows = padded[:, i : i + stride[0] * (out_rows - 1) + 1 : stride[0]]
        for j in range(kernel[1]):
            yield rows[:, :, j : j + stride[1] * (out_columns - 1) + 1 : stride[1]]


def max_pool(padded: np.ndarray, kernel: tuple, stride: tuple, out: np.ndarray) -> np.ndarray:
    """The largest value of each window; `padded` holds the input surrounded by -inf."""
    taps = _taps(padded, kernel, stride, out.shape[1], out.shape[2])
    np.copyto(out, next(taps))
    for tap in taps:
        np.maximum(out, tap, out=out)
    return out


def avg_pool_reciprocals(
    size: tuple, kernel: tuple, stride: tuple, pads: tuple, out_size: tuple, count_pad: bool
) -> np.ndarray:
    """1 / divisor per output position, (Ho, Wo, 1), exactly as PyTorch's avg_pool2d divides.

    With count_pad (PyTorch's count_include_pad) a window counts the padding it covers, but a
    ceil-mode window hanging past the padding is clipped to it; without, only real pixels count.
    """
    counts = []
    for axis in range(2):
        before, after = pads[2 * axis], pads[2 * axis + 1]
        starts = np.arange(out_size[axis]) * stride[axis] - before
        ends = np.minimum(starts + kernel[axis], size[axis] + after)
        if not count_pad:
            starts, ends = np.maximum(starts, 0), np.minimum(ends, size[axis])
        counts.append(ends - starts)
    divisors = np.multiply.outer(counts[0], counts[1]).astype(np.float64)
    return (1.0 / divisors).astype(np.float32)[:, :, None]


def avg_pool(
    padded: np.ndarray, kernel: tuple, stride: tuple, reciprocals: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """Window sums over the zero-padded input, times the precomputed 1 / divisor."""
    taps = _taps(padded, kernel, stride, out.shape[1], out.shape[2])
    np.copyto(out, next(taps))
    for tap in taps:
        np.add(out, tap, out=out)
    np.multiply(out, reciprocals, out=out)
    return out


def global_avg_pool(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Each image's pixels summed by a vector-matrix product (BLAS: 2-3x np.mean's speed), then / H*W."""
    images, pixels = x.shape[0], x.shape[1] * x.shape[2]
    sums = out.reshape(images, x.shape[3])
    np.matmul(np.ones(pixels, np.float32), x.reshape(images, pixels, x.shape[3]), out=sums)
    np.divide(sums, np.float32(pixels), out=sums)
    return out


def global_max_pool(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.max(x, axis=(1, 2), keepdims=True, out=out)


def adaptive_bins(size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive pooling bins: [floor(i*n/k), ceil((i+1)*n/k))."""
    index = np.arange(out_size)
    return (index * size) // out_size, -((-(index + 1) * size) // out_size)


def adaptive_avg_pool(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Bin means from a float64 summed-area table: four lookups per bin, no loop over bins."""
    images, rows, columns, channels = x.shape
    top, bottom = adaptive_bins(rows, out.shape[1])
    left, right = adaptive_bins(columns, out.shape[2])
    table = np.zeros((images, rows + 1, columns + 1, channels))
    np.cumsum(x, axis=1, dtype=np.float64, out=table[:, 1:, 1:])
    np.cumsum(table[:, 1:, 1:], axis=2, out=table[:, 1:, 1:])
    sums = (
        table[:, bottom][:, :, right]
        - table[:, top][:, :, right]
        - table[:, bottom][:, :, left]
        + table[:, top][:, :, left]
    )
    areas = np.multiply.outer(bottom - top, right - left)[:, :, None]
    np.divide(sums, areas, out=out, casting="same_kind")
    return out


def batchnorm_factors(state: dict, batchnorm: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Inference batchnorm as x * scale + shift per channel, in float64 (callers round once)."""
    variance = state[f"{batchnorm}.running_var"].astype(np.float64)
    scale = state[f"{batchnorm}.weight"] / np.sqrt(variance + eps)
    shift = state[f"{batchnorm}.bias"] - state[f"{batchnorm}.running_mean"] * scale
    return scale, shift


def fold_batchnorm(
    weight: np.ndarray, bias: np.ndarray | None, state: dict, batchnorm: str, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """A conv's or fc's (weight, bias) with the batchnorm reading it folded in.

    W * scale per output and b * scale + shift; the weights are scaled in float32, in one pass,
    so folding ResNet's largest filter costs one copy of it, not four.
    """
    scale, shift = batchnorm_factors(state, batchnorm, eps)
    if bias is not None:
        shift = shift + bias.astype(np.float64) * scale
    folded = weight * scale.astype(np.float32).reshape(-1, *([1] * (weight.ndim - 1)))
    return folded, shift.astype(np.float32)


def scale_shift(x: np.ndarray, scale: np.ndarray, shift: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Batchnorm at inference, folded to one multiply-add per channel (the last axis)."""
    np.multiply(x, scale, out=out)
    np.add(out, shift, out=out)
    return out


def local_response_norm(
    x: np.ndarray, size: int, alpha: float, beta: float, k: float, out: np.ndarray
) -> np.ndarray:
    """PyTorch's LocalResponseNorm: x / (k + alpha * mean of squares over `size` channels)^beta.

    The window runs size//2 channels back and (size-1)//2 forward, zero beyond the edges, and
    the mean always divides by `size` (PyTorch averages over zero padding too).
    """
    channels = x.shape[-1]
    squares = np.zeros((*x.shape[:-1], channels + size - 1), dtype=np.float32)
    before = size // 2
    np.multiply(x, x, out=squares[..., before : before + channels])
    sums = np.array(squares[..., :channels])
    for shift in range(1, size):
        np.add(sums, squares[..., shift : shift + channels], out=sums)
    np.multiply(sums, alpha / size, out=sums)
    np.add(sums, k, out=sums)
    np.power(sums, -beta, out=sums)
    np.multiply(x, sums, out=out)
    return out


def relu(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=out)


def leaky_relu(x: np.ndarray, slope: float, out: np.ndarray) -> np.ndarray:
    negative = x <= 0
    scaled = np.multiply(x, slope)
    np.copyto(out, x)
    np.copyto(out, scaled, where=negative)
    return out


def tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    return np.tanh(x, out=out)


def sigmoid(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow: e^-|x| is at most 1 on both sides."""
    small = np.exp(-np.abs(x))
    positive = x >= 0
    np.divide(np.where(positive, 1.0, small), 1.0 + small, out=out)
    return out


def softmax(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Softmax over channels (the last axis here), shifted by the maximum so exp cannot overflow."""
    np.subtract(x, np.max(x, axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    np.divide(out, np.sum(out, axis=-1, keepdims=True), out=out)
    return out


def flatten(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """PyTorch flattens C, H, W in that order: go back from channels-last first."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    np.copyto(out.reshape(x.shape), x)
    return out


def fully_connected(x: np.ndarray, weight: np.ndarray, bias, activation, out: np.ndarray) -> np.ndarray:
    """x (N, F) times the (out, F) weight transposed: BLAS reads the transpose in place.

    `activation`, if given, is an in-place kernel f(x, out) (relu, silu, ...).
    """
    np.matmul(x, weight.T, out=out)
    if bias is not None:
        np.add(out, bias, out=out)
    if activation is not None:
        activation(out, out)
    return out


def add(inputs: list, out: np.ndarray) -> np.ndarray:
    np.add(inputs[0], inputs[1], out=out)
    for other in inputs[2:]:
        np.add(out, other, out=out)
    return out


def mul(inputs: list, out: np.ndarray) -> np.ndarray:
    """The first input times the second, a size of 1 broadcast (a gate's (N, 1, 1, C))."""
    return np.multiply(inputs[0], inputs[1], out=out)


def chunk(x: np.ndarray, groups: int, index: int, out: np.ndarray) -> np.ndarray:
    """Group `index` of `groups` equal groups of channels: the last axis, images and vectors alike."""
    size = x.shape[-1] // groups
    np.copyto(out, x[..., index * size : (index + 1) * size])
    return out


def concat(inputs: list, out: np.ndarray) -> np.ndarray:
    """Along channels: the last axis of NHWC images and of flat vectors alike."""
    return np.concatenate(inputs, axis=-1, out=out)


def centre_crop(x: np.ndarray, offset: tuple, size: tuple, out: np.ndarray) -> np.ndarray:
    """The size[0] x size[1] window of NHWC `x` starting at offset (top, left)."""
    top, left = offset
    out[...] = x[:, top : top + size[0], left : left + size[1], :]
    return out

"""Convolution on NHWC float32 arrays: chunked im2col + GEMM, plain GEMM for 1x1, depthwise taps.

Every function here needs only numpy and the other functions of this module (and winograd.py),
so codegen.py copies them verbatim into standalone modules: one implementation, two users.
Weights come pre-packed (see `pack_gemm_weight`); outputs go into caller-provided arrays so the
engine can reuse its buffers; `workspace` is a flat float32 scratch array of at least
`im2col_workspace_size(...)` elements. `activation`, if given, is a kernel `f(x, out)` that may
write in place (relu, relu6, silu, ...): it runs on each output block while that is in cache.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Measured on a 2-core Zen 5 with OpenBLAS: chunks of 1-2 MiB keep the im2col block and the
# output block in L2 while the GEMM still runs at full rate; 110 MB for a whole-image im2col of
# VGG-16's conv1_2 would instead stream through memory twice.
CHUNK_BYTES = 3 << 19
# ... but never fewer output pixels than this per GEMM (see `chunks`).
MIN_GEMM_ROWS = 256
# Depthwise convs run on blocks of output rows of about this size (measured on the 2-core Zen 5:
# 256 KiB-1 MiB blocks are 1.3-2x faster than 64 KiB ones, whose einsum calls are too short) ...
DEPTHWISE_CHUNK_BYTES = 1 << 19
# ... and read whole window rows at once below this many channels (above, per pixel is as fast:
# 14x14x576 took 0.34 ms per pixel against 0.47 ms per row; 56x56x144 2.2 ms against 1.5 ms).
DEPTHWISE_ROW_RUNS_MAX_CHANNELS = 384


def pack_gemm_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """(out, in/groups, kh, kw) -> (groups, kh*kw*in/groups, out/groups), rows in NHWC patch order."""
    out_channels, group_channels, kh, kw = weight.shape
    per_group = out_channels // groups
    packed = weight.reshape(groups, per_group, group_channels, kh, kw).transpose(0, 3, 4, 2, 1)
    return np.ascontiguousarray(packed.reshape(groups, kh * kw * group_channels, per_group), dtype=np.float32)


def pack_depthwise(weight: np.ndarray, bias, out_columns: int) -> tuple:
    """(channels, 1, kh, kw) -> (kh, kw, out_columns, channels) factors; bias -> (out_columns, channels).

    Each tap's factors are repeated along an output row: a row of the input window and a row of
    factors are then both one contiguous run, and NumPy's inner loop spans the whole row rather
    than one pixel's channels (4x faster for 32 channels).
    """
    taps = weight[:, 0].transpose(1, 2, 0)[:, :, None, :]
    packed = np.ascontiguousarray(np.broadcast_to(taps, (*taps.shape[:2], out_columns, taps.shape[3])))
    row_bias = None if bias is None else np.ascontiguousarray(np.broadcast_to(bias, (out_columns, len(bias))))
    return packed.astype(np.float32, copy=False), row_bias


def reshape_view(block: np.ndarray, shape: tuple) -> np.ndarray:
    """`block` reshaped without copying: a copy would silently drop what is written into it."""
    try:
        return np.reshape(block, shape, copy=False)
    except TypeError:  # NumPy < 2.1 has no copy=False; setting .shape refuses to copy as well
        view = block.view()
        view.shape = shape
        return view


def as_matrix(block: np.ndarray, rows: int) -> np.ndarray:
    return reshape_view(block, (rows, -1))


def output_size(size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> int:
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def pad_nhwc(x: np.ndarray, pads: tuple, padded: np.ndarray, value: float = 0.0) -> np.ndarray:
    """Copy x (N, H, W, C) into `padded` at (top, left); everything around it becomes `value`.

    `padded` may extend further than bottom/right padding (Winograd tiles, ceil-mode pools).
    """
    top, left = pads[0], pads[2]
    height, width = x.shape[1], x.shape[2]
    padded[:, :top] = value
    padded[:, top + height :] = value
    padded[:, top : top + height, :left] = value
    padded[:, top : top + height, left + width :] = value
    padded[:, top : top + height, left : left + width] = x
    return padded


def chunks(
    images: int, rows: int, row_bytes: int, budget: int, min_rows: int = 1
) -> Iterator[tuple[int, int, int, int]]:
    """(first image, end image, first row, end row) blocks whose scratch stays under `budget` bytes.

    A block is either whole images or a run of rows of one image, so its output is contiguous.
    It has at least `min_rows` rows, budget or not: a GEMM over too few rows runs slowly and
    streams the whole weight matrix once more per chunk.
    """
    rows_per_chunk = max(1, min_rows, budget // max(1, row_bytes))
    if rows_per_chunk >= rows:
        images_per_chunk = rows_per_chunk // rows
        for first in range(0, images, images_per_chunk):
            yield first, min(images, first + images_per_chunk), 0, rows
        return
    for image in range(images):
        for first in range(0, rows, rows_per_chunk):
            yield image, image + 1, first, min(rows, first + rows_per_chunk)


def epilogue(block: np.ndarray, bias, residual, activation) -> None:
    """Bias, residual add and activation on an output block while it is still in cache."""
    if bias is not None:
        np.add(block, bias, out=block)
    if residual is not None:
        np.add(block, residual, out=block)
    if activation is not None:
        activation(block, block)


def im2col_workspace_size(weight_shape: tuple, out_shape: tuple, budget: int = CHUNK_BYTES) -> int:
    """Scratch elements `conv_im2col` needs: one chunk of patches."""
    groups, patch, _ = weight_shape
    images, rows, columns = out_shape[0], out_shape[1], out_shape[2]
    row_elements = columns * patch * groups
    min_rows = -(-MIN_GEMM_ROWS // columns)
    return max(
        (last - first) * (end - start) * row_elements
        for first, last, start, end in chunks(images, rows, 4 * row_elements, budget, min_rows)
    )


def conv_im2col(
    x: np.ndarray,
    weight: np.ndarray,
    bias,
    kernel: tuple,
    stride: tuple,
    dilation: tuple,
    out: np.ndarray,
    workspace: np.ndarray,
    activation=None,
    residual=None,
    budget: int = CHUNK_BYTES,
) -> np.ndarray:
    """Convolve padded x (N, H, W, C) with packed `weight` into out (N, Ho, Wo, O), a chunk at a time.

    Each chunk copies its patches out of a strided window view into `workspace` (one copy, no
    Python loop over pixels) and multiplies them by the weight matrix in one GEMM per group.
    """
    groups, patch, per_group = weight.shape
    images, out_rows, out_columns, out_channels = out.shape
    group_channels = x.shape[3] // groups
    kh, kw = kernel
    s_image, s_row, s_column, s_channel = x.strides
    window_strides = (
        s_image,
        s_row * stride[0],
        s_column * stride[1],
        s_row * dilation[0],
        s_column * dilation[1],
        s_channel * group_channels,
        s_channel,
    )
    row_elements = out_columns * patch * groups
    min_rows = -(-MIN_GEMM_ROWS // out_columns)
    for first, last, start, end in chunks(images, out_rows, 4 * row_elements, budget, min_rows):
        count = last - first
        shape = (count, end - start, out_columns, kh, kw, groups, group_channels)
        base = x[first:last, start * stride[0] :]
        windows = np.lib.stride_tricks.as_strided(base, shape, window_strides, writeable=False)
        pixels = count * (end - start) * out_columns
        columns = workspace[: pixels * patch * groups].reshape(groups, *shape[:5], group_channels)
        np.copyto(columns, windows.transpose(5, 0, 1, 2, 3, 4, 6))
        block = as_matrix(out[first:last, start:end], pixels)
        if groups == 1:
            np.matmul(columns.reshape(pixels, patch), weight[0], out=block)
        else:
            grouped = block.reshape(pixels, groups, per_group).transpose(1, 0, 2)
            np.matmul(columns.reshape(groups, pixels, patch), weight, out=grouped)
        shortcut = None if residual is None else as_matrix(residual[first:last, start:end], pixels)
        epilogue(block, bias, shortcut, activation)
    return out


def conv_pointwise(
    x: np.ndarray,
    weight: np.ndarray,
    bias,
    out: np.ndarray,
    activation=None,
    residual=None,
    budget: int = CHUNK_BYTES,
) -> np.ndarray:
    """A 1x1, stride-1, unpadded, ungrouped conv: NHWC is already the GEMM's (pixels, C) matrix."""
    pixels = x.shape[0] * x.shape[1] * x.shape[2]
    inputs = as_matrix(x, pixels)
    outputs = as_matrix(out, pixels)
    shortcut = None if residual is None else as_matrix(residual, pixels)
    rows = max(64, budget // (4 * max(weight.shape[1], weight.shape[2])))
    for start in range(0, pixels, rows):
        end = min(pixels, start + rows)
        block = outputs[start:end]
        np.matmul(inputs[start:end], weight[0], out=block)
        epilogue(block, bias, None if shortcut is None else shortcut[start:end], activation)
    return out


def depthwise_blocks(images: int, out_rows: int, row_bytes: int, budget: int) -> list[tuple[int, int, int]]:
    """(image, first row, end row) blocks of output under `budget` bytes, at least two per image
    (of two rows or more) so that two threads can share even a small layer. The blocks depend on
    the shape alone: the engine and a generated module sum each output in the same order."""
    rows_per_block = max(1, min(budget // row_bytes, -(-out_rows // 2)))
    return [
        (image, start, min(out_rows, start + rows_per_block))
        for image in range(images)
        for start in range(0, out_rows, rows_per_block)
    ]


def conv_depthwise(
    x: np.ndarray,
    taps: np.ndarray,
    bias,
    stride: tuple,
    dilation: tuple,
    out: np.ndarray,
    activation=None,
    residual=None,
    budget: int = DEPTHWISE_CHUNK_BYTES,
    run_blocks=None,
) -> np.ndarray:
    """One filter per channel (groups == channels), on blocks of output rows; `pack_depthwise`'s taps.

    Each block is one np.einsum over a strided window view of the padded input, which multiplies
    and accumulates every tap in one pass, no temporaries. With a column stride of 1, a window
    row and a tap's repeated factors are both one contiguous run of out_columns * channels
    numbers, so einsum's inner loop spans the row; otherwise it spans one pixel's channels,
    which is as fast once there are a few hundred of them, or with strides. `run_blocks`, if
    given, is called as run_blocks(compute, blocks) to compute the blocks on several threads
    (einsum and the activations release the GIL); without it they run one after another.
    """
    kh, kw = taps.shape[:2]
    images, out_rows, out_columns, channels = out.shape
    (row_stride, column_stride), (row_dilation, column_dilation) = stride, dilation
    s_image, s_row, s_column, s_channel = x.strides
    row_runs = (
        column_stride == 1 and channels < DEPTHWISE_ROW_RUNS_MAX_CHANNELS and s_column == channels * s_channel
    )

    def compute(image: int, start: int, end: int) -> None:
        base = x[image, start * row_stride :]
        block = out[image, start:end]
        if row_runs:
            shape = (end - start, kh, kw, out_columns * channels)
            strides = (s_row * row_stride, s_row * row_dilation, s_column * column_dilation, s_channel)
            windows = np.lib.stride_tricks.as_strided(base, shape, strides, writeable=False)
            row_taps = taps.reshape(kh, kw, out_columns * channels)
            np.einsum("rijx,ijx->rx", windows, row_taps, out=reshape_view(block, shape[:1] + shape[3:]))
        else:
            shape = (end - start, out_columns, kh, kw, channels)
            strides = (s_row * row_stride, s_column * column_stride)
            strides += (s_row * row_dilation, s_column * column_dilation, s_channel)
            windows = np.lib.stride_tricks.as_strided(base, shape, strides, writeable=False)
            np.einsum("rwijc,ijc->rwc", windows, taps[:, :, 0], out=block)
        shortcut = None if residual is None else residual[image, start:end]
        epilogue(block, bias, shortcut, activation)

    blocks = depthwise_blocks(images, out_rows, 4 * out_columns * channels, budget)
    if run_blocks is None:
        for image, start, end in blocks:
            compute(image, start, end)
    else:
        run_blocks(compute, blocks)
    return out

"""Winograd F(2x2, 3x3) convolution on NHWC float32 arrays (3x3, stride 1, dilation 1, no groups).

Each 4x4 input tile gives a 2x2 output tile with 16 multiplies per channel pair instead of 36:
V = Bt d B per tile, M = V U as 16 GEMMs (U = G g Gt, packed once), Y = At M A. The transforms
are additions over strided tile views, vectorised across every tile and channel of a chunk.
Like conv_kernels.py, this module needs only numpy, so codegen.py can copy it verbatim.
"""

from __future__ import annotations

import numpy as np

from .conv_kernels import chunks, reshape_view

# Chunks of tiles small enough for the transforms to run in cache...
WINOGRAD_CHUNK_BYTES = 1 << 21
# ... but never fewer tiles than this: each chunk's 16 GEMMs stream the whole transformed filter
# U (16*C*O floats, 16 MB for 512 channels), and GEMMs of a few dozen rows run at a third of
# the rate (measured: VGG-16's 28x28x512 layers take 4x longer in 1-tile-row chunks).
MIN_WINOGRAD_TILES = 256


def pack_winograd_weight(weight: np.ndarray) -> np.ndarray:
    """(out, in, 3, 3) -> U = G g Gt as (16, in, out), one (in, out) slice at a time.

    G's entries are 0, 1/2 and 1, so float32 loses nothing but the sums' last bit; working slice
    by slice keeps the peak at U itself (ResNet's largest filter would need ~130 MB at once).
    """
    transform = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float32)
    taps = np.ascontiguousarray(weight.transpose(2, 3, 1, 0), dtype=np.float32)  # (3, 3, in, out)
    packed = np.zeros((4, 4, *taps.shape[2:]), dtype=np.float32)
    for a in range(4):
        for b in range(4):
            for i in range(3):
                for j in range(3):
                    factor = transform[a, i] * transform[b, j]
                    if factor:
                        packed[a, b] += factor * taps[i, j]
    return packed.reshape(16, *taps.shape[2:])


def winograd_tiles(out_rows: int, out_columns: int) -> tuple[int, int]:
    return (out_rows + 1) // 2, (out_columns + 1) // 2


def winograd_padded_shape(images: int, out_rows: int, out_columns: int, channels: int) -> tuple:
    """The padded input covers whole 4x4 tiles, even where the last output row or column is odd."""
    tile_rows, tile_columns = winograd_tiles(out_rows, out_columns)
    return (images, 2 * tile_rows + 2, 2 * tile_columns + 2, channels)


def _tile_row_elements(tile_columns: int, channels: int, out_channels: int, odd: bool) -> int:
    padded_columns = 2 * tile_columns + 2
    elements = tile_columns * (16 * channels + 17 * out_channels) + 4 * padded_columns * channels
    return elements + (4 * tile_columns * out_channels if odd else 0)


def winograd_workspace_size(out_shape: tuple, channels: int, budget: int = WINOGRAD_CHUNK_BYTES) -> int:
    images, out_rows, out_columns, out_channels = out_shape
    tile_rows, tile_columns = winograd_tiles(out_rows, out_columns)
    odd = out_rows % 2 == 1 or out_columns % 2 == 1
    row_elements = _tile_row_elements(tile_columns, channels, out_channels, odd)
    min_rows = -(-MIN_WINOGRAD_TILES // tile_columns)
    return max(
        (last - first) * (end - start) * row_elements
        for first, last, start, end in chunks(images, tile_rows, 4 * row_elements, budget, min_rows)
    )


class _Carver:
    """Hands out consecutive pieces of a flat workspace as arrays of the requested shapes."""

    def __init__(self, workspace: np.ndarray):
        self.workspace = workspace
        self.used = 0

    def __call__(self, shape: tuple) -> np.ndarray:
        size = int(np.prod(shape))
        piece = self.workspace[self.used : self.used + size].reshape(shape)
        self.used += size
        return piece


def _input_transform(d0, d1, d2, d3, out0, out1, out2, out3) -> None:
    """Rows (or columns) of Bt d: [d0 - d2, d1 + d2, d2 - d1, d1 - d3]."""
    np.subtract(d0, d2, out=out0)
    np.add(d1, d2, out=out1)
    np.subtract(d2, d1, out=out2)
    np.subtract(d1, d3, out=out3)


def _output_transform(m0, m1, m2, m3, scratch, out0, out1) -> None:
    """At m: [m0 + m1 + m2, m1 - m2 - m3], overwriting m1 on the way (no other temporaries)."""
    np.subtract(m1, m2, out=scratch)
    np.add(m1, m2, out=m1)
    np.add(m0, m1, out=out0)
    np.subtract(scratch, m3, out=out1)


def conv_winograd(
    x: np.ndarray,
    transformed: np.ndarray,
    bias,
    out: np.ndarray,
    workspace: np.ndarray,
    activation=None,
    residual=None,
    budget: int = WINOGRAD_CHUNK_BYTES,
) -> np.ndarray:
    """x: the input padded to `winograd_padded_shape`; transformed: `pack_winograd_weight`'s U.

    `activation`, if given, is an in-place kernel f(x, out) applied to each output block.
    """
    images, out_rows, out_columns, out_channels = out.shape
    channels = x.shape[3]
    tile_rows, tile_columns = winograd_tiles(out_rows, out_columns)
    padded_columns = 2 * tile_columns + 2
    odd = out_rows % 2 == 1 or out_columns % 2 == 1
    row_elements = _tile_row_elements(tile_columns, channels, out_channels, odd)
    min_rows = -(-MIN_WINOGRAD_TILES // tile_columns)
    for first, last, start, end in chunks(images, tile_rows, 4 * row_elements, budget, min_rows):
        count, rows = last - first, end - start
        tiles = count * rows * tile_columns
        carve = _Carver(workspace)
        v = carve((4, 4, count, rows, tile_columns, channels))
        m = carve((4, 4, count, rows, tile_columns, out_channels))
        row_sums = carve((4, count, rows, padded_columns, channels))
        scratch = carve((count, rows, tile_columns, out_channels))

        source = x[first:last]
        taps = [source[:, 2 * start + i : 2 * end + i : 2] for i in range(4)]
        _input_transform(*taps, *row_sums)
        for a in range(4):
            columns = [row_sums[a][:, :, j : j + 2 * tile_columns : 2] for j in range(4)]
            _input_transform(*columns, *v[a])
        np.matmul(v.reshape(16, tiles, channels), transformed, out=m.reshape(16, tiles, out_channels))
        if bias is not None:
            # m[1][1] enters all four outputs of a tile with weight +1: one add instead of four.
            np.add(m[1, 1], bias, out=m[1, 1])

        if odd:
            tile_out = carve((count, rows, 2, tile_columns, 2, out_channels))
        else:
            target = out[first:last, 2 * start : 2 * end]
            tile_out = reshape_view(target, (count, rows, 2, tile_columns, 2, out_channels))
        for j in range(4):
            _output_transform(m[0, j], m[1, j], m[2, j], m[3, j], scratch, m[0, j], m[3, j])
        for r, sums in enumerate((m[0], m[3])):
            _output_transform(*sums, scratch, tile_out[:, :, r, :, 0], tile_out[:, :, r, :, 1])

        top, bottom = 2 * start, min(out_rows, 2 * end)
        block = out[first:last, top:bottom]
        if odd:
            block[...] = tile_out.reshape(count, 2 * rows, 2 * tile_columns, out_channels)[
                :, : bottom - top, :out_columns
            ]
        shortcut = None if residual is None else residual[first:last, top:bottom]
        if shortcut is not None:
            np.add(block, shortcut, out=block)
        if activation is not None:
            activation(block, block)
    return out

"""Executable layers: one per plan step, holding its weights packed for the kernel it runs.

A layer states the buffers it needs for a batch size (output, padded input, scratch) and
computes into buffers the engine hands it. Packing happens once, when weights are loaded:
batchnorm folded into the conv, filters reordered for NHWC GEMMs or Winograd-transformed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import networkx as nx
import numpy as np

from cnndsl.errors import CnnUsageError

from . import conv_kernels, modern_ops, resample_ops, tensor_ops, winograd
from .plan import FUSABLE_ACTIVATIONS, Step

CONV_ALGORITHMS = ("auto", "im2col", "winograd")

# Winograd saves 20 of 36 multiplies per channel pair and output tile, but its transforms are
# additions over every tile and channel on one core: worth it only when the GEMM dominates, which
# measured on this project's machine means at least 96 input and output channels (VGG-16 from its
# second stage on, ResNet's stages 2-3; not 64-channel layers) and outputs of at least 12x12
# pixels (at 7x7 the 2x2 tiles cover 8x8: a third of the work is padding, and im2col wins).
WINOGRAD_MIN_CHANNELS = 96
WINOGRAD_MIN_PIXELS = 144


def nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    """An IR shape (C, H, W) as laid out inside the engine (H, W, C); flat shapes stay."""
    return (*shape[1:], shape[0]) if len(shape) == 3 else tuple(shape)


@dataclass
class Needs:
    """What a layer needs from the engine for one batch size, in float32 elements."""

    output: tuple[int, ...]
    padded: tuple[int, ...] | None = None
    workspace: int = 0


class Layer(ABC):
    kind = "?"  # a label for per-kind time shares
    inplace = False  # may write its output over its first input

    def __init__(self, graph: nx.DiGraph, step: Step):
        self.step = step
        self.activation = fused_activation(step)
        self.attrs = graph.nodes[step.head]["attrs"]
        self.in_shape = graph.nodes[step.inputs[0]]["shape"] if step.inputs else ()
        self.out_shape = graph.nodes[step.output]["shape"]

    def needs(self, batch: int) -> Needs:
        return Needs((batch, *nhwc(self.out_shape)))

    @abstractmethod
    def __call__(self, inputs: list[np.ndarray], out: np.ndarray, padded, workspace) -> None:
        """Compute into `out`; `padded` and `workspace` are the scratch `needs` asked for."""


# The kernels of the activations a step can fuse (plan.FUSABLE_ACTIVATIONS); each may write in place.
FUSED_ACTIVATIONS = {
    "relu": tensor_ops.relu,
    "relu6": modern_ops.relu6,
    "hardswish": modern_ops.hardswish,
    "hardsigmoid": modern_ops.hardsigmoid,
    "silu": modern_ops.silu,
    "sigmoid": tensor_ops.sigmoid,
}
assert set(FUSED_ACTIVATIONS) == set(FUSABLE_ACTIVATIONS)


def fused_activation(step: Step):
    """The kernel of the step's fused activation, or None."""
    return None if step.activation is None else FUSED_ACTIVATIONS[step.activation]


def _fused_weights(graph: nx.DiGraph, step: Step, state: dict):
    weight, bias = state[f"{step.head}.weight"], state.get(f"{step.head}.bias")
    if step.batchnorm:
        eps = graph.nodes[step.batchnorm]["attrs"]["eps"]
        weight, bias = tensor_ops.fold_batchnorm(weight, bias, state, step.batchnorm, eps)
    return weight, bias


def choose_conv_algorithm(attrs: dict, in_channels: int, out_size: tuple, requested: str = "auto") -> str:
    """pointwise (1x1 GEMM), depthwise, winograd (3x3 stride 1) or im2col (everything)."""
    kernel, stride, dilation, groups = attrs["kernel"], attrs["stride"], attrs["dilation"], attrs["groups"]
    out_channels = attrs["out_channels"]
    winograd_fits = kernel == (3, 3) and stride == (1, 1) and dilation == (1, 1) and groups == 1
    if requested == "winograd" and winograd_fits:
        return "winograd"
    if requested == "im2col":
        return "im2col"
    if kernel == (1, 1) and stride == (1, 1) and attrs["pads"] == (0, 0, 0, 0) and groups == 1:
        return "pointwise"
    if groups > 1 and groups == in_channels == out_channels:
        return "depthwise"
    pays = (
        min(in_channels, out_channels) >= WINOGRAD_MIN_CHANNELS
        and out_size[0] * out_size[1] >= WINOGRAD_MIN_PIXELS
    )
    if winograd_fits and pays:
        return "winograd"
    return "im2col"


class ConvLayer(Layer):
    def __init__(self, graph: nx.DiGraph, step: Step, state: dict, algorithm: str = "auto"):
        super().__init__(graph, step)
        weight, bias = _fused_weights(graph, step, state)
        self.bias = bias
        self.algorithm = choose_conv_algorithm(self.attrs, self.in_shape[0], self.out_shape[1:], algorithm)
        kh, kw = self.attrs["kernel"]
        self.kind = f"conv {kh}x{kw} {self.algorithm}"
        self.pads = self.attrs["pads"]
        self.run_blocks = None  # the engine's thread pool for depthwise blocks, when it has one
        if self.algorithm == "winograd":
            self.weight = winograd.pack_winograd_weight(weight)
        elif self.algorithm == "depthwise":
            self.weight, self.bias = conv_kernels.pack_depthwise(weight, bias, self.out_shape[2])
        else:
            self.weight = conv_kernels.pack_gemm_weight(weight, self.attrs["groups"])

    def needs(self, batch: int) -> Needs:
        out = (batch, *nhwc(self.out_shape))
        channels, rows, columns = self.in_shape
        top, bottom, left, right = self.pads
        if self.algorithm == "winograd":
            padded = winograd.winograd_padded_shape(batch, out[1], out[2], channels)
            if padded == (batch, rows, columns, channels):
                padded = None  # already whole tiles, no padding: read the input in place
            return Needs(out, padded, winograd.winograd_workspace_size(out, channels))
        padded = (batch, rows + top + bottom, columns + left + right, channels) if any(self.pads) else None
        if self.algorithm == "im2col":
            return Needs(out, padded, conv_kernels.im2col_workspace_size(self.weight.shape, out))
        return Needs(out, padded)

    def __call__(self, inputs, out, padded, workspace) -> None:
        x = inputs[0] if padded is None else conv_kernels.pad_nhwc(inputs[0], self.pads, padded)
        residual = inputs[1] if self.step.shortcut else None
        activation = self.activation
        if self.algorithm == "winograd":
            winograd.conv_winograd(x, self.weight, self.bias, out, workspace, activation, residual)
        elif self.algorithm == "pointwise":
            conv_kernels.conv_pointwise(x, self.weight, self.bias, out, activation, residual)
        elif self.algorithm == "depthwise":
            stride, dilation, run_blocks = self.attrs["stride"], self.attrs["dilation"], self.run_blocks
            conv_kernels.conv_depthwise(
                x, self.weight, self.bias, stride, dilation, out, activation, residual, run_blocks=run_blocks
            )
        else:
            conv_kernels.conv_im2col(
                x,
                self.weight,
                self.bias,
                self.attrs["kernel"],
                self.attrs["stride"],
                self.attrs["dilation"],
                out,
                workspace,
                activation,
                residual,
            )


class FullyConnectedLayer(Layer):
    kind = "fc"

    def __init__(self, graph: nx.DiGraph, step: Step, state: dict):
        super().__init__(graph, step)
        # The (out, in) weight is used as stored: BLAS multiplies by its transpose without a copy.
        self.weight, self.bias = _fused_weights(graph, step, state)

    def __call__(self, inputs, out, padded, workspace) -> None:
        tensor_ops.fully_connected(inputs[0], self.weight, self.bias, self.activation, out)


class PoolLayer(Layer):
    def __init__(self, graph: nx.DiGraph, step: Step):
        super().__init__(graph, step)
        self.kind = step.op
        channels, rows, columns = self.in_shape
        kernel, stride, pads = self.attrs["kernel"], self.attrs["stride"], self.attrs["pads"]
        out_rows, out_columns = self.out_shape[1:]
        self.padded_size = (
            tensor_ops.pool_padded_size(rows, kernel[0], stride[0], pads[0], pads[1], out_rows),
            tensor_ops.pool_padded_size(columns, kernel[1], stride[1], pads[2], pads[3], out_columns),
        )
        self.needs_padding = self.padded_size != (rows, columns)
        if step.op == "avgpool":
            self.reciprocals = tensor_ops.avg_pool_reciprocals(
                (rows, columns), kernel, stride, pads, (out_rows, out_columns), self.attrs["count_pad"]
            )

    def needs(self, batch: int) -> Needs:
        padded = (batch, *self.padded_size, self.in_shape[0]) if self.needs_padding else None
        return Needs((batch, *nhwc(self.out_shape)), padded)

    def __call__(self, inputs, out, padded, workspace) -> None:
        kernel, stride, pads = self.attrs["kernel"], self.attrs["stride"], self.attrs["pads"]
        fill = -np.inf if self.step.op == "maxpool" else 0.0
        x = inputs[0] if padded is None else conv_kernels.pad_nhwc(inputs[0], pads, padded, fill)
        if self.step.op == "maxpool":
            tensor_ops.max_pool(x, kernel, stride, out)
        else:
            tensor_ops.avg_pool(x, kernel, stride, self.reciprocals, out)


class BatchNormLayer(Layer):
    """A batchnorm that could not be folded (its input is not a conv or fc read only by it)."""

    kind = "batchnorm"
    inplace = True

    def __init__(self, graph: nx.DiGraph, step: Step, state: dict):
        super().__init__(graph, step)
        scale, shift = tensor_ops.batchnorm_factors(state, step.head, self.attrs["eps"])
        self.scale, self.shift = scale.astype(np.float32), shift.astype(np.float32)

    def __call__(self, inputs, out, padded, workspace) -> None:
        tensor_ops.scale_shift(inputs[0], self.scale, self.shift, out)
        if self.activation is not None:
            self.activation(out, out)


class SimpleLayer(Layer):
    """Ops whose kernel takes (input, out) or (inputs, out) and at most a few attributes."""

    UNARY = {
        "relu": tensor_ops.relu,
        "tanh": tensor_ops.tanh,
        "sigmoid": tensor_ops.sigmoid,
        "softmax": tensor_ops.softmax,
        "flatten": tensor_ops.flatten,
        "globalavgpool": tensor_ops.global_avg_pool,
        "globalmaxpool": tensor_ops.global_max_pool,
        "adaptiveavgpool": tensor_ops.adaptive_avg_pool,
    }
    # `mul` writes over its first input only when that has the output's shape (the planner checks).
    ELEMENTWISE = {"relu", "tanh", "sigmoid", "softmax", "leakyrelu", "lrn", "add", "mul"}

    def __init__(self, graph: nx.DiGraph, step: Step):
        super().__init__(graph, step)
        if step.op not in (*self.UNARY, "leakyrelu", "lrn", "add", "concat", "mul", "chunk", "crop"):
            raise CnnUsageError(f"the numpy backend cannot run '{step.op}' ({step.head})")
        self.kind = step.op
        self.inplace = step.op in self.ELEMENTWISE

    def __call__(self, inputs, out, padded, workspace) -> None:
        op, attrs = self.step.op, self.attrs
        if op in self.UNARY:
            self.UNARY[op](inputs[0], out)
        elif op == "leakyrelu":
            tensor_ops.leaky_relu(inputs[0], attrs["slope"], out)
        elif op == "lrn":
            size, alpha, beta, k = attrs["size"], attrs["alpha"], attrs["beta"], attrs["k"]
            tensor_ops.local_response_norm(inputs[0], size, alpha, beta, k, out)
        elif op == "add":
            tensor_ops.add(inputs, out)
        elif op == "mul":
            tensor_ops.mul(inputs, out)
        elif op == "chunk":
            tensor_ops.chunk(inputs[0], attrs["groups"], attrs["index"], out)
        elif op == "crop":
            tensor_ops.centre_crop(inputs[0], attrs["offset"], attrs["size"], out)
        else:
            tensor_ops.concat(inputs, out)
        if self.activation is not None:
            self.activation(out, out)


# ----- activations and normalisations of modern CNNs (modern_ops.py) -------------------------
_ACTIVATIONS = {
    "relu6": modern_ops.relu6,
    "hardswish": modern_ops.hardswish,
    "hardsigmoid": modern_ops.hardsigmoid,
    "silu": modern_ops.silu,
    "mish": modern_ops.mish,
}
MODERN_OPS = frozenset(
    {*_ACTIVATIONS, "gelu", "elu", "prelu", "layernorm", "groupnorm", "instancenorm", "layerscale"}
)


def modern_kernel(op: str, attrs: dict) -> tuple:
    """(kernel, learned tensors by name, constant arguments): called as kernel(x, *tensors, *constants, out).

    Learned tensors a network lacks (a norm with affine=false) are passed as None.
    """
    if op in _ACTIVATIONS:
        return _ACTIVATIONS[op], (), ()
    if op == "gelu":
        return (modern_ops.gelu_tanh if attrs["approximate"] == "tanh" else modern_ops.gelu), (), ()
    if op == "elu":
        return modern_ops.elu, (), (attrs["alpha"],)
    if op == "prelu":
        return modern_ops.prelu, ("weight",), ()
    if op == "layerscale":
        return modern_ops.layer_scale, ("weight",), ()
    if op == "groupnorm":
        return modern_ops.group_norm, ("weight", "bias"), (attrs["groups"], attrs["eps"])
    norms = {"layernorm": modern_ops.layer_norm, "instancenorm": modern_ops.instance_norm}
    return norms[op], ("weight", "bias"), (attrs["eps"],)


class ModernLayer(Layer):
    """One of MODERN_OPS; the parameter-free activations write over their input."""

    def __init__(self, graph: nx.DiGraph, step: Step, state: dict):
        super().__init__(graph, step)
        self.kind = step.op
        self.function, names, self.constants = modern_kernel(step.op, self.attrs)
        self.tensors = tuple(state.get(f"{step.head}.{name}") for name in names)
        self.inplace = not names

    def __call__(self, inputs, out, padded, workspace) -> None:
        self.function(inputs[0], *self.tensors, *self.constants, out)
# ----- resampling and channel ops -----------------------------------------------------------
def upsample_factors(attrs: dict) -> tuple | None:
    """The scale the torch module holds (whole factors), or None when it holds the output size."""
    scale = attrs["scale"]
    if scale is not None and all(isinstance(factor, int) for factor in scale):
        return scale
    return None


class ConvTransposeLayer(Layer):
    kind = "convtranspose"

    def __init__(self, graph: nx.DiGraph, step: Step, state: dict):
        super().__init__(graph, step)
        self.weight = resample_ops.pack_transposed_weight(state[f"{step.head}.weight"], self.attrs["groups"])
        self.bias = state.get(f"{step.head}.bias")

    def __call__(self, inputs, out, padded, workspace) -> None:
        a = self.attrs
        resample_ops.conv_transpose(
            inputs[0], self.weight, self.bias, a["kernel"], a["stride"], a["dilation"], a["pad"], out
        )


class ResampleLayer(Layer):
    """upsample, pixelshuffle and channelshuffle: data movement, no weights."""

    def __init__(self, graph: nx.DiGraph, step: Step):
        super().__init__(graph, step)
        self.kind = step.op

    def __call__(self, inputs, out, padded, workspace) -> None:
        a = self.attrs
        if self.step.op == "upsample":
            resample_ops.upsample(inputs[0], a["mode"], upsample_factors(a), a["align_corners"], out)
        elif self.step.op == "pixelshuffle":
            resample_ops.pixel_shuffle(inputs[0], a["factor"], out)
        else:
            resample_ops.channel_shuffle(inputs[0], a["groups"], out)


RESAMPLING_OPS = ("upsample", "pixelshuffle", "channelshuffle")


def build_layer(graph: nx.DiGraph, step: Step, state: dict, conv_algorithm: str = "auto") -> Layer:
    if step.op == "conv":
        return ConvLayer(graph, step, state, conv_algorithm)
    if step.op == "fc":
        return FullyConnectedLayer(graph, step, state)
    if step.op in ("maxpool", "avgpool"):
        return PoolLayer(graph, step)
    if step.op == "batchnorm":
        return BatchNormLayer(graph, step, state)
    if step.op in MODERN_OPS:
        return ModernLayer(graph, step, state)
    if step.op == "convtranspose":
        return ConvTransposeLayer(graph, step, state)
    if step.op in RESAMPLING_OPS:
        return ResampleLayer(graph, step)
    return SimpleLayer(graph, step)

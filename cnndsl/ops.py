"""The op table: each layer kind's arguments, shape rule, and parameter, buffer and MAC formulas.

Parser, elaborator, passes, summary, docs and backends all read this table; none re-derives
a formula. Shape rules may resolve derived attributes (the concrete `pads`) into `attrs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .arguments import (
    MAX_SIZE,
    bias_spec,
    boolean,
    image_shape,
    literal_weights,
    optional_pair,
    padding,
    pair,
    positive_int,
    positive_real,
    probability,
    real,
)
from .expressions import describe_integer
from .geometry import describe_output_size, same_padding, window_output_size

Shape = tuple[int, ...]
Attrs = dict[str, Any]


class ShapeProblem(Exception):  # noqa: N818 - a problem the elaborator turns into a CnnError
    """An input shape an op cannot take; `argument` names the argument to point at, if any."""

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


REQUIRED = object()
@dataclass(frozen=True)
class Arg:
    """One argument of a layer: its name, how a value is checked and normalised, its default."""

    name: str
    convert: Callable[[Any], Any]
    default: Any = REQUIRED
    positional: bool = False
    help: str = ""


def _zero(inputs: Sequence[Shape], output: Shape, attrs: Attrs) -> int:
    return 0


@dataclass(frozen=True)
class OpDef:
    """Everything cnndsl knows about one kind of op."""

    kind: str
    summary: str
    example: str
    shape: Callable[[Sequence[Shape], Attrs], Shape]
    args: tuple[Arg, ...] = ()
    params: Callable[[Sequence[Shape], Shape, Attrs], int] = _zero
    buffers: Callable[[Sequence[Shape], Shape, Attrs], int] = _zero
    macs: Callable[[Sequence[Shape], Shape, Attrs], int] = _zero
    aliases: tuple[str, ...] = ()
    # Structural ops come from `input`, `residual` and `concat`, not from a layer statement.
    structural: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def positional(self) -> tuple[Arg, ...]:
        return tuple(arg for arg in self.args if arg.positional)

    def arg(self, name: str) -> Arg | None:
        return next((arg for arg in self.args if arg.name == name), None)

    def output_shape(self, inputs: Sequence[Shape], attrs: Attrs) -> Shape:
        """The shape rule's result, refused if a size or the element count passes MAX_SIZE."""
        shape = self.shape(inputs, attrs)
        # Concat adds channels and flatten multiplies sizes: each input is in range, the result may not be.
        if max(shape) > MAX_SIZE:
            raise ShapeProblem(f"{self.kind} gives the shape {_dims(shape)}; sizes {_LIMITED}")
        values = math.prod(shape)
        if values > MAX_SIZE:
            raise ShapeProblem(
                f"{self.kind} gives {_dims(shape)} = {describe_integer(values, commas=True)} values; "
                f"the values of a tensor {_LIMITED}"
            )
        return shape

    def counts(self, inputs: Sequence[Shape], output: Shape, attrs: Attrs) -> tuple[int, int, int]:
        """(params, buffers, MACs) by the table's formulas, each refused if it passes MAX_SIZE."""
        params = self.params(inputs, output, attrs)
        buffers = self.buffers(inputs, output, attrs)
        macs = self.macs(inputs, output, attrs)
        for count, what in ((params, "parameters"), (buffers, "buffer values"), (macs, "MACs")):
            if count > MAX_SIZE:
                raise ShapeProblem(
                    f"{self.kind} has {describe_integer(count, commas=True)} {what}; counts {_LIMITED}"
                )
        return params, buffers, macs


# Every size and count is exact in Python, but must fit the signed 64-bit integers that PyTorch's
# numel(), NumPy's indices and every consumer of the JSON summary use.
_LIMITED = f"are limited to 2**63 - 1 = {MAX_SIZE:,}"


# ----- shape helpers ------------------------------------------------------------------------
def _dims(shape: Shape) -> str:
    return "x".join(describe_integer(d) for d in shape)


def require_image(shape: Shape, kind: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeProblem(f"{kind} needs a CxHxW input, but gets the flat vector {_dims(shape)}")
    return shape  # type: ignore[return-value]


def resolve_pads(
    pad: str | tuple[int, int, int, int],
    size: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int, int, int]:
    """Concrete (top, bottom, left, right) padding for this input size."""
    if pad == "valid":
        return (0, 0, 0, 0)
    if pad == "same":
        top, bottom = same_padding(size[0], kernel[0], stride[0], dilation[0])
        left, right = same_padding(size[1], kernel[1], stride[1], dilation[1])
        return (top, bottom, left, right)
    return pad  # type: ignore[return-value]


def _window(size, kernel, stride, before, after, dilation, ceil, axis, shape_text) -> int:
    out = window_output_size(size, kernel, stride, before, after, dilation, ceil)
    if out < 1:
        formula = describe_output_size(size, kernel, stride, before, after, dilation, ceil)
        raise ShapeProblem(
            f"kernel {shape_text} does not fit the padded input: output {axis} = {formula}", "kernel"
        )
    return out


def _spatial(attrs: Attrs, h: int, w: int, dilation=(1, 1), ceil=False) -> tuple[int, int]:
    kernel, stride = attrs["kernel"], attrs["stride"]
    pads = resolve_pads(attrs["pad"], (h, w), kernel, stride, dilation)
    attrs["pads"] = pads
    kernel_text = _dims(kernel)
    out_h = _window(h, kernel[0], stride[0], pads[0], pads[1], dilation[0], ceil, "height", kernel_text)
    out_w = _window(w, kernel[1], stride[1], pads[2], pads[3], dilation[1], ceil, "width", kernel_text)
    return out_h, out_w


# ----- the ops ------------------------------------------------------------------------------
def _input_shape(inputs, attrs):
    return attrs["shape"]


def _conv_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "conv")
    groups, out = attrs["groups"], attrs["out_channels"]
    if channels % groups:
        raise ShapeProblem(f"groups={groups} must divide the {channels} input channels", "groups")
    if out % groups:
        raise ShapeProblem(f"groups={groups} must divide the {out} output channels", "groups")
    out_h, out_w = _spatial(attrs, h, w, attrs["dilation"])
    weights = attrs.get("weights")
    if weights is not None:
        expected = (out, channels // groups, *attrs["kernel"])
        fitted = weights.fitted(expected, attrs["kernel"])
        if fitted is None:
            written = weights.shape
            found = f"{written[0]:,} values" if len(written) == 1 else f"shape {_dims(written)}"
            raise ShapeProblem(
                f"weights have {found}, but this conv needs {_dims(expected)} "
                "(out_channels x in_channels/groups x kernel height x kernel width): give "
                f"{math.prod(expected):,} values in that shape (sizes of 1 may be left out) or in one "
                f"flat list, or one {_dims(attrs['kernel'])} filter for every channel",
                "weights",
            )
        attrs["weights"] = fitted
    bias = attrs["bias"]
    if isinstance(bias, tuple) and len(bias) != out:
        raise ShapeProblem(f"bias has {len(bias)} values, but this conv has {out} output channels", "bias")
    return (out, out_h, out_w)


def _conv_params(inputs, output, attrs):
    channels = inputs[0][0]
    kh, kw = attrs["kernel"]
    weights = attrs["out_channels"] * (channels // attrs["groups"]) * kh * kw
    return weights + (attrs["out_channels"] if attrs["bias"] is not False else 0)


def _conv_macs(inputs, output, attrs):
    channels = inputs[0][0]
    kh, kw = attrs["kernel"]
    return output[0] * output[1] * output[2] * (channels // attrs["groups"]) * kh * kw


def _pool_shape(kind):
    def shape(inputs, attrs):
        channels, h, w = require_image(inputs[0], kind)
        if attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"]
        out_h, out_w = _spatial(attrs, h, w, ceil=attrs["ceil"])
        pads, kernel = attrs["pads"], attrs["kernel"]
        # PyTorch refuses pooling padding above half the window (a window of padding alone).
        limits = (kernel[0] // 2, kernel[0] // 2, kernel[1] // 2, kernel[1] // 2)
        if any(p > limit for p, limit in zip(pads, limits)):
            raise ShapeProblem(
                f"padding {_dims(pads)} is more than half the {_dims(kernel)} window", "pad"
            )
        return (channels, out_h, out_w)

    return shape


def _global_pool_shape(kind):
    def shape(inputs, attrs):
        channels, _, _ = require_image(inputs[0], kind)
        return (channels, 1, 1)

    return shape


def _adaptive_shape(inputs, attrs):
    channels, _, _ = require_image(inputs[0], "adaptiveavgpool")
    return (channels, *attrs["size"])


def _same_shape(inputs, attrs):
    return inputs[0]


def _image_same_shape(kind):
    def shape(inputs, attrs):
        return require_image(inputs[0], kind)

    return shape


def _batchnorm_params(inputs, output, attrs):
    return 2 * inputs[0][0]


def _batchnorm_buffers(inputs, output, attrs):
    # running_mean and running_var per channel, plus PyTorch's num_batches_tracked counter.
    return 2 * inputs[0][0] + 1


def _flatten_shape(inputs, attrs):
    return (math.prod(inputs[0]),)


def _fc_shape(inputs, attrs):
    shape = inputs[0]
    if len(shape) != 1:
        raise ShapeProblem(
            f"fc needs a flat input, but gets {_dims(shape)}; add `flatten` before it"
        )
    return (attrs["out_features"],)


def _fc_params(inputs, output, attrs):
    return inputs[0][0] * attrs["out_features"] + (attrs["out_features"] if attrs["bias"] else 0)


def _fc_macs(inputs, output, attrs):
    return inputs[0][0] * attrs["out_features"]


def _add_shape(inputs, attrs):
    first = inputs[0]
    for other in inputs[1:]:
        if other != first:
            raise ShapeProblem(f"cannot add shapes {_dims(first)} and {_dims(other)}")
    return first


def _concat_shape(inputs, attrs):
    first = inputs[0]
    for other in inputs[1:]:
        if len(other) != len(first) or other[1:] != first[1:]:
            shapes = ", ".join(_dims(s) for s in inputs)
            raise ShapeProblem(f"concat needs equal height and width in every branch, found {shapes}")
    return (sum(shape[0] for shape in inputs), *first[1:])


_POOL_ARGS = (
    Arg("kernel", pair, positional=True, help="window size: 2, 2x2 or (2, 3)"),
    Arg("stride", optional_pair, None, help="step; defaults to the kernel size"),
    Arg("pad", padding, (0, 0, 0, 0), help="valid, same, N, (h, w) or (top, bottom, left, right)"),
    Arg("ceil", boolean, False, help="round the output size up (Caffe, GoogLeNet)"),
)

OPS: dict[str, OpDef] = {}


def _register(op: OpDef) -> None:
    for name in (op.kind, *op.aliases):
        OPS[name] = op


for _op in (
    OpDef(
        "input",
        "The network's input: channels x height x width (or a flat size); the batch is implicit.",
        "input 3x224x224",
        _input_shape,
        args=(Arg("shape", image_shape, positional=True, help="CxHxW, or N for a flat input"),),
    ),
    OpDef(
        "conv",
        "2-D convolution (cross-correlation) with one filter per output channel.",
        "conv 64 3x3 stride=1 pad=same",
        _conv_shape,
        args=(
            Arg("out_channels", positive_int, positional=True, help="number of filters"),
            Arg("kernel", pair, positional=True, help="filter size: 3, 3x3 or (1, 7)"),
            Arg("stride", pair, (1, 1), help="step between windows"),
            Arg("pad", padding, (0, 0, 0, 0), help="valid, same, N, (h, w) or (top, bottom, left, right)"),
            Arg("dilation", pair, (1, 1), help="spacing between filter taps"),
            Arg("groups", positive_int, 1, help="split channels into independent groups"),
            Arg("bias", bias_spec, True, help="true, false, or literal values [b1, b2, ...]"),
            Arg(
                "weights",
                literal_weights,
                None,
                help="literal filter values, e.g. [[1,0,-1],[1,0,-1],[1,0,-1]]",
            ),
            Arg("trainable", boolean, True, help="false freezes the weights"),
        ),
        params=_conv_params,
        macs=_conv_macs,
    ),
    OpDef(
        "maxpool",
        "Max pooling: the largest value in each window. No parameters.",
        "maxpool 2x2 stride=2",
        _pool_shape("maxpool"),
        args=_POOL_ARGS,
    ),
    OpDef(
        "avgpool",
        "Average pooling: the mean of each window. No parameters.",
        "avgpool 2x2 stride=2",
        _pool_shape("avgpool"),
        args=(
            *_POOL_ARGS,
            Arg("count_pad", boolean, True, help="divide by the full window, padding included"),
        ),
    ),
    OpDef(
        "globalavgpool",
        "Average over the whole height and width: CxHxW -> Cx1x1.",
        "globalavgpool",
        _global_pool_shape("globalavgpool"),
    ),
    OpDef(
        "globalmaxpool",
        "Maximum over the whole height and width: CxHxW -> Cx1x1.",
        "globalmaxpool",
        _global_pool_shape("globalmaxpool"),
    ),
    OpDef(
        "adaptiveavgpool",
        "Average pooling to a fixed output size, whatever the input size (PyTorch's adaptive pooling).",
        "adaptiveavgpool 6x6",
        _adaptive_shape,
        args=(Arg("size", pair, positional=True, help="output height x width"),),
    ),
    OpDef(
        "batchnorm",
        "Batch normalisation per channel: learns a scale and shift; keeps running statistics as buffers.",
        "batchnorm",
        _same_shape,
        args=(
            Arg("eps", positive_real, 1e-5, help="added to the variance"),
            Arg("momentum", real, 0.1, help="running-statistics update rate"),
        ),
        params=_batchnorm_params,
        buffers=_batchnorm_buffers,
    ),
    OpDef(
        "lrn",
        "Local response normalisation across neighbouring channels (AlexNet, GoogLeNet).",
        "lrn 5 alpha=0.0001 beta=0.75",
        _image_same_shape("lrn"),
        args=(
            Arg("size", positive_int, 5, positional=True, help="number of neighbouring channels"),
            Arg("alpha", real, 1e-4, help="scale"),
            Arg("beta", real, 0.75, help="exponent"),
            Arg("k", real, 1.0, help="additive constant"),
        ),
    ),
    OpDef("relu", "Rectified linear unit: max(0, x).", "relu", _same_shape),
    OpDef(
        "leakyrelu",
        "Leaky ReLU: x for x > 0, slope * x otherwise.",
        "leakyrelu 0.1",
        _same_shape,
        args=(Arg("slope", real, 0.01, positional=True, help="negative slope"),),
    ),
    OpDef("tanh", "Hyperbolic tangent.", "tanh", _same_shape),
    OpDef(
        "sigmoid",
        "Logistic sigmoid, one independent probability per output (multi-label).",
        "sigmoid",
        _same_shape,
    ),
    OpDef("softmax", "Softmax over the channels: outputs are positive and sum to 1.", "softmax", _same_shape),
    OpDef(
        "dropout",
        "Dropout while training (zeroes a fraction p); the identity at inference.",
        "dropout 0.5",
        _same_shape,
        args=(Arg("p", probability, 0.5, positional=True, help="probability of dropping"),),
    ),
    OpDef("flatten", "Unfold CxHxW into a vector of C*H*W features.", "flatten", _flatten_shape),
    OpDef(
        "fc",
        "Fully connected (linear) layer on a flat input.",
        "fc 120",
        _fc_shape,
        args=(
            Arg("out_features", positive_int, positional=True, help="number of outputs"),
            Arg("bias", boolean, True, help="learn a bias per output"),
        ),
        params=_fc_params,
        macs=_fc_macs,
        aliases=("linear",),
    ),
    OpDef(
        "add",
        "Element-wise sum of a residual branch and its shortcut (from `residual`).",
        "residual { conv 64 3x3 pad=1 }",
        _add_shape,
        structural=True,
    ),
    OpDef(
        "concat",
        "Concatenation along channels of the branches of a `concat` block.",
        "concat { branch { conv 64 1x1 } branch { } }",
        _concat_shape,
        structural=True,
    ),
):
    _register(_op)

LAYER_KINDS = sorted(name for name, op in OPS.items() if not op.structural and name != "input")


def lookup(kind: str) -> OpDef | None:
    """The op for a layer name or alias."""
    return OPS.get(kind)

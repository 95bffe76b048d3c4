"""The op table: each layer kind's arguments, shape rule, and parameter, buffer and MAC formulas.

Parser, elaborator, passes, summary, docs and backends all read this table; none re-derives
a formula. Shape rules may resolve derived attributes (the concrete `pads`) into `attrs`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .arguments import (
    MAX_SIZE,
    ArgumentProblem,
    bias_spec,
    boolean,
    choice,
    image_shape,
    literal_weights,
    non_negative_int,
    non_negative_pair,
    optional_pair,
    optional_scale,
    padding,
    pair,
    positive_int,
    positive_real,
    probability,
    real,
)
from .expressions import describe_integer, describe_value
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


# ----- activations, normalisations and training-only ops of modern CNNs ----------------------
def _gelu_approximation(value: Any) -> str:
    if isinstance(value, str) and value in ("none", "tanh"):
        return str(value)
    raise ArgumentProblem(f"expected none or tanh, found {describe_value(value)}")


def _prelu_params(inputs, output, attrs):
    return 1 if attrs["shared"] else inputs[0][0]


def _affine_params(inputs, output, attrs):
    return 2 * inputs[0][0] if attrs["affine"] else 0


def _layerscale_params(inputs, output, attrs):
    return inputs[0][0]


def _groupnorm_shape(inputs, attrs):
    channels, groups = inputs[0][0], attrs["groups"]
    if channels % groups:
        raise ShapeProblem(f"groups={groups} must divide the {channels} channels", "groups")
    return inputs[0]


def _instancenorm_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "instancenorm")
    if h * w == 1:  # PyTorch refuses it too: the variance of one value is always 0
        raise ShapeProblem(
            f"instancenorm needs more than one pixel per channel, but gets {_dims(inputs[0])}"
        )
    return inputs[0]
def _broadcast_shape(inputs, attrs):
    first, other = inputs
    mismatch = ShapeProblem(
        f"cannot multiply {_dims(first)} by {_dims(other)}: each size must be equal or 1 "
        "(a Cx1x1 gate scales each channel of CxHxW)"
    )
    if len(first) != len(other):
        raise mismatch
    if any(a != b and 1 not in (a, b) for a, b in zip(first, other)):
        raise mismatch
    return tuple(max(a, b) for a, b in zip(first, other))


def _chunk_shape(inputs, attrs):
    channels, groups, index = inputs[0][0], attrs["groups"], attrs["index"]
    if channels % groups:
        message = f"chunk {groups} needs channels divisible by {groups}, but the input has {channels}"
        raise ShapeProblem(message, "groups")
    if index >= groups:
        message = f"index={index} is past the last of the {groups} groups (index counts from 0)"
        raise ShapeProblem(message, "index")
    return (channels // groups, *inputs[0][1:])


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
    OpDef("relu6", "ReLU capped at 6: min(max(0, x), 6) (MobileNetV2).", "relu6", _same_shape),
    OpDef(
        "hardswish",
        "Hard swish: x * relu6(x + 3) / 6 (MobileNetV3).",
        "hardswish",
        _same_shape,
    ),
    OpDef(
        "hardsigmoid",
        "Hard sigmoid: relu6(x + 3) / 6, PyTorch's definition (MobileNetV3's squeeze-and-excitation gate).",
        "hardsigmoid",
        _same_shape,
    ),
    OpDef(
        "silu",
        "Sigmoid-weighted linear unit (swish): x * sigmoid(x) (EfficientNet).",
        "silu",
        _same_shape,
        aliases=("swish",),
    ),
    OpDef(
        "gelu",
        "Gaussian error linear unit: x * Phi(x), exact or with the tanh approximation (ConvNeXt).",
        "gelu approximate=tanh",
        _same_shape,
        args=(
            Arg(
                "approximate",
                _gelu_approximation,
                "none",
                help="none: the exact erf form; tanh: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))",
            ),
        ),
    ),
    OpDef("mish", "Mish: x * tanh(softplus(x)).", "mish", _same_shape),
    OpDef(
        "elu",
        "Exponential linear unit: x for x > 0, alpha * (e^x - 1) otherwise.",
        "elu 1.0",
        _same_shape,
        args=(Arg("alpha", real, 1.0, positional=True, help="the limit for large negative x is -alpha"),),
    ),
    OpDef(
        "prelu",
        "Parametric ReLU: x for x > 0, a learned slope times x otherwise; one slope per channel "
        "(PyTorch's nn.PReLU(num_parameters=C)) or one shared slope.",
        "prelu",
        _same_shape,
        args=(
            Arg("shared", boolean, False, help="one slope for all channels instead of one per channel"),
            Arg("init", real, 0.25, help="the slopes' initial value"),
        ),
        params=_prelu_params,
        notes=("Parameters: one per channel (per feature on a flat input), or 1 when shared.",),
    ),
    OpDef(
        "layernorm",
        "Layer normalisation over the channels: each pixel's C values (ConvNeXt's LayerNorm2d), or "
        "the features of a flat input, normalised to mean 0 and variance 1, then scaled and shifted.",
        "layernorm eps=1e-6",
        _same_shape,
        args=(
            Arg("eps", positive_real, 1e-5, help="added to the variance"),
            Arg("affine", boolean, True, help="learn a scale and shift per channel"),
        ),
        params=_affine_params,
        notes=(
            "Parameters: 2 per channel (scale and shift) with affine=true. MACs: 0, as for every "
            "normalisation (MACs count the multiply-adds of conv and fc weights).",
        ),
    ),
    OpDef(
        "groupnorm",
        "Group normalisation: the channels split into groups, each group's values (with height and "
        "width) normalised together, then a learned scale and shift per channel.",
        "groupnorm 3",
        _groupnorm_shape,
        args=(
            Arg("groups", positive_int, positional=True, help="number of groups; must divide the channels"),
            Arg("eps", positive_real, 1e-5, help="added to the variance"),
            Arg("affine", boolean, True, help="learn a scale and shift per channel"),
        ),
        params=_affine_params,
        notes=("Parameters: 2 per channel with affine=true. MACs: 0.",),
    ),
    OpDef(
        "instancenorm",
        "Instance normalisation: each channel of each example normalised over its height and width "
        "(PyTorch's InstanceNorm2d, no running statistics).",
        "instancenorm",
        _instancenorm_shape,
        args=(
            Arg("eps", positive_real, 1e-5, help="added to the variance"),
            Arg("affine", boolean, False, help="learn a scale and shift per channel (PyTorch's default: no)"),
        ),
        params=_affine_params,
        notes=(
            "Parameters: 2 per channel with affine=true, else none; no buffers (statistics come from "
            "each input, in training and at inference alike). MACs: 0.",
        ),
    ),
    OpDef(
        "layerscale",
        "A learned scale per channel (ConvNeXt's layer scale), starting at a small value.",
        "layerscale 1e-6",
        _image_same_shape("layerscale"),
        args=(Arg("init", real, 1e-6, positional=True, help="the scales' initial value"),),
        params=_layerscale_params,
        aliases=("scale",),
        notes=("Parameters: one per channel. MACs: 0 (a scale, not a weighted sum).",),
    ),
    OpDef(
        "droppath",
        "Stochastic depth: while training, drops each example's whole value with probability p and "
        "scales the kept ones by 1/(1-p) (torchvision's StochasticDepth, mode row); the identity at "
        "inference. In a residual branch: `residual { ...; droppath 0.1 }`.",
        "droppath 0.1",
        _same_shape,
        args=(Arg("p", probability, positional=True, help="probability of dropping an example"),),
    ),
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
    OpDef(
        "mul",
        "Element-wise product of the input and what a `gate` body computes from it; a size of 1 "
        "is broadcast (a Cx1x1 gate scales each channel). No parameters, and 0 MACs: it multiplies "
        "no weights.",
        "gate { globalavgpool; conv 16 1x1; relu; conv in_channels 1x1; sigmoid }",
        _broadcast_shape,
        structural=True,
    ),
    OpDef(
        "chunk",
        "Split the channels into equal groups and keep one (ShuffleNetV2's channel split). No parameters.",
        "chunk 3 index=1",
        _chunk_shape,
        args=(
            Arg("groups", positive_int, positional=True, help="equal groups; must divide the channels"),
            Arg("index", non_negative_int, 0, positional=True, help="which group to keep, counting from 0"),
        ),
    ),
):
    _register(_op)

# ----- resampling and channel ops (upsample, convtranspose, pixelshuffle, channelshuffle) ------
def _scaled_size(size: int, factor: int | float, axis: str) -> int:
    """size * factor, exactly: a factor written as 1.5 means 3/2, and the result must be whole."""
    exact = size * Fraction(repr(factor) if isinstance(factor, float) else factor)
    if exact.denominator != 1:
        raise ShapeProblem(
            f"upsample by {factor} gives a fractional {axis}: {size} x {factor} = {float(exact):g}; "
            "choose a scale that gives whole sizes, or give size=HxW",
            "scale",
        )
    return int(exact)


def _upsample_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "upsample")
    scale, size = attrs["scale"], attrs["size"]
    if scale is None and size is None:
        raise ShapeProblem("upsample needs a scale (`upsample 2`) or a size (`size=56x56`)")
    if scale is not None and size is not None:
        raise ShapeProblem("upsample takes a scale or a size, not both", "size")
    if attrs["align_corners"] and attrs["mode"] != "bilinear":
        raise ShapeProblem("align_corners=true needs mode=bilinear", "align_corners")
    if size is not None:
        return (channels, *size)
    out_h = _scaled_size(h, scale[0], "height")
    out_w = _scaled_size(w, scale[1], "width")
    if min(out_h, out_w) < 1:
        raise ShapeProblem(f"upsample by {_dims(scale)} leaves no output ({out_h}x{out_w})", "scale")
    return (channels, out_h, out_w)


def _transposed_size(n: int, f: int, s: int, p: int, d: int, extra: int) -> int:
    return (n - 1) * s - 2 * p + d * (f - 1) + extra + 1


def _convtranspose_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "convtranspose")
    groups, out = attrs["groups"], attrs["out_channels"]
    if channels % groups:
        raise ShapeProblem(f"groups={groups} must divide the {channels} input channels", "groups")
    if out % groups:
        raise ShapeProblem(f"groups={groups} must divide the {out} output channels", "groups")
    sizes = []
    for axis, n, index in (("height", h, 0), ("width", w, 1)):
        f, s, p, d = (attrs[name][index] for name in ("kernel", "stride", "pad", "dilation"))
        extra = attrs["output_padding"][index]
        # PyTorch's rule: output_padding only picks among the sizes a strided input could have had.
        if extra >= max(s, d):
            raise ShapeProblem(
                f"output_padding {extra} (along the {axis}) must be smaller than the stride ({s}) "
                f"or the dilation ({d})",
                "output_padding",
            )
        size = _transposed_size(n, f, s, p, d, extra)
        if size < 1:
            raise ShapeProblem(
                f"the padding leaves no output: output {axis} = ({n} - 1)*{s} - 2*{p} + {d}*({f} - 1) "
                f"+ {extra} + 1 = {size}",
                "pad",
            )
        sizes.append(size)
    return (out, *sizes)


def _convtranspose_params(inputs, output, attrs):
    kh, kw = attrs["kernel"]
    weights = inputs[0][0] * (attrs["out_channels"] // attrs["groups"]) * kh * kw
    return weights + (attrs["out_channels"] if attrs["bias"] else 0)


def _convtranspose_macs(inputs, output, attrs):
    channels, h, w = inputs[0]
    kh, kw = attrs["kernel"]
    return channels * (attrs["out_channels"] // attrs["groups"]) * kh * kw * h * w


def _pixelshuffle_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "pixelshuffle")
    r = attrs["factor"]
    if channels % (r * r):
        raise ShapeProblem(
            f"pixelshuffle {r} needs channels divisible by {r}^2 = {r * r}, but the input has {channels}",
            "factor",
        )
    return (channels // (r * r), h * r, w * r)


def _channelshuffle_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "channelshuffle")
    if channels % attrs["groups"]:
        raise ShapeProblem(f"groups={attrs['groups']} must divide the {channels} input channels", "groups")
    return (channels, h, w)


for _op in (
    OpDef(
        "upsample",
        "Upsampling by a scale or to a size, by nearest neighbour or bilinear interpolation "
        "(PyTorch's nn.Upsample). No parameters; counts 0 MACs (no weights).",
        "upsample 2 mode=bilinear",
        _upsample_shape,
        args=(
            Arg("scale", optional_scale, None, positional=True, help="factor: 2, 1.5, 2x3 or (2, 1.5)"),
            Arg("size", optional_pair, None, help="output height x width instead of a scale: 56x56"),
            Arg("mode", choice("nearest", "bilinear"), "nearest", help="nearest or bilinear"),
            Arg(
                "align_corners",
                boolean,
                False,
                help="bilinear only: corner pixels of input and output line up",
            ),
        ),
        notes=(
            "Exactly one of `scale` and `size`. The output is H x scale by W x scale, computed "
            "exactly (1.5 means 3/2); a scale that gives a fractional size is an error.",
        ),
    ),
    OpDef(
        "convtranspose",
        "Transposed convolution (PyTorch's nn.ConvTranspose2d), the gradient of a conv: "
        "output (n-1)*stride - 2*pad + dilation*(kernel-1) + output_padding + 1.",
        "convtranspose 16 2x2 stride=2",
        _convtranspose_shape,
        args=(
            Arg("out_channels", positive_int, positional=True, help="number of output channels"),
            Arg("kernel", pair, positional=True, help="filter size: 2, 2x2 or (2, 3)"),
            Arg("stride", pair, (1, 1), help="step between input pixels in the output"),
            Arg("pad", non_negative_pair, (0, 0), help="N or (h, w): rows and columns cut from each side"),
            Arg(
                "output_padding",
                non_negative_pair,
                (0, 0),
                help="extra rows and columns at the bottom/right",
            ),
            Arg("dilation", pair, (1, 1), help="spacing between filter taps"),
            Arg("groups", positive_int, 1, help="split channels into independent groups"),
            Arg("bias", boolean, True, help="learn a bias per output channel"),
        ),
        params=_convtranspose_params,
        macs=_convtranspose_macs,
        aliases=("deconv",),
        notes=(
            "Parameters: in_c x (out_c/groups) x kh x kw weights plus out_c biases. MACs: one "
            "multiply-add per weight and input pixel, in_c x (out_c/groups) x kh x kw x in_h x in_w.",
            "`output_padding` must be smaller than the stride or the dilation, as PyTorch requires.",
        ),
    ),
    OpDef(
        "pixelshuffle",
        "Pixel shuffle (sub-pixel convolution's rearrangement): C*r^2 x H x W -> C x rH x rW. "
        "No parameters, 0 MACs.",
        "conv 12 3x3 pad=1\npixelshuffle 2",  # the second line is the example proper
        _pixelshuffle_shape,
        args=(Arg("factor", positive_int, positional=True, help="upscale factor r"),),
    ),
    OpDef(
        "channelshuffle",
        "Channel shuffle (ShuffleNet): channels seen as groups x C/groups are transposed, so the "
        "next grouped conv mixes groups. No parameters, 0 MACs.",
        "conv 12 1x1\nchannelshuffle 3",
        _channelshuffle_shape,
        args=(Arg("groups", positive_int, positional=True, help="number of groups; must divide C"),),
    ),
):
    _register(_op)


# ----- taking sizes from other values (`crop like=enc4`) ---------------------------------------
def _crop_shape(inputs, attrs):
    channels, h, w = require_image(inputs[0], "crop")
    out_h, out_w = attrs["size"]
    if out_h > h or out_w > w:
        raise ShapeProblem(
            f"crop to {out_h}x{out_w} is larger than its input {_dims((channels, h, w))}", "size"
        )
    # The centre, rounding the offset down when the margin is odd (as the U-Net implementations do).
    attrs["offset"] = ((h - out_h) // 2, (w - out_w) // 2)
    return (channels, out_h, out_w)


_register(
    OpDef(
        "crop",
        "Centre crop to a height x width, or to another value's with like=NAME (U-Net).",
        "crop 28x28",
        _crop_shape,
        args=(Arg("size", pair, positional=True, help="height x width; like=NAME takes that value's"),),
        notes=(
            "`like=NAME` works with every layer that has a `size` argument: it sets `size` to the "
            "height and width of the named value, resolved when the network is checked.",
            "When the margin is odd, the extra row or column is cropped from the bottom or right.",
        ),
    )
)

def takes_size(op: OpDef) -> bool:
    """Whether `op` has a height x width `size` argument, which `like=NAME` can set."""
    arg = op.arg("size")
    try:
        return arg is not None and arg.convert((2, 3)) == (2, 3)
    except (ArgumentProblem, TypeError, ValueError):
        return False


LAYER_KINDS = sorted(name for name, op in OPS.items() if not op.structural and name != "input")


def lookup(kind: str) -> OpDef | None:
    """The op for a layer name or alias."""
    return OPS.get(kind)

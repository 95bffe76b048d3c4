"""Lowering one IR op: its torch.nn constructor, literal values, and its statements in `forward`.

Every op reads its arguments from the IR's normalised `attrs` (see docs/ir.md) and maps them
onto PyTorch's own layer with PyTorch's defaults left out, as a person would write it.
Padding PyTorch's layers cannot express (TensorFlow-style `same` with more after than before)
is made explicit with `nn.functional.pad` in `forward`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnndsl.geometry import window_output_size

from .pyformat import Array, Call, Expr, Keyword, Num, Raw, Seq

NEG_INF = Raw('float("-inf")')


@dataclass
class Node:
    """What lowering needs to know about one node."""

    node_id: str
    op: str
    attrs: dict[str, Any]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    inplace: bool = False


@dataclass
class Statement:
    """`target op value` (`x = self.conv1(x)`, `y += x`), or a bare call when target is ""."""

    target: str
    value: Expr
    operator: str = "="


@dataclass
class Construction:
    """A node's submodule: its constructor, then statements on it (literal weights, freezing)."""

    module: Call | None
    setup: list[tuple[str, Expr]] = field(default_factory=list)  # (attribute suffix or "", value)
    constants: list[tuple[str, Expr]] = field(default_factory=list)  # module-level literals


def pair(value: tuple[int, int]) -> Expr:
    """PyTorch accepts one number for a square size; write it that way when it is one."""
    return Num(value[0]) if value[0] == value[1] else Seq((Num(value[0]), Num(value[1])), "()")


def symmetric(pads: tuple[int, int, int, int]) -> bool:
    top, bottom, left, right = pads
    return top == bottom and left == right


def _padding_args(pads: tuple[int, int, int, int]) -> list[Keyword]:
    """`padding=` for a PyTorch layer, when the padding is symmetric and not zero."""
    if not symmetric(pads) or not any(pads):
        return []
    return [Keyword("padding", pair((pads[0], pads[2])))]


# ----- constructors ------------------------------------------------------------------------
def _conv(node: Node, constant) -> Construction:
    a = node.attrs
    args: list[Expr | Keyword] = [Num(node.input_shape[0]), Num(a["out_channels"])]
    args.append(Keyword("kernel_size", pair(a["kernel"])))
    if a["stride"] != (1, 1):
        args.append(Keyword("stride", pair(a["stride"])))
    args.extend(_padding_args(a["pads"]))
    if a["dilation"] != (1, 1):
        args.append(Keyword("dilation", pair(a["dilation"])))
    if a["groups"] != 1:
        args.append(Keyword("groups", Num(a["groups"])))
    if a["bias"] is False:
        args.append(Keyword("bias", Raw("False")))
    built = Construction(Call("nn.Conv2d", tuple(args)))
    literals = []
    if a["weights"] is not None:
        literals.append(("weight", Array(a["weights"].values, a["weights"].shape)))
    if isinstance(a["bias"], tuple):
        literals.append(("bias", Array(a["bias"], (len(a["bias"]),))))
    for what, value in literals:
        name = constant(what)
        built.constants.append((name, value))
        built.setup.append((f".{what}", Call("nn.Parameter", (Call("torch.tensor", (Raw(name),)),))))
    if not a["trainable"]:
        built.setup.append(("", Call(".requires_grad_", (Raw("False"),))))
    return built


def _pool(node: Node, kind: str) -> Construction:
    a = node.attrs
    args: list[Expr | Keyword] = [Keyword("kernel_size", pair(a["kernel"]))]
    if a["stride"] != a["kernel"]:
        args.append(Keyword("stride", pair(a["stride"])))
    args.extend(_padding_args(a["pads"]))
    if a["ceil"]:
        args.append(Keyword("ceil_mode", Raw("True")))
    # With explicit padding the division by the true window size happens in forward instead.
    if kind == "AvgPool2d" and not a["count_pad"] and symmetric(a["pads"]) and any(a["pads"]):
        args.append(Keyword("count_include_pad", Raw("False")))
    return Construction(Call(f"nn.{kind}", tuple(args)))


def _batchnorm(node: Node) -> Construction:
    a = node.attrs
    kind = "nn.BatchNorm2d" if len(node.input_shape) == 3 else "nn.BatchNorm1d"
    args: list[Expr | Keyword] = [Num(node.input_shape[0])]
    if a["eps"] != 1e-5:
        args.append(Keyword("eps", Num(a["eps"])))
    if a["momentum"] != 0.1:
        args.append(Keyword("momentum", Num(a["momentum"])))
    return Construction(Call(kind, tuple(args)))


def _lrn(node: Node) -> Construction:
    a = node.attrs
    args: list[Expr | Keyword] = [Num(a["size"])]
    for name, default in (("alpha", 1e-4), ("beta", 0.75), ("k", 1.0)):
        if a[name] != default:
            args.append(Keyword(name, Num(a[name])))
    return Construction(Call("nn.LocalResponseNorm", tuple(args)))


def _simple(node: Node) -> Call | None:
    a, op = node.attrs, node.op
    if op == "relu":
        return Call("nn.ReLU", (Keyword("inplace", Raw("True")),) if node.inplace else ())
    if op == "leakyrelu":
        return Call("nn.LeakyReLU", (Num(a["slope"]),) if a["slope"] != 0.01 else ())
    if op == "adaptiveavgpool":
        return Call("nn.AdaptiveAvgPool2d", (pair(a["size"]),))
    if op == "dropout":
        return Call("nn.Dropout", (Keyword("p", Num(a["p"])),))
    if op == "fc":
        bias = () if a["bias"] else (Keyword("bias", Raw("False")),)
        return Call("nn.Linear", (Num(node.input_shape[0]), Num(a["out_features"]), *bias))
    fixed = {
        "globalavgpool": Call("nn.AdaptiveAvgPool2d", (Num(1),)),
        "globalmaxpool": Call("nn.AdaptiveMaxPool2d", (Num(1),)),
        "tanh": Call("nn.Tanh"),
        "sigmoid": Call("nn.Sigmoid"),
        "softmax": Call("nn.Softmax", (Keyword("dim", Raw("1")),)),
        "flatten": Call("nn.Flatten"),
    }
    return fixed.get(op)  # None for input, add and concat: they have no submodule


# ----- activations, normalisations and drop path of modern CNNs -----------------------------
_PARAMETER_FREE = {
    "relu6": "nn.ReLU6",
    "hardswish": "nn.Hardswish",
    "hardsigmoid": "nn.Hardsigmoid",
    "silu": "nn.SiLU",
    "mish": "nn.Mish",
}


def _eps(a: dict[str, Any]) -> list[Keyword]:
    return [Keyword("eps", Num(a["eps"]))] if a["eps"] != 1e-5 else []


def _modern(node: Node) -> Call | None:
    """torch.nn's own module where there is one; LayerNorm2d, LayerScale and DropPath (helpers.py)."""
    a, op, channels = node.attrs, node.op, node.input_shape[0]
    if op in _PARAMETER_FREE:
        return Call(_PARAMETER_FREE[op], (Keyword("inplace", Raw("True")),) if node.inplace else ())
    if op == "gelu":
        return Call("nn.GELU", (Keyword("approximate", Raw('"tanh"')),) if a["approximate"] == "tanh" else ())
    if op == "elu":
        return Call("nn.ELU", (Keyword("alpha", Num(a["alpha"])),) if a["alpha"] != 1.0 else ())
    if op == "prelu":
        args: list[Expr | Keyword] = [] if a["shared"] else [Keyword("num_parameters", Num(channels))]
        if a["init"] != 0.25:
            args.append(Keyword("init", Num(a["init"])))
        return Call("nn.PReLU", tuple(args))
    affine = [] if a.get("affine", True) else [Keyword("elementwise_affine", Raw("False"))]
    if op == "layernorm":
        kind = "LayerNorm2d" if len(node.input_shape) == 3 else "nn.LayerNorm"
        return Call(kind, (Num(channels), *_eps(a), *affine))
    if op == "groupnorm":
        affine = [] if a["affine"] else [Keyword("affine", Raw("False"))]
        return Call("nn.GroupNorm", (Num(a["groups"]), Num(channels), *_eps(a), *affine))
    if op == "instancenorm":
        affine = [Keyword("affine", Raw("True"))] if a["affine"] else []
        return Call("nn.InstanceNorm2d", (Num(channels), *_eps(a), *affine))
    if op == "layerscale":
        return Call("LayerScale", (Num(channels), Num(a["init"])))
    if op == "droppath":
        return Call("DropPath", (Num(a["p"]),))
    return None
# ----- resampling and channel ops ----------------------------------------------------------
RESAMPLING_OPS = frozenset({"upsample", "convtranspose", "pixelshuffle", "channelshuffle"})


def integer_scale(node: Node) -> bool:
    """Whether an upsample is written with scale_factor: whole scales map coordinates exactly.

    A fractional scale (1.5) is given to PyTorch as the output size it produces instead, so
    coordinates map by in/out, the same ratio the IR's exact output size was computed with.
    """
    scale = node.attrs["scale"]
    return scale is not None and all(isinstance(factor, int) for factor in scale)


def _upsample(node: Node) -> Call:
    a = node.attrs
    if integer_scale(node):
        args: list[Expr | Keyword] = [Keyword("scale_factor", pair(a["scale"]))]
    else:
        args = [Keyword("size", pair(node.output_shape[1:]))]
    if a["mode"] != "nearest":
        args.append(Keyword("mode", Raw(f'"{a["mode"]}"')))
    if a["mode"] == "bilinear":  # PyTorch warns unless align_corners is given for bilinear
        args.append(Keyword("align_corners", Raw(str(a["align_corners"]))))
    return Call("nn.Upsample", tuple(args))


def _convtranspose(node: Node) -> Call:
    a = node.attrs
    args: list[Expr | Keyword] = [Num(node.input_shape[0]), Num(a["out_channels"])]
    args.append(Keyword("kernel_size", pair(a["kernel"])))
    for name, torch_name in (("stride", "stride"), ("pad", "padding"), ("output_padding", "output_padding")):
        if a[name] != ((1, 1) if name == "stride" else (0, 0)):
            args.append(Keyword(torch_name, pair(a[name])))
    if a["groups"] != 1:
        args.append(Keyword("groups", Num(a["groups"])))
    if not a["bias"]:
        args.append(Keyword("bias", Raw("False")))
    if a["dilation"] != (1, 1):
        args.append(Keyword("dilation", pair(a["dilation"])))
    return Call("nn.ConvTranspose2d", tuple(args))


def _resampling(node: Node) -> Construction:
    if node.op == "upsample":
        return Construction(_upsample(node))
    if node.op == "convtranspose":
        return Construction(_convtranspose(node))
    if node.op == "pixelshuffle":
        return Construction(Call("nn.PixelShuffle", (Num(node.attrs["factor"]),)))
    return Construction(Call("nn.ChannelShuffle", (Num(node.attrs["groups"]),)))


def construct(node: Node, constant) -> Construction:
    """The submodule for a node (None for add and concat, which are expressions in forward).

    `constant(what)` names a module-level constant for the node's literal `what`.
    """
    if node.op in RESAMPLING_OPS:
        return _resampling(node)
    if node.op == "conv":
        return _conv(node, constant)
    if node.op == "maxpool":
        return _pool(node, "MaxPool2d")
    if node.op == "avgpool":
        return _pool(node, "AvgPool2d")
    if node.op == "batchnorm":
        return _batchnorm(node)
    if node.op == "lrn":
        return _lrn(node)
    return Construction(_simple(node) or _modern(node))


# ----- forward -----------------------------------------------------------------------------
def _pad(operand: Expr, pads: tuple[int, int, int, int], value: Expr | None = None) -> Call:
    top, bottom, left, right = pads
    # nn.functional.pad takes the last dimension first: (left, right, top, bottom).
    amounts = Seq((Num(left), Num(right), Num(top), Num(bottom)), "()")
    return Call("nn.functional.pad", (operand, amounts) + ((Keyword("value", value),) if value else ()))


def _crop(node: Node, out: str) -> list[Statement]:
    """Drop a last window PyTorch keeps on an explicitly padded input but the IR does not.

    With ceil rounding, PyTorch discards a last window that starts in the right padding; once
    that padding is part of the input, it no longer can, so the extra row/column is cut here.
    """
    a = node.attrs
    top, bottom, left, right = a["pads"]
    _, height, width = node.input_shape
    got_h = window_output_size(height + top + bottom, a["kernel"][0], a["stride"][0], 0, 0, 1, a["ceil"])
    got_w = window_output_size(width + left + right, a["kernel"][1], a["stride"][1], 0, 0, 1, a["ceil"])
    want_h, want_w = node.output_shape[1:]
    if (got_h, got_w) == (want_h, want_w):
        return []
    index = f"{out}[:, :, :{want_h}]" if got_w == want_w else f"{out}[:, :, :{want_h}, :{want_w}]"
    return [Statement(out, Raw(index))]


def statements(node: Node, module: str, inputs: list[str], out: str) -> list[Statement]:
    """The node's lines in `forward`, reading `inputs` (variable names) into `out`."""
    op, a = node.op, node.attrs
    source = Raw(inputs[0])
    if op == "add":
        if node.inplace:  # `out` is inputs[0]: sum into the branch's fresh output, like torchvision
            return [Statement(out, Raw(other), "+=") for other in inputs[1:]]
        return [Statement(out, Raw(" + ".join(inputs)))]
    if op == "mul":  # a Cx1x1 gate broadcasts over CxHxW as in torchvision's SqueezeExcitation
        return [Statement(out, Raw(f"{inputs[0]} * {inputs[1]}"))]
    if op == "chunk":  # a view, as torch.chunk gives
        size = node.input_shape[0] // a["groups"]
        start = a["index"] * size
        return [Statement(out, Raw(f"{inputs[0]}[:, {start}:{start + size}]"))]
    if op == "crop":  # a view of the centre, as U-Net implementations slice it
        (top, left), (height, width) = a["offset"], a["size"]
        return [Statement(out, Raw(f"{inputs[0]}[:, :, {top}:{top + height}, {left}:{left + width}]"))]
    if op == "concat":
        return [
            Statement(out, Call("torch.cat", (Seq(tuple(Raw(v) for v in inputs)), Keyword("dim", Raw("1")))))
        ]
    explicit = op in ("conv", "maxpool", "avgpool") and not symmetric(a["pads"])
    if not explicit:
        return [Statement(out, Call(module, (source,)))]
    if op == "conv":
        return [Statement(out, _pad(source, a["pads"])), Statement(out, Call(module, (Raw(out),)))]
    if op == "maxpool":  # -inf padding never wins a max, as TensorFlow's `same` pooling does
        lines = [Statement(out, _pad(source, a["pads"], NEG_INF)), Statement(out, Call(module, (Raw(out),)))]
    elif a["count_pad"]:
        lines = [Statement(out, _pad(source, a["pads"])), Statement(out, Call(module, (Raw(out),)))]
    else:
        # Average over the real inputs only: the pooled sum of the padded input divided by the
        # pooled count of real positions (the same pooling of a padded all-ones plane).
        ones = Call("torch.ones_like", (Raw(f"{inputs[0]}[:1, :1]"),))
        total = Call(module, (_pad(source, a["pads"]),))
        count = Call(module, (_pad(ones, a["pads"]),))
        lines = [Statement(out, Call("torch.div", (total, count)))]
    return lines + _crop(node, out)

"""The NumPy backend against PyTorch as the oracle: every op, every conv algorithm, random networks.

`torch_reference` runs the IR with torch.nn.functional, op by op, using PyTorch's own padding,
ceil-mode and count_include_pad arguments wherever the padding is symmetric.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _symmetric(pads) -> bool:
    return pads[0] == pads[1] and pads[2] == pads[3]


def torch_reference(model: cnndsl.Model, state: dict, x: np.ndarray) -> np.ndarray:
    """The model's output computed with torch.nn.functional in float32, eval mode."""
    graph = model.graph
    tensors = {key: torch.from_numpy(np.array(value)) for key, value in state.items()}
    values = {}
    for node, data in graph.nodes(data=True):
        op, attrs = data["op"], data["attrs"]
        inputs = [values[source] for source in data["inputs"]]
        a = inputs[0] if inputs else None
        if op == "input":
            result = torch.from_numpy(x)
        elif op == "conv":
            top, bottom, left, right = attrs["pads"]
            result = F.conv2d(
                F.pad(a, (left, right, top, bottom)),
                tensors[f"{node}.weight"],
                tensors.get(f"{node}.bias"),
                attrs["stride"],
                0,
                attrs["dilation"],
                attrs["groups"],
            )
        elif op in ("maxpool", "avgpool"):
            pads = attrs["pads"]
            common = dict(kernel_size=attrs["kernel"], stride=attrs["stride"], ceil_mode=attrs["ceil"])
            padding = (pads[0], pads[2]) if _symmetric(pads) else (0, 0)
            if not _symmetric(pads):
                fill = float("-inf") if op == "maxpool" else 0.0
                a = F.pad(a, (pads[2], pads[3], pads[0], pads[1]), value=fill)
            if op == "maxpool":
                result = F.max_pool2d(a, padding=padding, **common)
            else:
                result = F.avg_pool2d(a, padding=padding, count_include_pad=attrs["count_pad"], **common)
        elif op == "globalavgpool":
            result = a.mean((2, 3), keepdim=True)
        elif op == "globalmaxpool":
            result = a.amax((2, 3), keepdim=True)
        elif op == "adaptiveavgpool":
            result = F.adaptive_avg_pool2d(a, attrs["size"])
        elif op == "batchnorm":
            result = F.batch_norm(
                a,
                tensors[f"{node}.running_mean"],
                tensors[f"{node}.running_var"],
                tensors[f"{node}.weight"],
                tensors[f"{node}.bias"],
                training=False,
                eps=attrs["eps"],
            )
        elif op == "lrn":
            result = F.local_response_norm(a, attrs["size"], attrs["alpha"], attrs["beta"], attrs["k"])
        elif op == "relu":
            result = F.relu(a)
        elif op == "leakyrelu":
            result = F.leaky_relu(a, attrs["slope"])
        elif op == "tanh":
            result = torch.tanh(a)
        elif op == "sigmoid":
            result = torch.sigmoid(a)
        elif op == "softmax":
            result = F.softmax(a, dim=1)
        elif op in ("dropout", "droppath"):
            result = a
        elif op in MODERN_REFERENCE:
            result = MODERN_REFERENCE[op](a, attrs, lambda name, n=node: tensors.get(f"{n}.{name}"))
        elif op == "flatten":
            result = torch.flatten(a, 1)
        elif op == "fc":
            result = F.linear(a, tensors[f"{node}.weight"], tensors.get(f"{node}.bias"))
        elif op == "add":
            result = sum(inputs[1:], inputs[0])
        elif op == "concat":
            result = torch.cat(inputs, dim=1)
        elif op in RESAMPLING_REFERENCES:
            result = RESAMPLING_REFERENCES[op](a, attrs, tensors, node, data["shape"])
        elif op == "mul":
            result = inputs[0] * inputs[1]
        elif op == "chunk":
            result = torch.chunk(a, attrs["groups"], dim=1)[attrs["index"]]
        else:
            raise AssertionError(f"no reference for op {op}")
        values[node] = result
    return values[graph.graph["outputs"][0]].numpy()


def _layer_norm(a, attrs, tensor):
    channels_last = a.permute(0, 2, 3, 1) if a.dim() == 4 else a
    result = F.layer_norm(channels_last, (a.shape[1],), tensor("weight"), tensor("bias"), attrs["eps"])
    return result.permute(0, 3, 1, 2) if a.dim() == 4 else result


MODERN_REFERENCE = {
    "relu6": lambda a, attrs, tensor: F.relu6(a),
    "hardswish": lambda a, attrs, tensor: F.hardswish(a),
    "hardsigmoid": lambda a, attrs, tensor: F.hardsigmoid(a),
    "silu": lambda a, attrs, tensor: F.silu(a),
    "gelu": lambda a, attrs, tensor: F.gelu(a, approximate=attrs["approximate"]),
    "mish": lambda a, attrs, tensor: F.mish(a),
    "elu": lambda a, attrs, tensor: F.elu(a, attrs["alpha"]),
    "prelu": lambda a, attrs, tensor: F.prelu(a, tensor("weight")),
    "layernorm": _layer_norm,
    "groupnorm": lambda a, attrs, tensor: F.group_norm(
        a, attrs["groups"], tensor("weight"), tensor("bias"), attrs["eps"]
    ),
    "instancenorm": lambda a, attrs, tensor: F.instance_norm(
        a, weight=tensor("weight"), bias=tensor("bias"), eps=attrs["eps"]
    ),
    "layerscale": lambda a, attrs, tensor: a * tensor("weight"),
}


def _upsample_reference(a, attrs, tensors, node, shape):
    scale = attrs["scale"]
    align = attrs["align_corners"] if attrs["mode"] == "bilinear" else None
    if scale is not None and all(isinstance(factor, int) for factor in scale):
        return F.interpolate(a, scale_factor=scale, mode=attrs["mode"], align_corners=align)
    return F.interpolate(a, size=shape[1:], mode=attrs["mode"], align_corners=align)


def _convtranspose_reference(a, attrs, tensors, node, shape):
    weight, bias = tensors[f"{node}.weight"], tensors.get(f"{node}.bias")
    common = dict(groups=attrs["groups"], dilation=attrs["dilation"])
    return F.conv_transpose2d(
        a, weight, bias, attrs["stride"], attrs["pad"], attrs["output_padding"], **common
    )


def _channel_shuffle_reference(a, attrs, tensors, node, shape):
    """torchvision's ShuffleNetV2 channel_shuffle, written out."""
    n, c, h, w = a.shape
    groups = attrs["groups"]
    return a.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


RESAMPLING_REFERENCES = {
    "upsample": _upsample_reference,
    "convtranspose": _convtranspose_reference,
    "pixelshuffle": lambda a, attrs, *_: F.pixel_shuffle(a, attrs["factor"]),
    "channelshuffle": _channel_shuffle_reference,
}


def randomise_batchnorm(state: dict, rng: np.random.Generator) -> dict:
    """Statistics and affine parameters far from the identity, so folding them must be right."""
    state = dict(state)
    for key, value in state.items():
        if key.endswith((".running_mean", ".bias")) and value.ndim == 1:
            state[key] = rng.normal(0, 0.5, value.shape).astype(np.float32)
        elif key.endswith((".running_var",)):
            state[key] = rng.uniform(0.3, 2.0, value.shape).astype(np.float32)
        elif key.endswith(".weight") and value.ndim == 1:
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        elif key.endswith(".weight") and value.ndim == 3:  # layerscale's (C, 1, 1)
            state[key] = rng.uniform(-1.5, 1.5, value.shape).astype(np.float32)
    return state


def assert_matches(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4) -> None:
    """Equal within rtol relative to the output's largest magnitude (float32 sums reorder)."""
    assert actual.shape == expected.shape
    assert actual.dtype == np.float32
    scale = max(float(np.abs(expected).max()), 1e-30)
    error = float(np.abs(actual - expected).max()) / scale
    assert error <= rtol, f"max error {error:.2e} of the output scale {scale:.3g}"


def run_both(source: str, batch: int = 2, seed: int = 0, **options) -> tuple[np.ndarray, np.ndarray]:
    """(numpy output, torch output) for a network given as .cnn text, batchnorm randomised."""
    model = cnndsl.loads(source)
    rng = np.random.default_rng(seed)
    net = model.build("numpy", seed=seed, **options)
    state = randomise_batchnorm(net.state_dict(), rng)
    net.load_state_dict(state)
    x = rng.standard_normal((batch, *model.input_shape)).astype(np.float32)
    return net(x), torch_reference(model, state, x)


def network(*lines: str) -> str:
    return "network probe {\n" + "\n".join(f"    {line}" for line in lines) + "\n}\n"


OP_CASES = {
    "maxpool ceil, padded": ["input 3x9x10", "maxpool 3x3 stride=2 pad=1 ceil=true"],
    "maxpool asymmetric pad": ["input 2x8x7", "maxpool 3x2 stride=2 pad=(1, 0, 0, 1)"],
    "avgpool ceil counts pad": ["input 3x9x10", "avgpool 3x3 stride=2 pad=1 ceil=true"],
    "avgpool ceil excludes pad": ["input 3x9x10", "avgpool 3x3 stride=2 pad=1 ceil=true count_pad=false"],
    "avgpool 2x3 stride 1x2": ["input 2x7x9", "avgpool (2, 3) stride=(1, 2)"],
    "avgpool asymmetric pad": ["input 2x8x7", "avgpool 3x2 stride=2 pad=(1, 0, 0, 1) ceil=true"],
    "globalavgpool": ["input 5x7x6", "globalavgpool", "flatten"],
    "globalmaxpool": ["input 5x7x6", "globalmaxpool"],
    "adaptiveavgpool uneven bins": ["input 3x7x5", "adaptiveavgpool (3, 2)"],
    "adaptiveavgpool upsampling": ["input 3x2x3", "adaptiveavgpool 5x4"],
    "lrn odd window": ["input 7x4x5", "lrn 5 alpha=0.01 beta=0.75 k=2"],
    "lrn even window": ["input 7x4x5", "lrn 4 alpha=0.1 beta=0.5"],
    "activations": ["input 4x5x5", "leakyrelu 0.2", "tanh", "sigmoid"],
    "softmax over channels": ["input 6x3x3", "softmax"],
    "batchnorm after pool": ["input 4x8x8", "maxpool 2", "batchnorm eps=0.001", "relu"],
    "fc with batchnorm folded": ["input 3x4x4", "flatten", "fc 10; batchnorm; relu", "dropout 0.3", "fc 4"],
    "fc without bias": ["input 12", "fc 5 bias=false", "sigmoid"],
    "conv literal weights and bias": [
        "input 1x5x5",
        "conv 2 (1, 2) weights=[[[[1, -2]]], [[[0.5, 3]]]] bias=[0.25, -1]",
    ],
    "depthwise": ["input 6x9x8", "conv 6 3x3 pad=1 groups=6", "relu"],
    "grouped dilated strided": ["input 6x13x11", "conv 9 (3, 2) stride=(2, 1) dilation=(2, 3) groups=3"],
    "residual identity": ["input 8x6x6", "residual { conv 8 3x3 pad=1; batchnorm; relu; conv 8 3x3 pad=1 }"],
    "residual projection": [
        "input 4x7x7",
        "residual { conv 8 3x3 stride=2 pad=1; batchnorm } shortcut { conv 8 1x1 stride=2; batchnorm }",
        "relu",
    ],
    "concat": ["input 4x6x6", "concat { branch { conv 3 1x1 } branch { maxpool 3x3 stride=1 pad=1 } }"],
    "flat concat": ["input 12", "concat { branch { fc 3; relu } branch { fc 4 } }", "softmax"],
    "flat residual": ["input 12", "residual { fc 12; batchnorm; relu; fc 12 }", "sigmoid"],
    "batchnorm on a flat input": ["input 2x5x5", "flatten", "batchnorm", "fc 3"],
    "nothing but dropout": ["input 3x4x4", "dropout 0.5"],
    "relu6 hardswish hardsigmoid": ["input 4x5x5", "conv 4 3x3 pad=1", "relu6", "hardswish", "hardsigmoid"],
    "silu swish mish": ["input 4x5x5", "conv 4 3x3 pad=1", "silu", "conv 4 1x1", "swish", "mish"],
    "gelu exact and tanh": ["input 4x5x5", "conv 4 3x3 pad=1", "gelu", "conv 4 1x1", "gelu approximate=tanh"],
    "elu": ["input 4x5x5", "conv 4 3x3 pad=1", "elu", "conv 4 1x1", "elu 0.3"],
    "prelu per channel and shared": ["input 4x5x5", "prelu init=-0.5", "conv 6 1x1", "prelu shared=true"],
    "prelu on a flat input": ["input 4x3x3", "flatten", "prelu", "fc 5", "prelu shared=true"],
    "layernorm over channels": ["input 6x5x4", "conv 6 1x1", "layernorm eps=1e-6", "layernorm affine=false"],
    "layernorm on a flat input": ["input 3x2x2", "flatten", "fc 7", "layernorm"],
    "groupnorm": ["input 6x5x4", "conv 6 1x1", "groupnorm 3", "groupnorm 2 affine=false", "groupnorm 6"],
    "groupnorm on a flat input": ["input 12", "fc 8", "groupnorm 4 eps=0.01"],
    "instancenorm": ["input 6x5x4", "conv 6 1x1", "instancenorm", "instancenorm affine=true eps=0.1"],
    "layerscale and droppath": [
        "input 4x5x5",
        "residual { conv 4 3x3 pad=1; gelu; layerscale 0.5; droppath 0.2 }",
        "scale",
    ],
    "upsample nearest by 2": ["input 3x5x4", "upsample 2"],
    "upsample nearest by 3x2": ["input 3x5x4", "upsample 3x2"],
    "upsample nearest by 1.5": ["input 3x6x4", "upsample 1.5"],
    "upsample nearest to a size": ["input 3x5x4", "upsample size=(13, 7)"],
    "upsample nearest shrinking": ["input 3x9x8", "upsample size=(4, 5)"],
    "upsample bilinear by 2": ["input 3x5x4", "upsample 2 mode=bilinear"],
    "upsample bilinear aligned": ["input 3x5x4", "upsample (3, 2) mode=bilinear align_corners=true"],
    "upsample bilinear to a size": ["input 3x5x4", "upsample size=(11, 3) mode=bilinear"],
    "upsample bilinear aligned to a size": [
        "input 3x5x4",
        "upsample size=(11, 1) mode=bilinear align_corners=true",
    ],
    "convtranspose U-Net": ["input 8x5x5", "convtranspose 4 2x2 stride=2; relu"],
    "convtranspose padded": ["input 4x5x6", "deconv 6 3x3 stride=2 pad=1 output_padding=1"],
    "convtranspose grouped dilated": [
        "input 6x4x5",
        "convtranspose 9 (3, 2) stride=(2, 3) pad=(2, 1) output_padding=(1, 0) dilation=2 groups=3",
    ],
    "convtranspose output padding past the padding": [
        "input 2x3x3",
        "convtranspose 3 3 stride=3 output_padding=2 bias=false",
    ],
    "pixelshuffle": ["input 18x3x4", "pixelshuffle 3"],
    "channelshuffle": ["input 12x3x4", "conv 12 1x1", "channelshuffle 3"],
    "squeeze-and-excitation gate": [
        "input 8x5x6",
        "conv 8 3x3 pad=1; batchnorm",
        "gate { globalavgpool; conv 2 1x1; relu; conv in_channels 1x1; sigmoid }",
        "relu",
    ],
    "spatial gate": ["input 4x5x5", "gate { conv 1 3x3 pad=1; sigmoid }"],
    "flat gate": ["input 12", "gate { fc 12; sigmoid }", "fc 3"],
    "sum of three": [
        "input 4x6x6",
        "sum { branch { conv 4 3x3 pad=1 } branch { conv 4 1x1; batchnorm } branch { } }",
        "relu",
    ],
    "chunk and concat (ShuffleNetV2)": [
        "input 6x5x5",
        "concat { branch { chunk 2 index=0 } branch { chunk 2 index=1; conv 3 1x1; relu } }",
    ],
    "chunk of a flat input": ["input 12", "chunk 3 index=2", "fc 2"],
    # Activations fused into the step before: pointwise, depthwise, im2col, Winograd, fc, add, batchnorm.
    "fused activations": [
        "input 8x9x9",
        "conv 8 1x1 bias=false; batchnorm; relu6",
        "conv 8 3x3 pad=1 groups=8 bias=false; batchnorm; silu",
        "conv 8 3x3 stride=2 pad=1 groups=8; hardswish",
        "conv 16 3x3 pad=1; batchnorm; hardsigmoid",
        "residual { conv 16 1x1; batchnorm }",
        "silu",
        "maxpool 2",
        "batchnorm",
        "relu6",
        "flatten",
        "fc 5; sigmoid",
    ],
    "fused activations after a Winograd conv": ["input 96x14x14", "conv 96 3x3 pad=1; batchnorm; silu"],
    "depthwise strided and dilated": [
        "input 6x13x11",
        "conv 6 (3, 5) stride=(2, 3) pad=(2, 1) dilation=(2, 1) groups=6; relu6",
        "conv 6 5x5 stride=2 pad=2 groups=6 bias=false; batchnorm; silu",
    ],
    "inverted residual with squeeze-and-excitation": [
        "input 16x10x10",
        "residual { conv 64 1x1 bias=false; batchnorm; silu; conv 64 5x5 pad=2 groups=64 bias=false;"
        " batchnorm; silu; gate { globalavgpool; conv 4 1x1; silu; conv 64 1x1; sigmoid };"
        " conv 16 1x1 bias=false; batchnorm; droppath 0.2 }",
    ],
}


@pytest.mark.parametrize("lines", OP_CASES.values(), ids=OP_CASES.keys())
def test_every_op_matches_torch(lines):
    actual, expected = run_both(network(*lines))
    assert_matches(actual, expected)


@pytest.mark.parametrize("algorithm", ["im2col", "winograd", "auto"])
@pytest.mark.parametrize(
    "conv",
    [
        "conv 5 3x3 pad=1",  # odd 9x11 output: Winograd's partial last tiles
        "conv 5 3x3",
        "conv 5 3x3 pad=(2, 0, 1, 3)",
        "conv 4 3x3 pad=1 stride=2",  # not Winograd-shaped: every choice falls back to im2col
        "conv 6 1x1",
        "conv 6 1x1 stride=2 pad=1",
    ],
)
def test_every_conv_algorithm_matches_torch(conv, algorithm):
    actual, expected = run_both(network("input 3x9x11", f"{conv}; batchnorm; relu"), conv_algorithm=algorithm)
    assert_matches(actual, expected)


def test_winograd_and_pointwise_are_chosen_where_they_apply():
    layers = {
        "conv 128 3x3 pad=1": "conv 3x3 winograd",
        "conv 32 1x1": "conv 1x1 pointwise",
        "conv 32 3x3 pad=1": "conv 3x3 im2col",  # too few channels for Winograd to pay
        "conv 128 3x3 stride=2": "conv 3x3 im2col",  # strided
        "conv 128 3x3": "conv 3x3 im2col",  # a 5x5 output: mostly tile padding
    }
    source = network("input 128x16x16", *layers)
    assert list(cnndsl.loads(source).build("numpy").algorithms().values()) == list(layers.values())


def test_wide_conv_in_many_chunks_matches_torch():
    """Enough pixels that im2col and Winograd each split the image into several chunks."""
    source = network("input 16x80x70", "conv 96 3x3 pad=1; relu", "conv 96 3x3 pad=1 stride=2")
    for algorithm in ("im2col", "winograd"):
        actual, expected = run_both(source, batch=1, conv_algorithm=algorithm)
        assert_matches(actual, expected)


# ----- hypothesis: small random networks ------------------------------------------------------
MODERN_ACTIVATIONS = [
    *"relu6 hardswish hardsigmoid silu swish gelu mish elu".split(),
    "gelu approximate=tanh",
]


@st.composite
def modern_statements(draw, channels: int) -> str:
    """One of the activations, norms, layerscale or droppath, with random arguments."""
    divisors = [g for g in range(1, channels + 1) if channels % g == 0]
    affine = f"affine={str(draw(st.booleans())).lower()}"
    activation = draw(st.sampled_from(MODERN_ACTIVATIONS))
    eps = draw(st.sampled_from(["", " eps=1e-6", " eps=0.1"]))
    choices = [
        *MODERN_ACTIVATIONS,
        f"elu {draw(st.sampled_from([0.1, 1.0, 2.5]))}",
        f"prelu init={draw(st.floats(-1, 1, width=32)):.3f} shared={str(draw(st.booleans())).lower()}",
        f"layernorm {affine}{eps}",
        f"groupnorm {draw(st.sampled_from(divisors))} {affine}{eps}",
        f"instancenorm {affine}{eps}",
        f"layerscale {draw(st.sampled_from([1e-6, 0.5, -2.0]))}",
        f"residual {{ conv {channels} 3x3 pad=1; {activation}; scale; droppath 0.3 }}",
    ]
    return draw(st.sampled_from(choices))
LAYER_KINDS = [
    *["conv", "conv", "conv", "maxpool", "avgpool", "residual", "concat"],
    *["modern", "resampling", "gate", "sum", "chunk"],
]


@st.composite
def resampling_layers(draw, channels: int) -> str:
    """An upsample, transposed conv, pixel shuffle or channel shuffle that fits `channels`."""
    kind = draw(st.sampled_from(["upsample", "convtranspose", "pixelshuffle", "channelshuffle"]))
    divisors = [g for g in range(1, channels + 1) if channels % g == 0]
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        how = draw(st.sampled_from([" 2", " (1, 3)", " size=(5, 9)", " size=(3, 2)"]))
        align = " align_corners=true" if mode == "bilinear" and draw(st.booleans()) else ""
        return f"upsample{how} mode={mode}{align}"
    if kind == "convtranspose":
        groups = draw(st.sampled_from(divisors))
        stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        extra = draw(st.integers(0, max(stride, dilation) - 1))
        kernel, pad = draw(st.integers(1, 3)), draw(st.integers(0, 1))
        return (
            f"convtranspose {groups * draw(st.integers(1, 2))} {kernel} stride={stride} pad={pad} "
            f"output_padding={extra} dilation={dilation} groups={groups}"
        )
    if kind == "pixelshuffle":
        return "conv 8 1x1; pixelshuffle 2"
    return f"channelshuffle {draw(st.sampled_from(divisors))}"


@st.composite
def random_networks(draw) -> str:
    channels = draw(st.integers(1, 6))
    height, width = draw(st.integers(4, 12)), draw(st.integers(4, 12))
    lines = [f"input {channels}x{height}x{width}"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(LAYER_KINDS))
        kh, kw = draw(st.integers(1, min(3, height))), draw(st.integers(1, min(3, width)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        if kind == "conv":
            dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
            pad = draw(st.sampled_from(["same", "valid", "1", "(0, 1, 2, 0)"]))
            divisors = [g for g in range(1, channels + 1) if channels % g == 0]
            groups = draw(st.sampled_from(divisors))
            out = groups * draw(st.integers(1, 3))
            if draw(st.booleans()):  # Winograd's shape: 3x3, stride 1, dilation 1, no groups
                kh = kw = 3
                stride = dilation = (1, 1)
                groups, out = 1, draw(st.integers(1, 4))
            line = f"conv {out} ({kh}, {kw}) stride=({stride[0]}, {stride[1]}) pad={pad} groups={groups}"
            line += f" dilation=({dilation[0]}, {dilation[1]})"
            tail = draw(st.sampled_from(["", "; relu", "; batchnorm", "; batchnorm; relu"]))
            lines.append(line + tail)
        elif kind in ("maxpool", "avgpool"):
            pad = draw(st.integers(0, min(kh, kw) // 2))
            ceil = draw(st.booleans())
            line = f"{kind} ({kh}, {kw}) stride=({stride[0]}, {stride[1]}) pad={pad} ceil={str(ceil).lower()}"
            if kind == "avgpool":
                line += f" count_pad={str(draw(st.booleans())).lower()}"
            lines.append(line)
        elif kind == "residual":
            lines.append(f"residual {{ conv {channels} 3x3 pad=same; batchnorm; relu; conv {channels} 1x1 }}")
        elif kind == "modern":
            lines.append(draw(modern_statements(channels)))
        elif kind == "resampling":
            lines.append(draw(resampling_layers(channels)))
        elif kind == "gate":
            squeeze = draw(st.integers(1, 4))
            lines.append(f"gate {{ globalavgpool; conv {squeeze} 1x1; relu; conv in_channels 1x1; sigmoid }}")
        elif kind == "sum":
            conv = f"conv {channels} ({kh}, {kw}) pad=same"
            lines.append(f"sum {{ branch {{ {conv} }} branch {{ relu }} branch {{ }} }}")
        elif kind == "chunk":
            groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
            lines.append(f"chunk {groups} index={draw(st.integers(0, groups - 1))}")
        else:
            lines.append(f"concat {{ branch {{ conv 2 ({kh}, {kw}) pad=same }} branch {{ relu }} }}")
        try:
            model = cnndsl.loads(network(*lines))
        except cnndsl.CnnError:
            lines.pop()  # an unfitting window: leave it out and keep the network valid
            continue
        channels, height, width = model.output_shape
    lines.append(draw(st.sampled_from(["relu", "globalavgpool", "softmax", "flatten"])))
    return network(*lines)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks(), st.sampled_from(["auto", "im2col", "winograd"]), st.integers(0, 99))
def test_random_networks_match_torch(source, algorithm, seed):
    actual, expected = run_both(source, batch=2, seed=seed, conv_algorithm=algorithm)
    assert_matches(actual, expected)


@st.composite
def resampling_networks(draw) -> str:
    """Two or three resampling layers, with a conv or a ReLU between (the mixed generator above
    draws them too, but seldom)."""
    channels = draw(st.integers(1, 6))
    lines = [f"input {channels}x{draw(st.integers(2, 7))}x{draw(st.integers(2, 7))}"]
    for _ in range(draw(st.integers(2, 3))):
        lines.append(draw(resampling_layers(channels)))
        lines.append(draw(st.sampled_from(["relu", "conv 4 3x3 pad=1", "batchnorm"])))
        try:
            model = cnndsl.loads(network(*lines))
        except cnndsl.CnnError:
            del lines[-2:]
            continue
        channels = model.output_shape[0]
    return network(*lines)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(resampling_networks(), st.integers(0, 99))
def test_random_resampling_networks_match_torch(source, seed):
    actual, expected = run_both(source, batch=2, seed=seed)
    assert_matches(actual, expected)

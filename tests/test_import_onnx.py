"""`cnndsl import` of ONNX files: totals equal the source's, outputs equal onnxruntime's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torchvision_reference

import cnndsl
from cnndsl.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter keeps batchnorms
torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _export(model, shape: tuple[int, ...], path: Path) -> Path:
    # Without constant folding the exporter keeps batchnorms apart from the convolutions, so
    # the import has the same layers (and totals) as the model.
    torch.onnx.export(
        model.eval(), (torch.zeros(1, *shape),), str(path), dynamo=False, do_constant_folding=False
    )
    return path


def _import(onnx_path: Path) -> tuple[Path, Path]:
    out, weights = onnx_path.with_suffix(".cnn"), onnx_path.with_suffix(".safetensors")
    assert main(["import", str(onnx_path), "-o", str(out), "--weights", str(weights)]) == 0
    return out, weights


def _compare_outputs(
    onnx_path: Path, out: Path, weights: Path, shape: tuple[int, ...], relative: bool = False
) -> None:
    torch.manual_seed(1)
    x = torch.randn(1, *shape)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    # ResNet-101/152's random batchnorm statistics grow the logits to 1e4-1e6: `relative`
    # compares in units of the output's size (the absolute difference where that is below 1).
    tolerance = 1e-4 * (max(1.0, float(abs(expected).max())) if relative else 1.0)
    model = cnndsl.load(out)
    module = model.build("torch").eval()
    module.load_state_dict(
        {k: torch.from_numpy(v) for k, v in safetensors_numpy.load_file(str(weights)).items()}
    )
    with torch.no_grad():
        assert abs(module(x).numpy() - expected).max() < tolerance
    assert abs(model.build("numpy", weights=str(weights))(x.numpy()) - expected).max() < tolerance


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    reference = torchvision_reference.reference_model("resnet18")
    path = _export(reference, (3, 224, 224), tmp_path_factory.mktemp("onnx") / "resnet18.onnx")
    return path, *_import(path)


def test_resnet18_totals_equal_the_builtin(resnet18):
    _, out, _ = resnet18
    imported, builtin = cnndsl.load(out), cnndsl.load("resnet18")
    assert (imported.params, imported.buffers, imported.macs) == (
        builtin.params,
        builtin.buffers,
        builtin.macs,
    )
    assert imported.output_shape == builtin.output_shape
    text = out.read_text()
    assert "residual_block(64) * 2" in text  # structure alone recovers the repeated residual units
    assert main(["fmt", "--check", str(out)]) == 0


def test_resnet18_outputs_equal_onnxruntime(resnet18):
    path, out, weights = resnet18
    _compare_outputs(path, out, weights, (3, 224, 224))


SLOW = pytest.mark.slow
# The torchvision models that are also built-ins, exported at a small input (AlexNet and VGG at
# their own: the exporter only writes an adaptive pool whose output size divides its input's).
MODELS = [
    ("resnet18", (3, 64, 64)),
    pytest.param("resnet34", (3, 64, 64), marks=SLOW),
    pytest.param("resnet50", (3, 64, 64), marks=SLOW),
    pytest.param("resnet101", (3, 64, 64), marks=SLOW),
    pytest.param("resnet152", (3, 64, 64), marks=SLOW),
    pytest.param("resnext50_32x4d", (3, 64, 64), marks=SLOW),
    pytest.param("wide_resnet50_2", (3, 64, 64), marks=SLOW),
    pytest.param("vgg16", (3, 224, 224), marks=SLOW),
    pytest.param("vgg19", (3, 224, 224), marks=SLOW),
    pytest.param("alexnet", (3, 224, 224), marks=SLOW),
    pytest.param("squeezenet1_1", (3, 64, 64), marks=SLOW),
    pytest.param("densenet121", (3, 64, 64), marks=SLOW),
    pytest.param("mobilenet_v2", (3, 64, 64), marks=SLOW),
    pytest.param("mobilenet_v3_large", (3, 64, 64), marks=SLOW),
    ("mobilenet_v3_small", (3, 64, 64)),
    pytest.param("efficientnet_b0", (3, 64, 64), marks=SLOW),
    # The Inception-style model that always runs (about 10 s here): the exporter flattens
    # InceptionE's nested torch.cat into one six-input Concat, which the reader nests again.
    ("inception_v3", (3, 75, 75)),
    # Its Reshape -> Transpose -> Reshape is `channelshuffle 2`, its Slices `chunk 2 index=i`.
    pytest.param("shufflenet_v2_x1_0", (3, 64, 64), marks=SLOW),
    # Its Transposes to NHWC and back around LayerNorm and MatMul: `layernorm` and 1x1 convs.
    pytest.param("convnext_tiny", (3, 64, 64), marks=SLOW),
]
# What block recovery makes of each model's repeated units, from structure alone.
RECOVERED = {
    "inception_v3": ["concat_block_4() * 2"],
    "shufflenet_v2_x1_0": ["concat_block_2() * 7", "chunk 2 index=1", "channelshuffle 2"],
    "convnext_tiny": ["residual_block() * 9", "conv in_channels*4 1x1; gelu", "layerscale"],
}
# The built-in Inception-v3 also returns its auxiliary classifier's logits; torchvision's eval
# mode, which the exporter runs, does not compute them: the totals compared are the rest's.
AUXILIARY = {"inception_v3": "AuxLogits."}


def _totals(model, without: str = "") -> tuple[int, int, int]:
    left_out = [data for node, data in model.graph.nodes(data=True) if without and node.startswith(without)]
    return tuple(
        getattr(model, key) - sum(data[key] for data in left_out) for key in ("params", "buffers", "macs")
    )


@pytest.mark.parametrize("name, small", MODELS)
def test_torchvision_model_through_onnx_equals_onnxruntime(name, small, tmp_path):
    reference = torchvision_reference.reference_model(name)
    path = _export(reference, small, tmp_path / f"{name}.onnx")
    out, weights = _import(path)
    # The totals at the built-in's input: the same file with another input line.
    builtin = cnndsl.load(name)
    text = out.read_text()
    sizes = (" input " + "x".join(map(str, shape)) + "\n" for shape in (small, builtin.input_shape))
    model = cnndsl.loads(text.replace(*sizes, 1), f"{name}.cnn")
    assert _totals(model) == _totals(builtin, AUXILIARY.get(name, ""))
    assert model.output_shape == builtin.output_shape
    assert all(line in text for line in RECOVERED.get(name, ()))
    assert main(["fmt", "--check", str(out)]) == 0
    _compare_outputs(path, out, weights, small, relative=True)


class _SqueezeExcite(torch.nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc1 = torch.nn.Conv2d(channels, squeeze, 1)
        self.fc2 = torch.nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        scale = torch.nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(self.pool(x)))))
        return x * scale


class _Inverted(torch.nn.Module):
    def __init__(self, channels: int, out: int, stride: int):
        super().__init__()
        wide = channels * 4
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(channels, wide, 1, bias=False),
            torch.nn.BatchNorm2d(wide),
            torch.nn.Hardswish(),
            torch.nn.Conv2d(wide, wide, 3, stride, 1, groups=wide, bias=False),
            torch.nn.BatchNorm2d(wide),
            torch.nn.ReLU6(),
            _SqueezeExcite(wide, wide // 4),
            torch.nn.Conv2d(wide, out, 1, bias=False),
            torch.nn.BatchNorm2d(out),
        )
        self.skip = stride == 1 and channels == out

    def forward(self, x):
        return x + self.body(x) if self.skip else self.body(x)


def small_mobilenet():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, 2, 1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.SiLU(),
        _Inverted(8, 8, 1),
        _Inverted(8, 16, 2),
        _Inverted(16, 16, 1),
        _Inverted(16, 16, 1),
        torch.nn.AvgPool2d(2),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 10),
    )
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


def test_a_mobilenet_like_model_with_squeeze_excite(tmp_path):
    model = small_mobilenet()
    path = _export(model, (3, 32, 32), tmp_path / "mobile.onnx")
    out, weights = _import(path)
    imported = cnndsl.load(out)
    assert imported.params == sum(p.numel() for p in model.parameters())
    assert imported.buffers == sum(b.numel() for b in model.buffers())
    assert imported.output_shape == (10,)
    text = out.read_text()
    assert "gate {" in text and "silu" in text and "relu6" in text and "* 2" in text
    _compare_outputs(path, out, weights, (3, 32, 32))
    # The same model through torch.fx: the same totals.
    from cnndsl.backends.pytorch.capture import capture

    from cnndsl.importer.pipeline import convert

    traced = cnndsl.loads(convert(capture(model, (3, 32, 32), "mobile"), with_weights=False).text, "m.cnn")
    assert (traced.params, traced.buffers, traced.macs) == (imported.params, imported.buffers, imported.macs)


class _Unsupported(torch.nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=1)


def test_an_unsupported_node_is_named_and_nothing_is_written(tmp_path, capsys):
    path = _export(
        torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), _Unsupported()), (3, 8, 8), tmp_path / "bad.onnx"
    )
    out, weights = tmp_path / "bad.cnn", tmp_path / "bad.safetensors"
    assert main(["import", str(path), "-o", str(out), "--weights", str(weights)]) == 1
    err = capsys.readouterr().err
    assert "(Softmax)" in err and "ONNX node" in err and "Traceback" not in err
    assert not out.exists() and not weights.exists()


def test_a_truncated_file_is_a_clear_error(tmp_path, capsys):
    path = _export(torch.nn.Conv2d(3, 4, 3), (3, 8, 8), tmp_path / "conv.onnx")
    path.write_bytes(path.read_bytes()[:100])
    out = tmp_path / "conv.cnn"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "conv.onnx" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["import", str(tmp_path / "missing.onnx"), "-o", str(out)]) == 1


class _ShuffleUnit(torch.nn.Module):
    """ShuffleNetV2's stride-1 unit at 8 channels, its split written as `chunk` or `split`."""

    def __init__(self, split: str):
        super().__init__()
        torch.manual_seed(0)
        self.branch = torch.nn.Sequential(
            torch.nn.Conv2d(4, 4, 1), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
        )
        self.split = split

    def forward(self, x):
        a, b = x.chunk(2, dim=1) if self.split == "chunk" else x.split(4, dim=1)
        x = torch.cat([a, self.branch(b)], 1)
        n, c, h, w = x.size()
        return x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


@pytest.mark.parametrize("split", ["chunk", "split"])  # the exporter writes Slices, or one Split
def test_a_channel_split_and_shuffle(split, tmp_path):
    path = _export(
        torch.nn.Sequential(_ShuffleUnit(split), _ShuffleUnit(split)), (8, 6, 6), tmp_path / "s.onnx"
    )
    out, weights = _import(path)
    text = out.read_text()
    assert "chunk 2 index=1" in text and "channelshuffle 2" in text and "concat_block() * 2" in text
    _compare_outputs(path, out, weights, (8, 6, 6))


class _Lookalike(torch.nn.Module):
    def __init__(self, forward):
        super().__init__()
        self.conv = torch.nn.Conv2d(8, 8, 1)
        self.body = forward

    def forward(self, x):
        return self.body(self.conv(x))


# Reshapes, transposes, slices and products close to the patterns the reader knows, and the
# ONNX op each error names.
LOOKALIKES = [
    # The middle transpose swaps height and width, not the two channel factors.
    (lambda x: x.view(1, 2, 4, 6, 6).transpose(3, 4).reshape(1, 8, 6, 6), "(Transpose)"),
    # Back to a shape other than the input's.
    (lambda x: x.view(1, 2, 4, 6, 6).transpose(1, 2).reshape(1, 4, 12, 6), "(Reshape)"),
    # Something other than a transpose on the 5-d view.
    (lambda x: torch.relu(x.view(1, 2, 4, 6, 6)).reshape(1, 8, 6, 6), "(Relu)"),
    # A slice that is not one of equal groups of the channels, or not of the channels.
    (lambda x: x[:, :3], "(Slice)"),
    (lambda x: x[:, :, :3], "(Slice)"),
    # Splitting into unequal parts.
    (lambda x: x.split([3, 5], dim=1)[1], "(Split)"),
    # A pool on channels-last values.
    (lambda x: torch.nn.functional.max_pool2d(x.permute(0, 2, 3, 1), 2).permute(0, 3, 1, 2), "(MaxPool)"),
    # A layer norm over the width of channels-first values.
    (lambda x: torch.nn.functional.layer_norm(x, (6,)), "(LayerNormalization)"),
    # Another permutation.
    (lambda x: x.permute(0, 1, 3, 2), "(Transpose)"),
    # A scale that is not one number per channel.
    (lambda x: x * torch.linspace(0.5, 1.5, 36).reshape(1, 1, 6, 6), "(Mul)"),
]


@pytest.mark.parametrize("forward, node", LOOKALIKES)
def test_a_lookalike_of_a_known_pattern_is_an_error_naming_its_node(forward, node, tmp_path, capsys):
    path = _export(_Lookalike(forward), (8, 6, 6), tmp_path / "look.onnx")
    out = tmp_path / "look.cnn"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert node in err and "ONNX node" in err and "Traceback" not in err
    assert not out.exists()


def test_an_output_left_channels_last_is_an_error(tmp_path, capsys):
    path = _export(_Lookalike(lambda x: x.permute(0, 2, 3, 1)), (8, 6, 6), tmp_path / "last.onnx")
    out = tmp_path / "last.cnn"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "an output whose dimensions are not N, C, H, W" in err and not out.exists()


class _TinyConvNeXt(torch.nn.Module):
    """ConvNeXt's block at 8 channels: depthwise conv, LayerNorm and Linear layers channels-last.

    Its stem adds its bias as a separate Cx1x1 parameter, which imports as the conv's bias.
    """

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.stem = torch.nn.Conv2d(3, 8, 2, 2, bias=False)
        self.shift = torch.nn.Parameter(torch.rand(8, 1, 1))
        self.depthwise = torch.nn.Conv2d(8, 8, 7, padding=3, groups=8)
        self.norm = torch.nn.LayerNorm(8, eps=1e-6)
        self.up, self.down = torch.nn.Linear(8, 32), torch.nn.Linear(32, 8)
        self.layer_scale = torch.nn.Parameter(torch.rand(8, 1, 1) + 0.5)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = self.stem(x) + self.shift
        y = self.depthwise(x).permute(0, 2, 3, 1)
        y = self.down(torch.nn.functional.gelu(self.up(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.layer_scale * y


def test_a_convnext_block(tmp_path):
    model = _TinyConvNeXt().eval()
    path = _export(model, (3, 12, 12), tmp_path / "convnext.onnx")
    out, weights = _import(path)
    imported = cnndsl.load(out)
    assert imported.params == sum(p.numel() for p in model.parameters())
    text = out.read_text()
    assert "layernorm eps=1e-06" in text and "conv 32 1x1; gelu" in text and "layerscale" in text
    assert "conv 8 2x2 stride=2\n" in text  # with its bias
    _compare_outputs(path, out, weights, (3, 12, 12))


class _FlatConcat(torch.nn.Module):
    """One torch.cat of x, of y = relu(conv(x)) and two convs of y, and of a conv of x, in `order`."""

    def __init__(self, order: tuple[str, ...]):
        super().__init__()
        torch.manual_seed(0)
        self.y, self.a1, self.a2, self.b = (torch.nn.Conv2d(c, 4, 1) for c in (3, 4, 4, 3))
        self.order = order

    def forward(self, x):
        y = torch.relu(self.y(x))
        parts = {"x": x, "y": y, "a1": self.a1(y), "a2": self.a2(y), "b": self.b(x)}
        return torch.cat([parts[name] for name in self.order], 1)


@pytest.mark.parametrize("order", [("x", "a1", "a2", "b"), ("b", "y", "a1", "a2")])
def test_a_concat_of_values_from_different_depths_is_nested(order, tmp_path):
    path = _export(_FlatConcat(order), (3, 6, 6), tmp_path / "cat.onnx")
    out, weights = _import(path)
    assert out.read_text().count("concat {") == 2
    _compare_outputs(path, out, weights, (3, 6, 6))


def test_a_concat_whose_related_inputs_are_apart_is_an_error(tmp_path, capsys):
    path = _export(_FlatConcat(("a1", "b", "a2")), (3, 6, 6), tmp_path / "cat.onnx")
    out = tmp_path / "cat.cnn"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "recorded at /Relu" in err and "used by two separate parts" in err and not out.exists()


def test_shape_arithmetic_folding_refuses_a_huge_constant_broadcast(tmp_path, capsys):
    # A hostile file: two constants whose product would be 2**23 numbers. Folding leaves the node
    # alone (it would otherwise build the array), and the reader names it in a clean error.
    import numpy as np
    import onnx
    from cnndsl.backends.onnx_folding import MAX_FOLDED_ELEMENTS, static_shapes
    from onnx import TensorProto, helper, numpy_helper

    rows, columns = 2048, 4096
    assert rows * columns > MAX_FOLDED_ELEMENTS
    constants = [
        numpy_helper.from_array(np.ones((rows, 1), np.float32), "a"),
        numpy_helper.from_array(np.ones((1, columns), np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Mul", ["a", "b"], ["big"], name="huge_mul"),
        helper.make_node("Add", ["x", "big"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, rows, columns])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, rows, columns])],
        initializer=constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert "huge_mul" in [node.name for node in static_shapes(model).graph.node]
    path = tmp_path / "hostile.onnx"
    onnx.save(model, str(path))
    assert main(["import", str(path), "-o", str(tmp_path / "out.cnn")]) == 1
    assert "huge_mul" in capsys.readouterr().err
    assert not (tmp_path / "out.cnn").exists()

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
]


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
    assert (model.params, model.buffers, model.macs) == (builtin.params, builtin.buffers, builtin.macs)
    assert model.output_shape == builtin.output_shape
    assert main(["fmt", "--check", str(out)]) == 0
    _compare_outputs(path, out, weights, small, relative=True)


# The ONNX forms the reader cannot express yet, and the node each error names.
UNSUPPORTED = [
    # The exporter flattens InceptionE's nested torch.cat into one six-input Concat, so the
    # 1x3/3x1 pair's shared 1x1 conv feeds two branches of it.
    ("inception_v3", (3, 75, 75), "/Mixed_7c/branch3x3_1/Relu"),
    # The channel shuffle's view/transpose/view arrives as Unsqueeze/Reshape/Transpose nodes.
    ("shufflenet_v2_x1_0", (3, 64, 64), "/stage2/stage2.0/Unsqueeze' (Unsqueeze)"),
    # The permutes around LayerNorm and Linear arrive as Transpose nodes.
    ("convnext_tiny", (3, 64, 64), "/features/features.0/features.0.1/Transpose' (Transpose)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, small, node", UNSUPPORTED)
def test_torchvision_model_through_onnx_names_the_node_it_cannot_express(name, small, node, tmp_path, capsys):
    path = _export(torchvision_reference.reference_model(name), small, tmp_path / f"{name}.onnx")
    out = tmp_path / f"{name}.cnn"
    assert main(["import", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert node in err and "Traceback" not in err
    assert not out.exists()


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

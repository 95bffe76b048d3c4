"""`cnndsl import` of PyTorch models: the written file checks, matches and runs like the source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torchvision_reference

import cnndsl
from cnndsl.cli import main

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _import(tmp_path: Path, spec: str, *extra: str) -> tuple[Path, Path]:
    out, weights = tmp_path / "net.cnn", tmp_path / "net.safetensors"
    assert main(["import", spec, "-o", str(out), "--weights", str(weights), *extra]) == 0
    return out, weights


def _source_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory):
    torchvision_reference.import_torchvision()
    tmp = tmp_path_factory.mktemp("resnet18")
    out, weights = _import(tmp, "torchvision.models:resnet18")
    return out, weights


def test_resnet18_totals_equal_the_builtin(resnet18):
    out, _ = resnet18
    imported, builtin = cnndsl.load(out), cnndsl.load("resnet18")
    assert (imported.params, imported.buffers, imported.macs) == (
        builtin.params,
        builtin.buffers,
        builtin.macs,
    )

    def shapes(model):
        return [data["shape"] for _, data in model.graph.nodes(data=True) if data["params"]]

    assert shapes(imported) == shapes(builtin)
    assert _source_lines(out) < 45


def test_resnet18_is_fmt_stable(resnet18):
    out, _ = resnet18
    assert main(["fmt", "--check", str(out)]) == 0


def test_resnet18_outputs_equal_torchvision(resnet18):
    out, weights = resnet18
    reference = torchvision_reference.reference_model("resnet18")
    # The fixture imported an unseeded model: import this one (its batchnorms far from the identity).
    path = out.parent / "ref.cnn"
    weights_path = out.parent / "ref.safetensors"
    from cnndsl.backends.pytorch.capture import capture

    from cnndsl.importer.pipeline import convert
    from cnndsl.importer.weights import safetensors_bytes

    imported = convert(capture(reference, (3, 224, 224), "resnet18"))
    path.write_text(imported.text)
    weights_path.write_bytes(safetensors_bytes(imported.state))
    model = cnndsl.load(path)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = reference(x)
        module = model.build("torch").eval()
        module.load_state_dict(
            {k: torch.from_numpy(v) for k, v in safetensors_numpy.load_file(str(weights_path)).items()}
        )
        assert torch.allclose(module(x), expected, atol=1e-5, rtol=0)
    network = model.build("numpy", weights=str(weights_path))
    got = network(x.numpy())
    assert abs(got - expected.numpy()).max() < 1e-4


def test_resnet50_vgg16_densenet121_mobilenet_v2_totals_and_line_budgets(tmp_path):
    tv = torchvision_reference.import_torchvision()
    from cnndsl.backends.pytorch.capture import capture

    from cnndsl.importer.pipeline import convert

    for name, budget in [("resnet50", 60), ("vgg16", 25), ("densenet121", 60), ("mobilenet_v2", 60)]:
        graph = capture(getattr(tv.models, name)(), (3, 224, 224), name)
        imported = convert(graph, with_weights=False)
        model, builtin = cnndsl.loads(imported.text, f"{name}.cnn"), cnndsl.load(name)
        assert (model.params, model.buffers, model.macs) == (builtin.params, builtin.buffers, builtin.macs), (
            name
        )
        assert model.output_shape == builtin.output_shape
        lines = [line for line in imported.text.splitlines() if line.strip()]
        assert len(lines) < budget, (name, len(lines))
        if name == "resnet50":  # a stage takes its real unit count, as `resnet50.cnn` writes it
            assert "bottleneck(channels) * (blocks - 1)" in imported.text
            assert "layer1: layer(64, 3)" in imported.text
            assert "layer3: layer(256, 6, stride=2)" in imported.text


def test_a_file_and_a_class(tmp_path):
    source = tmp_path / "mynet.py"
    source.write_text(
        textwrap.dedent("""
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self, classes=10):
                super().__init__()
                self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
                self.head = nn.Linear(8 * 16 * 16, classes)

            def forward(self, x):
                x = self.features(x)
                return self.head(x.view(x.size(0), -1))
    """)
    )
    out, weights = _import(tmp_path, f"{source}:Net", "--input", "3x32x32", "--arg", "classes=5")
    model = cnndsl.load(out)
    assert model.output_shape == (5,)
    x = torch.randn(1, 3, 32, 32)
    assert model.build("numpy", weights=str(weights))(x.numpy()).shape == (1, 5)


def _bad(tmp_path: Path, body: str, spec_name: str = "Net") -> tuple[int, str]:
    source = tmp_path / "bad.py"
    source.write_text(textwrap.dedent(body))
    out = tmp_path / "bad.cnn"
    code = main(["import", f"{source}:{spec_name}", "-o", str(out), "--input", "3x8x8"])
    assert not out.exists()
    return code


RESHAPE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            x = self.conv(x)
            x = x.reshape(1, 8, 8, 4)
            return x
"""


def test_a_reshape_in_the_middle_names_the_op_module_and_line(tmp_path, capsys):
    assert _bad(tmp_path, RESHAPE) == 1
    err = capsys.readouterr().err
    assert "reshape" in err and "bad.py:12" in err and "Traceback" not in err


PERMUTE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            x = self.conv(x)
            x = x.permute(0, 2, 1, 3)
            return x
"""

CHANNELS_LAST = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            x = self.conv(x).permute(0, 2, 3, 1)
            return torch.softmax(x, -1)
"""


@pytest.mark.parametrize("source, what", [(PERMUTE, "permute"), (CHANNELS_LAST, "channels-last")])
def test_a_permute_other_than_around_channels_last_layers_names_the_op(tmp_path, capsys, source, what):
    assert _bad(tmp_path, source) == 1
    err = capsys.readouterr().err
    assert what in err and "bad.py:1" in err and "Traceback" not in err


CHANNELS_LAST_AND_SHUFFLE = """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.norm = nn.LayerNorm(8, eps=1e-6)
            self.up = nn.Linear(8, 16)
            self.act = nn.GELU()
            self.down = nn.Linear(16, 8)
            self.scale = nn.Parameter(torch.rand(8, 1, 1))
            self.head = nn.Linear(8, 10)

        def forward(self, x):
            x = self.conv(x)
            y = self.down(self.act(self.up(self.norm(x.permute(0, 2, 3, 1))))).permute(0, 3, 1, 2)
            x = x + self.scale * y
            n, c, h, w = x.size()
            x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
            a, b = x.chunk(2, dim=1)
            x = torch.cat((a, torch.relu(b)), dim=1)
            return self.head(x.mean([2, 3]))
"""


def test_channels_last_layers_channel_shuffle_chunk_and_mean(tmp_path):
    from cnndsl.backends.pytorch.capture import capture, load_callable

    from cnndsl.importer.pipeline import convert

    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(CHANNELS_LAST_AND_SHUFFLE))
    reference, _ = load_callable(f"{path}:Net", {})
    imported = convert(capture(reference, (3, 8, 8), "net"))
    for statement in (
        "layernorm eps=1e-06",
        "conv 16 1x1",
        "layerscale",
        "channelshuffle 2",
        "chunk 2 index=1",
    ):
        assert statement in imported.text
    model = cnndsl.loads(imported.text, "net.cnn")
    assert model.params == sum(p.numel() for p in reference.parameters())
    module = model.build("torch").eval()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in imported.state.items()})
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert (module(x) - reference(x)).abs().max() < 1e-5


def test_a_callable_that_fails(tmp_path, capsys):
    assert _bad(tmp_path, "def Net():\n    raise ValueError('no')\n") == 1
    assert "ValueError: no" in capsys.readouterr().err


def test_a_model_that_fails_on_the_input_shape_prints_no_traceback(tmp_path, capsys):
    """torch.fx's ShapeProp prints the failing node's traceback itself; the user sees one line."""
    body = """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
                self.fc = nn.Linear(100, 10)

            def forward(self, x):
                return self.fc(self.conv(x).flatten(1))
    """
    assert _bad(tmp_path, body) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "Net fails on an input of" in err and "mat1 and mat2 shapes cannot be multiplied" in err


def test_data_dependent_control_flow(tmp_path, capsys):
    body = """
        from torch import nn

        class Net(nn.Module):
            def forward(self, x):
                if x.sum() > 0:
                    return x
                return -x
    """
    assert _bad(tmp_path, body) == 1
    assert "cannot trace" in capsys.readouterr().err


def test_a_missing_spec_is_a_usage_error(tmp_path, capsys):
    out = tmp_path / "x.cnn"
    assert main(["import", str(tmp_path / "nope.py:Net"), "-o", str(out)]) == 2
    assert main(["import", "no_such_module_here:Net", "-o", str(out)]) == 2
    assert main(["import", "torch.nn:NoSuchThing", "-o", str(out)]) == 2
    assert not out.exists()


def test_an_existing_file_is_kept_without_force(tmp_path, capsys):
    out = tmp_path / "x.cnn"
    out.write_text("keep")
    assert main(["import", "torch.nn:Identity", "-o", str(out)]) == 2
    assert out.read_text() == "keep"


def _converted(module, input_shape: tuple[int, ...]):
    """The imported text and state of `module` (eval), checked against its output."""
    from cnndsl.backends.pytorch.capture import capture

    from cnndsl.importer.pipeline import convert

    module.eval()
    imported = convert(capture(module, input_shape, "net"))
    model = cnndsl.loads(imported.text, "net.cnn")
    torch.manual_seed(0)
    x = torch.randn(2, *input_shape)
    compiled = model.build("torch").eval()
    compiled.load_state_dict({key: torch.from_numpy(value) for key, value in imported.state.items()})
    with torch.no_grad():
        assert torch.allclose(compiled(x), module(x), atol=1e-5, rtol=0)
    assert model.params == sum(p.numel() for p in module.parameters())
    return imported.text, model


class _Unit(torch.nn.Module):
    """ResNet's basic unit: a projection on the skip path only where the shape changes."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.downsample = None
        if stride != 1 or inputs != outputs:
            projection = nn.Conv2d(inputs, outputs, 1, stride, bias=False)
            self.downsample = nn.Sequential(projection, nn.BatchNorm2d(outputs))

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


def test_units_with_and_without_a_projection_are_one_block():
    units = [_Unit(8, 8), _Unit(8, 8), _Unit(8, 16, 2), _Unit(16, 16), _Unit(16, 32, 2), _Unit(32, 32)]
    text, model = _converted(torch.nn.Sequential(*units), (8, 16, 16))
    assert text.count("block unit") == 1 and "unit_2" not in text
    # The projection's numbers are the body's: no parameter of its own; `stride` defaults to 1.
    assert "block unit(channels, stride=1)" in text
    assert "unit(8) * 2" in text and "unit(16, stride=2)" in text and "unit(16)\n" in text
    assert model.output_shape == (32, 4, 4)


class _Stage(torch.nn.Sequential):
    def __init__(self, inputs: int, outputs: int):
        super().__init__(torch.nn.Conv2d(inputs, outputs, 3, padding=1), torch.nn.ReLU())


def test_labels_inside_an_inlined_module_stay():
    from collections import OrderedDict

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(OrderedDict(stage1=_Stage(3, 8), stage2=_Stage(8, 16)))

        def forward(self, x):
            return self.features(x)

    text, _ = _converted(Net(), (3, 8, 8))
    assert "stage1: stage(8)" in text and "stage2: stage(16)" in text


def test_a_label_that_an_automatic_name_takes_is_dropped():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential(_Stage(3, 8), _Stage(8, 16))
            self.stage1 = _Stage(16, 32)  # the first unlabelled `stage(...)` is `stage1` already

        def forward(self, x):
            return self.stage1(self.features(x))

    text, model = _converted(Net(), (3, 8, 8))
    assert "stage1:" not in text and text.count("\n    stage(") == 3
    assert model.output_shape == (32, 8, 8)


class _Transition(torch.nn.Sequential):
    """DenseNet's transition: halves its input's channels."""

    def __init__(self, inputs: int):
        super().__init__(torch.nn.Conv2d(inputs, inputs // 2, 1), torch.nn.ReLU(), torch.nn.AvgPool2d(2))


def test_a_number_that_is_always_the_input_channels_reads_in_channels():
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), _Transition(32))
    net.extend([nn.Conv2d(16, 48, 1), _Transition(48)])
    text, model = _converted(net, (3, 16, 16))
    assert "block transition() {" in text and "conv in_channels/2 1x1" in text
    assert text.count("transition()") == 3  # the definition and two calls, with no argument
    assert model.output_shape == (24, 4, 4)


def test_runs_nest_and_a_stage_ends_with_its_pooling():
    nn = torch.nn

    def conv(inputs: int) -> list:
        return [nn.Conv2d(inputs, 8, 3, padding=1), nn.ReLU()]

    def stage() -> list:
        return [*conv(8), *conv(8), nn.MaxPool2d(2)]

    net = nn.Sequential(*conv(3), nn.MaxPool2d(2), *stage(), *stage())
    text, _ = _converted(net, (3, 16, 16))
    body = "repeat 2 {\n        repeat 2 { conv 8 3x3 pad=1; relu }\n        maxpool 2x2\n    }\n}"
    assert text.endswith(body + "\n"), text


class _Layer(torch.nn.Sequential):
    """ResNet's stage: a unit that strides and widens, then `units - 1` that keep the shape."""

    def __init__(self, inputs: int, outputs: int, units: int):
        super().__init__(_Unit(inputs, outputs, 2), *[_Unit(outputs, outputs) for _ in range(units - 1)])


def test_a_stage_takes_its_real_unit_count():
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), _Layer(8, 16, 3), _Layer(16, 32, 4), _Layer(32, 64, 5))
    text, model = _converted(net, (3, 32, 32))
    # As a person writes it (and `resnet_blocks.cnn` does): the count passed is the stage's units.
    assert "    unit(in_channels * 2) * (blocks - 1)\n" in text, text
    assert "    layer(3)\n    layer(4)\n    layer(5)\n" in text, text
    assert model.output_shape == (64, 4, 4)


class _Group(torch.nn.Sequential):
    def __init__(self, inputs: int, first: int, second: int):
        super().__init__(_Layer(inputs, inputs * 2, first), _Layer(inputs * 2, inputs * 4, second))


def test_a_block_passing_a_unit_count_on_passes_the_real_count_too():
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), _Group(8, 3, 4), _Group(32, 5, 3))
    text, model = _converted(net, (3, 32, 32))
    assert "    unit(in_channels * 2) * (blocks - 1)\n" in text, text
    assert "    group(3, 4)\n    group(5, 3)\n" in text, text
    assert model.output_shape == (128, 2, 2)

"""Adaptive blocks (in_channels..., if, residual if), gate, sum and chunk, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_numpy_codegen import load_generated

import cnndsl
from cnndsl.plugins import get_backend

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "adaptive_blocks.cnn"


def ops_of(source: str) -> list[str]:
    return [data["op"] for _, data in cnndsl.loads(source).graph.nodes(data=True)]


def test_in_channels_height_width_describe_the_blocks_input():
    model = cnndsl.loads(
        """
block probe() { conv in_channels*2 (in_height, in_width) }
network n { input 3x5x7; conv 4 1x1; probe() }
"""
    )
    assert model.output_shape == (8, 1, 1)


def test_a_parameter_named_in_channels_wins_and_defaults_may_read_it():
    model = cnndsl.loads(
        """
block by_hand(in_channels) { conv in_channels 1x1 }
block doubled(out=in_channels*2) { conv out 1x1 }
network n { input 3x4x4; by_hand(5); doubled() }
"""
    )
    assert model.output_shape == (10, 4, 4)


def test_if_else_if_else_picks_the_first_true_condition():
    source = """
block pick(mode) {
    if mode == 1 { relu } else if mode == 2 or mode > 5 { tanh } else { sigmoid }
}
network n(mode=1) { input 3x4x4; pick(mode) }
"""
    for mode, op in [(1, "relu"), (2, "tanh"), (7, "tanh"), (3, "sigmoid")]:
        assert ops_of(source.replace("mode=1", f"mode={mode}"))[-1] == op


def test_residual_if_adds_the_skip_only_when_the_condition_holds():
    source = """
block inverted(out, stride=1) {
    residual if stride == 1 and in_channels == out { conv out 3x3 stride=stride pad=1 }
}
network n { input 8x8x8; inverted(8); inverted(8, stride=2); inverted(16) }
"""
    assert ops_of(source) == ["input", "conv", "add", "conv", "conv"]


def test_comparisons_are_truth_values_usable_as_arguments():
    model = cnndsl.loads("network n(c=3) { input 3x4x4; conv 2 1x1 bias=c>3 }")
    assert model.params == 6
    source = "block b(on) { if on { relu } }\nnetwork n { input 3x4x4; b(in_channels == 3) }"
    assert ops_of(source)[-1] == "relu"


def test_squeeze_excite_params_equal_a_hand_written_torch_module():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class SqueezeExcite(nn.Module):  # torchvision.ops.SqueezeExcitation, written out
        def __init__(self, channels: int, squeeze: int):
            super().__init__()
            self.fc1 = nn.Conv2d(channels, squeeze, 1)
            self.fc2 = nn.Conv2d(squeeze, channels, 1)

        def forward(self, x):
            scale = nn.functional.adaptive_avg_pool2d(x, 1)
            return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(scale))))

    model = cnndsl.loads(
        "block se(squeeze) {\n"
        "    gate { globalavgpool; conv squeeze 1x1; relu; conv in_channels 1x1; sigmoid }\n"
        "}\n"
        "network n { input 24x7x7; se(6) }"
    )
    reference = SqueezeExcite(24, 6)
    assert model.params == sum(p.numel() for p in reference.parameters())
    module = model.build("torch").eval()
    weights = list(reference.state_dict().values())
    module.load_state_dict(dict(zip(module.state_dict(), weights)))
    x = torch.randn(2, 24, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x), rtol=1e-5, atol=1e-6)


def test_torch_and_numpy_agree_on_the_example():
    torch = pytest.importorskip("torch")
    model = cnndsl.load(EXAMPLE)
    engine = model.build("numpy", seed=1)
    module = model.build("torch").eval()
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in engine.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    actual = engine(x)
    assert np.abs(actual - expected).max() <= 1e-4 * max(np.abs(expected).max(), 1e-30)


def test_numpy_codegen_equals_the_engine_on_the_example(tmp_path):
    model = cnndsl.load(EXAMPLE)
    module = load_generated(get_backend("numpy").generate_source(model), tmp_path / "adaptive_np.py")
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(module.Network(seed=3)(x), model.build("numpy", seed=3)(x))


def test_onnx_export_of_the_example_runs_in_onnxruntime(tmp_path):
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from conftest import run_cli

    result = run_cli("compile", str(EXAMPLE), "--format", "onnx", "-o", "a.onnx", "-q", cwd=tmp_path)
    assert result.code == 0, result.err
    proto = onnx.load(str(tmp_path / "a.onnx"))
    state = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}
    module = cnndsl.load(EXAMPLE).build("torch").eval()
    module.load_state_dict({k: v for k, v in state.items() if k in module.state_dict()}, strict=False)
    session = onnxruntime.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(2, 3, 32, 32)
    (out,) = session.run(["output"], {"input": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), module(x), rtol=1e-4, atol=1e-5)

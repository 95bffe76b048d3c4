"""The activations, norms, layer scale and drop path of modern CNNs: counts, torch modules, ONNX."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_cli

import cnndsl

torch = pytest.importorskip("torch")
nn = torch.nn

EVERY_NEW_OP = """network modern {
    input 8x6x6
    conv 8 3x3 pad=1; relu6
    hardswish
    hardsigmoid
    silu
    swish
    gelu
    gelu approximate=tanh
    mish
    elu 0.5
    prelu
    prelu shared=true init=0.1
    layernorm eps=1e-6
    groupnorm 4
    instancenorm affine=true
    instancenorm
    residual { conv 8 3x3 pad=1; layerscale 1e-6; droppath 0.2 }
    scale 0.5
    groupnorm 2 affine=false
    layernorm affine=false
    flatten
    layernorm
    prelu
    fc 4
}
"""


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("statement", "reference"),
    [
        ("prelu", nn.PReLU(num_parameters=16)),
        ("prelu shared=true", nn.PReLU()),
        ("layernorm", nn.LayerNorm(16)),
        ("layernorm affine=false", nn.LayerNorm(16, elementwise_affine=False)),
        ("groupnorm 4", nn.GroupNorm(4, 16)),
        ("groupnorm 4 affine=false", nn.GroupNorm(4, 16, affine=False)),
        ("instancenorm", nn.InstanceNorm2d(16)),
        ("instancenorm affine=true", nn.InstanceNorm2d(16, affine=True)),
        ("layerscale", nn.ParameterList([nn.Parameter(torch.ones(16, 1, 1))])),
        ("droppath 0.1", nn.Identity()),
        ("gelu approximate=tanh", nn.GELU(approximate="tanh")),
        ("hardswish", nn.Hardswish()),
    ],
)
def test_parameter_counts_equal_the_torch_modules(statement, reference):
    model = cnndsl.loads(f"network n {{\n    input 16x5x5\n    conv 16 1x1\n    {statement}\n}}\n")
    conv = 16 * 16 + 16
    assert model.params - conv == _params(reference)
    assert _params(model.build("torch")) == model.params
    assert model.macs == 16 * 16 * 25  # the new ops count no MACs
    buffers = sum(b.numel() for b in reference.buffers())
    assert sum(row["buffers"] for _, row in model.graph.nodes(data=True)) == buffers


def test_every_new_op_builds_with_the_counted_parameters_and_state_keys():
    model = cnndsl.loads(EVERY_NEW_OP)
    module = model.build("torch")
    assert _params(module) == model.params == 3261
    assert list(module.state_dict()) == list(model.build("numpy").state_dict())


def test_generated_modules_use_torch_nn_where_it_has_the_op():
    from cnndsl.plugins import get_backend

    source = get_backend("torch").generate_source(cnndsl.loads(EVERY_NEW_OP))
    for constructor in (
        "nn.ReLU6(inplace=True)",  # after a conv, as torchvision writes it
        "nn.Hardswish()",
        "nn.Hardsigmoid()",
        "nn.SiLU()",
        'nn.GELU(approximate="tanh")',
        "nn.Mish()",
        "nn.ELU(alpha=0.5)",
        "nn.PReLU(num_parameters=8)",
        "nn.PReLU(init=0.1)",
        "LayerNorm2d(8, eps=1e-06)",
        "nn.GroupNorm(4, 8)",
        "nn.InstanceNorm2d(8, affine=True)",
        "LayerScale(8, 1e-06)",
        "DropPath(0.2)",
        "nn.LayerNorm(288)",
    ):
        assert constructor in source
    # The helper classes are defined once, before the network's class.
    assert source.count("class LayerNorm2d(nn.LayerNorm):") == 1
    assert source.index("class DropPath(") < source.index("class Modern(")


def test_a_network_named_like_a_helper_class_gets_another_class_name():
    model = cnndsl.loads("network layer_scale {\n    input 4x3x3\n    layerscale\n}\n")
    module = model.build("torch")
    assert type(module).__name__ == "LayerScaleNetwork"
    assert type(module.layerscale1).__name__ == "LayerScale"


def test_layer_norm_2d_normalises_each_pixel_over_its_channels():
    model = cnndsl.loads("network n {\n    input 5x3x4\n    layernorm eps=1e-6\n}\n")
    module = model.build("torch").eval()
    x = torch.randn(2, 5, 3, 4)
    expected = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (5,), eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(module(x), expected)


def test_droppath_is_the_identity_in_eval_and_drops_whole_examples_in_training():
    model = cnndsl.loads("network n {\n    input 3x4x4\n    droppath 0.5\n}\n")
    module = model.build("torch")
    x = torch.randn(400, 3, 4, 4)
    assert torch.equal(module.eval()(x), x)
    torch.manual_seed(0)
    out = module.train()(x)
    dropped = (out == 0).flatten(1).all(1)
    kept = ~dropped
    assert 120 < int(dropped.sum()) < 280  # about half of 400 examples
    torch.testing.assert_close(out[kept], x[kept] / 0.5)  # the survivors rescaled by 1 / (1 - p)
    # torchvision's StochasticDepth(p, "row") draws the same mask from the same seed.
    torch.manual_seed(0)
    keep = torch.empty(400, 1, 1, 1).bernoulli_(0.5)
    torch.testing.assert_close(out, x * keep / 0.5)
    # The NumPy engine runs inference only: drop path is the identity there.
    x32 = x[:2].numpy()
    np.testing.assert_array_equal(model.build("numpy")(x32), x32)


@pytest.mark.slow  # two ONNX exports (~15 s on two cores)
def test_every_new_op_exports_to_onnx_and_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from cnndsl.backends.pytorch.export import export_onnx

    (tmp_path / "modern.cnn").write_text(EVERY_NEW_OP)
    result = run_cli("compile", "modern.cnn", "--format", "onnx", "-o", "modern.onnx", "-q", cwd=tmp_path)
    assert result.code == 0, result.err
    # Norm scales, slopes and layer scales away from their initial constants, so each one counts.
    model = cnndsl.loads(EVERY_NEW_OP)
    module = model.build("torch").eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    path = tmp_path / "perturbed.onnx"
    export_onnx(module, model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.randn(batch, 8, 6, 6)
        (out,) = session.run(["output"], {"input": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(out), module(x), rtol=1e-4, atol=1e-5)

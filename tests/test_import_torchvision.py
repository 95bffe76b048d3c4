"""`cnndsl import` of every torchvision model that is also a built-in: totals and outputs equal."""

from __future__ import annotations

import pytest
import torchvision_reference

import cnndsl

torch = pytest.importorskip("torch")

SLOW = pytest.mark.slow
# (name, input for the output comparison): small inputs keep the NumPy engine quick.
MODELS = [
    ("resnet18", (3, 64, 64)),
    pytest.param("resnet34", (3, 64, 64), marks=SLOW),
    pytest.param("resnet50", (3, 64, 64), marks=SLOW),
    pytest.param("resnet101", (3, 64, 64), marks=SLOW),
    pytest.param("resnet152", (3, 64, 64), marks=SLOW),
    pytest.param("resnext50_32x4d", (3, 64, 64), marks=SLOW),
    pytest.param("wide_resnet50_2", (3, 64, 64), marks=SLOW),
    pytest.param("vgg16", (3, 32, 32), marks=SLOW),
    pytest.param("vgg19", (3, 32, 32), marks=SLOW),
    pytest.param("alexnet", (3, 64, 64), marks=SLOW),
    pytest.param("squeezenet1_1", (3, 64, 64), marks=SLOW),
    pytest.param("densenet121", (3, 64, 64), marks=SLOW),
    pytest.param("mobilenet_v2", (3, 64, 64), marks=SLOW),
    pytest.param("mobilenet_v3_large", (3, 64, 64), marks=SLOW),
    ("mobilenet_v3_small", (3, 64, 64)),
    pytest.param("efficientnet_b0", (3, 64, 64), marks=SLOW),
    ("inception_v3", (3, 75, 75)),
    # Its view -> transpose -> view is `channelshuffle 2`, its x.chunk(2, dim=1) `chunk 2 index=i`.
    pytest.param("shufflenet_v2_x1_0", (3, 64, 64), marks=SLOW),
    # Its permutes around LayerNorm and Linear: `layernorm` and 1x1 convs; `layer_scale * x`: `layerscale`.
    pytest.param("convnext_tiny", (3, 64, 64), marks=SLOW),
]


def _imported(name: str):
    from cnndsl.backends.pytorch.capture import capture

    from cnndsl.importer.pipeline import convert

    reference = torchvision_reference.reference_model(name)
    builtin = cnndsl.load(name)
    return reference, builtin, convert(capture(reference, builtin.input_shape, name))


@pytest.mark.parametrize("name, small", MODELS)
def test_torchvision_model_imports_with_equal_totals_and_outputs(name, small, tmp_path):
    reference, builtin, imported = _imported(name)
    model = cnndsl.loads(imported.text, f"{name}.cnn")
    totals = (model.params, model.buffers, model.macs)
    if name == "inception_v3":
        # torch.fx traces eval mode, where torchvision skips the auxiliary classifier.
        def own(named) -> int:
            return sum(v.numel() for k, v in named if not k.startswith("AuxLogits."))

        assert (model.params, model.buffers) == (
            own(reference.named_parameters()),
            own(reference.named_buffers()),
        )
        assert model.output_shape == (1000,)
    else:
        assert totals == (builtin.params, builtin.buffers, builtin.macs)
        assert model.output_shape == builtin.output_shape

        def shapes(network):
            return [(d["op"], d["shape"]) for _, d in network.graph.nodes(data=True) if d["params"]]

        assert shapes(model) == shapes(builtin)
    # The outputs, on a small input: the same file with another input line.
    shape = "x".join(map(str, builtin.input_shape))
    small_text = imported.text.replace(f"input {shape}", "input " + "x".join(map(str, small)), 1)
    small_model = cnndsl.loads(small_text, f"{name}.cnn")
    torch.manual_seed(1)
    x = torch.randn(1, *small)
    with torch.no_grad():
        expected = reference(x)
        # ResNet-101/152's random batchnorm statistics grow the logits to 1e4-1e6: compare in units
        # of the output's size, which is the absolute difference for ResNet-18's logits.
        scale = max(1.0, float(expected.abs().max()))
        module = small_model.build("torch").eval()
        module.load_state_dict({k: torch.from_numpy(v) for k, v in imported.state.items()})
        assert (module(x) - expected).abs().max() < 1e-5 * scale
    path = tmp_path / "w.safetensors"
    from cnndsl.importer.weights import safetensors_bytes

    path.write_bytes(safetensors_bytes(imported.state))
    got = small_model.build("numpy", weights=str(path))(x.numpy())
    assert abs(got - expected.numpy()).max() < 1e-4 * scale

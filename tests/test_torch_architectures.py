"""Every built-in architecture compiles to a module with the IR's exact counts, names and shapes."""

from __future__ import annotations

import pytest
from cnndsl.backends.pytorch.naming import class_name
from torchvision_reference import (
    COMPARED,
    compared_params,
    mapped_state,
    meta_model,
    reference_model,
    reference_outputs,
)

import cnndsl

torch = pytest.importorskip("torch")

ARCHITECTURES = [name for name in cnndsl.builtin_architectures() if name != "resnet_blocks"]
# Over 40G multiply-adds per image at their own input size: several seconds a forward on two cores.
HEAVY = {"fcn_resnet50", "unet", "unet_padded"}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=pytest.mark.slow) if name in HEAVY else name for name in ARCHITECTURES]
)
def test_counts_names_and_output_shape_follow_the_ir(name):
    torch.manual_seed(0)
    model = cnndsl.load(name)
    module = model.build("torch")
    assert sum(p.numel() for p in module.parameters()) == model.params
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == model.trainable_params
    assert sum(b.numel() for b in module.buffers()) == model.buffers
    expected = []
    for node, data in model.graph.nodes(data=True):
        if data["op"] in ("conv", "fc", "convtranspose"):
            expected.append(f"{node}.weight")
            if data["attrs"]["bias"] is not False:
                expected.append(f"{node}.bias")
        elif data["op"] == "batchnorm":
            expected += [f"{node}.{key}" for key in ("weight", "bias", "running_mean", "running_var")]
            expected.append(f"{node}.num_batches_tracked")
        elif data["op"] == "layernorm":
            expected += [f"{node}.weight", f"{node}.bias"]
        elif data["op"] == "layerscale":
            expected.append(f"{node}.weight")
    assert sorted(module.state_dict()) == sorted(expected)
    assert type(module).__name__ == class_name(name)
    assert module.input_shape == model.input_shape
    module.eval()
    with torch.no_grad():  # one forward per network, batch 2 (VGG-16 and ResNet-152 take ~1 s)
        outputs = as_tuple(module(torch.randn(2, *model.input_shape)))
    assert [tuple(out.shape) for out in outputs] == [(2, *shape) for shape in model.output_shapes]
    assert all(torch.isfinite(out).all() for out in outputs)


def as_tuple(outputs) -> tuple:
    """A module's outputs as a tuple: one tensor, or the tuple a network with `output a, b` returns."""
    return outputs if isinstance(outputs, tuple) else (outputs,)


@pytest.mark.parametrize("name", compared_params())
def test_outputs_equal_torchvision_with_the_same_weights(name):
    """torchvision's model is the reference: its weights copied in by name, the same outputs."""
    model = cnndsl.load(name, input=COMPARED[name])
    reference = reference_model(name)
    module = model.build("torch").eval()
    module.load_state_dict(mapped_state(name, reference), strict=True)
    x = torch.randn(1, *model.input_shape)
    with torch.no_grad():
        expected = reference_outputs(reference, x)
        outputs = as_tuple(module(x))
    assert len(outputs) == len(expected)
    for out, reference_out in zip(outputs, expected, strict=True):  # Inception-v3: logits, aux
        scale = reference_out.abs().max()
        assert (out - reference_out).abs().max() <= 1e-5 * scale


def test_every_ir_node_shape_matches_pytorch():
    """Hooks on each submodule: PyTorch's actual output shape equals the IR's inferred one."""
    model = cnndsl.load("googlenet")
    module = model.build("torch").eval()
    seen = {}
    for name, sub in module.named_modules():
        if name in model.graph:
            sub.register_forward_hook(
                lambda _m, _i, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
            )
    with torch.no_grad():
        module(torch.randn(1, *model.input_shape))
    layers = [n for n, d in model.graph.nodes(data=True) if d["op"] not in ("input", "add", "concat")]
    assert sorted(seen) == sorted(layers)
    for name in layers:
        assert seen[name] == model.graph.nodes[name]["shape"], name


def test_network_parameters_become_constructor_arguments():
    model = cnndsl.load("resnet18", input=(3, 64, 64))
    module_class = type(model.build("torch"))
    ten = module_class(classes=10).eval()
    assert sum(p.numel() for p in ten.parameters()) == cnndsl.load("resnet18", classes=10).params
    with torch.no_grad():
        assert ten(torch.randn(1, 3, 64, 64)).shape == (1, 10)


def test_module_is_the_same_class_for_the_same_source():
    first = cnndsl.load("lenet5").build("torch")
    second = cnndsl.load("lenet5").build("torch")
    assert type(first) is type(second)
    assert first is not second


MOBILE = ["mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "efficientnet_b0"]


@pytest.mark.parametrize("name", MOBILE)
def test_training_settings_equal_torchvision(name):
    """Batchnorm momentum, dropout and stochastic depth act only in training, where the output
    comparison cannot see them: each is compared with torchvision's, layer by layer in order.

    torchvision gives every MBConv a StochasticDepth but applies it only with the skip
    connection; efficientnet_b0.cnn has a droppath exactly there.
    """
    reference = reference_model(name)
    module = cnndsl.load(name).build("torch")

    applied = [
        layer.stochastic_depth
        for layer in reference.modules()
        if hasattr(layer, "stochastic_depth") and layer.use_res_connect
    ]

    def settings(model) -> list:
        found = []
        for layer in model.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                found.append(("batchnorm", layer.eps, layer.momentum))
            elif isinstance(layer, torch.nn.Dropout):
                found.append(("dropout", layer.p))
            elif type(layer).__name__ == "DropPath" or any(layer is drop for drop in applied):
                found.append(("droppath", layer.p))
        return found

    assert settings(module) == settings(reference)
def test_convnext_stochastic_depth_follows_torchvision():
    """The drop probabilities grow block by block exactly as torchvision's (0.1 x index / 17)."""
    reference = meta_model("convnext_tiny")
    expected = [m.p for m in reference.modules() if type(m).__name__ == "StochasticDepth"]
    module = cnndsl.load("convnext_tiny", input=(3, 32, 32)).build("torch")
    found = [m.p for m in module.modules() if type(m).__name__ == "DropPath"]
    assert len(found) == 18
    assert found == expected

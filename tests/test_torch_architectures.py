"""Every built-in architecture compiles to a module with the IR's exact counts, names and shapes."""

from __future__ import annotations

import pytest
from cnndsl.backends.pytorch.naming import class_name
from torchvision_reference import COMPARED, compared_params, mapped_state, reference_model, reference_outputs

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
    assert sorted(module.state_dict()) == sorted(expected)
    assert type(module).__name__ == class_name(name)
    assert module.input_shape == model.input_shape
    module.eval()
    with torch.no_grad():  # one forward per network, batch 2 (VGG-16 and ResNet-152 take ~1 s)
        out = module(torch.randn(2, *model.input_shape))
    outputs = out if isinstance(out, tuple) else (out,)  # a tuple where the network has several
    assert [tuple(o.shape) for o in outputs] == [(2, *shape) for shape in model.output_shapes]
    assert all(torch.isfinite(o).all() for o in outputs)


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
        out = module(x)
    outputs = out if isinstance(out, tuple) else (out,)
    assert len(outputs) == len(expected)
    for found, wanted in zip(outputs, expected):
        assert found.shape == wanted.shape
        assert (found - wanted).abs().max() <= 1e-5 * wanted.abs().max()


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

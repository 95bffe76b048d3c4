"""Every built-in architecture: the NumPy backend equals the torch backend with the same weights,
and weights saved from either backend (.npz, .safetensors) load into both.

Batchnorm statistics are randomised so that folding them into the convs is exercised; batch 1
and one build of each network (shared by the tests of that network) keep the file short.
"""

from __future__ import annotations

import numpy as np
import pytest
from cnndsl.backends.numpy_engine.weights import checked_state, parameter_shapes, read_weights
from test_numpy_oracle import assert_matches, randomise_batchnorm
from torchvision_reference import COMPARED, compared_params, mapped_state, reference_model, reference_outputs

import cnndsl

torch = pytest.importorskip("torch")

NETWORKS = [name for name in cnndsl.builtin_architectures() if name != "resnet_blocks"]


def test_every_architecture_is_covered():
    named_in_the_lecture = {
        "lenet5",
        "alexnet",
        "alexnet_original",
        "vgg16",
        "googlenet",
        "resnet18",
        "resnet152",
    }
    assert named_in_the_lecture <= set(NETWORKS)


# Over 40M parameters: a few seconds each to build, save and load on two cores; or over 15G
# multiply-adds per image at their own input size (segmentation, the style taps).
LARGE = {"alexnet", "alexnet_original", "vgg16", "vgg19", "resnet101", "resnet152", "wide_resnet50_2"}
LARGE |= {"fcn_resnet50", "unet", "unet_padded", "vgg19_features"}


@pytest.fixture(
    scope="module",
    params=[pytest.param(name, marks=pytest.mark.slow) if name in LARGE else name for name in NETWORKS],
)
def built(request):
    """(model, torch module, NumPy network), built once per architecture."""
    model = cnndsl.load(request.param)
    return model, model.build("torch").eval(), model.build("numpy")


def test_architecture_matches_torch_backend(built):
    model, module, network = built
    torch_state = {key: value.numpy() for key, value in module.state_dict().items()}
    numpy_state = network.state_dict()
    assert list(numpy_state) == list(torch_state)
    assert all(numpy_state[key].shape == value.shape for key, value in torch_state.items())

    rng = np.random.default_rng(0)
    state = randomise_batchnorm(torch_state, rng)
    module.load_state_dict({key: torch.from_numpy(value) for key, value in state.items()})
    network.load_state_dict(state)
    x = rng.standard_normal((1, *model.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x))
    assert_same_outputs(network(x), expected if isinstance(expected, tuple) else (expected,))


@pytest.mark.parametrize("name", compared_params())
def test_engine_equals_torchvision_with_the_same_weights(name):
    """torchvision's model is the reference: its weights copied in by name, the same outputs."""
    model = cnndsl.load(name, input=COMPARED[name])
    reference = reference_model(name)
    network = model.build("numpy")
    network.load_state_dict({key: value.numpy() for key, value in mapped_state(name, reference).items()})
    x = np.random.default_rng(0).standard_normal((1, *model.input_shape)).astype(np.float32)
    with torch.no_grad():
        expected = reference_outputs(reference, torch.from_numpy(x))
    assert_same_outputs(network(x), expected, rtol=1e-4)


def assert_same_outputs(found, expected: tuple, rtol: float = 1e-4) -> None:
    """The engine's output (a tuple where the network declares several) against torch tensors."""
    found = found if isinstance(found, tuple) else (found,)
    assert len(found) == len(expected)
    for actual, wanted in zip(found, expected):
        assert_matches(actual, wanted.numpy(), rtol=rtol)


def test_parameter_count_matches_the_op_table():
    """The state dict holds exactly what the IR counts: params plus batchnorm buffers."""
    for name in ("resnet50", "googlenet", "alexnet_original"):
        model = cnndsl.load(name)
        total = sum(value.size for value in model.build("numpy").state_dict().values())
        assert total == model.params + model.buffers


def save(state: dict, path) -> None:
    if path.suffix == ".npz":
        np.savez(path, **state)
    else:
        from safetensors.numpy import save_file

        save_file(state, str(path))


def assert_same_state(found: dict, expected: dict) -> None:
    assert set(found) == set(expected)
    for key, value in expected.items():
        found_value = found[key].numpy() if isinstance(found[key], torch.Tensor) else found[key]
        assert found_value.shape == value.shape and found_value.dtype == value.dtype, key
        assert np.array_equal(found_value, value), key


def test_saved_weights_load_into_both_backends(built, tmp_path):
    """Issue: batchnorm's 0-d counter came back (1,) from the engine and no batchnorm file loaded.

    Files written from the torch module and from the NumPy engine (its state after a load, as
    the issue's second load), each as .npz and as .safetensors, read back unchanged and load
    into both backends.
    """
    pytest.importorskip("safetensors")
    model, module, network = built
    shapes = parameter_shapes(model.graph)
    for origin in ("torch", "numpy"):
        # No copies: the largest state is 550 MB, and each load below writes the same values back.
        state = (
            network.state_dict()
            if origin == "numpy"
            else {key: value.numpy() for key, value in module.state_dict().items()}
        )
        for suffix in (".npz", ".safetensors"):
            path = tmp_path / f"{model.name}-{origin}{suffix}"
            save(state, path)
            read = read_weights(path)
            assert_same_state(read, state)
            # Every file passes the engine's check (where the 0-d counter broke); one repacks (a
            # second for a large network, whatever the weights' origin) and the engine's files
            # load into torch (torch's own load costs a second too).
            assert_same_state(checked_state(shapes, read, path.name), state)
            if origin == "numpy":
                module.load_state_dict({key: torch.from_numpy(value) for key, value in read.items()})
                assert_same_state(module.state_dict(), state)
            elif suffix == ".npz":
                network.load_weights(path)
                assert_same_state(network.state_dict(), state)
            del read
            path.unlink()  # one file on disk at a time

"""Every built-in architecture: the NumPy backend equals the torch backend with the same weights.

Batchnorm statistics are randomised so that folding them into the convs is exercised; batch 1
keeps the whole file to a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_numpy_oracle import assert_matches, randomise_batchnorm

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


@pytest.mark.parametrize("name", NETWORKS)
def test_architecture_matches_torch_backend(name):
    model = cnndsl.load(name)
    module = model.build("torch").eval()
    network = model.build("numpy")
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
        expected = module(torch.from_numpy(x)).numpy()
    assert_matches(network(x), expected)


def test_parameter_count_matches_the_op_table():
    """The state dict holds exactly what the IR counts: params plus batchnorm buffers."""
    for name in ("resnet50", "googlenet", "alexnet_original"):
        model = cnndsl.load(name)
        total = sum(value.size for value in model.build("numpy").state_dict().values())
        assert total == model.params + model.buffers

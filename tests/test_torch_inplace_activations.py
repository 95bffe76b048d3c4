"""relu6, hardswish, hardsigmoid and silu run in place after a fresh producer, as in torchvision.

In-place activations save a copy per layer (the generated MobileNetV2 was 1.15x torchvision's
time without them); they must leave outputs and gradients exactly as the out-of-place modules.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.plugins import get_backend  # noqa: E402

ACTIVATIONS = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.SiLU)

SOURCE = """
network acts {
    input 8x12x12
    conv 16 3x3 pad=1; batchnorm; relu6
    residual {
        conv 16 1x1; batchnorm; hardswish
        conv 16 3x3 pad=1 groups=16; batchnorm; silu
        gate { globalavgpool; conv 4 1x1; relu; conv 16 1x1; hardsigmoid }
        conv 16 1x1; batchnorm
    }
    silu
    globalavgpool; flatten; fc 5
}
"""


def _gradients(module, x, inplace: bool) -> tuple:
    for layer in module.modules():
        if isinstance(layer, ACTIVATIONS) and getattr(layer, "inplace", False):
            layer.inplace = inplace
    module.zero_grad()
    torch.manual_seed(1)  # the same dropout masks in both runs
    out = module(x)
    out.square().sum().backward()
    return out.detach().clone(), [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("source", [SOURCE, "mobilenet_v2"])
def test_in_place_activations_keep_outputs_and_gradients(source):
    if "network" in source:
        model = cnndsl.loads(source, name="acts.cnn")
    else:
        model = cnndsl.load(source, input="3x64x64")
    torch.manual_seed(0)
    module = model.build("torch").train()
    in_place = [layer for layer in module.modules() if isinstance(layer, ACTIVATIONS) and layer.inplace]
    assert in_place, "no activation runs in place"
    x = torch.randn(2, *model.input_shape)
    out, grads = _gradients(module, x, inplace=True)
    expected_out, expected_grads = _gradients(module, x, inplace=False)
    assert torch.equal(out, expected_out)
    for grad, expected in zip(grads, expected_grads, strict=True):
        assert torch.allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_generated_mobilenet_v2_uses_in_place_relu6():
    text = get_backend("torch").generate_source(cnndsl.load("mobilenet_v2"))
    assert "nn.ReLU6(inplace=True)" in text

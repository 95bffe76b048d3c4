"""The generated `forward` frees activations where hand-written nested modules free them.

With glibc's default malloc the order of frees decides which activations come back as fresh
pages the kernel must fault in and zero: the compiled MobileNetV2, with the same kernels as its
hand-written twin, ran ~6% slower when its flat `forward` freed values in another order. So the
live activations are compared layer by layer against torchvision-style modules (nn.Sequential
stages, `x + self.conv(x)`, `out += identity`), counting bytes, so an in-place sum and a fresh
one weigh the same.
"""

from __future__ import annotations

import weakref

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import cnndsl  # noqa: E402

SOURCE = """
block conv_bn(out, kernel=3, stride=1, groups=1) {
    conv out kernel stride=stride pad=(kernel - 1)//2 groups=groups bias=false; batchnorm; relu6
}

block inverted_residual(out, stride=1, expand=6) {
    residual if stride == 1 and in_channels == out {
        if expand != 1 {
            expand: conv_bn(in_channels * expand, kernel=1)
        }
        depthwise: conv_bn(in_channels * expand, stride=stride, groups=in_channels * expand)
        project: conv out 1x1 bias=false
        batchnorm
    }
}

block bottleneck(width, stride=1) {
    residual {
        conv width 1x1 bias=false; batchnorm; relu
        conv width 3x3 stride=stride pad=1 bias=false; batchnorm; relu
        conv width*4 1x1 bias=false; batchnorm
    } shortcut {
        conv width*4 1x1 stride=stride bias=false; batchnorm
    }
    relu
}

network lifetimes {
    input 3x32x32
    stem: conv_bn(16, stride=2)
    inverted_residual(16, expand=1)
    inverted_residual(24, stride=2)
    inverted_residual(24) * 2
    bottleneck(8, stride=2)
    bottleneck(8) * 2
    flatten; fc 10
}
"""


def conv_bn(inputs: int, outputs: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    padding = (kernel - 1) // 2
    conv = nn.Conv2d(inputs, outputs, kernel, stride, padding, groups=groups, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(outputs), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """torchvision's, as it frees: the block input lives until the sum is returned."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1, expand: int = 6):
        super().__init__()
        hidden = inputs * expand
        self.use_res_connect = stride == 1 and inputs == outputs
        layers: list[nn.Module] = [conv_bn(inputs, hidden, kernel=1)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, stride=stride, groups=hidden)]
        layers += [nn.Conv2d(hidden, outputs, 1, bias=False), nn.BatchNorm2d(outputs)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck, statement for statement: `out += identity` in place."""

    def __init__(self, inputs: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inputs != width * 4:
            projection = nn.Conv2d(inputs, width * 4, 1, stride, bias=False)
            self.downsample = nn.Sequential(projection, nn.BatchNorm2d(width * 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu(out)
        out = self.conv3(out)
        out = self.bn3(out)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class HandWritten(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 16, stride=2),
            InvertedResidual(16, 16, expand=1),
            InvertedResidual(16, 24, stride=2),
            InvertedResidual(24, 24),
            InvertedResidual(24, 24),
            Bottleneck(24, 8, stride=2),
            Bottleneck(32, 8),
            Bottleneck(32, 8),
        )
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


LEAVES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Linear)


def live_bytes_at_each_layer(module: nn.Module, x: torch.Tensor) -> list[tuple[str, int]]:
    """Before each layer that allocates its output: its kind and the bytes of activations alive."""
    seen: list[weakref.ref] = []
    trace: list[tuple[str, int]] = []

    def track(tensor: torch.Tensor) -> None:
        if tensor is not x and not any(ref() is tensor for ref in seen):
            seen.append(weakref.ref(tensor))

    def before(layer, inputs):
        track(inputs[0])  # a sum computed outside any layer is first seen here
        if getattr(layer, "inplace", False):
            # Allocates nothing: what is alive around it cannot change the allocator's course
            # (torchvision's bottleneck frees `identity` after its last ReLU, forward before).
            return
        live = [ref() for ref in seen]
        trace.append((type(layer).__name__, sum(t.numel() * t.element_size() for t in live if t is not None)))

    def after(layer, inputs, output):
        track(output)

    handles = []
    for layer in module.modules():
        if isinstance(layer, LEAVES):
            handles += [layer.register_forward_pre_hook(before), layer.register_forward_hook(after)]
    try:
        with torch.no_grad():
            module(x)
    finally:
        for handle in handles:
            handle.remove()
    return trace


def test_the_compiled_forward_frees_activations_where_nested_modules_do():
    compiled = cnndsl.loads(SOURCE).build("torch").eval()
    hand = HandWritten().eval()
    hand.load_state_dict(dict(zip(hand.state_dict(), compiled.state_dict().values())))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(compiled(x), hand(x))
    ours, theirs = live_bytes_at_each_layer(compiled, x), live_bytes_at_each_layer(hand, x)
    assert [kind for kind, _ in ours] == [kind for kind, _ in theirs]
    assert len(ours) > 40
    for index, ((kind, mine), (_, reference)) in enumerate(zip(ours, theirs)):
        assert mine == reference, f"layer {index} ({kind}): {mine:,} bytes alive, nested: {reference:,}"


def test_the_channels_last_mlp_frees_its_input_once_layer_norm_has_read_it():
    # torchvision's CNBlock is an nn.Sequential: the depthwise conv's output goes once the
    # LayerNorm exists. A helper function called on it would have kept it for the whole MLP.
    source = """
    network n {
        input 8x6x6
        residual {
            dw: conv 8 3x3 pad=1 groups=8
            layernorm eps=1e-6; conv 32 1x1; gelu; conv 8 1x1; layerscale 0.5
        }
    }
    """
    model = cnndsl.loads(source).build("torch").eval()
    depthwise: list[weakref.ref] = []
    alive_at_gelu: list[bool] = []
    model.dw.register_forward_hook(lambda layer, inputs, output: depthwise.append(weakref.ref(output)))
    model.gelu1.register_forward_pre_hook(
        lambda layer, inputs: alive_at_gelu.append(depthwise[0]() is not None)
    )
    with torch.no_grad():
        model(torch.randn(2, 8, 6, 6))
    assert alive_at_gelu == [False]

"""Compiled modules against hand-written PyTorch modules with the same weights (PyTorch is the oracle)."""

from __future__ import annotations

import pytest

import cnndsl

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def load_into(reference: nn.Module, compiled: nn.Module, names: dict[str, str]) -> None:
    """Copy the compiled module's (random) weights into the reference, renaming by `names`."""
    state = compiled.state_dict()
    mapped = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        mapped[f"{names[prefix]}.{leaf}"] = value
    reference.load_state_dict(mapped, strict=True)


class LeNet5(nn.Module):
    """LeNet-5 written by hand, the way a PyTorch tutorial writes it."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.f5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.out = nn.Linear(84, classes)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.f5(x))
        x = torch.tanh(self.f6(x))
        return F.softmax(self.out(x), dim=1)


def test_lenet5_matches_hand_written():
    torch.manual_seed(0)
    compiled = cnndsl.load("lenet5").build("torch").eval()
    reference = LeNet5().eval()
    load_into(reference, compiled, {"conv1": "c1", "conv2": "c3", "fc1": "f5", "fc2": "f6", "fc3": "out"})
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), reference(x))


INCEPTION = """
import "googlenet.cnn"
network one_inception {
    input 192x28x28
    inception3a: inception(64, 96, 128, 16, 32, 32)
}
"""


class Inception(nn.Module):
    """GoogLeNet's inception (3a) module as Caffe's bvlc_googlenet defines it."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(192, 64, 1)
        self.b2a, self.b2b = nn.Conv2d(192, 96, 1), nn.Conv2d(96, 128, 3, padding=1)
        self.b3a, self.b3b = nn.Conv2d(192, 16, 1), nn.Conv2d(16, 32, 5, padding=2)
        self.b4 = nn.Conv2d(192, 32, 1)

    def forward(self, x):
        one = F.relu(self.b1(x))
        three = F.relu(self.b2b(F.relu(self.b2a(x))))
        five = F.relu(self.b3b(F.relu(self.b3a(x))))
        pool = F.relu(self.b4(F.max_pool2d(x, 3, stride=1, padding=1, ceil_mode=True)))
        return torch.cat([one, three, five, pool], 1)


def test_inception_block_matches_hand_written(tmp_path):
    (tmp_path / "googlenet.cnn").write_text(
        (cnndsl.loader.builtin_path("googlenet")).read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "one.cnn").write_text(INCEPTION, encoding="utf-8")
    torch.manual_seed(1)
    compiled = cnndsl.load(tmp_path / "one.cnn", network="one_inception").build("torch").eval()
    reference = Inception().eval()
    prefix = "inception3a"
    load_into(
        reference,
        compiled,
        {
            f"{prefix}.branch1.conv1": "b1",
            f"{prefix}.branch2.conv1": "b2a",
            f"{prefix}.branch2.conv2": "b2b",
            f"{prefix}.branch3.conv1": "b3a",
            f"{prefix}.branch3.conv2": "b3b",
            f"{prefix}.branch4.conv1": "b4",
        },
    )
    x = torch.randn(2, 192, 28, 28)
    with torch.no_grad():
        out = compiled(x)
        assert out.shape == (2, 256, 28, 28)
        torch.testing.assert_close(out, reference(x))


BOTTLENECK = """
import "resnet_blocks.cnn"
network one_bottleneck {
    input 256x28x28
    block: bottleneck(128, stride=2)
}
"""


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (stride on the 3x3 conv) with a projection shortcut."""

    def __init__(self, inplanes: int, width: int, stride: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
        self.downsample = nn.Sequential(
            nn.Conv2d(inplanes, width * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(width * 4)
        )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.downsample(x))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_bottleneck_with_projection_matches_hand_written(tmp_path, mode):
    (tmp_path / "resnet_blocks.cnn").write_text(
        cnndsl.loader.builtin_path("resnet_blocks").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "one.cnn").write_text(BOTTLENECK, encoding="utf-8")
    torch.manual_seed(2)
    compiled = cnndsl.load(tmp_path / "one.cnn").build("torch")
    # Give batchnorm non-trivial statistics and affine parameters before comparing.
    with torch.no_grad():
        for module in compiled.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    reference = Bottleneck(256, 128, 2)
    names = {f"block.{n}": r for n, r in [("conv1", "conv1"), ("conv2", "conv2"), ("conv3", "conv3")]}
    names |= {f"block.batchnorm{i}": f"bn{i}" for i in (1, 2, 3)}
    names |= {"block.shortcut1.conv1": "downsample.0", "block.shortcut1.batchnorm1": "downsample.1"}
    load_into(reference, compiled, names)
    getattr(compiled, mode)()
    getattr(reference, mode)()
    x = torch.randn(2, 256, 28, 28, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    out, expected = compiled(x), reference(x_ref)
    assert out.shape == (2, 512, 14, 14)
    torch.testing.assert_close(out, expected)
    # The in-place residual sum and ReLU must leave gradients intact.
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    conv_grad = compiled.get_submodule("block.conv1").weight.grad
    torch.testing.assert_close(conv_grad, reference.conv1.weight.grad)


def test_one_training_step_reduces_lenet5_loss():
    torch.manual_seed(3)
    module = cnndsl.load("lenet5").build("torch", logits=True)
    assert module.dropped_head == "softmax"
    images, labels = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    before = loss_fn(module(images), labels)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    after = loss_fn(module(images), labels)
    assert after.item() < before.item()


def test_logits_leave_out_only_the_softmax():
    torch.manual_seed(4)
    model = cnndsl.load("lenet5")
    probabilities = model.build("torch").eval()
    logits = model.build("torch", logits=True).eval()
    logits.load_state_dict(probabilities.state_dict())
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(F.softmax(logits(x), dim=1), probabilities(x))
    assert (probabilities.output_activation, probabilities.dropped_head) == ("softmax", None)
    assert (logits.output_activation, logits.dropped_head) == (None, "softmax")
    # A network ending in fc already returns scores: nothing to drop, nothing applied twice.
    resnet = cnndsl.load("resnet18", input=(3, 64, 64)).build("torch", logits=True)
    assert (resnet.output_activation, resnet.dropped_head) == (None, None)

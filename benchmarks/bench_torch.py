"""Forward time of cnndsl's compiled PyTorch modules against hand-written PyTorch models.

    python benchmarks/bench_torch.py                      # ResNet-50, VGG-16, MobileNetV2, ConvNeXt-Tiny
    python benchmarks/bench_torch.py --runs 9 --threads 4 --networks mobilenet_v2
    python benchmarks/bench_torch.py --control     # also hand-written vs a copy: the noise floor
    python benchmarks/bench_torch.py --malloc keep # glibc keeps freed memory, as `cnndsl run` does

Both models are the same architecture with the same weights (checked: equal outputs), in eval
mode under no_grad. Runs are interleaved (compiled, hand-written, hand-written, compiled, ...)
so drifting machine load hits both alike; the medians and their ratio are printed
(goal: compiled / hand-written <= 1.02). Per-call Python overhead is counted rather than timed
(timings of small inputs are dominated by convolution kernels and machine noise): the number
of Python function calls one forward() makes, compiled against hand-written, and the page
faults one forward() takes (with glibc's default malloc, large activations come back as fresh
pages the kernel must fault in and zero; how many depends on the order tensors are freed in).

The hand-written models follow torchvision's code: nn.Sequential stages, Bottleneck modules with
`out += identity` and in-place ReLUs; MobileNetV2's InvertedResidual (`x + self.conv(x)`);
ConvNeXt's CNBlock, which permutes to channels-last for its LayerNorm and two nn.Linear layers
(the compiled module's 1x1 convs hold the same numbers as (out, in, 1, 1)). A network that is not
built into this version of cnndsl is skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

import torch
from torch import nn

import cnndsl
from cnndsl.loader import builtin_architectures


# ----- hand-written models -----------------------------------------------------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torchvision's statements, one per layer: how long each tensor lives follows from them.
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
        out = self.relu(out)
        return out


class ResNet50(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 3)
        self.layer2 = self._stage(128, 4, stride=2)
        self.layer3 = self._stage(256, 6, stride=2)
        self.layer4 = self._stage(512, 3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, classes)

    def _stage(self, width: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, width * 4, 1, stride=stride, bias=False), nn.BatchNorm2d(width * 4)
        )
        layers = [Bottleneck(self.inplanes, width, stride, downsample)]
        self.inplanes = width * 4
        layers += [Bottleneck(self.inplanes, width) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class VGG16(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(4096, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def conv_bn_relu6(
    inputs: int, outputs: int, kernel: int = 3, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    """torchvision's Conv2dNormActivation with ReLU6."""
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(outputs),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int, expand: int):
        super().__init__()
        hidden = inputs * expand
        self.use_res_connect = stride == 1 and inputs == outputs
        layers: list[nn.Module] = [conv_bn_relu6(inputs, hidden, kernel=1)] if expand != 1 else []
        layers += [
            conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, outputs, 1, bias=False),
            nn.BatchNorm2d(outputs),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        # (expansion t, channels c, repeats n, first stride s): the paper's Table 2.
        settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1)]
        settings += [(6, 160, 3, 2), (6, 320, 1, 1)]
        features: list[nn.Module] = [conv_bn_relu6(3, 32, stride=2)]
        channels = 32
        for expand, width, repeats, stride in settings:
            for index in range(repeats):
                features.append(InvertedResidual(channels, width, stride if index == 0 else 1, expand))
                channels = width
        features.append(conv_bn_relu6(channels, 1280, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(width, width, 7, padding=3, groups=width),
            Permute((0, 2, 3, 1)),
            nn.LayerNorm(width, eps=1e-6),
            nn.Linear(width, 4 * width),
            nn.GELU(),
            nn.Linear(4 * width, width),
            Permute((0, 3, 1, 2)),
        )
        # torchvision registers layer_scale before `block`; after it here, in the .cnn file's order,
        # so that share_weights can pair the two state dicts entry by entry.
        self.layer_scale = nn.Parameter(torch.full((width, 1, 1), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * self.block(x) + x  # stochastic depth is the identity in eval mode


class Permute(nn.Module):
    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class ConvNeXtTiny(nn.Module):
    def __init__(self, classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 96, 4, stride=4), LayerNorm2d(96, eps=1e-6)]
        widths, depths = (96, 192, 384, 768), (3, 3, 9, 3)
        for stage, (width, depth) in enumerate(zip(widths, depths)):
            if stage:
                layers += [
                    LayerNorm2d(widths[stage - 1], eps=1e-6),
                    nn.Conv2d(widths[stage - 1], width, 2, 2),
                ]
            layers += [CNBlock(width) for _ in range(depth)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(768, eps=1e-6), nn.Flatten(1), nn.Linear(768, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


HAND_WRITTEN = {
    "resnet50": ResNet50,
    "vgg16": VGG16,
    "mobilenet_v2": MobileNetV2,
    "convnext_tiny": ConvNeXtTiny,
}


def state_order(module: nn.Module) -> list[str]:
    """`module`'s state keys in the order of the .cnn file's layers.

    That is registration order, except that a module's own parameters come before its children's
    in a state dict: CNBlock's layer_scale, applied after its block, moves to after the block.
    """
    keys = list(module.state_dict())
    for key in [key for key in keys if key.endswith("layer_scale")]:
        keys.remove(key)
        prefix = key[: -len("layer_scale")]
        last = max(index for index, other in enumerate(keys) if other.startswith(prefix))
        keys.insert(last + 1, key)
    return keys


def share_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy `source`'s state into `target`, entry by entry in layer order (same layout).

    A 1x1 conv's (out, in, 1, 1) weight goes into an nn.Linear's (out, in) as it is, reshaped.
    """
    values, slots = list(source.state_dict().values()), target.state_dict()
    pairs = list(zip(values, state_order(target)))
    assert len(pairs) == len(values) == len(slots)
    state = {}
    for value, name in pairs:
        slot = slots[name]
        linear = value.dim() == 4 and value.shape[2:] == (1, 1) and slot.shape == value.shape[:2]
        assert value.shape == slot.shape or linear, f"{name}: {tuple(value.shape)} vs {tuple(slot.shape)}"
        state[name] = value.reshape(slot.shape)
    target.load_state_dict(state)


def pair(network: str) -> tuple[nn.Module, nn.Module]:
    """The compiled module and the hand-written one, with identical weights, in eval mode."""
    torch.manual_seed(0)
    model = cnndsl.load(network)
    compiled = model.build("torch").eval()
    hand = HAND_WRITTEN[network]().eval()
    share_weights(compiled, hand)
    with torch.no_grad():  # random batchnorm statistics, so the equality check means something
        for (_, a), (_, b) in zip(compiled.named_buffers(), hand.named_buffers()):
            if a.is_floating_point():
                a.uniform_(0.5, 1.5)
                b.copy_(a)
    return compiled, hand


def interleaved(first, second, warmup: int, runs: int) -> tuple[list[float], list[float], list[int]]:
    """Seconds per call of each, and the page faults of each call (first's, then second's)."""
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    faults: tuple[list[int], list[int]] = ([], [])
    for run in range(runs):
        order = ((0, first), (1, second)) if run % 2 == 0 else ((1, second), (0, first))
        for index, function in order:
            faulted = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
            faults[index].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faulted)
    return times[0], times[1], [round(statistics.median(f)) for f in faults]


def python_calls(function) -> int:
    """How many Python-level function calls `function()` makes (C functions not counted)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        function()
    finally:
        sys.setprofile(None)
    return calls


def compare(network: str, batch: int, warmup: int, runs: int, control: bool = False) -> float:
    compiled, hand = pair(network)
    shape = compiled.input_shape
    if control:
        # An A/A run: a second hand-written copy in the compiled module's place. Its ratio is
        # what this machine and this method make of two identical models: the noise floor.
        compiled = HAND_WRITTEN[network]().eval()
        compiled.load_state_dict(hand.state_dict())
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        out, expected = compiled(x), hand(x)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
        compiled_times, hand_times, faults = interleaved(lambda: compiled(x), lambda: hand(x), warmup, runs)
        calls = python_calls(lambda: compiled(x)), python_calls(lambda: hand(x))
    ours, theirs = statistics.median(compiled_times), statistics.median(hand_times)
    ratio = ours / theirs
    # The fastest runs are the least disturbed by other load: a second opinion on a busy machine.
    fastest = min(compiled_times) / min(hand_times)
    # Each run times the two back to back: the median of those paired ratios cancels slow drifts
    # in the machine's load that the ratio of the two medians still feels.
    paired = statistics.median(c / h for c, h in zip(compiled_times, hand_times))
    label = f"{network} (A/A control: hand-written vs a copy)" if control else network
    print(
        f"{label:9} batch {batch:2} {'x'.join(map(str, shape)):>9}  compiled {ours * 1e3:9.2f} ms  "
        f"hand-written {theirs * 1e3:9.2f} ms  ratio {ratio:.3f}  ({runs} runs each, medians)\n"
        f"{'':9} ratio of the fastest runs {fastest:.3f}, median of paired ratios {paired:.3f}; "
        f"Python calls per forward: compiled {calls[0]}, hand-written {calls[1]}\n"
        f"{'':9} page faults per forward (medians): compiled {faults[0]:,}, hand-written {faults[1]:,}"
    )
    return ratio


def matmul_gflops(size: tuple[int, int, int] = (3136, 576, 128), runs: int = 20) -> float:
    """np.matmul's rate on a conv-shaped GEMM, the same yardstick as bench_numpy.py's."""
    import numpy as np

    m, k, n = size
    a, b, out = np.ones((m, k), np.float32), np.ones((k, n), np.float32), np.empty((m, n), np.float32)
    np.matmul(a, b, out=out)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2 * m * k * n / statistics.median(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--networks", nargs="+", default=list(HAND_WRITTEN), choices=sorted(HAND_WRITTEN))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument(
        "--control", action="store_true", help="also time hand-written against a copy of itself"
    )
    parser.add_argument(
        "--malloc",
        choices=["system", "keep"],
        default="system",
        help="keep: glibc keeps freed memory, as `cnndsl run` sets it (cnndsl/allocator.py)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.malloc == "keep":
        from cnndsl.allocator import keep_freed_memory

        if not keep_freed_memory():
            parser.error("--malloc keep needs glibc (and CNNDSL_SYSTEM_MALLOC unset)")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, eval, no_grad, "
        f"malloc {args.malloc}"
    )
    print("load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))
    print(f"np.matmul on a conv-shaped GEMM (3136x576 by 576x128): {matmul_gflops():.0f} GFLOP/s")
    builtins = set(builtin_architectures())
    for network in args.networks:
        if network not in builtins:
            print(f"{network:9} skipped: not a built-in architecture in this version of cnndsl")
            continue
        compare(network, args.batch, args.warmup, args.runs)
        if args.control:
            compare(network, args.batch, args.warmup, args.runs, control=True)
    print("load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()

"""One prepared GPU check (a few minutes): CUDA outputs equal CPU outputs, then training throughput.

    python benchmarks/gpu_check.py               # everything below, ~2-4 minutes on one GPU
    python benchmarks/gpu_check.py --quick       # fewer timed steps

1. Correctness, fp32: LeNet-5, GoogLeNet and ResNet-50 compiled by cnndsl run on the CPU and on
   CUDA with the same weights and input; TF32 is switched off so both sides compute in true
   fp32. Pass when max|cuda - cpu| <= 1e-4 * max|cpu| + 1e-5 (summation order differs between
   cuDNN and the CPU kernels; a wrong layer is off by orders of magnitude more). Gradients of
   LeNet-5 are compared the same way.
2. Throughput: ResNet-50, batch 64, one training step (forward, cross-entropy, backward, SGD)
   in fp32 and in bf16 autocast with channels_last, for the compiled module and for the
   hand-written torchvision-style ResNet-50 of bench_torch.py; images/s and the ratio.

Without a CUDA device it says so, runs the CPU half of check 1 on LeNet-5 and exits 0.
Exit status 1 when a correctness check fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

import cnndsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import ResNet50, share_weights  # noqa: E402 - the benchmark's hand-written model

RELATIVE, ABSOLUTE = 1e-4, 1e-5
CORRECTNESS = {"lenet5": None, "googlenet": (3, 224, 224), "resnet50": (3, 224, 224)}


def close(got: torch.Tensor, expected: torch.Tensor) -> tuple[bool, float]:
    error = (got.double() - expected.double()).abs().max().item()
    limit = RELATIVE * expected.double().abs().max().item() + ABSOLUTE
    return error <= limit, error


def check_outputs(device: str) -> bool:
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    ok = True
    for name, shape in CORRECTNESS.items():
        if device == "cpu" and name != "lenet5":
            continue
        torch.manual_seed(0)
        model = cnndsl.load(name, input=shape)
        module = model.build("torch").eval()
        with torch.no_grad():  # non-trivial batchnorm statistics
            for buffer_name, buffer in module.named_buffers():
                if buffer_name.endswith(("running_mean", "running_var")):
                    buffer.uniform_(0.5, 1.5)
        x = torch.randn(4, *model.input_shape)
        with torch.no_grad():
            expected = module(x)
            got = module.to(device)(x.to(device)).cpu()
        passed, error = close(got, expected)
        ok &= passed
        print(f"  {name:10} fp32 forward  max|diff| {error:.2e}  {'ok' if passed else 'FAIL'}")
    torch.manual_seed(1)
    module = cnndsl.load("lenet5").build("torch", logits=True)
    x, labels = torch.randn(16, 1, 32, 32), torch.randint(0, 10, (16,))
    grads = []
    for where in ("cpu", device):
        module.zero_grad()
        module.to(where)
        torch.nn.functional.cross_entropy(module(x.to(where)), labels.to(where)).backward()
        grads.append(module.conv1.weight.grad.cpu())
    passed, error = close(grads[1], grads[0])
    print(f"  lenet5     fp32 gradient max|diff| {error:.2e}  {'ok' if passed else 'FAIL'}")
    return ok and passed


def images_per_second(module: torch.nn.Module, bf16: bool, steps: int, batch: int = 64) -> float:
    module = module.cuda().train()
    if bf16:
        module = module.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    if bf16:
        x = x.to(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (batch,), device="cuda")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(module(x), labels)
        loss.backward()
        optimizer.step()

    for _ in range(5):  # cuDNN autotuning and allocator warm-up
        step()
    times = []
    for _ in range(steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def throughput(steps: int) -> None:
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True  # the default a user trains with
    torch.backends.cuda.matmul.allow_tf32 = True
    for label, bf16 in (("fp32", False), ("bf16 autocast, channels_last", True)):
        torch.manual_seed(0)
        compiled = cnndsl.load("resnet50").build("torch")
        hand = ResNet50()
        share_weights(compiled, hand)
        ours = images_per_second(compiled, bf16, steps)
        theirs = images_per_second(hand, bf16, steps)
        print(
            f"  resnet50 batch 64 train step, {label}: compiled {ours:7.1f} img/s, "
            f"hand-written {theirs:7.1f} img/s, ratio {ours / theirs:.3f}"
        )
        del compiled, hand
        torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10 timed steps instead of 30")
    args = parser.parse_args()
    print(f"torch {torch.__version__}")
    if not torch.cuda.is_available():
        print("no CUDA device: running the CPU half of the correctness check only")
        ok = check_outputs("cpu")
        print("CPU fallback done" if ok else "CPU fallback FAILED")
        return 0 if ok else 1
    print(f"device: {torch.cuda.get_device_name(0)}")
    print(f"1. CUDA vs CPU, fp32 (pass: max|diff| <= {RELATIVE:g} * max|cpu| + {ABSOLUTE:g})")
    ok = check_outputs("cuda")
    print("2. training throughput")
    throughput(10 if args.quick else 30)
    print("all correctness checks passed" if ok else "correctness check FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

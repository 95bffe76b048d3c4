"""Whole-network forward time of the NumPy backend against PyTorch on the CPU, batch 1, 224x224.

    python benchmarks/bench_numpy.py                       # ResNet-50, VGG-16, MobileNetV2, EfficientNet-B0
    python benchmarks/bench_numpy.py --networks resnet18 --runs 20 --threads 2
    python benchmarks/bench_numpy.py --networks my_net.cnn  # a file works too
    python benchmarks/bench_numpy.py --malloc keep          # glibc keeps freed memory, as `cnndsl run`
    python benchmarks/bench_numpy.py --blas-sleep default   # OpenBLAS's threads spin after a GEMM

Each framework runs in its own process with the same thread count: torch's and OpenBLAS's idle
threads busy-wait and slow each other down 40-70% when they share one. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE are removed from the NumPy process's environment (only there) so OpenBLAS picks
its kernel for this CPU; the kernel it picked is printed when threadpoolctl is installed.
Prints the median time and ratio, each process's peak memory (ru_maxrss), NumPy's time per
layer kind and its GFLOP/s against np.matmul's own GEMM rate measured in the same process.
A named network that is not built in (yet) is skipped with a message. The machine's load
average is printed before and after: other jobs on the cores slow both frameworks unevenly.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict

from cnndsl import blas_threads

BLAS_TUNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _times(run, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _blas_kernel() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (install threadpoolctl to see it)"
    found = [f"{i.get('internal_api')} {i.get('architecture', '?')}" for i in threadpool_info()]
    return ", ".join(found) or "none found"


def _load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _gemm_rate(np, size: tuple[int, int, int] = (3136, 576, 128)) -> float:
    """np.matmul's GFLOP/s on a conv-shaped GEMM (56x56 pixels, 3x3x64 patches, 128 filters)."""
    m, k, n = size
    a, b = np.ones((m, k), np.float32), np.ones((k, n), np.float32)
    out = np.empty((m, n), np.float32)
    times = _times(lambda: np.matmul(a, b, out=out), 3, 20)
    return 2 * m * k * n / statistics.median(times) / 1e9


def numpy_worker(name: str, batch: int, warmup: int, runs: int) -> dict:
    import numpy as np

    import cnndsl

    model = cnndsl.load(name)
    network = model.build("numpy")
    x = np.random.default_rng(0).standard_normal((batch, *model.input_shape)).astype(np.float32)
    times = _times(lambda: network(x), warmup, runs)
    peak = _peak_mb()
    per_kind: dict[str, float] = defaultdict(float)
    macs_per_kind: dict[str, int] = defaultdict(int)
    graph = model.graph
    for _ in range(3):
        for _head, kind, seconds in network.profile(x):
            per_kind[kind] += seconds / 3
    for layer in network.layers:
        macs_per_kind[layer.kind] += graph.nodes[layer.step.head]["macs"] * batch
    return {
        "times": times,
        "peak_mb": peak,
        "per_kind": dict(per_kind),
        "macs_per_kind": dict(macs_per_kind),
        "gemm_gflops": _gemm_rate(np),
        "blas": _blas_kernel(),
        "macs": model.macs * batch,
    }


def torch_worker(name: str, batch: int, warmup: int, runs: int, threads: int) -> dict:
    import torch

    import cnndsl

    torch.set_num_threads(threads)
    model = cnndsl.load(name)
    module = model.build("torch").eval()
    x = torch.randn(batch, *model.input_shape)
    with torch.inference_mode():
        times = _times(lambda: module(x), warmup, runs)
    return {"times": times, "peak_mb": _peak_mb(), "macs": model.macs * batch}


def run_worker(framework: str, name: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    for variable in THREAD_VARIABLES:
        env[variable] = str(args.threads)
    if framework == "numpy":
        for variable in BLAS_TUNING_VARIABLES:
            env.pop(variable, None)
        if args.blas_sleep == "quick":  # as `cnndsl run` sets it (cnndsl/blas_threads.py)
            env.setdefault(blas_threads.VARIABLE, blas_threads.QUICK_SLEEP)
        else:
            env.pop(blas_threads.VARIABLE, None)
    command = [sys.executable, __file__, "--worker", framework, "--networks", name]
    command += ["--runs", str(args.runs), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    command += ["--malloc", args.malloc]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{framework} worker for {name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(name: str, numpy_result: dict, torch_result: dict) -> None:
    numpy_ms = statistics.median(numpy_result["times"]) * 1000
    torch_ms = statistics.median(torch_result["times"]) * 1000
    runs = len(numpy_result["times"])
    print(f"\n{name}: batch 1, float32, {runs} runs each (median, max-min spread, peak memory)")
    for label, result, ms in (("numpy", numpy_result, numpy_ms), ("torch", torch_result, torch_ms)):
        spread = (max(result["times"]) - min(result["times"])) * 1000
        print(f"  {label}  {ms:8.1f} ms  +-{spread:5.1f}   peak {result['peak_mb']:7.0f} MB")
    memory = numpy_result["peak_mb"] / torch_result["peak_mb"]
    print(f"  ratio numpy/torch: {numpy_ms / torch_ms:.2f}x time, {memory:.2f}x peak memory")
    print(f"  numpy BLAS: {numpy_result['blas']}")
    gflops = 2 * numpy_result["macs"] / (numpy_ms / 1000) / 1e9
    gemm = numpy_result["gemm_gflops"]
    print(f"  numpy network: {gflops:.0f} GFLOP/s; np.matmul alone: {gemm:.0f} GFLOP/s ({gflops / gemm:.0%})")
    total = sum(numpy_result["per_kind"].values())
    print("  numpy time by layer kind (profiled passes; GFLOP/s counts direct-convolution MACs):")
    for kind, seconds in sorted(numpy_result["per_kind"].items(), key=lambda item: -item[1]):
        macs = numpy_result["macs_per_kind"].get(kind, 0)
        rate = f"{2 * macs / seconds / 1e9:6.0f} GFLOP/s" if macs and seconds else ""
        print(f"    {kind:<24} {seconds * 1000:7.2f} ms  {seconds / total:6.1%}  {rate}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="resnet50,vgg16,mobilenet_v2,efficientnet_b0")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--malloc",
        choices=("system", "keep"),
        default="system",
        help="keep: both workers' glibc keeps freed memory, as `cnndsl run` sets it",
    )
    parser.add_argument(
        "--blas-sleep",
        choices=("quick", "default"),
        default="quick",
        help="quick: OpenBLAS's idle threads sleep at once in the NumPy worker, as `cnndsl run` sets it",
    )
    parser.add_argument("--worker", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.networks.split(",")
    if args.worker and args.malloc == "keep":
        from cnndsl.allocator import keep_freed_memory

        keep_freed_memory()
    if args.worker == "numpy":
        print(json.dumps(numpy_worker(names[0], 1, args.warmup, args.runs)))
        return
    if args.worker == "torch":
        print(json.dumps(torch_worker(names[0], 1, args.warmup, args.runs, args.threads)))
        return
    from cnndsl.loader import builtin_architectures

    print(
        f"{args.threads} threads per framework, each framework in its own process, malloc {args.malloc}, "
        f"OpenBLAS idle threads sleep: {args.blas_sleep}"
    )
    print(_load_average())
    builtins = set(builtin_architectures())
    for name in names:
        if not name.endswith(".cnn") and name not in builtins:
            print(f"\n{name}: skipped, not a built-in architecture in this version of cnndsl")
            continue
        report(name, run_worker("numpy", name, args), run_worker("torch", name, args))
    print(_load_average())


if __name__ == "__main__":
    main()

"""`cnndsl bench FILE --backends numpy,torch --batch 1,8`: forward time of backends side by side.

Each (backend, batch) pair runs in its own process with the same thread count: PyTorch's and
OpenBLAS's idle threads busy-wait, and sharing one process slows both by 40-70%. A worker
warms up, times several runs on random input, and reports back as one JSON line; the table
shows the median, the spread (max - min), images per second, the ratio to the first backend
and the worker's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from .. import allocator, blas_threads
from ..errors import CnnError, CnnUsageError
from .common import add_network_options, load_from_args

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
RESULT_PREFIX = "result "
ERROR_PREFIX = "error "


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time a network's forward pass on several backends")
    add_network_options(parser)
    parser.add_argument("--backends", default="numpy,torch", help="comma-separated (default numpy,torch)")
    parser.add_argument("--batch", default="1", metavar="N[,N...]", help="batch sizes (default 1)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per backend and batch (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads per backend")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where torch runs")
    parser.set_defaults(handler=run)


def _positive_list(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise CnnUsageError(f"{option} expects numbers separated by commas, found '{text}'") from None
    if not values or min(values) < 1:
        raise CnnUsageError(f"{option} values must be at least 1, found '{text}'")
    return values


def run(args: argparse.Namespace) -> int:
    from ..plugins import get_backend

    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    for name in backends:
        get_backend(name)  # an unknown name fails here, listing the installed ones
    batches = _positive_list(args.batch, "--batch")
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        raise CnnUsageError("--runs and --threads must be at least 1, --warmup at least 0")
    model = load_from_args(args)  # diagnostics for a bad file before any worker starts
    jobs = [(backend, batch) for batch in batches for backend in backends]
    progress = _Progress(len(jobs) * (args.warmup + args.runs))
    results = {}
    try:
        for backend, batch in jobs:
            progress.describe(f"{backend} x{batch}")
            results[backend, batch] = _run_worker(args, backend, batch, progress)
    finally:
        progress.close()
    dims = "x".join(str(d) for d in model.input_shape)
    print(
        f"{model.name} {dims}, {args.threads} threads, {args.runs} runs after {args.warmup} warm-up "
        f"(median; spread = max - min)"
    )
    header = f"{'backend':<10} {'device':<6} {'batch':>5} {'median ms':>10} {'spread':>8} {'images/s':>9}"
    print(header + f" {'ratio':>6} {'peak MB':>8}")
    for backend, batch in jobs:
        times = results[backend, batch]["times"]
        median = statistics.median(times)
        first = statistics.median(results[backends[0], batch]["times"])
        device = args.device if backend == "torch" else "cpu"
        spread, peak = (max(times) - min(times)) * 1000, results[backend, batch]["peak_mb"]
        print(
            f"{backend:<10} {device:<6} {batch:>5} {median * 1000:>10.2f} {spread:>8.2f}"
            f" {batch / median:>9.1f} {median / first:>6.2f} {peak:>8.0f}"
        )
    if os.environ.get("OPENBLAS_CORETYPE") and "numpy" in backends:
        print(
            f"note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set: NumPy's BLAS uses that kernel"
        )
    return 0


def _run_worker(args: argparse.Namespace, backend: str, batch: int, progress: _Progress) -> dict[str, Any]:
    job = {
        "file": args.file,
        "network": args.network,
        "set": args.set,
        "shape": args.shape,
        "backend": backend,
        "batch": batch,
        "runs": args.runs,
        "warmup": args.warmup,
        "threads": args.threads,
        "device": args.device,
    }
    env = dict(os.environ)
    for variable in THREAD_VARIABLES:
        env[variable] = str(args.threads)
    command = [sys.executable, "-m", "cnndsl.commands.bench", json.dumps(job)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    result, error = None, None
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("tick"):
            progress.advance()
        elif line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        elif line.startswith(ERROR_PREFIX):
            error = line[len(ERROR_PREFIX) :].strip()
    stderr = process.stderr.read() if process.stderr else ""
    process.wait()
    if error:
        raise CnnUsageError(f"{backend} (batch {batch}): {error}")
    if process.returncode != 0 or result is None:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {process.returncode}"
        raise CnnUsageError(f"the {backend} benchmark worker (batch {batch}) failed: {last}")
    return result


class _Progress:
    """tqdm's bar when tqdm is installed and stderr is a terminal; a plain counter otherwise."""

    def __init__(self, total: int):
        self.total, self.done, self.label = total, 0, ""
        self.bar = None
        self.shown = sys.stderr.isatty()
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, unit="run", leave=False, disable=None)

    def describe(self, label: str) -> None:
        self.label = label
        if self.bar is not None:
            self.bar.set_description(label)

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.shown:
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} runs")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.shown:
            sys.stderr.write("\r\033[K")


# ----- the worker: one backend, one batch size, in its own process ----------------------------
def _time_runs(step, warmup: int, runs: int, synchronize=None) -> list[float]:
    times = []
    for index in range(warmup + runs):
        start = time.perf_counter()
        step()
        if synchronize is not None:
            synchronize()
        if index >= warmup:
            times.append(time.perf_counter() - start)
        print("tick", flush=True)
    return times


def worker(job: dict[str, Any]) -> dict[str, Any]:
    from ..plugins import require_module

    allocator.keep_freed_memory()  # as `cnndsl run` does, so that bench times what run gets
    blas_threads.sleep_idle_blas_threads()

    np = require_module("numpy", "numpy")

    namespace = argparse.Namespace(
        file=job["file"], network=job["network"], set=job["set"], shape=job["shape"]
    )
    model = load_from_args(namespace)
    from ..memory import check_fits

    check_fits(model, job["batch"])
    x = np.random.default_rng(0).standard_normal((job["batch"], *model.input_shape)).astype(np.float32)
    if job["backend"] != "torch":
        network = model.build(job["backend"])
        times = _time_runs(lambda: network(x), job["warmup"], job["runs"])
    else:
        torch = require_module("torch", "torch")
        torch.set_num_threads(job["threads"])
        device = torch.device(job["device"])
        if device.type == "cuda" and not torch.cuda.is_available():
            raise CnnUsageError("--device cuda: PyTorch sees no CUDA device here")
        if device.type == "cuda":
            free = torch.cuda.mem_get_info(device)[0]
            check_fits(model, job["batch"], available=free, where=f"GPU memory on {device}")
        module = model.build("torch").eval().to(device)
        tensor = torch.from_numpy(x).to(device)
        synchronize = torch.cuda.synchronize if device.type == "cuda" else None
        with torch.inference_mode():
            times = _time_runs(lambda: module(tensor), job["warmup"], job["runs"], synchronize)
    import resource  # Unix only: imported here so that the CLI still starts elsewhere

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"times": times, "peak_mb": peak_mb}


def _worker_main(argv: list[str]) -> int:
    try:
        result = worker(json.loads(argv[0]))
    except CnnError as error:
        print(ERROR_PREFIX + error.message, flush=True)
        return 2
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))

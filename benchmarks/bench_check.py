"""How fast the front end checks: whole-process `cnndsl summary` of every built-in, generated networks.

    python benchmarks/bench_check.py                 # all of it
    python benchmarks/bench_check.py --runs 3 --sizes 1000 5000 10000
    python benchmarks/bench_check.py --runs 3 --summaries-only   # every built-in's summary, nothing else

Targets (issue 2): `cnndsl summary resnet152 --format json` as a whole process under 0.5 s; a
generated 10,000-layer network checks in under 2 s, in time linear in its length. Issue 9: a
file with a megabyte of literal weights checks in about a second, whole process, and
`cnndsl summary NAME --format json` stays under 0.5 s for every built-in architecture.

PyTorch, measured in the same run, is the yardstick: the whole process is set against
`python -c "import torch"`, and checking the generated networks against PyTorch's own way of
finding shapes without allocating (the same layers built and run on the `meta` device).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_PROCESS_S = 0.5
TARGET_10K_S = 2.0
TARGET_LITERAL_S = 1.0


def bytecode_environment(cwd: Path) -> dict[str, str]:
    """The environment with bytecode caching on, into `cwd`: an installed cnndsl has its .pyc
    files, and compiling its modules from source (PYTHONDONTWRITEBYTECODE=1, as some sandboxes
    set) costs every process about 0.3 s more."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    return env


def process_seconds(command: list[str], runs: int, cwd: Path) -> float:
    """Median wall time of a whole process (interpreter start, imports, work, exit)."""
    times = []
    env = bytecode_environment(cwd)
    for _ in range(runs + 1):  # the first run warms the file cache, bytecode and Lark's grammar cache
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def process_cpu_and_wall(command: list[str], runs: int, cwd: Path) -> tuple[float, float]:
    """Median CPU seconds (user + system) and wall seconds of a whole process. On a loaded machine
    the CPU time is what the process would take on a quiet one; its wall time waits for a core."""
    cpu, wall = [], []
    env = bytecode_environment(cwd)
    for _ in range(runs + 1):  # the first run warms the file cache, bytecode and Lark's grammar cache
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=cwd, env=env)
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(cpu[1:]), statistics.median(wall[1:])


def builtin_networks() -> list[str]:
    """The built-in architectures that define a network (block libraries such as resnet_blocks don't)."""
    from cnndsl.loader import builtin_architectures, builtin_path

    return [
        name
        for name in builtin_architectures()
        if any(line.startswith("network ") for line in builtin_path(name).read_text().splitlines())
    ]


def generated_network(layers: int) -> str:
    """`layers` statements: 3x3 convolutions that keep the shape, each followed by a ReLU."""
    body = ["    conv 16 3x3 pad=1" if index % 2 == 0 else "    relu" for index in range(layers)]
    return "\n".join(["network deep {", "    input 16x32x32", *body, "}"]) + "\n"


def literal_weights_network(megabytes: float) -> str:
    """A 3x3 conv whose literal weights, written on one line, take about `megabytes` of text."""
    out_channels = max(1, round(megabytes * 2**20 / (64 * 9 * 8)))  # `-0.123, ` is 8 characters
    numbers = [f"{(-1) ** i * (i % 1000) / 1000:.3f}" for i in range(out_channels * 64 * 9)]
    flat = ", ".join(numbers)
    return f"network literal {{\n    input 64x16x16\n    conv {out_channels} 3x3 weights=[{flat}]\n}}\n"


def best_of(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def cnndsl_check_seconds(layers: int, runs: int) -> float:
    from cnndsl.loader import check_all
    from cnndsl.source import SourceFile

    text = generated_network(layers)
    models = check_all(SourceFile("deep.cnn", text))
    assert models[0].graph.number_of_nodes() == layers + 1
    return best_of(lambda: check_all(SourceFile("deep.cnn", text)), runs)


def torch_meta_seconds(layers: int, runs: int) -> float | None:
    """Building the same layers on PyTorch's meta device and propagating a meta tensor through them."""
    try:
        import torch
    except ImportError:
        return None

    def work() -> None:
        with torch.device("meta"):
            modules = [
                torch.nn.Conv2d(16, 16, 3, padding=1) if index % 2 == 0 else torch.nn.ReLU()
                for index in range(layers)
            ]
            network = torch.nn.Sequential(*modules)
            output = network(torch.empty(1, 16, 32, 32))
        assert output.shape == (1, 16, 32, 32)

    return best_of(work, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measurement")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 5000, 10000], help="layers per generated network"
    )
    parser.add_argument("--literal-mb", type=float, default=1.0, help="megabytes of literal weights")
    parser.add_argument("--summaries-only", action="store_true", help="only the built-ins' summaries")
    args = parser.parse_args()

    print("Whole process (median of runs; includes interpreter start-up)")
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        # Interpreter start-up alone, first: on a loaded machine it shows how much everything slowed.
        bare = process_seconds([sys.executable, "-c", "pass"], args.runs, cwd)
        print(f"  {'python -c pass':<48} {bare:.3f} s")
        load = os.getloadavg()[0]
        print(f"  load average {load:.2f} on {os.cpu_count()} CPUs; wall and CPU (user + system) time")
        summaries = {}
        for name in builtin_networks():
            command = [sys.executable, "-m", "cnndsl", "summary", name, "--format", "json"]
            cpu, summaries[name] = process_cpu_and_wall(command, args.runs, cwd)
            verdict = "ok" if summaries[name] < TARGET_PROCESS_S else "OVER TARGET"
            label = f"cnndsl summary {name} --format json"
            print(
                f"  {label:<48} {summaries[name]:.3f} s, CPU {cpu:.3f} s  "
                f"(target < {TARGET_PROCESS_S} s: {verdict})"
            )
        slowest = max(summaries, key=summaries.get)
        over = sorted(name for name, seconds in summaries.items() if seconds >= TARGET_PROCESS_S)
        over_text = ", ".join(over) or "none"
        print(f"  slowest built-in: {slowest} {summaries[slowest]:.3f} s; over target: {over_text}")
        if args.summaries_only:
            return
        summary = summaries.get("resnet152", summaries[slowest])
        try:
            torch_import = process_seconds([sys.executable, "-c", "import torch"], args.runs, cwd)
            print(f"  python -c 'import torch'                 {torch_import:.3f} s")
            print(f"  ratio summary / import torch             {summary / torch_import:.2f}")
        except subprocess.CalledProcessError:
            print("  (torch is not installed: no ratio)")

        largest = max(args.sizes)
        deep_file = cwd / "deep.cnn"
        deep_file.write_text(generated_network(largest))
        whole = process_seconds([sys.executable, "-m", "cnndsl", "check", str(deep_file)], args.runs, cwd)
        verdict = "ok" if whole < TARGET_10K_S else "OVER TARGET"
        label = f"cnndsl check ({largest:,} layers)"
        print(f"  {label:<40} {whole:.3f} s  (target < {TARGET_10K_S} s: {verdict})")

        literal_file = cwd / "literal.cnn"
        literal_file.write_text(literal_weights_network(args.literal_mb))
        whole = process_seconds([sys.executable, "-m", "cnndsl", "check", str(literal_file)], args.runs, cwd)
        verdict = "ok" if whole < TARGET_LITERAL_S else "OVER TARGET"
        label = f"cnndsl check ({literal_file.stat().st_size / 2**20:.2f} MB of weights)"
        print(f"  {label:<40} {whole:.3f} s  (target about {TARGET_LITERAL_S} s: {verdict})")

    print("\nChecking generated networks in-process (best of runs)")
    columns = ("layers", "cnndsl", "per layer", "torch meta", "per layer", "ratio")
    print("  " + "  ".join(f"{name:>{width}}" for name, width in zip(columns, (7, 9, 10, 10, 10, 6))))
    per_layer = {}
    for layers in args.sizes:
        ours = cnndsl_check_seconds(layers, args.runs)
        theirs = torch_meta_seconds(layers, args.runs)
        per_layer[layers] = ours / layers
        row = f"  {layers:>7,}  {ours:>8.3f}s  {ours / layers * 1e6:>8.1f}us"
        if theirs is not None:
            row += f"  {theirs:>9.3f}s  {theirs / layers * 1e6:>8.1f}us  {ours / theirs:>6.2f}"
        print(row)
    smallest, largest = min(args.sizes), max(args.sizes)
    growth = per_layer[largest] / per_layer[smallest]
    print(f"\nPer-layer cost at {largest:,} layers / at {smallest:,} layers: {growth:.2f} (1.00 is linear)")


if __name__ == "__main__":
    main()

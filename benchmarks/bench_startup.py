"""Cold start: whole-process `cnndsl check lenet5` and `summary resnet152` with and without the parser cache.

    python benchmarks/bench_startup.py --runs 7

Wall and CPU time of the whole process (CPU time is steadier on a shared machine).
"With cache" reads the parse tables from a private JSON file; "without" builds them (the cache
folder is made writable by others, so it is refused). Target: summary resnet152 under 0.5 s.
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

COMMANDS = {
    "check lenet5": ["check", "lenet5"],
    "summary resnet152 --format json": ["summary", "resnet152", "--format", "json"],
}


def run(arguments: list[str], cache_home: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one whole process."""
    environment = {**os.environ, "XDG_CACHE_HOME": cache_home}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "cnndsl", *arguments]
    subprocess.run(command, check=True, capture_output=True, env=environment)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def medians(arguments: list[str], cache_home: str, runs: int) -> tuple[float, float]:
    times = [run(arguments, cache_home) for _ in range(runs)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as private, tempfile.TemporaryDirectory() as shared:
        os.makedirs(os.path.join(shared, "cnndsl"))
        os.chmod(os.path.join(shared, "cnndsl"), 0o777)  # refused: the tables are built every time
        run(["check", "lenet5"], private)  # writes the cache
        for label, arguments in COMMANDS.items():
            cached, cached_cpu = medians(arguments, private, runs)
            built, built_cpu = medians(arguments, shared, runs)
            print(
                f"{label:32} with cache {cached:.3f} s (CPU {cached_cpu:.3f} s)   "
                f"without {built:.3f} s (CPU {built_cpu:.3f} s)   medians of {runs}"
            )


if __name__ == "__main__":
    main()

"""Cold start: whole-process `cnndsl check lenet5` and `summary resnet152` with and without the parser cache.

    python benchmarks/bench_startup.py --runs 7

"With cache" reads the parse tables from a private JSON file; "without" builds them (the cache
folder is made writable by others, so it is refused). Target: summary resnet152 under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "check lenet5": ["check", "lenet5"],
    "summary resnet152 --format json": ["summary", "resnet152", "--format", "json"],
}


def run(arguments: list[str], cache_home: str) -> float:
    environment = {**os.environ, "XDG_CACHE_HOME": cache_home}
    start = time.perf_counter()
    command = [sys.executable, "-m", "cnndsl", *arguments]
    subprocess.run(command, check=True, capture_output=True, env=environment)
    return time.perf_counter() - start


def median_seconds(arguments: list[str], cache_home: str, runs: int) -> float:
    return statistics.median(run(arguments, cache_home) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as private, tempfile.TemporaryDirectory() as shared:
        os.makedirs(os.path.join(shared, "cnndsl"))
        os.chmod(os.path.join(shared, "cnndsl"), 0o777)  # refused: the tables are built every time
        run(["check", "lenet5"], private)  # writes the cache
        for label, arguments in COMMANDS.items():
            cached = median_seconds(arguments, private, runs)
            built = median_seconds(arguments, shared, runs)
            print(f"{label:34} with cache {cached:.3f} s   without {built:.3f} s   (median of {runs})")


if __name__ == "__main__":
    main()

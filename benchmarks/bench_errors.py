"""How fast `cnndsl check` reports files full of errors: time at growing sizes, and linearity.

    python benchmarks/bench_errors.py                      # 1,000 to 50,000 errors
    python benchmarks/bench_errors.py --sizes 1000 4000 --runs 1

Targets (issue 8): time linear in the number of errors. Before: 10,000 unknown statements took
12.6 s and 50,000 more than 60 s (each error compared with every earlier one); 4,000 unknown
names in 4,000 blocks took 33 s (each compared by difflib with every block's name).
"""

from __future__ import annotations

import argparse
import time

from cnndsl.errors import CnnError
from cnndsl.loader import check_all
from cnndsl.source import SourceFile


def unknown_statements(count: int) -> str:
    return "network n {\n    input 3x32x32\n" + "".join(f"    layer{i}\n" for i in range(count)) + "}\n"


def unknown_names_in_blocks(count: int) -> str:
    """`count` blocks, each with a misspelt name close to every block's name, each called once."""
    blocks = "".join(f"block stage{i}() {{\n    stgae{i}x\n}}\n" for i in range(count))
    calls = "".join(f"    stage{i}()\n" for i in range(count))
    return blocks + "network n {\n    input 3x32x32\n" + calls + "}\n"


def seconds(text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        try:
            check_all(SourceFile("big.cnn", text))
        except CnnError:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per size (the best counts)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 4_000, 10_000, 50_000])
    args = parser.parse_args()
    seconds(unknown_statements(1), 1)  # build the parser before timing
    cases = [("unknown statements", unknown_statements), ("unknown names in blocks", unknown_names_in_blocks)]
    for title, make in cases:
        print(f"{title}\n  {'errors':>8}  {'seconds':>8}  {'per error':>10}")
        per_error = {}
        for size in args.sizes:
            took = seconds(make(size), args.runs)
            per_error[size] = took / size
            print(f"  {size:>8,}  {took:>8.3f}  {took / size * 1e6:>8.1f}us")
        smallest, largest = min(args.sizes), max(args.sizes)
        growth = per_error[largest] / per_error[smallest]
        print(f"  per-error cost at {largest:,} / at {smallest:,}: {growth:.2f} (1.00 is linear)\n")


if __name__ == "__main__":
    main()

"""How fast `cnndsl fmt` formats big files: time at growing sizes, and whether it stays linear.

    python benchmarks/bench_fmt.py                        # 10,000 to 100,000 statements
    python benchmarks/bench_fmt.py --sizes 1000 4000 --runs 1

Target (issue 8): linear in the number of statements; 100,000 statements in a few seconds.
A file has three kinds of lines: statements on their own with trailing comments, statements
joined with `;`, and own-line comments; one inline body, one long line with brackets, holds
the rest of each file's statements.
"""

from __future__ import annotations

import argparse
import time

from cnndsl.formatter import format_text


def generated_file(statements: int) -> str:
    lines = ["network big {", "    input 16x32x32"]
    for index in range(statements // 2):
        if index % 3 == 0:
            lines.append(f"    conv 16 3x3 pad=1   # layer {index}")
        elif index % 3 == 1:
            lines.append("    batchnorm ;relu")
        else:
            lines.append("    # a comment on its own line")
            lines.append("    relu")
    rest = statements - statements // 2
    inline = ["conv 16 (3, 3) pad=(1)" if index % 2 else "relu" for index in range(rest)]
    lines.append("    residual { " + "; ".join(inline) + " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def best_of(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        format_text(text, "big.cnn")
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per size (the best counts)")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 25_000, 50_000, 100_000], help="statements per file"
    )
    args = parser.parse_args()
    format_text("network n {\n    input 3x8x8\n}\n")  # build the parsers before timing
    print(f"  {'statements':>10}  {'seconds':>8}  {'per statement':>13}")
    per_statement = {}
    for size in args.sizes:
        seconds = best_of(generated_file(size), args.runs)
        per_statement[size] = seconds / size
        print(f"  {size:>10,}  {seconds:>8.3f}  {seconds / size * 1e6:>11.1f}us")
    smallest, largest = min(args.sizes), max(args.sizes)
    growth = per_statement[largest] / per_statement[smallest]
    print(f"\nPer-statement cost at {largest:,} / at {smallest:,}: {growth:.2f} (1.00 is linear)")


if __name__ == "__main__":
    main()

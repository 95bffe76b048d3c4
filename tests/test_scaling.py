"""Big inputs stay linear: the work done (Python lines run), not the time taken, at growing sizes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.formatter import format_text
from cnndsl.loader import check_all
from cnndsl.source import SourceFile

PACKAGE = str(Path(cnndsl.__file__).parent)


def lines_run(work: Callable[[], object]) -> int:
    """How many lines of cnndsl's own code `work` executes (loop iterations included)."""
    count = 0

    def count_lines(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return count_lines

    def trace(frame, event, arg):
        # Only cnndsl's modules: Lark's parser is linear and counting it would hide ours.
        return count_lines if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(trace)
    try:
        work()
    except CnnError:
        pass
    finally:
        sys.settrace(None)
    return count


def growth(make_text: Callable[[int], str], run: Callable[[str], object], size: int) -> float:
    """Work at 4x the size over 4x the work at the size: about 1 when linear, 4 when quadratic."""
    lines_run(lambda: run(make_text(1)))  # build parsers and other one-time things first
    small = lines_run(lambda: run(make_text(size)))
    large = lines_run(lambda: run(make_text(4 * size)))
    return large / (4 * small)


def network(statements: list[str]) -> str:
    return "network n {\n    input 3x32x32\n" + "".join(f"    {s}\n" for s in statements) + "}\n"


def test_fmt_is_linear_in_statements():
    def text(n: int) -> str:
        return network(["conv 8 3x3 pad=1  # c" if i % 2 else "relu; relu" for i in range(n)])

    assert growth(text, format_text, 100) < 1.3


def test_fmt_is_linear_in_inline_statements():
    def text(n: int) -> str:
        return network(["repeat 2 { " + "; ".join(["relu"] * n) + " }"])

    assert growth(text, format_text, 100) < 1.3


def check(text: str) -> object:
    return check_all(SourceFile("big.cnn", text))


def test_many_unknown_statements_are_linear():
    # Every statement an error: de-duplicating them must not compare each with every other.
    assert growth(lambda n: network([f"layer{i}" for i in range(n)]), check, 100) < 1.3


def test_many_unknown_names_in_many_blocks_are_linear():
    # 4,000 of these took 33 s in difflib: each unknown name compared with every block's name.
    def text(n: int) -> str:
        blocks = "".join(f"block stage{i}() {{\n    stgae{i}x\n}}\n" for i in range(n))
        return blocks + network([f"stage{i}()" for i in range(n)])

    assert growth(text, check, 100) < 1.3

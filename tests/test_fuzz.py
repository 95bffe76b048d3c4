"""Mutated architectures: `cnndsl check` gives a diagnostic or success, never a traceback or a hang.

Hypothesis takes the built-in .cnn files apart into tokens and deletes, duplicates or swaps
tokens, turns numbers into 0, -1 or absurd values, inserts stray characters, and truncates.
Each mutated file is checked through the command line in-process, in a copy of the
architectures folder so that imports resolve (a mutated resnet_blocks.cnn is checked through
resnet50.cnn, which imports it).
"""

from __future__ import annotations

import io
import re
import shutil
import signal
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnndsl.cli import main

ARCHITECTURES = Path(__file__).resolve().parent.parent / "architectures"
SOURCES = {path.name: path for path in ARCHITECTURES.glob("*.cnn")}
# A built-in-like file written with the adaptive-block constructs (if, residual if, gate, sum, chunk).
SOURCES["adaptive_blocks.cnn"] = ARCHITECTURES.parent / "examples" / "adaptive_blocks.cnn"
FILES = sorted(SOURCES)
# A file of blocks only is checked through a network that imports it, so its blocks get called.
CHECKED_THROUGH = {"resnet_blocks.cnn": "resnet50.cnn"}
TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:x\d+)+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\S")
NUMBER = re.compile(r"\d")
REPLACEMENT_NUMBERS = ["0", "-1", "1", "2.5", "1e999", "0x0", "7x0", "1000000000000", "9" * 30]
# Numbers at and past every limit: 2**62 (doubled by a concat), a tensor of about 2**63 values,
# integers past 4096 bits and past Python's 4,300 digits, and a digit that is not ASCII.
REPLACEMENT_NUMBERS += ["4611686018427387904", "3037000499x3037000499", "9" * 1300, "9" * 5000]
REPLACEMENT_NUMBERS += ["1x" + "9" * 5000, "\u0664", "1_000"]
# Characters that mean something to the lexer, plus some that mean nothing to it at all.
GARBAGE = st.text(
    alphabet=st.sampled_from([*"{}()[];,:=*/+-#\"\\\n\r\t x0", "\x00", "\x0b", "é", "漢", "\ufeff", "😀"]),
    min_size=1,
    max_size=4,
)
TIME_LIMIT_S = 10  # per example; a check that takes longer counts as a hang


def tokens_of(name: str) -> list[str]:
    return TOKEN.findall(SOURCES[name].read_text(encoding="utf-8"))


TOKENS = {name: tokens_of(name) for name in FILES}
# Every word of every file: a name mutates into another (`conv` -> `residual`, `stride` -> `classes`).
WORDS = sorted({token for tokens in TOKENS.values() for token in tokens if token.isidentifier()})


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, str]:
    """A built-in file's name and a mutated version of its text."""
    name = draw(st.sampled_from(FILES))
    tokens = list(TOKENS[name])
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            break
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "name", "insert", "truncate"]))
        index = draw(st.integers(0, len(tokens) - 1))
        if kind == "delete":
            del tokens[index]
        elif kind == "duplicate":
            tokens.insert(index, tokens[index])
        elif kind == "swap":
            other = draw(st.integers(0, len(tokens) - 1))
            tokens[index], tokens[other] = tokens[other], tokens[index]
        elif kind == "number":
            numbers = [i for i, token in enumerate(tokens) if NUMBER.match(token)]
            if numbers:
                tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(REPLACEMENT_NUMBERS))
        elif kind == "name":
            names = [i for i, token in enumerate(tokens) if token in WORDS]
            if names:
                tokens[draw(st.sampled_from(names))] = draw(st.sampled_from(WORDS))
        elif kind == "insert":
            tokens.insert(index, draw(GARBAGE))
        else:
            del tokens[index:]
    return name, "".join(tokens)


class _HangError(Exception):
    pass


def _alarm(signum, frame):
    raise _HangError(f"no result within {TIME_LIMIT_S} s")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("architectures")
    for name in FILES:
        shutil.copy(SOURCES[name], folder / name)
    return folder


def check_in_process(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(["check", str(path)])
        except SystemExit as exit_:  # argparse; not expected for a plain `check FILE`
            code = exit_.code
    return code, err.getvalue()


@settings(
    max_examples=1500,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    deadline=None,  # the alarm below bounds each example instead; timing on shared CI is noisy
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(mutations())
def test_mutated_file_gives_diagnostic_or_success(workdir, mutation):
    name, text = mutation
    target = workdir / name
    target.write_text(text, encoding="utf-8", newline="")
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        code, err = check_in_process(workdir / CHECKED_THROUGH.get(name, name))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        shutil.copy(SOURCES[name], target)
    assert code in (0, 1), (code, err)
    assert "Traceback" not in err
    if code == 1:
        # Every diagnostic has the `file:line:col: error:` headline (or names the program).
        assert re.search(r"^(\S+:\d+:\d+|cnndsl): error: ", err, re.MULTILINE), err

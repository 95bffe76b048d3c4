"""Shared fixtures: paths to the built-in architectures and a helper to run the CLI in-process."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = ROOT / "architectures"
EXAMPLES = ROOT / "examples"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """Run `cnndsl ARGS` in-process (fast), capturing output and exit status."""
    from cnndsl.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    try:
        if cwd is not None:
            import os

            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        import os

        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(*args: str, cwd: Path | None = None, timeout: float = 120) -> CliResult:
    """Run `cnndsl ARGS` as a separate process, as a user would."""
    done = subprocess.run(
        [sys.executable, "-m", "cnndsl.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli():
    return run_cli


def pytest_addoption(parser):
    # `pytest --update-golden` rewrites tests/golden/* from the current output (then review the diff).
    parser.addoption("--update-golden", action="store_true", help="rewrite the golden files in tests/golden")


@pytest.fixture(autouse=True)
def _system_malloc_in_the_test_process(monkeypatch):
    """`run`, `bench` and `train` called in-process would switch the whole pytest process to
    kept memory (cnndsl/allocator.py) for every later test; tests/test_allocator.py checks that
    behaviour in processes of its own."""
    monkeypatch.setenv("CNNDSL_SYSTEM_MALLOC", "1")

"""run, bench and train keep freed memory (a second large allocation faults in no new pages), and
run and bench let OpenBLAS's idle threads sleep."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from cnndsl import allocator, blas_threads
from cnndsl.cli import main

# Allocates, fills and frees 256 MiB three times; prints the minor page faults of each round.
PROGRAM = """
import ctypes, json, resource, sys
from cnndsl.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else False
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
size, faults = 256 * 2**20, []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps([applied, faults]))
"""
PAGES = 256 * 2**20 // 4096

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "glibc" not in " ".join(platform.libc_ver()),
    reason="mallopt is glibc's",
)


def _faults(mode: str, **env: str) -> tuple[bool, list[int]]:
    inherited = {name: value for name, value in os.environ.items() if name != allocator.OPT_OUT}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=120,
        env={**inherited, **env},
    )
    assert done.returncode == 0, done.stderr
    applied, faults = json.loads(done.stdout)
    return applied, faults


@glibc_only
def test_kept_memory_is_reused_without_new_page_faults():
    applied, faults = _faults("keep")
    assert applied
    assert faults[0] > PAGES // 2  # the first round faults its pages in (the method can see them)
    assert max(faults[1:]) < PAGES // 100  # later rounds reuse them


@glibc_only
def test_by_default_glibc_faults_the_pages_in_every_time():
    # What the commands avoid: a large block is mmapped and returned on every free.
    applied, faults = _faults("system")
    assert not applied
    assert min(faults) > PAGES // 2


@glibc_only
def test_the_opt_out_variable_leaves_malloc_alone():
    applied, faults = _faults("keep", **{allocator.OPT_OUT: "1"})
    assert not applied
    assert min(faults) > PAGES // 2


@pytest.fixture
def calls(monkeypatch):
    asked: list[str] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: asked.append("malloc") or True)
    monkeypatch.setattr(blas_threads, "sleep_idle_blas_threads", lambda: asked.append("blas") or True)
    return asked


def test_run_asks_for_both(calls, capsys):
    assert main(["run", "lenet5", "--backend", "numpy", "--batch", "1"]) == 0
    assert calls == ["malloc", "blas"]


def test_a_bench_worker_asks_for_it(calls):
    from cnndsl.commands import bench

    job = {"file": "lenet5", "network": None, "set": [], "shape": None, "backend": "numpy"}
    bench.worker({**job, "batch": 1, "runs": 1, "warmup": 0, "threads": 1, "device": "cpu"})
    assert calls == ["malloc", "blas"]


def test_train_asks_for_it(calls, monkeypatch, tmp_path):
    pytest.importorskip("torch")
    training = pytest.importorskip("cnndsl.backends.pytorch.training")
    monkeypatch.setattr(training, "train_from_command", lambda args, given: 0)
    assert main(["train", "lenet5", "--data", str(tmp_path / "data.npz")]) == 0
    assert calls == ["malloc"]  # training's GEMMs are torch's, not OpenBLAS's


def _blas_sleep_in_a_fresh_process(first: str, **env: str) -> list:
    inherited = {name: value for name, value in os.environ.items() if name != blas_threads.VARIABLE}
    program = (
        "import json, os, sys\n"
        f"{first}\n"
        "from cnndsl.blas_threads import VARIABLE, sleep_idle_blas_threads\n"
        "print(json.dumps([sleep_idle_blas_threads(), os.environ.get(VARIABLE)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env={**inherited, **env}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openblas_threads_are_told_to_sleep_before_numpy_loads():
    assert _blas_sleep_in_a_fresh_process("pass") == [True, blas_threads.QUICK_SLEEP]


def test_after_numpy_loaded_it_would_not_count_and_nothing_is_set():
    assert _blas_sleep_in_a_fresh_process("import numpy") == [False, None]


def test_a_timeout_the_user_set_is_kept():
    assert _blas_sleep_in_a_fresh_process("pass", **{blas_threads.VARIABLE: "20"}) == [False, "20"]


def test_run_sets_it_before_it_imports_numpy():
    # A fresh process: `cnndsl run` of a NumPy network ends up with the variable set.
    program = (
        "import contextlib, io, os, sys\n"
        "from cnndsl.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['run', 'lenet5', '--backend', 'numpy', '--batch', '1']) == 0\n"
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))\n"
    )
    inherited = {name: value for name, value in os.environ.items() if name != blas_threads.VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env=inherited
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == blas_threads.QUICK_SLEEP

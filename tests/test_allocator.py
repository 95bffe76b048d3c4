"""run, bench and train keep freed memory: a second large allocation faults in no new pages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cnndsl import allocator
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
    not sys.platform.startswith("linux") or "glibc" not in " ".join(__import__("platform").libc_ver()),
    reason="mallopt is glibc's",
)


def _faults(mode: str, **env: str) -> tuple[bool, list[int]]:
    import json
    import os

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
    asked: list[int] = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: asked.append(1) or True)
    return asked


def test_run_asks_for_it(calls, capsys):
    assert main(["run", "lenet5", "--backend", "numpy", "--batch", "1"]) == 0
    assert calls


def test_a_bench_worker_asks_for_it(calls):
    from cnndsl.commands import bench

    job = {"file": "lenet5", "network": None, "set": [], "shape": None, "backend": "numpy"}
    bench.worker({**job, "batch": 1, "runs": 1, "warmup": 0, "threads": 1, "device": "cpu"})
    assert calls


def test_train_asks_for_it(calls, monkeypatch, tmp_path):
    pytest.importorskip("torch")
    training = pytest.importorskip("cnndsl.backends.pytorch.training")
    monkeypatch.setattr(training, "train_from_command", lambda args, given: 0)
    assert main(["train", "lenet5", "--data", str(tmp_path / "data.npz")]) == 0
    assert calls

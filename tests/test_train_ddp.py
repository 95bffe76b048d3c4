"""`torchrun --nproc-per-node=2 -m cnndsl train`: two CPU processes (gloo) end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from train_data import write_arrays

torch = pytest.importorskip("torch")
distributed = pytest.importorskip("torch.distributed")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.mark.slow  # two processes each import torch (~10 s on two cores)
def test_two_processes_train_one_network(tmp_path):
    if not distributed.is_available() or not distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    data = write_arrays(tmp_path / "digits.npz", count=256)
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "cnndsl", "train", "lenet5", "--data", str(data), "--epochs", "2", "--batch", "16",
        "--lr", "0.05", "--flip", "--threads", "1", "-o", str(run),
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Each process compares a hash of its weights with the other's at the end.
    assert "all 2 processes ended with identical weights" in done.stdout
    assert done.stdout.count("training lenet5") == 1  # only the first process prints
    assert "x 2 processes" in done.stdout
    weights = safetensors_torch.load_file(str(run / "last.safetensors"))
    assert weights["conv1.weight"].shape == (6, 1, 5, 5)

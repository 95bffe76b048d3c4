"""`cnndsl train --resume`: a run stopped after epoch 2, then resumed, ends bit for bit like a whole one."""

from __future__ import annotations

import csv

import pytest
from conftest import run_cli
from train_data import write_arrays

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
safetensors_torch = pytest.importorskip("safetensors.torch")

from cnndsl.backends.pytorch.training import loop  # noqa: E402

# Augmentation on, so that the random crops and flips must repeat too.
SETTINGS = (
    "--epochs",
    "4",
    "--batch",
    "32",
    "--lr",
    "0.05",
    "--crop-padding",
    "2",
    "--flip",
    "--threads",
    "1",
)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _train_rows(folder):
    with (folder / "metrics.csv").open() as handle:
        return [
            (row["epoch"], row["train_loss"], row["val_loss"], row["val_accuracy"])
            for row in csv.DictReader(handle)
        ]


@pytest.mark.slow  # three short runs of LeNet-5: ~8 s of CPU
def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, one_thread):
    data = write_arrays(tmp_path / "digits.npz", count=400)
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    result = run_cli("train", "lenet5", "--data", str(data), *SETTINGS, "-o", str(whole))
    assert result.code == 0, result.err

    save = loop._save

    def save_then_stop(run, state, improved):  # Ctrl-C right after epoch 2's checkpoint
        save(run, state, improved)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save", save_then_stop)
    result = run_cli("train", "lenet5", "--data", str(data), *SETTINGS, "-o", str(stopped))
    assert result.code == 130
    assert f"--resume {stopped}" in result.err
    assert (stopped / "interrupted.safetensors").is_file()
    assert len(_train_rows(stopped)) == 2
    monkeypatch.setattr(loop, "_save", save)

    # The settings and the data path come back from the checkpoint.
    result = run_cli("train", "lenet5", "--resume", str(stopped))
    assert result.code == 0, result.err
    assert "resuming after epoch 2" in result.out
    expected = safetensors_torch.load_file(str(whole / "last.safetensors"))
    resumed = safetensors_torch.load_file(str(stopped / "last.safetensors"))
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert torch.equal(expected[key], resumed[key]), key
    assert _train_rows(stopped) == _train_rows(whole)

    # A finished run is not silently extended, nor overwritten.
    again = run_cli("train", "lenet5", "--resume", str(stopped))
    assert again.code == 2 and "already trained 4 epochs" in again.err
    again = run_cli("train", "lenet5", "--data", str(data), "-o", str(stopped))
    assert again.code == 2 and f"--resume {stopped}" in again.err

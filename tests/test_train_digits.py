"""`cnndsl train` learns: LeNet-5 on scikit-learn's digits, as an image folder, reaches 95% validation."""

from __future__ import annotations

import csv

import pytest
from conftest import run_cli
from train_data import write_image_folder

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("safetensors")


@pytest.fixture
def one_thread():
    """One torch thread: on a shared two-core machine more threads only wait on each other."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # 1,797 images written and read, six epochs: ~10 s of CPU
def test_lenet5_learns_the_digits_from_an_image_folder(tmp_path, one_thread):
    data = write_image_folder(tmp_path / "digits")
    run = tmp_path / "run"
    result = run_cli(
        "train", "lenet5", "--data", str(data), "--epochs", "6", "--batch", "32", "--lr", "0.05",
        "--threads", "1", "-o", str(run),
    )  # fmt: skip
    assert result.code == 0, result.err
    with (run / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["epoch"]) for row in rows] == list(range(1, 7))
    assert max(float(row["val_accuracy"]) for row in rows) >= 0.95
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert "epoch 6/6" in result.out and "val loss" in result.out
    assert (run / "labels.txt").read_text().split() == [str(digit) for digit in range(10)]
    for name in ("checkpoint.pt", "last.safetensors", "best.safetensors"):
        assert (run / name).is_file(), name
    assert not list(run.glob(".*.tmp"))

    # The weights load into `cnndsl run` as they are, and classify a digit the network was shown.
    seven = sorted((data / "7").glob("*.png"))[0]
    answer = run_cli(
        "run", "lenet5", "--weights", str(run / "best.safetensors"), "--input", str(seven), "--top", "1",
        "--labels", str(run / "labels.txt"),
    )  # fmt: skip
    assert answer.code == 0, answer.err
    assert answer.out.splitlines()[0].split()[-1] == "7"

"""`cnndsl train` on bad input: clear messages, exit 1 (bad data) or 2 (bad request), no half files."""

from __future__ import annotations

import errno

import numpy as np
import pytest
from conftest import run_cli
from train_data import TINY_NETWORK, write_arrays, write_image_folder

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("safetensors")

from cnndsl.backends.pytorch.training import checkpoint  # noqa: E402


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.cnn"
    path.write_text(TINY_NETWORK)
    return path


def train(*args: str):
    return run_cli("train", *args, "--threads", "1")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_folder_without_class_folders(tiny, tmp_path):
    (tmp_path / "empty").mkdir()
    result = train(str(tiny), "--data", str(tmp_path / "empty"), "-o", str(tmp_path / "run"))
    assert result.code == 1
    assert "has no class folders" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()


def test_class_folders_without_images(tiny, tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "data" / name).mkdir(parents=True)
    (tmp_path / "data" / "cat" / "notes.txt").write_text("not an image")
    result = train(
        str(tiny), "--set", "classes=2", "--data", str(tmp_path / "data"), "-o", str(tmp_path / "r")
    )
    assert result.code == 1
    assert "no readable images" in result.err


def test_classes_that_do_not_match_the_network(tiny, tmp_path):
    data = write_image_folder(tmp_path / "digits", size=8, count=30)
    for digit in range(3, 10):  # keep three class folders for a ten-class network
        for file in (data / str(digit)).glob("*"):
            file.unlink()
        (data / str(digit)).rmdir()
    result = train(str(tiny), "--data", str(data), "-o", str(tmp_path / "run"))
    assert result.code == 1
    assert "has 3 classes (0, 1, 2), but tiny outputs 10 scores" in result.err
    assert "--set classes=3" in result.err


def test_unreadable_image_is_skipped_with_a_warning(tiny, tmp_path):
    data = write_image_folder(tmp_path / "digits", size=8, count=60)
    broken = data / "3" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    result = train(str(tiny), "--data", str(data), "--epochs", "1", "-o", str(tmp_path / "run"))
    assert result.code == 0, result.err
    assert f"warning: skipping {broken}" in result.err
    assert "on 54 examples" in result.out  # 60 images less the 10% held out for validation


def test_npz_of_the_wrong_shape(tiny, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((5, 1, 9, 9), np.float32), y=np.zeros(5, np.int64))
    result = train(str(tiny), "--data", str(tmp_path / "bad.npz"), "-o", str(tmp_path / "run"))
    assert result.code == 1
    assert "'x' has shape (5, 1, 9, 9), but the network takes 1x8x8 inputs" in result.err


@pytest.mark.parametrize(
    "arguments,message",
    [
        (("-o", "RUN"), "needs --data"),
        (("--data", "nowhere", "-o", "RUN"), "must be an image folder or an .npz file"),
        (("--data", "DATA", "--epochs", "0", "-o", "RUN"), "--epochs must be at least 1"),
        (("--data", "DATA", "--val-fraction", "1", "-o", "RUN"), "--val-fraction must be"),
        (("--resume", "RUN"), "holds no checkpoint.pt"),
        (("--resume", "RUN", "-o", "elsewhere"), "continues the run in its own folder"),
    ],
)
def test_usage_errors(tiny, tmp_path, arguments, message):
    data = write_arrays(tmp_path / "d.npz", size=8, count=20)
    places = {"DATA": str(data), "RUN": str(tmp_path / "run")}
    result = train(str(tiny), *(places.get(word, word) for word in arguments))
    assert result.code == 2, result.err
    assert message in result.err and "Traceback" not in result.err


def test_resume_from_a_different_network(tiny, tmp_path):
    data = write_arrays(tmp_path / "d.npz", size=8, count=40)
    run = tmp_path / "run"
    assert train(str(tiny), "--data", str(data), "--epochs", "2", "-o", str(run)).code == 0
    before = (run / "checkpoint.pt").read_bytes()
    result = train(str(tiny), "--set", "classes=12", "--resume", str(run), "--epochs", "3")
    assert result.code == 2
    assert "holds a run of a different network 'tiny' (650 parameters" in result.err
    result = train("lenet5", "--resume", str(run), "--epochs", "3")
    assert result.code == 2 and "not 'lenet5'" in result.err
    assert (run / "checkpoint.pt").read_bytes() == before


def test_full_disk_while_checkpointing_leaves_the_last_checkpoint_whole(tiny, tmp_path, monkeypatch):
    data = write_arrays(tmp_path / "d.npz", size=8, count=40)
    run = tmp_path / "run"
    save = torch.save

    def fill_the_disk(state, path):
        if state["epoch"] == 2:  # half a file, then the disk is full
            path.write_bytes(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        save(state, path)

    monkeypatch.setattr(checkpoint.torch, "save", fill_the_disk)
    result = train(str(tiny), "--data", str(data), "--epochs", "3", "-o", str(run))
    monkeypatch.undo()
    assert result.code == 2
    assert f"cannot write {run / 'checkpoint.pt'}: No space left on device" in result.err
    assert checkpoint.load_checkpoint(run)["epoch"] == 1
    names = {path.name for path in run.iterdir()} - {"metrics.png"}  # the plot needs matplotlib
    assert names == {"best.safetensors", "checkpoint.pt", "last.safetensors", "metrics.csv"}
    assert not list(run.glob(".*"))  # no temporary file left behind


def test_compile_without_a_compiler(tiny, tmp_path, monkeypatch):
    from cnndsl.backends.pytorch.training import loop

    monkeypatch.setattr(loop.shutil, "which", lambda name: None)
    data = write_arrays(tmp_path / "d.npz", size=8, count=20)
    result = train(
        str(tiny), "--data", str(data), "--compile", "--device", "cpu", "-o", str(tmp_path / "run")
    )
    assert result.code == 2
    assert "--compile on the CPU needs a C++ compiler" in result.err

"""`cnndsl run` on hostile or careless inputs: sizes come from headers, errors are clean, nothing hangs."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest

import cnndsl
from cnndsl.errors import CnnUsageError


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """An .npy header declaring `shape`, with no data after it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def png(width: int, height: int) -> bytes:
    """A tiny PNG of width x height grey pixels: rows of zeros compress to almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" * ((width + 1) * height), 9)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def lenet_state() -> dict:
    return {key: np.array(value) for key, value in cnndsl.load("lenet5").build("numpy").state_dict().items()}


def assert_clean(result, message: str, code: int = 2) -> None:
    assert result.code == code and message in result.err, result.err
    assert "Traceback" not in result.err


def test_npy_declaring_huge_sizes_is_refused_before_reading(cli, tmp_path):
    (tmp_path / "huge.npy").write_bytes(npy_header((10**13 // 1024, 1, 32, 32)))
    assert_clean(
        cli("run", "lenet5", "--input", "huge.npy", cwd=tmp_path), "the file is truncated or damaged"
    )
    (tmp_path / "short.npy").write_bytes(npy_header((2, 1, 32, 32)) + b"\x00" * 100)
    assert_clean(cli("run", "lenet5", "--input", "short.npy", cwd=tmp_path), "holds 100 bytes of data")
    (tmp_path / "objects.npy").write_bytes(npy_header((1, 1, 32, 32), "|O"))
    assert_clean(cli("run", "lenet5", "--input", "objects.npy", cwd=tmp_path), "pickled arrays are refused")


def test_batch_too_big_for_memory_says_what_it_needs(cli, tmp_path, monkeypatch):
    """A real 4 GB .npy would be slow to write: the check uses the header's N and a small memory."""
    monkeypatch.setattr("cnndsl.memory.available_memory", lambda: 2**30)
    np.save(tmp_path / "x.npy", np.zeros((2, 1, 32, 32), np.float32))
    assert cli("run", "lenet5", "--input", "x.npy", cwd=tmp_path).code == 0
    result = cli("run", "lenet5", "--batch", "100000000")
    assert_clean(result, "lenet5 needs at least 2")
    assert (
        "to run a batch of 100,000,000" in result.err
        and "but only 1.00 GiB of memory is available" in result.err
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--seed", "-1"), "--seed must be an integer from 0 to 2**64 - 1, found -1"),
        (("--seed", str(2**64)), "--seed must be an integer"),
        (("--resize", "0"), "--resize must be from 1 to 1,000,000 pixels, found 0"),
        (("--resize", "-5"), "--resize must be from 1"),
        (("--resize", str(10**400)), "--resize must be from 1"),
    ],
)
def test_bad_numbers_are_usage_errors(cli, options, message):
    assert_clean(cli("run", "lenet5", *options), message)


def test_truncated_and_bombed_npz_weights(cli, tmp_path):
    state = lenet_state()
    np.savez(tmp_path / "good.npz", **state)
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    assert_clean(
        cli("run", "lenet5", "--weights", "truncated.npz", cwd=tmp_path), "cannot read truncated.npz"
    )
    # A member whose header declares 10^9 floats in a tiny compressed file: refused from its header.
    import zipfile

    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in state.items():
            archive.writestr(f"{key}.npy", npy_header((10**9,)) if key == "fc1.weight" else _npy(value))
    result = cli("run", "lenet5", "--weights", "bomb.npz", cwd=tmp_path)
    assert_clean(result, "'fc1.weight' in bomb.npz declares 4,000,000,000 bytes of data but holds 0")
    # An honest member of the wrong shape is refused before its data is read.
    with pytest.raises(CnnUsageError, match=r"'fc1.weight' in .*wide.npz has the shape \(1000000,\)"):
        bad = dict(state, **{"fc1.weight": np.zeros(10**6, np.float32)})
        np.savez_compressed(tmp_path / "wide.npz", **bad)
        cnndsl.load("lenet5").build("numpy", weights=tmp_path / "wide.npz")


def _npy(value: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    return buffer.getvalue()


def test_extreme_aspect_ratio_image_needs_only_the_crop(cli, tmp_path):
    """A 1 KB PNG of 1,000,000 x 1 pixels: scaling the shorter side to 224 once took 5 GB."""
    (tmp_path / "line.png").write_bytes(png(1_000_000, 1))
    assert len((tmp_path / "line.png").read_bytes()) < 4096
    result = cli(
        "run", "alexnet", "--set", "classes=10", "--input", "line.png", "--resize", "100000", cwd=tmp_path
    )
    assert result.code == 0, result.err
    result = cli("run", "lenet5", "--input", "line.png", "--output", "y.npy", cwd=tmp_path)
    assert result.code == 0, result.err


def test_decompression_bomb_is_refused(cli, tmp_path):
    (tmp_path / "bomb.png").write_bytes(png(20_000, 5_000))  # 100M pixels: past Pillow's warning
    assert_clean(
        cli("run", "lenet5", "--input", "bomb.png", cwd=tmp_path), "cannot read bomb.png as an image"
    )


def test_labels_must_be_a_small_regular_file(cli, tmp_path):
    options = ("run", "lenet5", "--top", "2", "--labels")
    assert_clean(cli(*options, "/dev/zero"), "is not a regular file")
    os.mkfifo(tmp_path / "fifo")  # a reader would wait for a writer forever
    assert_clean(cli(*options, str(tmp_path / "fifo")), "is not a regular file")
    with open(tmp_path / "big.txt", "wb") as handle:
        handle.truncate(17 * 2**20)  # sparse: no 17 MB written
    assert_clean(cli(*options, str(tmp_path / "big.txt")), "holds at most 16 MiB")
    assert_clean(cli(*options, str(tmp_path / "missing.txt")), "cannot read labels")


def test_input_that_is_not_a_regular_file(cli, tmp_path):
    os.mkfifo(tmp_path / "x.npy")
    assert_clean(cli("run", "lenet5", "--input", str(tmp_path / "x.npy")), "is not a regular file")
    assert_clean(cli("run", "lenet5", "--input", "/dev/zero"), "is not a regular file")

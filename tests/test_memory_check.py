"""Networks too big for memory: refused from the summary's figures, before anything is allocated."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl
from cnndsl.errors import CnnUsageError
from cnndsl.memory import check_fits, memory_needed, parse_meminfo, size_text

WIDE = "network wide(width=8) {\n input 3x8x8\n conv width 3x3; relu\n flatten; fc 10\n}\n"
HUGE = 2**40  # channels: 27 x 2^40 weights, 110 TiB


def test_meminfo_figures():
    text = "MemTotal:  16000000 kB\nMemFree: 100 kB\nMemAvailable:   8000000 kB\nSwapFree: 1000 kB\n"
    assert parse_meminfo(text) == (8000000 + 1000) * 1024
    assert parse_meminfo("MemTotal: 1 kB\n") is None  # kernels before 3.14: unknown, never refused


def test_needed_memory_comes_from_the_summary():
    model = cnndsl.load("lenet5")
    weights, batch = memory_needed(model, batch=3)
    assert weights == model.stats().param_bytes
    largest = max(np.prod(row.output_shape) for row in model.stats().rows)
    assert batch == 3 * (32 * 32 + largest) * 4
    assert size_text(3 * 2**50 + 2**49) == "3.50 PiB" and size_text(512) == "512 B"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_build_of_a_huge_network_says_what_it_needs(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    model = cnndsl.loads(WIDE, width=HUGE)
    with pytest.raises(CnnUsageError, match=r"wide needs at least [\d.,]+ PiB \([\d.,]+ PiB of weights"):
        model.build(backend)


def test_cli_run_and_onnx_export_of_a_huge_network(cli, tmp_path):
    (tmp_path / "wide.cnn").write_text(WIDE)
    for backend in ("numpy", "torch"):
        result = cli("run", "wide.cnn", "--set", f"width={HUGE}", "--backend", backend, cwd=tmp_path)
        assert result.code == 2 and "wide needs at least" in result.err, result.err
        assert "of memory is available" in result.err and "Traceback" not in result.err
    result = cli("compile", "wide.cnn", "--set", f"width={HUGE}", "--format", "onnx", cwd=tmp_path)
    assert result.code == 2 and "one ONNX file holds at most 2 GiB" in result.err, result.err
    assert not list(tmp_path.glob("*.onnx"))


def test_given_memory_is_compared_exactly():
    model = cnndsl.loads(WIDE)
    weights, _ = memory_needed(model)
    check_fits(model, available=weights)
    with pytest.raises(CnnUsageError, match="of GPU memory is available"):
        check_fits(model, available=weights - 1, where="GPU memory")


def test_engine_refuses_a_batch_its_buffers_cannot_hold(monkeypatch):
    network = cnndsl.load("lenet5").build("numpy")
    monkeypatch.setattr("cnndsl.memory.available_memory", lambda: 2**20)
    network(np.zeros((1, 1, 32, 32), np.float32))  # a few KB of buffers
    with pytest.raises(CnnUsageError, match=r"lenet5 on a batch of 1,000 needs [\d.]+ MiB of buffers"):
        network(np.zeros((1000, 1, 32, 32), np.float32))

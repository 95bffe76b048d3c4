"""`cnndsl run` and `cnndsl bench`: inputs, weights files, outputs, errors without tracebacks."""

from __future__ import annotations

import numpy as np
import pytest

import cnndsl


@pytest.fixture(scope="module")
def lenet_weights(tmp_path_factory):
    """A LeNet-5 state dict saved both ways, and the output it gives on a fixed input."""
    folder = tmp_path_factory.mktemp("weights")
    model = cnndsl.load("lenet5")
    net = model.build("numpy", seed=7)
    state = {key: np.array(value) for key, value in net.state_dict().items()}
    from safetensors.numpy import save_file

    save_file(state, str(folder / "lenet5.safetensors"))
    np.savez(folder / "lenet5.npz", **state)
    x = np.random.default_rng(3).standard_normal((2, 1, 32, 32)).astype(np.float32)
    np.save(folder / "x.npy", x)
    return folder, net(x)


@pytest.mark.parametrize("weights", ["lenet5.safetensors", "lenet5.npz"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_run_with_weights_files(cli, lenet_weights, weights, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    folder, expected = lenet_weights
    output = f"out_{backend}_{weights}.npy"
    result = cli("run", "lenet5", "--backend", backend, "--weights", weights, "--input", "x.npy",
                 "--output", output, cwd=folder)  # fmt: skip
    assert result.code == 0, result.err
    np.testing.assert_allclose(np.load(folder / output), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_run_with_weights_saved_from_torch_with_batchnorm(cli, tmp_path, backend):
    """The README's `cnndsl run resnet18 --weights resnet18.safetensors`: the 0-d counters load."""
    torch = pytest.importorskip("torch")
    from safetensors.numpy import save_file

    model = cnndsl.load("resnet18", input="3x32x32", classes=10)
    module = model.build("torch").eval()
    state = {key: value.numpy() for key, value in module.state_dict().items()}
    save_file(state, str(tmp_path / "r.safetensors"))
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    options = ("--shape", "3x32x32", "--set", "classes=10", "-b", backend, "--weights", "r.safetensors")
    result = cli("run", "resnet18", *options, "--input", "x.npy", "--output", "y.npy", cwd=tmp_path)
    assert result.code == 0, result.err
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-4, atol=1e-5)


def test_weights_mismatch_names_key_and_shapes(cli, tmp_path):
    state = {k: np.array(v) for k, v in cnndsl.load("lenet5").build("numpy").state_dict().items()}
    state["fc1.weight"] = np.zeros((120, 100), np.float32)
    np.savez(tmp_path / "bad.npz", **state)
    result = cli("run", "lenet5", "--weights", "bad.npz", cwd=tmp_path)
    assert result.code == 2
    assert "'fc1.weight' in bad.npz has the shape (120, 100), but the network needs (120, 400)" in result.err
    assert "Traceback" not in result.err


def test_pickled_weights_are_refused(cli, tmp_path):
    np.savez(tmp_path / "pickled.npz", **{"conv1.weight": np.array([object()], dtype=object)})
    result = cli("run", "lenet5", "--weights", "pickled.npz", cwd=tmp_path)
    assert result.code == 2 and "pickled arrays are refused" in result.err


def test_unreadable_weights_and_inputs_are_clear_errors(cli, tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    (tmp_path / "lenet5.pt").write_bytes(b"a pickle: never opened")
    for args, message in [
        (("--weights", "junk.safetensors"), "cannot read junk.safetensors as safetensors"),
        (("--weights", "missing.npz"), "no such weights file"),
        (("--weights", "lenet5.pt"), "must be a .safetensors or .npz file"),
        (("--input", "junk.npy"), "cannot read junk.npy as .npy"),
        (("--input", "notes.txt"), "no such input file"),
    ]:
        result = cli("run", "lenet5", *args, cwd=tmp_path)
        assert result.code == 2 and message in result.err, (args, result.err)


def test_wrong_input_shape_states_the_expected_one(cli, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float32))
    result = cli("run", "lenet5", "--input", "x.npy", cwd=tmp_path)
    assert result.code == 2
    assert "shape (2, 3, 32, 32)" in result.err and "(N, 1, 32, 32)" in result.err


def test_image_input_and_top_k(cli, tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "cat.png")
    (tmp_path / "labels.txt").write_text("\n".join(f"label{i}" for i in range(10)))
    result = cli("run", "alexnet", "--input", "cat.png", "--set", "classes=10", "--top", "3",
                 "--labels", "labels.txt", cwd=tmp_path)  # fmt: skip
    assert result.code == 0, result.err
    ranked = [line.split() for line in result.out.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(ranked) == 3 and all(row[-1].startswith("label") for row in ranked)
    probabilities = [float(row[3]) for row in ranked]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1


def test_grey_image_for_a_one_channel_network(cli, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 50), 200, dtype=np.uint8)).save(tmp_path / "digit.png")
    result = cli("run", "lenet5", "--input", "digit.png", "--output", "y.npy", cwd=tmp_path)
    assert result.code == 0, result.err
    assert np.load(tmp_path / "y.npy").shape == (1, 10)


def test_output_is_never_overwritten_unasked(cli, tmp_path):
    (tmp_path / "y.npy").write_bytes(b"precious")
    result = cli("run", "lenet5", "--output", "y.npy", cwd=tmp_path)
    assert result.code == 2 and "refusing to overwrite" in result.err
    assert (tmp_path / "y.npy").read_bytes() == b"precious"
    assert cli("run", "lenet5", "--output", "y.npy", "--force", cwd=tmp_path).code == 0
    assert np.load(tmp_path / "y.npy").shape == (1, 10)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["y.npy"]  # no temporary left


def test_random_batch_smoke_run(cli):
    result = cli("run", "googlenet", "--batch", "2")
    assert result.code == 0, result.err
    assert "googlenet on random input x2: output (2, 1000)" in result.out


def test_bench_table(cli):
    pytest.importorskip("torch")
    options = ("--backends", "numpy,torch", "--batch", "1,2", "--runs", "2", "--warmup", "0")
    result = cli("bench", "lenet5", *options)
    assert result.code == 0, result.err
    rows = [line.split() for line in result.out.splitlines() if line.startswith(("numpy", "torch"))]
    assert [row[0] + row[2] for row in rows] == ["numpy1", "torch1", "numpy2", "torch2"]
    assert rows[0][6] == "1.00" and all(float(row[3]) > 0 and float(row[5]) > 0 for row in rows)


def test_bench_refuses_unknown_backends_and_bad_batches(cli):
    assert "did you mean 'numpy'" in cli("bench", "lenet5", "--backends", "numpyy").err
    assert "--batch values must be at least 1" in cli("bench", "lenet5", "--batch", "0").err

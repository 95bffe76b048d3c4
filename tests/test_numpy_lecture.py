"""The lecture's worked examples, computed by the NumPy backend: exact published numbers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES
from lecture_data import EDGE_IMAGE, EDGE_MAP, STEP_ONE_IMAGE

import cnndsl


def edges(image) -> np.ndarray:
    net = cnndsl.load(EXAMPLES / "vertical_edge.cnn").build("numpy")
    return net(np.array(image, dtype=np.float32)[None, None])[0, 0]


def test_vertical_edge_detection():
    np.testing.assert_array_equal(edges(EDGE_IMAGE), EDGE_MAP)


def test_step_one_example_top_left():
    assert edges(STEP_ONE_IMAGE)[0, 0] == 2


def test_bright_left_half_gives_a_strong_edge_in_the_middle():
    image = [[10, 10, 10, 0, 0, 0]] * 6
    np.testing.assert_array_equal(edges(image), [[0, 30, 30, 0]] * 4)


def test_vertical_edge_through_the_command_line(tmp_path, cli):
    np.save(tmp_path / "image.npy", np.array(EDGE_IMAGE))  # int64, 6x6: as a reader would write it
    result = cli("run", str(EXAMPLES / "vertical_edge.cnn"), "--backend", "numpy", "--input", "image.npy",
                 "--output", "edges.npy", cwd=tmp_path)  # fmt: skip
    assert result.code == 0, result.err
    saved = np.load(tmp_path / "edges.npy")
    assert saved.shape == (1, 1, 4, 4) and saved.dtype == np.float32
    np.testing.assert_array_equal(saved[0, 0], EDGE_MAP)
    printed = cli("run", str(EXAMPLES / "vertical_edge.cnn"), "--input", "image.npy", cwd=tmp_path)
    assert "[-10.  -2.   2.   3.]" in printed.out


def run_layer(layer: str, image) -> np.ndarray:
    model = cnndsl.loads(f"network probe {{\n    input 1x4x4\n    {layer}\n}}\n")
    return model.build("numpy")(np.array(image, dtype=np.float32)[None, None])[0, 0]


def test_max_pooling_example():
    image = [[1, 3, 2, 1], [2, 9, 1, 1], [1, 3, 2, 3], [5, 6, 1, 2]]
    np.testing.assert_array_equal(run_layer("maxpool 2 stride=2", image), [[9, 2], [6, 3]])


def test_average_pooling_example():
    image = [[1, 3, 2, 1], [2, 9, 1, 1], [1, 4, 2, 3], [5, 6, 1, 2]]
    np.testing.assert_array_equal(run_layer("avgpool 2 stride=2", image), [[3.75, 1.25], [4, 2]])


def test_softmax_example():
    net = cnndsl.loads("network probe {\n    input 3\n    softmax\n}\n").build("numpy")
    probabilities = net(np.array([[1.2, 0.9, 0.4]], dtype=np.float32))[0]
    np.testing.assert_allclose(probabilities, [0.46, 0.34, 0.20], atol=0.01)
    np.testing.assert_allclose(probabilities, [0.4566, 0.3383, 0.2052], atol=1e-4)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-6)


def test_softmax_does_not_overflow():
    net = cnndsl.loads("network probe {\n    input 3\n    softmax\n}\n").build("numpy")
    probabilities = net(np.array([[1000.0, 999.0, -1000.0]], dtype=np.float32))[0]
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities, [0.7311, 0.2689, 0.0], atol=1e-4)

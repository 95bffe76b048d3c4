"""`cnndsl train`'s choices: the loss from the head and the targets, the data layouts, the split."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import run_cli
from train_data import write_image_folder

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("safetensors")

from cnndsl.backends.pytorch.training import TrainingConfig, progress, resolve, train  # noqa: E402
from cnndsl.backends.pytorch.training.data import Examples, read_data, split  # noqa: E402
from cnndsl.backends.pytorch.training.objective import choose  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl.errors import CnnError  # noqa: E402

HEADS = """
network scores(outputs=3) {
    input 1x4x4
    flatten
    fc outputs
}
network labels(outputs=3) {
    input 1x4x4
    flatten
    fc outputs
    sigmoid
}
network probabilities(outputs=3) {
    input 1x4x4
    flatten
    fc outputs
    softmax
}
"""


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _examples(targets: torch.Tensor) -> Examples:
    return Examples(torch.zeros(len(targets), 1, 4, 4), targets, None, "data.npz")


@pytest.mark.parametrize(
    "network,targets,kind",
    [
        ("scores", torch.tensor([0, 2, 1]), "classes"),
        ("probabilities", torch.tensor([0, 2, 1]), "classes"),
        ("labels", torch.tensor([0, 2, 1]), "labels"),
        ("labels", torch.tensor([[1.0, 0, 1], [0, 1, 0]]), "labels"),
        ("probabilities", torch.tensor([[0.5, 0.5, 0], [0, 1.0, 0]]), "classes"),
        ("scores", torch.tensor([[0.5, -2.0, 3.0], [0, 1.0, 0]]), "regression"),
    ],
)
def test_the_loss_follows_the_head_and_the_targets(network, targets, kind):
    model = cnndsl.loads(HEADS, network=network)
    objective = choose(model, _examples(targets))
    assert objective.kind == kind
    scores = torch.randn(len(targets), 3)
    assert torch.isfinite(objective.loss(scores, targets))


def test_sigmoid_head_with_one_output_takes_two_classes():
    model = cnndsl.loads(HEADS, network="labels", outputs=1)
    objective = choose(model, _examples(torch.tensor([0, 1, 1])))
    assert (objective.kind, objective.outputs) == ("labels", 1)
    assert objective.correct(torch.tensor([[-1.0], [2.0], [-3.0]]), torch.tensor([0, 1, 1])) == (2, 3)
    with pytest.raises(CnnError, match="one sigmoid output"):
        choose(model, _examples(torch.tensor([0, 1, 2])))


def test_targets_that_fit_no_loss_are_refused():
    model = cnndsl.loads(HEADS, network="scores")
    with pytest.raises(CnnError, match="has 5 classes"):
        choose(model, _examples(torch.tensor([0, 4])))
    with pytest.raises(CnnError, match=r"'y' has shape \(2, 4\)"):
        choose(model, _examples(torch.zeros(2, 4)))


def test_multi_label_training_through_the_command(tmp_path):
    """The lecture's multi-label case: a sigmoid head learns which of three quadrants are bright."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 3)).astype(np.float32)
    x = rng.normal(0, 0.1, (200, 1, 4, 4)).astype(np.float32)
    x[:, 0, :2, :2] += y[:, 0, None, None]
    x[:, 0, :2, 2:] += y[:, 1, None, None]
    x[:, 0, 2:, :2] += y[:, 2, None, None]
    np.savez(tmp_path / "quadrants.npz", x=x, y=y)
    (tmp_path / "heads.cnn").write_text(HEADS)
    result = run_cli(
        "train", str(tmp_path / "heads.cnn"), "--network", "labels",
        "--data", str(tmp_path / "quadrants.npz"),
        "--epochs", "15", "--batch", "16", "--lr", "0.5", "--threads", "1", "-o", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "binary cross-entropy" in result.out
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert float(last["val_accuracy"]) == 1.0  # per label, over the 20 held-out examples


def test_train_and_val_folders_share_the_class_numbering(tmp_path):
    write_image_folder(tmp_path / "data" / "train", size=8, count=40)
    write_image_folder(tmp_path / "data" / "val", size=8, count=12)
    for file in (tmp_path / "data" / "val" / "0").glob("*"):  # val lacks a class: numbering must hold
        file.unlink()
    (tmp_path / "data" / "val" / "0").rmdir()
    config = resolve({"data": str(tmp_path / "data")})
    train_set, val_set = read_data(config, (1, 8, 8), lambda message: None)
    assert train_set.classes == val_set.classes == tuple(str(digit) for digit in range(10))
    assert len(train_set) == 40 and len(val_set) < 12
    assert 0 not in val_set.targets.tolist()
    shown = sorted((tmp_path / "data" / "val").glob("*/*.png"))  # class folders 1-9, one digit each
    assert val_set.targets.tolist() == [int(path.parent.name) for path in shown]


def test_the_split_depends_on_the_seed_alone():
    examples = _examples(torch.arange(100))
    first, second = split(examples, 0.2, seed=3), split(examples, 0.2, seed=3)
    assert torch.equal(first[1].targets, second[1].targets)
    assert len(first[1]) == 20 and len(first[0]) == 80
    assert set(first[0].targets.tolist()).isdisjoint(first[1].targets.tolist())
    assert not torch.equal(split(examples, 0.2, seed=4)[1].targets, first[1].targets)


def test_the_python_api_and_a_missing_matplotlib(tmp_path, monkeypatch, capsys):
    x = np.random.default_rng(1).normal(size=(40, 1, 4, 4)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=(x[:, 0, 0, 0] > 0).astype(np.int64))
    monkeypatch.setattr(progress, "plot_available", lambda: False)
    model = cnndsl.loads(HEADS, network="probabilities", outputs=2)
    code = train(model, TrainingConfig(data=str(tmp_path / "d.npz"), epochs=2, threads=1), tmp_path / "run")
    assert code == 0
    assert "metrics.png is skipped: matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "run" / "metrics.png").exists()


def test_a_config_built_in_python_is_checked_too():
    from cnndsl.errors import CnnUsageError

    with pytest.raises(CnnUsageError, match="--batch must be at least 1"):
        TrainingConfig(data="d.npz", batch=0)

"""Showing a run: a progress bar per epoch, a line per epoch, metrics.csv and the curves' plot."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from cnndsl.output_files import write_atomically, write_through

COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "images_per_second",
)
METRICS = "metrics.csv"
PLOT = "metrics.png"


def epoch_bar(total: int, epoch: int, epochs: int, show: bool) -> Any:
    """A tqdm bar on stderr, only on a terminal (logs and pipes get the per-epoch line alone)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=f"epoch {epoch}/{epochs}",
        unit="img",
        leave=False,
        file=sys.stderr,
        disable=None if show else True,  # None: off when stderr is not a terminal
        dynamic_ncols=True,
    )


def _percent(value: float | None) -> str:
    return "  -   " if value is None else f"{100 * value:5.1f}%"


def _loss(value: float) -> str:
    return f"{value:.4f}" if value >= 1e-3 else f"{value:.2e}"  # a regression's loss goes to 1e-9


def epoch_line(row: dict[str, Any], epochs: int, best: bool) -> str:
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}", f"train loss {_loss(row['train_loss'])}"]
    if row["train_accuracy"] is not None:
        parts.append(f"acc {_percent(row['train_accuracy'])}")
    if row["val_loss"] is not None:
        parts.append(f"val loss {_loss(row['val_loss'])}")
        if row["val_accuracy"] is not None:
            parts.append(f"acc {_percent(row['val_accuracy'])}")
    parts.append(f"{row['images_per_second']:,.0f} img/s")
    parts.append(f"{row['seconds']:.1f} s")
    return "  ".join(parts) + ("  *" if best else "")


def write_metrics(folder: Path, history: list[dict[str, Any]]) -> None:
    """All epochs so far, rewritten whole each epoch (atomically, like every file of a run)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({key: "" if row[key] is None else row[key] for key in COLUMNS})
    write_atomically(folder / METRICS, text.getvalue())


def plot_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_plot(folder: Path, history: list[dict[str, Any]], title: str) -> None:
    """Loss and accuracy curves per epoch as metrics.png (needs matplotlib: the `plot` extra)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; also safe in worker-less servers
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    has_accuracy = any(row["train_accuracy"] is not None for row in history)
    figure = Figure(figsize=(9 if has_accuracy else 5, 3.6), layout="constrained")
    axes = figure.subplots(1, 2 if has_accuracy else 1, squeeze=False)[0]
    panels = [("loss", "train_loss", "val_loss")]
    if has_accuracy:
        panels.append(("accuracy", "train_accuracy", "val_accuracy"))
    for axis, (label, train_key, val_key) in zip(axes, panels):
        axis.plot(epochs, [row[train_key] for row in history], marker="o", label="train")
        if any(row[val_key] is not None for row in history):
            axis.plot(epochs, [row[val_key] for row in history], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    write_through(folder / PLOT, lambda temporary: figure.savefig(temporary, format="png", dpi=100))

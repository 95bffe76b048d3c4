"""What the network learns: the loss and the accuracy, chosen from its head and the targets.

A softmax head (left out of the module by `logits=True`) or no activation with class indices:
cross-entropy. A sigmoid head: binary cross-entropy on the logits (the lecture's multi-label
case; class indices become one-hot rows). Float targets shaped like the output and no softmax or
sigmoid head: mean squared error (a regression, such as learning the edge filter).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cnndsl.errors import CnnError
from cnndsl.model import Model

from .data import Examples


@dataclass(frozen=True)
class Objective:
    kind: str  # "classes" (cross-entropy), "labels" (binary cross-entropy) or "regression" (MSE)
    outputs: int  # the number of scores per example (classes, labels) or output numbers

    @property
    def name(self) -> str:
        return {
            "classes": "cross-entropy",
            "labels": "binary cross-entropy",
            "regression": "mean squared error",
        }[self.kind]

    @property
    def has_accuracy(self) -> bool:
        return self.kind != "regression"

    def loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        scores = scores.float()  # the loss in float32 also under autocast
        if self.kind == "classes":
            return torch.nn.functional.cross_entropy(scores, targets)
        if self.kind == "labels":
            return torch.nn.functional.binary_cross_entropy_with_logits(
                scores, self._label_rows(targets, scores)
            )
        return torch.nn.functional.mse_loss(scores, targets)

    def correct(self, scores: torch.Tensor, targets: torch.Tensor) -> tuple[int, int]:
        """(right, counted): classes count examples, labels count every label of every example."""
        if self.kind == "classes":
            wanted = targets if targets.dtype == torch.int64 else targets.argmax(dim=1)
            return int((scores.argmax(dim=1) == wanted).sum()), len(targets)
        if self.kind == "labels":
            rows = self._label_rows(targets, scores)
            return int(((scores > 0) == (rows > 0.5)).sum()), rows.numel()
        return 0, 0

    def _label_rows(self, targets: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if targets.dtype != torch.int64:
            return targets
        if self.outputs == 1:  # one sigmoid output: the class index 0/1 is the label
            return targets.to(scores.dtype).view(-1, 1)
        return torch.nn.functional.one_hot(targets, self.outputs).to(scores.dtype)


def choose(model: Model, train: Examples) -> Objective:
    """The objective for `model` on these examples, or a CnnError saying why they do not fit."""
    if len(model.graph.graph["outputs"]) > 1:
        names = ", ".join(model.output_names)
        raise CnnError(f"{model.name} has several outputs ({names}); training needs a network with one")
    head = model.graph.nodes[model.graph.graph["outputs"][0]]["op"]
    output = tuple(model.output_shape)
    targets = train.targets
    if targets.dtype == torch.int64:
        if len(output) != 1:
            raise CnnError(
                f"{model.name} outputs {'x'.join(map(str, output))} values per example, not class scores; "
                f"class labels need a network ending in a flat layer (fc, or flatten)"
            )
        count = len(train.classes) if train.classes is not None else int(targets.max()) + 1
        if head == "sigmoid" and output[0] == 1:
            if count > 2:
                raise CnnError(f"{model.name} has one sigmoid output (two classes), but the data has {count}")
            return Objective("labels", 1)
        if (train.classes is not None and count != output[0]) or count > output[0] or int(targets.min()) < 0:
            names = f" ({', '.join(train.classes)})" if train.classes else ""
            raise CnnError(
                f"the data in {train.origin} has {count} classes{names}, but {model.name} outputs "
                f"{output[0]} scores; make them agree, e.g. with --set classes={count}"
            )
        return Objective("labels" if head == "sigmoid" else "classes", output[0])
    if tuple(targets.shape[1:]) != output:
        raise CnnError(
            f"{train.origin}: 'y' has shape {tuple(targets.shape)}, but {model.name} outputs "
            f"{'x'.join(map(str, output))} per example: give integer class indices (N,) or targets "
            f"of shape (N, {', '.join(map(str, output))})"
        )
    if head == "sigmoid":
        return Objective("labels", targets[0].numel())
    if head == "softmax":
        return Objective("classes", output[0])  # probabilities as targets: cross-entropy accepts them
    return Objective("regression", targets[0].numel())

"""The training loop: epochs of forward, loss, backward and step, then validation and a checkpoint."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnndsl.errors import CnnUsageError
from cnndsl.model import Model

from . import checkpoint, distributed, progress
from .config import TrainingConfig
from .data import AugmentedExamples, Examples, Normalization, normalization, read_data
from .objective import Objective, choose


@dataclass(frozen=True)
class Run:
    """One run's fixed parts, decided before the first epoch."""

    config: TrainingConfig
    model: Model
    folder: Path
    device: torch.device
    processes: distributed.Processes
    objective: Objective
    normalize: Normalization
    train: Examples
    val: Examples | None


def epoch_seed(seed: int, epoch: int) -> int:
    """torch's seed for an epoch: a function of (--seed, epoch) alone, so a resumed run draws the same."""
    return (seed * 1_000_003 + epoch + 1) % 2**63


def pick_device(name: str, processes: distributed.Processes) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise CnnUsageError(f"--device: {error}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CnnUsageError("--device cuda: this torch sees no CUDA GPU")
        if processes.active:
            device = torch.device("cuda", processes.local_rank)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise CnnUsageError("--device mps: this torch has no MPS support on this machine")
    return device


def check_support(config: TrainingConfig, device: torch.device) -> None:
    """Refuse up front what the device cannot do, rather than fail deep inside torch mid-run."""
    if config.amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise CnnUsageError(f"{torch.cuda.get_device_name(device)} has no bfloat16; use --amp fp16")
    if config.compile and device.type == "cpu" and not any(map(shutil.which, ("c++", "g++", "clang++"))):
        raise CnnUsageError(
            "--compile on the CPU needs a C++ compiler, and none is on PATH; leave out --compile"
        )


def train(
    model: Model,
    config: TrainingConfig,
    folder: str | Path,
    resumed: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> int:
    """Train `model` as `config` says, writing the run into `folder`; returns the exit status.

    `resumed` is a loaded checkpoint to continue; `extra` (the command's network options) is
    stored in the checkpoint for a later --resume from the command line.
    """
    folder, extra = Path(folder), extra or {}
    processes = distributed.start(
        config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    )
    status = None
    try:
        status = _train(model, config, folder, resumed, extra, processes)
        return status
    finally:
        distributed.stop(processes, finished=status == 0)


def _train(
    model: Model,
    config: TrainingConfig,
    folder: Path,
    resumed: dict[str, Any] | None,
    extra: dict[str, Any],
    processes: distributed.Processes,
) -> int:
    say = print if processes.main else _silent
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = pick_device(config.device, processes)
    check_support(config, device)
    train_examples, val_examples = read_data(config, model.input_shape, _warn if processes.main else _silent)
    run = Run(
        config,
        model,
        folder,
        device,
        processes,
        choose(model, train_examples),
        normalization(config, train_examples),
        train_examples,
        val_examples,
    )
    torch.manual_seed(config.seed)  # the initial weights
    network = model.build("torch", logits=True).to(device)
    if config.channels_last:
        network = network.to(memory_format=torch.channels_last)
    optimizer = _optimizer(network, config)
    scheduler = _scheduler(optimizer, config)
    scaler = torch.amp.GradScaler(device.type) if config.amp == "fp16" else None
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"score": None, "epoch": None}
    start = 0
    if resumed is not None:
        network.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        if scheduler is not None and resumed["scheduler"] is not None:
            scheduler.load_state_dict(resumed["scheduler"])
            if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
                scheduler.T_max = config.epochs  # --epochs raised on resume: decay over the longer run
        if scaler is not None and resumed.get("scaler"):
            scaler.load_state_dict(resumed["scaler"])
        history, best, start = list(resumed["history"]), dict(resumed["best"]), resumed["epoch"]
    replica: torch.nn.Module = network
    if processes.active:
        replica = torch.nn.parallel.DistributedDataParallel(
            network, device_ids=[device.index] if device.type == "cuda" else None
        )
    if config.compile:
        replica = torch.compile(replica)
    say(_header(run, start))
    if processes.main and train_examples.classes is not None:
        checkpoint.save_labels(folder, train_examples.classes)
    identity = checkpoint.identity(model)
    epoch = saved = start
    try:
        for epoch in range(start, config.epochs):
            row = _epoch(run, replica, network, optimizer, scaler, epoch)
            row["lr"] = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            history.append(row)
            score = _score(row)
            improved = best["score"] is None or score > best["score"]
            if improved:
                best = {"score": score, "epoch": epoch + 1}
            if processes.main:
                state = {
                    "identity": identity,
                    "config": config.stored(),
                    "command": extra,
                    "epoch": epoch + 1,
                    "model": checkpoint.weights_of(network),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": None if scheduler is None else scheduler.state_dict(),
                    "scaler": None if scaler is None else scaler.state_dict(),
                    "history": history,
                    "best": best,
                    "classes": list(train_examples.classes or ()),
                }
                _save(run, state, improved)
                saved = epoch + 1
                say(progress.epoch_line(row, config.epochs, improved and epoch > 0), flush=True)
    except KeyboardInterrupt:
        if processes.main:
            weights = checkpoint.weights_of(network)
            checkpoint.save_weights(folder / checkpoint.INTERRUPTED, weights, _metadata(run, epoch))
            print(
                f"\nstopped during epoch {epoch + 1}: {folder / checkpoint.INTERRUPTED} holds the weights "
                f"as they were; {folder / checkpoint.CHECKPOINT} holds epoch {saved}. "
                f"Continue with --resume {folder}",
                file=sys.stderr,
            )
        return 130
    if processes.active:
        if not distributed.replicas_agree(network, processes, device):
            raise CnnUsageError(
                "the processes ended with different weights (a DistributedDataParallel fault)"
            )
        say(f"all {processes.world_size} processes ended with identical weights")
    _farewell(run, best, say)
    return 0


def _silent(*_: Any, **__: Any) -> None:
    pass


def _warn(message: str) -> None:
    print(f"cnndsl: warning: {message}", file=sys.stderr)


def _optimizer(network: torch.nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    parameters = [p for p in network.parameters() if p.requires_grad]
    if not parameters:
        raise CnnUsageError("the network has nothing to train: every layer is trainable=false")
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)
    return torch.optim.SGD(
        parameters, lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
    )


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> Any:
    """Stepped once per epoch: cosine decays to 0 over the run, step multiplies by --gamma."""
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        step_size = config.step_size or max(1, config.epochs // 3)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=config.gamma)
    return None


def _loader(run: Run, epoch: int) -> torch.utils.data.DataLoader:
    config = run.config
    dataset = AugmentedExamples(run.train, config.crop_padding, config.flip)
    generator = torch.Generator().manual_seed(epoch_seed(config.seed, epoch))
    sampler = None
    if run.processes.active:
        sampler = torch.utils.data.DistributedSampler(
            dataset, run.processes.world_size, run.processes.rank, shuffle=True, seed=config.seed
        )
        sampler.set_epoch(epoch)
    per_process = len(dataset) // run.processes.world_size
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=config.batch,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator,
        num_workers=config.workers,
        pin_memory=run.device.type == "cuda",
        drop_last=per_process > config.batch,  # no lone last batch of one (batchnorm cannot train on it)
    )


def _autocast(run: Run) -> Any:
    if run.config.amp is None:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if run.config.amp == "bf16" else torch.float16
    return torch.autocast(run.device.type, dtype=dtype)


def _batch(run: Run, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = run.normalize(inputs.to(run.device, non_blocking=True))
    if run.config.channels_last and inputs.dim() == 4:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs, targets.to(run.device, non_blocking=True)


def _epoch(
    run: Run,
    replica: torch.nn.Module,
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: Any,
    epoch: int,
) -> dict[str, Any]:
    torch.manual_seed(epoch_seed(run.config.seed, epoch))  # dropout and augmentation in this epoch
    loader = _loader(run, epoch)
    replica.train()
    loss_sum = right = counted = seen = 0.0
    began = time.perf_counter()
    total = len(loader) * run.config.batch if loader.drop_last else len(loader.sampler)
    with progress.epoch_bar(total, epoch + 1, run.config.epochs, run.processes.main) as bar:
        for inputs, targets in loader:
            inputs, targets = _batch(run, inputs, targets)
            with _autocast(run):
                scores = replica(inputs)
            loss = run.objective.loss(scores, targets)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            batch = len(targets)
            loss_sum += float(loss.detach()) * batch
            good, count = run.objective.correct(scores.detach(), targets)
            right, counted, seen = right + good, counted + count, seen + batch
            bar.update(batch)
            if run.objective.has_accuracy:
                bar.set_postfix(
                    loss=f"{loss_sum / seen:.4f}", acc=f"{right / max(counted, 1):.3f}", refresh=False
                )
            else:
                bar.set_postfix(loss=f"{loss_sum / seen:.4g}", refresh=False)
    elapsed = time.perf_counter() - began
    loss_sum, right, counted, seen = distributed.sum_across(
        [loss_sum, right, counted, seen], run.processes, run.device
    )
    row: dict[str, Any] = {
        "epoch": epoch + 1,
        "train_loss": loss_sum / max(seen, 1),
        "train_accuracy": right / counted if run.objective.has_accuracy and counted else None,
        "val_loss": None,
        "val_accuracy": None,
        "seconds": round(elapsed, 3),
        "images_per_second": round(seen / elapsed if elapsed > 0 else 0.0, 1),
    }
    if run.val is not None and run.processes.main:  # the raw module: no collectives on one rank alone
        row["val_loss"], row["val_accuracy"] = _validate(run, network)
    return row


def _validate(run: Run, network: torch.nn.Module) -> tuple[float, float | None]:
    assert run.val is not None
    network.eval()
    loss_sum = right = counted = 0.0
    with torch.no_grad():
        for start in range(0, len(run.val), 2 * run.config.batch):
            inputs = run.val.inputs[start : start + 2 * run.config.batch]
            targets = run.val.targets[start : start + 2 * run.config.batch]
            inputs, targets = _batch(run, inputs, targets)
            with _autocast(run):
                scores = network(inputs)
            loss_sum += float(run.objective.loss(scores, targets)) * len(targets)
            good, count = run.objective.correct(scores, targets)
            right, counted = right + good, counted + count
    network.train()
    return loss_sum / len(run.val), (right / counted if run.objective.has_accuracy and counted else None)


def _score(row: dict[str, Any]) -> float:
    """Higher is better: validation accuracy, else minus validation loss, else the training figures."""
    for accuracy, loss in (("val_accuracy", "val_loss"), ("train_accuracy", "train_loss")):
        if row[accuracy] is not None:
            return row[accuracy]
        if row[loss] is not None:
            return -row[loss]
    return -row["train_loss"]


def _metadata(run: Run, epoch: int) -> dict[str, str]:
    metadata = {"network": run.model.name, "epoch": str(epoch)}
    if run.train.classes is not None:
        metadata["classes"] = ",".join(run.train.classes)
    return metadata


def _save(run: Run, state: dict[str, Any], improved: bool) -> None:
    """checkpoint.pt first: if a later write fails, --resume still has a consistent state."""
    folder, epoch = run.folder, state["epoch"]
    checkpoint.save_checkpoint(folder, state)
    checkpoint.save_weights(folder / checkpoint.LAST, state["model"], _metadata(run, epoch))
    if improved:
        checkpoint.save_weights(folder / checkpoint.BEST, state["model"], _metadata(run, epoch))
    progress.write_metrics(folder, state["history"])
    if progress.plot_available():
        progress.write_plot(folder, state["history"], f"{run.model.name} ({run.objective.name})")
    elif epoch == 1:
        print("note: metrics.png is skipped: matplotlib is not installed (pip install 'cnndsl[plot]')")


def _header(run: Run, start: int) -> str:
    val = f", validating on {len(run.val):,}" if run.val is not None else ", no validation set"
    classes = f" in {len(run.train.classes)} classes" if run.train.classes else ""
    processes = f" x {run.processes.world_size} processes" if run.processes.active else ""
    resumed = f"; resuming after epoch {start}" if start else ""
    config = run.config
    return (
        f"training {run.model.name} ({run.model.params:,} params) on {len(run.train):,} examples"
        f"{classes}{val}; {run.objective.name}, {config.optimizer} lr {config.learning_rate:g}, "
        f"{config.schedule}; {run.device}{processes}{resumed} -> {run.folder}"
    )


def _farewell(run: Run, best: dict[str, Any], say: Any) -> None:
    if best["epoch"] is None:
        return
    say(f"best: epoch {best['epoch']} -> {run.folder / checkpoint.BEST}")

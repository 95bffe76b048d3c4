"""From `cnndsl train`'s arguments to a run: the network, the run folder, resuming, the settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnndsl.commands.common import load_from_args
from cnndsl.errors import CnnUsageError

from . import checkpoint
from .config import resolve
from .loop import train

# Network options a resumed run takes from its checkpoint when the command line leaves them out.
NETWORK_OPTIONS = ("network", "set", "shape")


def train_from_command(args: argparse.Namespace, given: dict[str, Any]) -> int:
    """Run `cnndsl train`: `given` holds the training flags the user typed (None for the others)."""
    for key in ("data", "val_data"):
        if given.get(key) is not None:
            given[key] = str(Path(given[key]).resolve())  # a resumed run may start in another folder
    resumed = None
    if args.resume:
        folder = Path(args.resume)
        if args.output and Path(args.output).resolve() != folder.resolve():
            raise CnnUsageError(
                "--resume continues the run in its own folder; leave out -o or give the same one"
            )
        resumed = checkpoint.load_checkpoint(folder)
        for name in NETWORK_OPTIONS:
            if not getattr(args, name):
                setattr(args, name, resumed["command"].get(name))
        args.set = args.set or []
    model = load_from_args(args)
    if resumed is not None:
        checkpoint.check_identity(resumed["identity"], checkpoint.identity(model), folder)
        if resumed["epoch"] >= resolve(given, resumed["config"]).epochs:
            raise CnnUsageError(
                f"{folder} has already trained {resumed['epoch']} epochs; give a larger --epochs to go on"
            )
    else:
        folder = Path(args.output) if args.output else Path("runs") / model.name
        if (folder / checkpoint.CHECKPOINT).exists() and not args.force:
            raise CnnUsageError(
                f"{folder} already holds a run; continue it with --resume {folder}, "
                f"start over with --force, or choose another -o folder"
            )
    config = resolve(given, resumed["config"] if resumed else None)
    command = {name: getattr(args, name) for name in NETWORK_OPTIONS}
    return train(model, config, folder, resumed, command)

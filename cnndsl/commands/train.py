"""`cnndsl train FILE --data DATA`: train a network on image folders or .npz arrays with PyTorch.

The training code lives in the torch backend (cnndsl.backends.pytorch.training) and is imported
only when the command runs; this module only reads the command line.
"""

from __future__ import annotations

import argparse
import importlib

from .. import allocator
from ..errors import CnnUsageError
from .common import add_network_options

# The flags that become TrainingConfig fields (dest names); all default to None so that a resumed
# run can tell what was typed now from what its checkpoint says.
SETTINGS = (
    "data",
    "val_data",
    "val_fraction",
    "epochs",
    "batch",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "step_size",
    "gamma",
    "seed",
    "workers",
    "crop_padding",
    "flip",
    "mean",
    "std",
    "normalize",
    "device",
    "amp",
    "channels_last",
    "compile",
    "threads",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a network on an image folder or .npz arrays (PyTorch), with checkpoints"
    )
    add_network_options(parser)
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data", metavar="PATH", help="image folder (CLASS/*.png, or train/ and val/) or .npz (x, y)"
    )
    data.add_argument("--val-data", metavar="PATH", help="a separate validation folder or .npz")
    data.add_argument(
        "--val-fraction", type=float, metavar="F", help="hold out this share of --data (default 0.1)"
    )
    data.add_argument(
        "--crop-padding", type=int, metavar="PIXELS", help="random crop after padding (default 0: off)"
    )
    data.add_argument("--flip", action="store_true", default=None, help="random horizontal flips")
    data.add_argument("--mean", type=_numbers, metavar="M[,M,M]", help="per-channel mean (0-1 pixel scale)")
    data.add_argument("--std", type=_numbers, metavar="S[,S,S]", help="per-channel standard deviation")
    data.add_argument(
        "--no-normalize",
        dest="normalize",
        action="store_false",
        default=None,
        help="feed pixels scaled to 0-1 as they are",
    )
    data.add_argument("--workers", type=int, metavar="N", help="DataLoader worker processes (default 0)")
    learning = parser.add_argument_group("learning")
    learning.add_argument("--epochs", type=int, metavar="N", help="default 10")
    learning.add_argument("--batch", type=int, metavar="N", help="examples per step and process (default 64)")
    learning.add_argument("--optimizer", choices=("sgd", "adamw"), help="default sgd (with momentum)")
    learning.add_argument("--lr", type=float, help="learning rate (default 0.01 for sgd, 0.001 for adamw)")
    learning.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    learning.add_argument("--weight-decay", type=float, metavar="W", help="default 0")
    learning.add_argument("--schedule", choices=("cosine", "step", "constant"), help="default cosine")
    learning.add_argument("--step-size", type=int, metavar="EPOCHS", help="--schedule step: epochs per decay")
    learning.add_argument("--gamma", type=float, help="--schedule step: decay factor (default 0.1)")
    learning.add_argument("--seed", type=int, help="seed for weights, data order, augmentation (default 0)")
    speed = parser.add_argument_group("device and speed")
    speed.add_argument("--device", help="auto (default: cuda if there is one), cpu, cuda, cuda:1, mps")
    speed.add_argument(
        "--amp",
        nargs="?",
        const="bf16",
        choices=("bf16", "fp16"),
        help="mixed precision autocast (default bf16)",
    )
    speed.add_argument("--channels-last", action="store_true", default=None, help="NHWC memory layout")
    speed.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads per process (default: all cores)"
    )
    speed.add_argument("--compile", action="store_true", default=None, help="torch.compile the module")
    run = parser.add_argument_group("run folder")
    run.add_argument("--output", "-o", metavar="FOLDER", help="where the run goes (default runs/NETWORK)")
    run.add_argument("--resume", metavar="FOLDER", help="continue the run saved in FOLDER")
    run.add_argument("--force", action="store_true", help="start over in a folder that holds a run")
    parser.set_defaults(handler=train)


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, found '{text}'") from None


def train(args: argparse.Namespace) -> int:
    from ..plugins import require_module

    require_module("torch", "torch")
    for module, extra in (("safetensors", "torch"), ("tqdm", "torch"), ("PIL", "torch")):
        require_module(module, extra)
    training = importlib.import_module("cnndsl.backends.pytorch.training")
    given = {name: getattr(args, name) for name in SETTINGS}
    if given["data"] is None and not args.resume:
        raise CnnUsageError("cnndsl train needs --data (an image folder or an .npz file)")
    allocator.keep_freed_memory()  # this process is ours: activations and gradients reuse pages
    return training.train_from_command(args, given)

"""`cnndsl summary FILE`: the per-layer table (or JSON, or Markdown) with totals."""

from __future__ import annotations

import argparse
import sys

from ..formatting import RENDERERS
from .common import add_network_options, load_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("summary", help="per-layer output shapes, parameters and MACs")
    add_network_options(parser)
    parser.add_argument("--format", choices=sorted(RENDERERS), default="table")
    parser.add_argument("--depth", type=_depth, metavar="N", help="fold ops nested deeper than N blocks")
    parser.set_defaults(handler=run)


def _depth(text: str) -> int:
    """--depth N: 0 shows top-level rows only."""
    try:
        depth = int(text)
    except ValueError:
        depth = -1
    if depth < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found '{text}'")
    return depth


def run(args: argparse.Namespace) -> int:
    model = load_from_args(args)
    sys.stdout.write(model.summary(args.format, args.depth))
    return 0

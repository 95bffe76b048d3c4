"""Options shared by several subcommands: which network, parameter overrides, input shape."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import CnnUsageError
from ..loader import load, parse_shape, parse_value
from ..model import Model


def add_network_options(parser: argparse.ArgumentParser, shape_flag: str = "--input") -> None:
    """FILE, --network, --set and the input-shape override (named `shape_flag`; `run` uses
    --input for its data file and calls the override --shape)."""
    parser.add_argument("file", help="a .cnn file, or a built-in architecture such as vgg16")
    add_network_flags(
        parser,
        "which network of the file (default: the only one, or the one named like the file)",
        shape_flag,
    )


def add_network_flags(
    parser: argparse.ArgumentParser, network_help: str, shape_flag: str = "--input"
) -> None:
    """--network, --set and the input-shape override, for a command that names its files itself."""
    parser.add_argument("--network", help=network_help)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override a network parameter"
    )
    parser.add_argument(
        shape_flag, dest="shape", metavar="CxHxW", help="override the input shape, e.g. 3x32x32"
    )


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier() or not value:
            raise CnnUsageError(f"--set expects NAME=VALUE, found '{pair}'")
        overrides[name] = parse_value(value)
    return overrides


def input_shape_from_args(args: argparse.Namespace) -> tuple[int, ...] | None:
    return parse_shape(args.shape) if args.shape else None


def load_from_args(args: argparse.Namespace) -> Model:
    input_shape = input_shape_from_args(args)
    return load(args.file, network=args.network, input=input_shape, overrides=parse_overrides(args.set))

"""`cnndsl check FILE...`: report every error in each file, or one line of totals per network."""

from __future__ import annotations

import argparse
import sys

from ..cli import EXIT_INVALID_INPUT, EXIT_USAGE
from ..diagnostics import render_all
from ..errors import CnnError, CnnUsageError
from ..loader import check_all, resolve_source
from .common import add_network_flags, input_shape_from_args, parse_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", help="check files: shapes, parameters, MACs and every error")
    parser.add_argument("files", nargs="+", metavar="FILE", help=".cnn files or built-in architecture names")
    add_network_flags(parser, "check only this network of each file (default: every network)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check every file even after a bad one; exit with the worst status (2 usage, 1 invalid).

    --network, --set and --input apply to every file named.
    """
    overrides = parse_overrides(args.set)  # a malformed option is a usage error before any file
    input_shape = input_shape_from_args(args)
    status = 0
    for spec in args.files:
        try:
            source = resolve_source(spec)
            models = check_all(source, overrides, input_shape, network=args.network)
        except CnnUsageError as error:  # e.g. no such file: say so and go on with the others
            sys.stderr.write(render_all(error.diagnostics))
            status = max(status, EXIT_USAGE)
            continue
        except CnnError as error:
            sys.stderr.write(render_all(error.diagnostics))
            status = max(status, EXIT_INVALID_INPUT)
            continue
        if args.quiet:
            continue
        if not models:
            print(f"{source.name}: ok (blocks only, no network)")
        for model in models:
            print(
                f"{source.name}: ok: {model.name} {_dims(model.input_shape)} -> "
                f"{', '.join(_dims(shape) for shape in model.output_shapes)}, "
                f"{model.params:,} params, {model.macs:,} MACs"
            )
    return status


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)

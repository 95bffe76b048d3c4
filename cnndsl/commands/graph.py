"""`cnndsl graph FILE`: draw a network as Graphviz DOT, SVG, PNG or a Mermaid flowchart."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import CnnUsageError
from ..graph_render import run_graphviz, to_dot, to_mermaid
from ..graph_view import build_view
from ..model import Model
from ..output_files import check_overwrite, write_atomically
from ..output_stamps import stamp_png, stamp_svg, stamp_text
from .common import add_network_options, load_from_args

FORMATS = ("dot", "svg", "png", "mermaid")
SUFFIXES = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".mmd": "mermaid"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw the network: DOT, SVG, PNG or Mermaid",
        description="Draw a network: one box per op (op, output shape, parameters), blocks as clusters. "
        "SVG and PNG need Graphviz's `dot` program.",
    )
    add_network_options(parser)
    parser.add_argument(
        "--format", choices=FORMATS, help="default: from the -o suffix (.dot .gv .svg .png .mmd), else dot"
    )
    parser.add_argument("--depth", type=int, metavar="N", help="fold blocks deeper than N into one box")
    parser.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of standard output")
    parser.add_argument("--force", action="store_true", help="overwrite an OUT that cnndsl did not write")
    parser.set_defaults(handler=run)


def _output_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    if args.output:
        return SUFFIXES.get(Path(args.output).suffix.lower(), "dot")
    return "dot"


def _check_output(args: argparse.Namespace, output_format: str) -> None:
    if args.depth is not None and args.depth < 0:
        raise CnnUsageError(f"--depth must be 0 or more, found {args.depth}")
    if args.output is None:
        if output_format == "png":
            raise CnnUsageError("PNG is binary: name the file to write with -o, e.g. -o network.png")
        return
    output = Path(args.output)
    if output.suffix.lower() == ".cnn":
        raise CnnUsageError(f"refusing to write a drawing into the .cnn file {args.output}")
    source = Path(args.file)
    if source.is_file() and output.exists() and output.resolve() == source.resolve():
        raise CnnUsageError(f"refusing to overwrite the input {args.file}")
    check_overwrite(output, args.force)


def _stamped(data: str | bytes, output_format: str, model: Model) -> str | bytes:
    """A file's data with cnndsl's header, by which a later `graph -o` knows it may replace it."""
    source = model.graph.graph.get("source", "")
    if isinstance(data, str):
        return stamp_text(data, output_format, source, model.name)
    stamp = stamp_svg if output_format == "svg" else stamp_png
    return stamp(data, source, model.name)


def run(args: argparse.Namespace) -> int:
    output_format = _output_format(args)
    _check_output(args, output_format)
    model = load_from_args(args)
    view = build_view(model.graph, args.depth)
    text = to_mermaid(view) if output_format == "mermaid" else to_dot(view)
    data: str | bytes = text if output_format in ("dot", "mermaid") else run_graphviz(text, output_format)
    if args.output:
        write_atomically(args.output, _stamped(data, output_format, model))
    elif isinstance(data, bytes):
        sys.stdout.write(data.decode("utf-8"))
    else:
        sys.stdout.write(data)
    return 0

"""`cnndsl import SPEC -o FILE`: a PyTorch module or an ONNX file as a readable .cnn file."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..errors import CnnUsageError
from ..loader import parse_shape
from ..output_files import write_atomically


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="write a PyTorch model or an ONNX file as a .cnn file",
        description="Trace a PyTorch model (MODULE:CALLABLE or FILE.py:CALLABLE returning an nn.Module) "
        "or read an ONNX file, recover its repeated blocks, and write it as a .cnn file.",
    )
    parser.add_argument("source", metavar="SPEC", help="module:callable, file.py:callable or model.onnx")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the .cnn file to write")
    parser.add_argument(
        "--input", dest="shape", default="3x224x224", metavar="CxHxW", help="example input shape"
    )
    parser.add_argument(
        "--arg", action="append", default=[], metavar="NAME=VALUE", help="argument for the callable"
    )
    parser.add_argument("--weights", metavar="FILE", help="also write the weights as .safetensors")
    parser.add_argument("--flat", action="store_true", help="one statement per op, no block recovery")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.set_defaults(handler=run)


def _capture(args: argparse.Namespace):
    shape = parse_shape(args.shape)
    if args.source.endswith(".onnx"):
        if args.arg:
            raise CnnUsageError("--arg is for PyTorch callables, not ONNX files")
        try:
            from ..backends.onnx_reader import read
        except ImportError:
            raise CnnUsageError("importing an ONNX file needs onnx: pip install 'cnndsl[onnx]'") from None
        stem = re.sub(r"\W", "_", Path(args.source).stem).lower()
        return read(args.source, stem if stem[:1].isalpha() else f"net_{stem}", shape)
    try:
        from ..backends.pytorch.capture import capture, load_callable, parse_argument
    except ImportError:
        raise CnnUsageError("importing a PyTorch model needs torch: pip install torch") from None
    arguments = dict(parse_argument(pair) for pair in args.arg)
    model, name = load_callable(args.source, arguments)
    return capture(model, shape, name)


def run(args: argparse.Namespace) -> int:
    from ..importer.pipeline import convert
    from ..importer.weights import safetensors_bytes

    outputs = [Path(args.output)] + ([Path(args.weights)] if args.weights else [])
    if args.weights and Path(args.weights).suffix != ".safetensors":
        raise CnnUsageError(f"--weights writes a .safetensors file, found '{args.weights}'")
    for path in outputs:
        if path.exists() and not args.force:
            raise CnnUsageError(f"{path} exists; pass --force to overwrite it")
    graph = _capture(args)
    header = f"# Imported by `cnndsl import {args.source}` (input {'x'.join(map(str, graph.input_shape))}).\n"
    imported = convert(graph, flat=args.flat, header=header, with_weights=bool(args.weights))
    if args.weights:  # the weights first: a .cnn file never points at weights that were not written
        write_atomically(args.weights, safetensors_bytes(imported.state))
    write_atomically(args.output, imported.text)
    sys.stderr.write(f"wrote {args.output} ({len(imported.text.splitlines())} lines)\n")
    return 0

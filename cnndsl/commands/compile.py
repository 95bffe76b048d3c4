"""`cnndsl compile FILE --backend NAME`: write a network as source code (or an exported model).

Backend-agnostic: the backend plugin makes the text (`generate_source`) or the file
(`export`, for other formats); this command chooses the path and writes it safely — through a
temporary file in the same folder and an atomic rename, never over the .cnn input, and never
over a file that cnndsl did not generate unless --force (see output_files.check_overwrite).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CnnUsageError
from ..model import Model
from ..output_files import check_overwrite, write_atomically, write_through
from ..output_stamps import stamp_text
from ..plugins import Backend, get_backend
from .common import add_network_options, load_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "compile", help="write a network as a standalone module for a backend (or export it)"
    )
    add_network_options(parser)
    parser.add_argument(
        "--backend", "-b", default="torch", help="backend plugin to compile for (default: torch)"
    )
    parser.add_argument(
        "--output", "-o", metavar="PATH", help="file or folder to write (default: ./NETWORK.py); - for stdout"
    )
    parser.add_argument(
        "--format", default="python", help="python (default) or another format the backend exports, e.g. onnx"
    )
    parser.add_argument(
        "--logits",
        action="store_true",
        default=None,
        help="leave out a trailing softmax/sigmoid: the model returns scores for the loss function",
    )
    parser.add_argument("--force", action="store_true", help="overwrite a file that cnndsl did not generate")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not print the summary")
    parser.set_defaults(handler=run)


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Only the options the user set: a backend never sees a flag nobody asked for."""
    return {name: value for name, value in (("logits", args.logits),) if value is not None}


def run(args: argparse.Namespace) -> int:
    backend = get_backend(args.backend)
    fmt = args.format.lower()
    formats = supported_formats(backend)
    if fmt not in formats:
        raise CnnUsageError(
            f"the {args.backend} backend cannot write format '{args.format}'; supported: {', '.join(formats)}"
        )
    model = load_from_args(args)
    options = backend_options(args)
    if fmt == "python":
        method = backend.generate_source
        check_options(method, options, args.backend)
        if args.output == "-":
            sys.stdout.write(with_marker(method(model, **options), model))
            return 0
        path = output_path(args.output, model, backend, fmt)
        refuse_unsafe(path, model, args.force)
        text = with_marker(method(model, **options), model)
        write_atomically(path, text)
    else:
        if args.output == "-":
            raise CnnUsageError(f"format '{fmt}' is binary: give a file with --output")
        check_options(backend.export, options, args.backend)
        path = output_path(args.output, model, backend, fmt)
        refuse_unsafe(path, model, args.force)
        write_through(path, lambda temporary: backend.export(model, temporary, fmt, **options))
    if not args.quiet:
        sys.stdout.write(model.summary())
    print(f"wrote {path}")
    return 0


def supported_formats(backend: Backend) -> tuple[str, ...]:
    formats = tuple(getattr(backend, "formats", ("python",)))
    if not hasattr(backend, "export"):
        formats = tuple(f for f in formats if f == "python")
    return formats or ("python",)


def check_options(method: Callable[..., Any], options: dict[str, Any], backend: str) -> None:
    """A clear error, not a TypeError, when a backend's method takes no such option."""
    parameters = inspect.signature(method).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return  # the backend validates its own options
    names = {p.name for p in parameters}
    for name in options:
        if name not in names:
            raise CnnUsageError(f"the {backend} backend has no option --{name.replace('_', '-')}")


def with_marker(text: str, model: Model) -> str:
    """Generated source whose first line is the header the overwrite check relies on."""
    return stamp_text(text, "python", model.graph.graph.get("source", ""), model.name)


def output_path(given: str | None, model: Model, backend: Backend, fmt: str) -> Path:
    """The file to write: as given, inside a given folder, or ./NETWORK{suffix}.py by default."""
    suffix = getattr(backend, "file_suffix", "") or ""
    default = f"{model.name}{suffix}.py" if fmt == "python" else f"{model.name}{suffix}.{fmt}"
    if given is None:
        return Path(default)
    path = Path(given)
    if path.is_dir() or given.endswith(("/", os.sep)):
        return path / default
    return path


def _source_files(model: Model) -> set[Path]:
    """The .cnn files the network was read from: the main file and every imported one."""
    paths = {data["span"].source.path for _, data in model.graph.nodes(data=True)}
    paths.add(model.program.source.path)
    return {path.resolve() for path in paths if path is not None}


def refuse_unsafe(path: Path, model: Model, force: bool) -> None:
    if path.resolve() in _source_files(model):
        raise CnnUsageError(f"refusing to overwrite {path}: it is the .cnn source being compiled")
    check_overwrite(path, force)

"""`cnndsl lsp`: serve an editor over stdio with the language server (needs the `lsp` extra)."""

from __future__ import annotations

import argparse

from ..errors import CnnUsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lsp",
        help="run the language server for editors (over stdio)",
        description="Run the Language Server Protocol server on standard input and output: diagnostics, "
        "output shapes as inlay hints, hover, go-to-definition, completion and formatting. "
        "Editors start it themselves; see docs/editors.md.",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="talk over stdio (the default and only transport)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..lsp.server import serve
    except ImportError as error:  # pygls or lsprotocol missing
        raise CnnUsageError(
            f"the language server needs the lsp extra ({error.name} is not installed): "
            "pip install 'cnndsl[lsp]'"
        ) from None
    serve()
    return 0

"""The `cnndsl` command line: subcommands live in cnndsl/commands, one module each."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import __version__
from .diagnostics import render_all
from .errors import CnnError, CnnUsageError

# Every module in cnndsl/commands with a `register(subparsers)` function is a subcommand; this
# is the order `--help` lists them in (others follow alphabetically).
COMMAND_ORDER = ["check", "summary", "compile", "run", "train", "bench", "fmt", "graph"]

EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors exit 2, as ours do
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _command_modules() -> list[str]:
    from . import commands

    names = [info.name for info in pkgutil.iter_modules(commands.__path__)]
    known = [name for name in COMMAND_ORDER if name in names]
    return known + sorted(set(names) - set(known))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cnndsl",
        description="Check, summarise and compile convolutional networks written in the .cnn language.",
    )
    parser.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show Python tracebacks (for debugging cnndsl)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in _command_modules():
        module = importlib.import_module(f".commands.{name}", __package__)
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except CnnUsageError as error:
        if args.traceback:
            raise
        sys.stderr.write(render_all(error.diagnostics))
        return EXIT_USAGE
    except CnnError as error:
        if args.traceback:
            raise
        sys.stderr.write(render_all(error.diagnostics))
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())

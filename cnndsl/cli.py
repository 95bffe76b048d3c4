"""The `cnndsl` command line: subcommands live in cnndsl/commands, one module each."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from collections.abc import Sequence

from . import __version__
from .diagnostics import render_all
from .errors import CnnError, CnnUsageError

# Every module in cnndsl/commands with a `register(subparsers)` function is a subcommand; this
# is the order `--help` lists them in (others follow alphabetically).
COMMAND_ORDER = ["check", "summary", "compile", "run", "train", "bench", "fmt", "graph", "import_", "lsp"]

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


def _named_command(argv: Sequence[str]) -> str | None:
    """The module of the subcommand argv names, if it names one; None (meaning all) otherwise."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):  # the options before a command take no values
            # A module is named after its command, with "_" added where that is a Python keyword.
            by_command = {module.rstrip("_"): module for module in _command_modules()}
            return by_command.get(word)
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `only` the one subcommand given (its module's name)."""
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
    # Importing every command's module costs ~40 ms of each run, so a run that names its
    # command registers that one alone; `--help`, a typo and no command still see them all.
    for name in [only] if only else _command_modules():
        module = importlib.import_module(f".commands.{name}", __package__)
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def _exit_on_terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: a write in progress removes its temporary file


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_named_command(argv))
    args = parser.parse_args(argv)
    # Only the main thread may set signal handlers (main() may be called from another).
    in_main_thread = threading.current_thread() is threading.main_thread()
    on_terminate = signal.signal(signal.SIGTERM, _exit_on_terminate) if in_main_thread else None
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
    finally:
        if on_terminate is not None:
            signal.signal(signal.SIGTERM, on_terminate)


if __name__ == "__main__":
    sys.exit(main())

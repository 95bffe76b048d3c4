"""`cnndsl fmt FILE...`: rewrite .cnn files in the canonical layout, or check or diff them."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ..diagnostics import render_all
from ..errors import CnnError, CnnUsageError
from ..output_files import write_atomically
from ..source import MAX_SOURCE_BYTES, describe_os_error, read_source_bytes

STDIN = "-"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fmt",
        help="format .cnn files in the canonical layout",
        description="Format .cnn files in place (atomically), keeping every comment. A folder means every "
        ".cnn file under it; '-' formats standard input to standard output.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help=".cnn files or folders, or - for stdin")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    parser.add_argument("--diff", action="store_true", help="change nothing; print a unified diff")
    parser.set_defaults(handler=run)


def _expand(specs: list[str]) -> list[Path | str]:
    """Every file to format, checked before any is touched."""
    files: list[Path | str] = []
    for spec in specs:
        path = Path(spec)
        if spec == STDIN:
            files.append(STDIN)
        elif path.is_dir():
            found = sorted(path.rglob("*.cnn"))
            if not found:
                raise CnnUsageError(f"no .cnn files in the folder {spec}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CnnUsageError(f"no such file or folder: {spec}")
    return files


def _read(file: Path | str) -> str:
    if file == STDIN:
        text = sys.stdin.read(MAX_SOURCE_BYTES + 1)  # at most one character past the limit
        if len(text) > MAX_SOURCE_BYTES:
            raise CnnUsageError(f"cannot read <stdin>: it has more than {MAX_SOURCE_BYTES // 2**20} MiB")
        return text
    try:
        # Bytes decoded as they are: newlines stay as written. Size checked before reading.
        return read_source_bytes(Path(file)).decode("utf-8")
    except OSError as error:
        raise CnnUsageError(f"cannot read {file}: {describe_os_error(error)}") from None
    except UnicodeDecodeError as error:
        raise CnnUsageError(f"cannot read {file}: {error}") from None


def run(args: argparse.Namespace) -> int:
    # Imported here: every command module loads when the CLI starts, and check/summary don't format.
    from ..formatter import format_text

    status = 0
    for file in _expand(args.files):
        name = "<stdin>" if file == STDIN else str(file)
        original = _read(file)
        try:
            formatted = format_text(original, name)
        except CnnError as error:
            sys.stderr.write(render_all(error.diagnostics))
            status = 1
            continue
        changed = formatted != original
        if args.diff and changed:
            before, after = original.splitlines(keepends=True), formatted.splitlines(keepends=True)
            sys.stdout.writelines(difflib.unified_diff(before, after, name, f"{name} (formatted)"))
        if args.check or args.diff:
            if changed and args.check:
                sys.stderr.write(f"would reformat {name}\n")
                status = 1
        elif file == STDIN:
            sys.stdout.write(formatted)
        elif changed:
            write_atomically(file, formatted)
            sys.stderr.write(f"reformatted {name}\n")
    return status

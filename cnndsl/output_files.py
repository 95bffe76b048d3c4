"""Writing output files atomically: readers see the old file or the new one, never half of it."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import CnnUsageError


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write text or bytes to `path` through a temporary file and a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_through(path, lambda temporary: temporary.write_bytes(payload))


def write_through(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Let `write` fill a temporary file beside `path`, then rename it over `path`.

    Missing parent folders are created (and removed again on failure). An existing file keeps
    its permission bits, and a symbolic link keeps pointing at the file it names, which is the
    one rewritten. Any failure leaves `path` as it was and no temporary file behind.
    """
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    created = _make_folders(target.parent)
    temporary: Path | None = None
    done = False
    try:
        mode = _mode_for(target)
        descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(descriptor)
        temporary = Path(name)
        write(temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        done = True
    except OSError as error:
        raise CnnUsageError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if not done:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            for made in reversed(created):  # leave no empty folders behind either
                try:
                    made.rmdir()
                except OSError:
                    break


def _mode_for(target: Path) -> int:
    """The mode a plain `open()` would give (mkstemp makes private files), or the existing one."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _make_folders(folder: Path) -> list[Path]:
    """Create missing parent folders (outermost first), returning those created."""
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.insert(0, current)
        current = current.parent
    for made in missing:
        try:
            made.mkdir()
        except OSError as error:
            raise CnnUsageError(f"cannot create folder {made}: {error.strerror or error}") from None
    return missing

"""Writing output files atomically, and never over a file cnndsl did not write unless forced.

Readers see the old file or the new one, never half of it. Nothing here reads or sets the
process umask (a process-wide setting another thread may be relying on at the same moment):
the temporary file is created with mode 0o666 and the kernel applies the umask, as for open().
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import CnnUsageError
from .output_stamps import written_by_cnndsl

# A temporary file is `.NAME.cnndsl-PID-RANDOM.tmp` beside NAME: a write killed before its rename
# (SIGKILL, power loss) leaves one, and the next write to NAME removes those of dead processes.
TEMPORARY_TAG = ".cnndsl-"
TEMPORARY_SUFFIX = ".tmp"
_TEMPORARY_TAIL = re.compile(r"([0-9]+)-[0-9a-f]{8}")  # PID-RANDOM


def check_overwrite(path: str | Path, force: bool, recognisable: bool = True) -> None:
    """Refuse (a usage error) to write `path` where that would replace a file cnndsl did not write.

    cnndsl's own files are known by their exact header (see output_stamps); a format that cannot
    carry one (`recognisable=False`, e.g. .npy) is never written over an existing file. `force`
    allows both. Folders and special files (a FIFO, a device) are refused even then.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise CnnUsageError(f"cannot write {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CnnUsageError(f"cannot write {path}: it is a folder; give a file name")
    if not stat.S_ISREG(info.st_mode):
        raise CnnUsageError(f"cannot write {path}: it is not a regular file")
    if force:
        return
    if not recognisable:
        raise CnnUsageError(f"refusing to overwrite {path}: the file exists (use --force to overwrite)")
    try:
        ours = written_by_cnndsl(path)
    except OSError as error:
        raise CnnUsageError(f"cannot read {path} to check it before overwriting: {error.strerror}") from None
    if not ours:
        raise CnnUsageError(
            f"refusing to overwrite {path}: cnndsl did not generate it (use --force to overwrite)"
        )


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write text or bytes to `path` through a temporary file and a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_through(path, lambda temporary: temporary.write_bytes(payload))


def write_through(path: str | Path, write: Callable[[Path], Any]) -> None:
    """Let `write` fill a temporary file beside `path`, then rename it over `path`.

    Missing parent folders are created (and removed again on failure). An existing file keeps
    its permission bits, and a symbolic link keeps pointing at the file it names, which is the
    one rewritten. Any failure leaves `path` as it was and no temporary file behind; temporary
    files that killed writes left beside `path` are removed.
    """
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    created = _make_folders(target.parent)
    temporary: Path | None = None
    done = False
    try:
        _remove_stale_temporaries(target)
        mode = _existing_mode(target)
        temporary = _create_temporary(target)
        write(temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        if mode is not None:
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


def _existing_mode(target: Path) -> int | None:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return None


def _create_temporary(target: Path) -> Path:
    """A new empty file beside `target`, created with the mode a plain open() gives (umask applied)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        name = f".{target.name}{TEMPORARY_TAG}{os.getpid()}-{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
        temporary = target.parent / name
        try:
            os.close(os.open(temporary, flags, 0o666))
        except FileExistsError:
            continue
        return temporary


def _remove_stale_temporaries(target: Path) -> None:
    """Remove this user's temporary files for `target` whose writing process no longer exists."""
    if os.name != "posix":  # os.kill(pid, 0) tests a process only on POSIX
        return
    prefix = f".{target.name}{TEMPORARY_TAG}"
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(TEMPORARY_SUFFIX)):
            continue
        ours = _TEMPORARY_TAIL.fullmatch(entry.name[len(prefix) : -len(TEMPORARY_SUFFIX)])
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if ours is None or not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            continue
        if not _process_exists(int(ours[1])):
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # another writer removed it first, or the folder forbids it: harmless


def _process_exists(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid this module wrote; os.kill(0, ...) would mean the process group
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process, or no right to ask: assume it is writing
    return True


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

"""Writing output files atomically: readers see the old file or the new one, never half of it."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import CnnUsageError


def write_atomically(path: str | Path, data: str | bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    An existing file keeps its permission bits, and a symbolic link keeps pointing at the file
    it names, which is the one rewritten. Any failure leaves `path` as it was.
    """
    target = Path(path).resolve() if Path(path).is_symlink() else Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as error:
        raise CnnUsageError(f"cannot write {path}: {error.strerror or error}") from None
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
        temporary = None
    except OSError as error:
        raise CnnUsageError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass

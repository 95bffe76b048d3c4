"""glibc's malloc told to keep freed memory, so a forward pass reuses pages instead of faulting them in."""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1
# Set to anything to leave malloc as the system configured it.
OPT_OUT = "CNNDSL_SYSTEM_MALLOC"


def keep_freed_memory() -> bool:
    """Serve every allocation from the heap and never give freed memory back; True if applied.

    By default glibc gives each allocation over 32 MB its own mmap and returns it on free, and
    trims the heap when its free top grows: so every forward pass faults in, and the kernel
    zeroes, fresh pages for its large activations. On this project's machine that was more than
    half of a CPU forward (MobileNetV2 batch 8: 276 -> 121 ms; see docs/torch.md). The cost is
    that the process keeps its peak memory until it exits, which is why only the commands that
    own their process (run, bench, train) ask for it, never a library call. Not glibc (macOS,
    musl, Windows) or CNNDSL_SYSTEM_MALLOC set: nothing is changed.
    """
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt, version = libc.mallopt, libc.gnu_get_libc_version
    except (OSError, AttributeError):  # not glibc
        return False
    version.restype = ctypes.c_char_p
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success. No mmap means large blocks come from the heap and, once
    # freed, are reused by the next allocation of their size; no trimming keeps them mapped.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _INT_MAX))

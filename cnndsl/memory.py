"""Whether a network fits in memory: its known weight and activation bytes against what is free."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CnnUsageError
from .summary import BYTES_PER_VALUE

if TYPE_CHECKING:
    from .model import Model

MEMINFO = Path("/proc/meminfo")
CGROUP = Path("/sys/fs/cgroup")  # cgroup v2: a container's limit, which /proc/meminfo does not show


def parse_meminfo(text: str) -> int | None:
    """MemAvailable plus SwapFree in bytes from /proc/meminfo's text; None without MemAvailable.

    Swap counts: a run that swaps is slow, not impossible, and only the impossible is refused.
    """
    fields = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0]) * 1024  # the kernel writes kB
    if "MemAvailable" not in fields:
        return None
    return fields["MemAvailable"] + fields.get("SwapFree", 0)


def available_memory() -> int | None:
    """Bytes this process could still allocate, or None where the system does not say (not Linux)."""
    try:
        available = parse_meminfo(MEMINFO.read_text())
    except (OSError, UnicodeDecodeError):
        return None
    room = _cgroup_room()
    return available if available is None or room is None else min(available, room)


def _cgroup_room() -> int | None:
    """What a cgroup v2 memory limit (a container's) leaves; /proc/meminfo shows the host's memory."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                folder = CGROUP / line[3:].strip().lstrip("/")
                limit = (folder / "memory.max").read_text().strip()
                used = (folder / "memory.current").read_text().strip()
                if limit.isdigit() and used.isdigit():
                    return max(int(limit) - int(used), 0)
    except (OSError, UnicodeDecodeError):
        pass
    return None


def memory_needed(model: Model, batch: int = 0) -> tuple[int, int]:
    """A lower bound in bytes to hold `model` and to run it on `batch` inputs at once: its
    parameters and buffers, and per input the input and the largest activation (the summary's
    figures), as (weights, batch)."""
    stats = model.stats()
    largest = max((math.prod(row.output_shape) for row in stats.rows), default=0)
    return stats.param_bytes, batch * (math.prod(stats.input_shape) + largest) * BYTES_PER_VALUE


def size_text(count: int) -> str:
    """Bytes in binary units: `3.55 PiB`, `512 B`."""
    for unit, power in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 2**power:
            return f"{count / 2**power:,.2f} {unit}"
    return f"{count} B"


def check_fits(model: Model, batch: int = 0, available: int | None = None, where: str = "memory") -> None:
    """A CnnUsageError saying what the network needs when that surely exceeds `available`
    (default: free memory now); nothing where the free memory is unknown."""
    if available is None:
        available = available_memory()
    weights, inputs = memory_needed(model, batch)
    if available is None or weights + inputs <= available:
        return
    detail = f"{size_text(weights)} of weights and buffers"
    if batch:
        detail += f", and {size_text(inputs)} to run a batch of {batch:,}"
    raise CnnUsageError(
        f"{model.name} needs at least {size_text(weights + inputs)} ({detail}), but only "
        f"{size_text(available)} of {where} is available"
    )


def check_bytes(name: str, needed: int, available: int | None = None, what: str = "buffers") -> None:
    """The same check for an exact figure (the NumPy engine's planned buffers for one batch size)."""
    if available is None:
        available = available_memory()
    if available is not None and needed > available:
        raise CnnUsageError(
            f"{name} needs {size_text(needed)} of {what}, but only {size_text(available)} of memory "
            "is available"
        )

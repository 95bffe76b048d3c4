"""OpenBLAS's idle threads told to sleep at once, so that the NumPy engine's own threads get the cores."""

from __future__ import annotations

import os
import sys

VARIABLE = "OPENBLAS_THREAD_TIMEOUT"
# 2**4 cycles, OpenBLAS's smallest: its workers sleep as soon as a GEMM is done. By default they
# spin for 2**28 cycles (about 0.1 s) waiting for the next one, on the cores where the engine
# then runs its depthwise convolutions and activations: with two cores, the engine's second
# thread gained almost nothing (EfficientNet-B0 at batch 1: 2 threads about as fast as 1).
QUICK_SLEEP = "4"


def sleep_idle_blas_threads() -> bool:
    """Set OPENBLAS_THREAD_TIMEOUT for this process unless it is set; True if that will count.

    OpenBLAS reads it once, when NumPy loads it, so it only counts before `import numpy`: the
    commands that own their process (run, bench) call this first thing. A value the user set
    is kept.
    """
    if VARIABLE in os.environ or "numpy" in sys.modules:
        return False
    os.environ[VARIABLE] = QUICK_SLEEP
    return True

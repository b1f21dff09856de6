"""Timing shared by the benchmarks: two callables measured interleaved, so both see the same machine load."""

from __future__ import annotations

import ctypes
import ctypes.util
import statistics
import time
from typing import Callable

# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process (no heap trimming, no mmap below 32 MB).

    Two models stepped alternately in one process fragment the heap: glibc then
    returns the top of the heap to the system after every step and the next
    step faults those pages back in (about 1200 faults, 1 ms, per EMLP step
    after an MLP step; none when one model trains alone). The settings apply
    to both models alike. Returns False where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20))


def interleaved(
    fa: Callable[[], object], fb: Callable[[], object], rounds: int, iters: int, sync: Callable[[], object], settle: int = 1
) -> tuple[float, float]:
    """Median seconds per call of ``fa`` and ``fb``: after 3 warm-up calls each, ``rounds`` rounds of
    ``iters`` calls of ``fa`` then of ``fb`` (``sync`` waits for the device before and after).

    Each timed run follows ``settle`` untimed calls of the same function (the
    caches and the allocator settle on it after the other one ran).
    """
    for _ in range(3):
        fa(), fb()
    ta, tb = [], []
    for _ in range(rounds):
        for f, acc in ((fa, ta), (fb, tb)):
            for _ in range(settle):
                f()
            sync()
            t0 = time.perf_counter()
            for _ in range(iters):
                f()
            sync()
            acc.append((time.perf_counter() - t0) / iters)
    return statistics.median(ta), statistics.median(tb)

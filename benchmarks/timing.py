"""Timing shared by the benchmarks: two callables measured interleaved, so both see the same machine load."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(fa: Callable[[], object], fb: Callable[[], object], rounds: int, iters: int, sync: Callable[[], object]) -> tuple[float, float]:
    """Median seconds per call of ``fa`` and ``fb``: after 3 warm-up calls each, ``rounds`` rounds of
    ``iters`` calls of ``fa`` then of ``fb`` (``sync`` waits for the device before and after)."""
    for _ in range(3):
        fa(), fb()
    ta, tb = [], []
    for _ in range(rounds):
        for f, acc in ((fa, ta), (fb, tb)):
            sync()
            t0 = time.perf_counter()
            for _ in range(iters):
                f()
            sync()
            acc.append((time.perf_counter() - t0) / iters)
    return statistics.median(ta), statistics.median(tb)

"""Interleaved timing for ``benchmarks/conv.py``; also sent, as source, to the escnn interpreter (so it holds no imports of the library)."""

from __future__ import annotations

import os
import time

import numpy as np

# -- timing (also sent, as source, to the escnn interpreter) ------------------
def stats(ts):
    a = np.asarray(ts) * 1e3
    return dict(median_ms=round(float(np.median(a)), 4), p10_ms=round(float(np.percentile(a, 10)), 4),
                p90_ms=round(float(np.percentile(a, 90)), 4), n=len(a))


def interleave(fa, fb, warmup, reps, min_reps, max_seconds, sync):
    """Seconds per call of fa and fb: ``warmup`` untimed pairs, then pairs in alternating order (ab, ba, ab, ...)
    until ``reps`` pairs, or ``max_seconds`` once ``min_reps`` pairs are done."""
    for _ in range(warmup):
        fa(), fb()
    ta, tb = [], []
    start = time.perf_counter()
    for i in range(reps):
        order = ((fa, ta), (fb, tb)) if i % 2 == 0 else ((fb, tb), (fa, ta))
        for f, acc in order:
            sync()
            t0 = time.perf_counter()
            f()
            sync()
            acc.append(time.perf_counter() - t0)
        if i + 1 >= min_reps and time.perf_counter() - start > max_seconds:
            break
    return ta, tb


def timed(f, warmup, reps, min_reps, max_seconds, sync):
    """Seconds per call of f alone, as :func:`interleave` times one side."""
    t, _ = interleave(f, lambda: None, warmup, reps, min_reps, max_seconds, sync)
    return t


def loadavg():
    return [round(v, 2) for v in os.getloadavg()]

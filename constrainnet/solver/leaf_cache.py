"""Leaf decompositions on disk: stored through the solver's disk cache, re-identified and certified on read.

A leaf of size ≥ :data:`~constrainnet.solver.disk_cache.MIN_CACHED_SIZE` is
stored as one (n, n + 3) array: U, then per component its dimension,
multiplicity and commutant dimension in the first rows of the last three
columns. The disk cache verifies the file (format version, digest, rep text,
checksum); on top of that the stored U is trusted only after its types are
re-identified in this process (each component's first copy, rotated onto the
type's πₖ) and the whole is certified on the generators again. A file that
fails is ignored and the leaf decomposed afresh.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import SolverError
from ..reps import Rep
from .disk_cache import load_or_compute
from .irreps import COMMUTANT_NAMES, identify
from .isotypic import LeafDecomposition, canonical_copies, certify, leaf_operators, piece_invariants

__all__ = ["load_or_decompose"]

_STRATEGY = "decompose"


def _pack(ld: LeafDecomposition) -> np.ndarray:
    n = ld.leaf.size
    out = np.zeros((n, n + 3))
    out[:, :n] = ld.u
    for i, (t, m) in enumerate(ld.components):
        out[i, n:] = (t.dim, m, len(t.units))
    return out


def _unpack(leaf: Rep, packed: np.ndarray) -> LeafDecomposition | None:
    n = leaf.size
    if packed.shape != (n, n + 3):
        return None
    u = np.array(packed[:, :n])
    meta = packed[:, n:]
    ops = leaf_operators(leaf)
    comps, columns, at = [], [], 0
    for dim, m, c in meta:
        if dim == 0:
            break
        dim, m, c = int(dim), int(m), int(c)
        if c not in COMMUTANT_NAMES or at + dim * m > n:
            return None
        first = u[:, at : at + dim]
        t, tmat = identify(leaf.G, *piece_invariants(first, ops), c=c)
        copies = [u[:, at + k * dim : at + (k + 1) * dim] @ tmat for k in range(m)]
        columns.extend(canonical_copies(copies, t.units))  # the canonical copies for this process's πₖ
        comps.append((t, m))
        at += dim * m
    if at != n:
        return None
    u = np.concatenate(columns, axis=1)
    try:
        certify(leaf, u, comps, ops[0], ops[1])
    except SolverError:
        return None
    u.setflags(write=False)
    return LeafDecomposition(leaf, u, tuple(comps))


def load_or_decompose(leaf: Rep, compute: Callable[[Rep], LeafDecomposition]) -> LeafDecomposition:
    """The decomposition of ``leaf`` from the disk cache (verified), or computed and stored."""
    fresh: list[LeafDecomposition] = []

    def packed() -> np.ndarray:
        ld = compute(leaf)
        fresh.append(ld)
        return _pack(ld)

    arr = load_or_compute(leaf, _STRATEGY, packed)
    if fresh:
        return fresh[0]
    ld = _unpack(leaf, np.asarray(arr))
    return ld if ld is not None else compute(leaf)

r"""Checks of a basis that did not come from a solve (a file of the disk cache): equivariant and orthonormal.

A file's checksum only says that its bytes are the ones written — anyone can
write a file with a matching checksum — so a basis read from disk is trusted
only after it passes, on the generators of its rep's group:

- the constraints: ‖ρ(h) q − q‖ ≤ :data:`CONSTRAINT_RTOL` · max(1, ‖ρ(h)‖) and
  ‖dρ(A) q‖ ≤ :data:`CONSTRAINT_RTOL` · ‖dρ(A)‖ for every column q, every
  discrete generator h and Lie algebra generator A, with ρ and dρ applied
  through the rep's structure (atom by atom for a tensor product, else
  ``rho_apply``/``drho_apply``; never a (size × size) matrix) and their sizes
  taken on the rep (so a generator scaled by 1e-13 is judged at its own scale);
- orthonormality: :math:`|Q^T Q - I|` ≤ :data:`ORTHONORMAL_ATOL` entrywise.

Orbit bases (one entry per row, 1/sqrt(orbit size)) are checked on their
labels: every coordinate in exactly one column, and the labels invariant
under every generator — which makes them orthonormal and equivariant exactly.

These checks cannot tell a basis of the whole equivariant subspace from one
of a part of it; they keep a non-equivariant or non-orthonormal matrix (a
basis of another group, a damaged file) from ever becoming a model's basis.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse

from ..reps import Rep
from ..reps.composite import _KronRep
from .casimir import max_row_sum
from .iterative import _atoms, _kron_apply

__all__ = ["CONSTRAINT_RTOL", "ORTHONORMAL_ATOL", "basis_defect"]

# Solved bases satisfy their constraints to ~1e-12 of the generator's size
# (the iterative strategy certifies 1e-9 of the same row-sum bound); a basis
# of another subspace misses them by O(1). Anything in between is refused.
CONSTRAINT_RTOL = 1e-7
# Canonical bases are orthonormal to ~1e-14; a rescaled or mixed file is not.
ORTHONORMAL_ATOL = 1e-8
# Columns checked per product, to bound the temporaries (a few × size × chunk).
VERIFY_CHUNK = 64
# Random vectors that measure each generator's size on a rep that is not a tensor product (fixed seed).
PROBES = 2
PROBE_SEED = 0


def _orbit_labels(q: scipy.sparse.csc_matrix) -> np.ndarray | None:
    """The column of each row when ``q`` is a normalised orbit basis (one entry per row); else None."""
    if q.nnz != q.shape[0]:
        return None
    sizes = np.diff(q.indptr)
    if np.any(sizes <= 0) or not np.array_equal(q.data, np.repeat(1.0 / np.sqrt(sizes), sizes)):
        return None
    if not np.array_equal(np.bincount(q.indices, minlength=q.shape[0]), np.ones(q.shape[0], dtype=np.int64)):
        return None
    labels = np.empty(q.shape[0], dtype=np.float64)
    labels[q.indices] = np.repeat(np.arange(q.shape[1], dtype=np.float64), sizes)
    return labels


def _checks(rep: Rep) -> list[tuple[str, int, Callable[[np.ndarray], np.ndarray], float]]:
    """(kind, index, residual function on rows, the generator's size on ``rep``) for every generator.

    A tensor product is applied atom by atom (one axpy per non-zero entry of
    each small atom matrix), sized by Σ ‖dρ_f(A)‖∞ or max(1, Π ‖ρ_f(h)‖∞) over
    its atoms f — the bounds the iterative strategy certifies against. Any
    other rep goes through ``rho_apply``/``drho_apply``, sized on seeded
    random vectors.
    """
    G = rep.G
    out = []
    if isinstance(rep, _KronRep):
        atoms = _atoms(rep)
        for i, h in enumerate(G.discrete_generators):
            mats = [f.rho(h) for f in atoms]
            size = max(1.0, float(np.prod([max_row_sum(m) for m in mats])))
            out.append(("rho", i, lambda x, mats=mats: _kron_apply(mats, x, False) - x, size))
        for i, a in enumerate(G.lie_algebra):
            mats = [f.drho(a) for f in atoms]
            out.append(("drho", i, lambda x, mats=mats: _kron_apply(mats, x, True), sum(max_row_sum(m) for m in mats)))
        return out
    probe = np.random.default_rng(PROBE_SEED).standard_normal((PROBES, rep.size))
    for i, h in enumerate(G.discrete_generators):
        size = max(1.0, float(np.linalg.norm(rep.rho_apply(h, probe)) / np.linalg.norm(probe)))
        out.append(("rho", i, lambda x, h=h: rep.rho_apply(h, x) - x, size))
    for i, a in enumerate(G.lie_algebra):
        size = float(np.linalg.norm(rep.drho_apply(a, probe)) / np.linalg.norm(probe))
        out.append(("drho", i, lambda x, a=a: rep.drho_apply(a, x), size))
    return out


def basis_defect(rep: Rep, q: Any) -> str | None:
    """Why ``q`` is not an orthonormal basis of equivariant vectors of ``rep``, or None when it is.

    Args:
        rep: the rep.
        q: a (rep.size, r) array or scipy.sparse matrix.

    Returns:
        None when ``q`` passes the checks of this module; else a one-line reason.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> basis_defect(V**2, np.eye(9)[:, [0, 4, 8]].sum(axis=1, keepdims=True) / np.sqrt(3)) is None
        True
        >>> basis_defect(V**2, np.eye(9)[:, :1])  # doctest: +ELLIPSIS
        'constraint of drho generator 0: expected a relative residual at most 1e-07, got ...'
    """
    if getattr(q, "ndim", None) != 2 or q.shape[0] != rep.size:
        return f"expected a ({rep.size}, r) matrix, got shape {getattr(q, 'shape', None)}"
    n, r = q.shape
    if r == 0:
        return None
    G = rep.G
    if scipy.sparse.issparse(q):
        labels = _orbit_labels(scipy.sparse.csc_matrix(q))
        if labels is not None:
            for i, h in enumerate(G.discrete_generators):
                if not np.array_equal(rep.rho_apply(h, labels), labels):
                    return f"orbit basis: expected orbits invariant under rho generator {i}, got a moved label"
            if len(G.lie_algebra) == 0:
                return None
        q = q.toarray()  # other sparse bases are small (the orbit strategy makes the large ones)
    q = np.asarray(q, dtype=np.float64)
    if not np.all(np.isfinite(q)):
        return "expected finite entries, got NaN or inf"
    gram = q.T @ q
    off = float(np.abs(gram - np.eye(r)).max())
    if off > ORTHONORMAL_ATOL:
        return f"expected orthonormal columns (|QᵀQ − I| ≤ {ORTHONORMAL_ATOL:g}), got {off:.3g}"
    checks = _checks(rep)
    worst = np.zeros(len(checks))
    for start in range(0, r, VERIFY_CHUNK):
        x = np.ascontiguousarray(q[:, start : start + VERIFY_CHUNK].T)
        for j, (_, _, residual, scale) in enumerate(checks):
            if scale > 0:  # a zero generator constrains nothing
                res = residual(x)
                worst[j] = max(worst[j], float(np.sqrt(np.einsum("ij,ij->i", res, res)).max()))
    for (kind, i, _, scale), w in zip(checks, worst):
        if w > CONSTRAINT_RTOL * scale:
            return f"constraint of {kind} generator {i}: expected a relative residual at most {CONSTRAINT_RTOL:g}, got {w / scale:.3g}"
    return None

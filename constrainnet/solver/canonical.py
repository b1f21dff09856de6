"""The canonical orthonormal basis of a subspace.

An orthonormal basis from an SVD is fixed only up to a rotation, which would
let the meaning of a layer's coefficients change with the LAPACK build or the
thread count. :func:`canonical_basis` brings any orthonormal basis Q₀ of a
subspace S to one form that depends on S alone:

1. pivots: walk the coordinates in index order and keep coordinate i when
   P eᵢ (P = Q₀Q₀ᵀ the projector onto S) is independent of the kept ones —
   the residual of row i of Q₀, after removing the kept rows, exceeds
   :data:`PIVOT_ATOL`;
2. orthonormalise P e_{i₁}, …, P e_{i_r} in pivot order (QR) with a positive
   diagonal, so each basis vector is positive at its own pivot.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError

__all__ = ["canonical_basis", "PIVOT_ATOL"]

# Rows of an orthonormal Q₀ have norm ≤ 1 and noise ~1e-14; a coordinate is a
# pivot when its residual exceeds this. Far above noise, and well below the
# 1/sqrt(N) residual a generic independent coordinate has.
PIVOT_ATOL = 1e-6


def canonical_basis(q0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical orthonormal basis of the column span of ``q0``.

    Args:
        q0: (N, r) array with orthonormal columns.

    Returns:
        ``(Q, pivots)``: Q (N, r) orthonormal, depending only on span(q0), and
        the r pivot coordinates in increasing order (Q[pivots[k], k] > 0).

    Raises:
        SolverError: if fewer than r pivots are found (q0 is not orthonormal).

    Example:
        >>> import numpy as np
        >>> q, piv = canonical_basis(np.array([[-0.6], [0.8]]))  # sign fixed: positive at the pivot
        >>> np.round(q.ravel(), 12).tolist(), piv.tolist()
        ([0.6, -0.8], [0])
    """
    n, r = q0.shape
    if r == 0:
        return np.zeros((n, 0)), np.zeros(0, dtype=np.int64)
    residual = np.array(q0, dtype=np.float64)
    norms2 = np.einsum("ij,ij->i", residual, residual)
    pivots: list[int] = []
    start = 0
    for _ in range(r):
        candidates = np.flatnonzero(norms2[start:] > PIVOT_ATOL**2)
        if len(candidates) == 0:
            raise SolverError(
                f"canonical basis: found {len(pivots)} pivots, expected {r}: the input columns are not orthonormal"
            )
        i = start + int(candidates[0])
        u = residual[i] / np.sqrt(norms2[i])
        coef = residual @ u
        residual -= np.outer(coef, u)
        norms2 = np.maximum(norms2 - coef**2, 0.0)
        norms2[i] = 0.0
        pivots.append(i)
        start = i + 1
    piv = np.array(pivots, dtype=np.int64)
    v = q0 @ q0[piv].T
    q, rmat = np.linalg.qr(v)
    q = q * np.sign(np.diag(rmat))
    return q, piv

r"""The canonical orthonormal basis of a subspace, the one form every strategy gives.

An orthonormal basis from an SVD is fixed only up to a rotation, which would
let the meaning of a layer's coefficients change with the LAPACK build or the
thread count. :func:`canonical_basis` brings any orthonormal basis Q₀ of a
subspace S to one form that depends on S alone:

1. pivots: walk the coordinates in index order and keep coordinate i when
   P eᵢ (P = Q₀Q₀ᵀ the projector onto S) is independent of the kept ones —
   the residual of row i of Q₀, after removing the kept rows, exceeds
   :data:`PIVOT_ATOL` (:func:`~constrainnet.solver.pivots.in_order_pivots`);
2. orthonormalise P e_{i₁}, …, P e_{i_r} in pivot order (QR) with a positive
   diagonal, so each basis vector is positive at its own pivot.

The result is in *column echelon form*: column k is zero (below
:data:`PIVOT_ATOL`) above its pivot i_k and positive at it, so the pivots can
be read back from the basis (:func:`column_pivots`). Two consequences the
strategies rely on:

- a subspace that is a direct sum of pieces on disjoint coordinate sets (the
  leaf blocks of a direct sum) has as canonical basis the canonical bases of
  its pieces, each placed on its coordinates, with the columns sorted by
  their pivots' coordinates — when each piece keeps its coordinates in
  increasing order. The block strategy only permutes columns;
- the normalised indicators of a partition into orbits, ordered by each
  orbit's first coordinate, are already canonical (the pivot of an orbit is
  its first coordinate).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse

from ..errors import SolverError
from .pivots import in_order_pivots

__all__ = ["canonical_basis", "canonical_basis_of_projector", "column_pivots", "PIVOT_ATOL"]

# Rows of an orthonormal Q₀ have norm ≤ 1 and noise ~1e-14; a coordinate is a
# pivot when its residual exceeds this. Far above noise, and well below the
# 1/sqrt(N) residual a generic independent coordinate has.
PIVOT_ATOL = 1e-6
# Seed of the random sketch of an oblique projector's range; the basis is
# brought to canonical form afterwards, so it does not depend on this seed.
SKETCH_SEED = 20261204


def canonical_basis(q0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical orthonormal basis of the column span of ``q0``.

    If Q₀[piv]ᵀ = Q_P R_P (an r × r QR), then Q₀ Q₀[piv]ᵀ = (Q₀ Q_P) R_P is
    the QR factorisation of the projected pivot vectors P e_{i_k}, so
    Q = Q₀ Q_P with the signs of R_P's diagonal made positive. The whole
    space (r = N) is the identity, exactly.

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
    if r == n:
        return np.eye(n), np.arange(n, dtype=np.int64)
    piv = in_order_pivots(q0, PIVOT_ATOL, limit=r)
    if len(piv) < r:
        raise SolverError(
            f"canonical basis: found {len(piv)} pivots, expected {r}: the input columns are not orthonormal"
        )
    qp, rp = np.linalg.qr(np.asarray(q0[piv], dtype=np.float64).T)
    q = np.asarray(q0, dtype=np.float64) @ (qp * np.sign(np.diag(rp)))
    return q, piv


def canonical_basis_of_projector(p: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Canonical orthonormal basis of the range of a projector ``p`` (P² = P), without an eigensolve.

    For an orthogonal projector (P = Pᵀ) the rows of P have the Gram matrix
    P Pᵀ = P, the same as the rows of any orthonormal basis of its range, so
    the pivots are found on P directly, and the QR of P[:, piv] with a
    positive diagonal is the canonical basis: with P[piv, piv] = L Lᵀ
    (Cholesky), Q = P[:, piv] L⁻ᵀ. An oblique projector (a group average of
    a non-orthogonal rep) has the same range but not the same rows: an
    orthonormal basis of its range (from P Ω, Ω a seeded (N, r) Gaussian
    sketch) is brought to canonical form by :func:`canonical_basis`.

    Args:
        p: (N, N) projector.
        rank: its rank (trace).

    Returns:
        ``(Q, pivots)`` as :func:`canonical_basis`.

    Raises:
        SolverError: fewer than ``rank`` independent rows or columns, or a
            pivot block that is not positive definite (P is not a projector).

    Example:
        >>> import numpy as np
        >>> p = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])
        >>> q, piv = canonical_basis_of_projector(p, 1)
        >>> np.round(q.ravel() ** 2, 12).tolist(), piv.tolist()
        ([0.5, 0.5, 0.0], [0])
    """
    n = p.shape[0]
    if rank == 0:
        return np.zeros((n, 0)), np.zeros(0, dtype=np.int64)
    if rank == n:
        return np.eye(n), np.arange(n, dtype=np.int64)
    if not np.allclose(p, p.T, rtol=0.0, atol=PIVOT_ATOL * 1e-3):
        # range(P) from a seeded sketch P Ω (rank r almost surely, certified by its singular values)
        q0, s, _ = np.linalg.svd(p @ np.random.default_rng(SKETCH_SEED).standard_normal((n, rank)), full_matrices=False)
        if s[-1] <= PIVOT_ATOL * s[0]:
            raise SolverError(f"canonical basis: the projector's range has rank below {rank} (sketch singular value {s[-1]:.3g})")
        return canonical_basis(q0)
    # pivots of the rows of P: for symmetric P, the canonical pivots
    piv = in_order_pivots(p, PIVOT_ATOL, limit=rank)
    if len(piv) < rank:
        raise SolverError(f"canonical basis: found {len(piv)} independent columns of the projector, expected {rank}")
    pp = 0.5 * (p[np.ix_(piv, piv)] + p[np.ix_(piv, piv)].T)
    try:
        low = np.linalg.cholesky(pp)
    except np.linalg.LinAlgError as exc:
        raise SolverError(f"canonical basis: the pivot block of the projector ({rank} x {rank}) is not positive definite") from exc
    q = scipy.linalg.solve_triangular(low, p[piv], lower=True, check_finite=False).T
    return q, piv


def column_pivots(q: Any) -> np.ndarray:
    """The pivot of each column of a canonical basis: its first entry above :data:`PIVOT_ATOL` in magnitude.

    A canonical basis is in column echelon form (see the module text): above
    its pivot a column holds at most the residual of a non-pivot coordinate,
    which is ≤ PIVOT_ATOL, and at its pivot the residual of the pivot, which
    is more. Reading the pivots back costs one pass over the entries.

    Args:
        q: (N, r) canonical basis, a numpy array or a scipy.sparse matrix.

    Returns:
        (r,) int64 pivot coordinates (increasing for a canonical basis).

    Example:
        >>> import numpy as np
        >>> column_pivots(np.array([[0.0, 0.0], [0.6, 0.0], [0.8, 1.0]])).tolist()
        [1, 2]
    """
    if scipy.sparse.issparse(q):
        q = scipy.sparse.csc_matrix(q)
        q.sort_indices()
        cols = np.repeat(np.arange(q.shape[1]), np.diff(q.indptr))
        big = np.abs(q.data) > PIVOT_ATOL
        first = np.full(q.shape[1], -1, dtype=np.int64)
        # the first stored entry above the threshold in each column (entries are sorted by row within a column)
        hit_cols, where = np.unique(cols[big], return_index=True)
        first[hit_cols] = q.indices[np.flatnonzero(big)[where]]
    else:
        big = np.abs(np.asarray(q)) > PIVOT_ATOL
        first = np.where(big.any(axis=0), big.argmax(axis=0), -1).astype(np.int64)
    if np.any(first < 0):
        raise SolverError(f"column pivots: expected non-zero columns, got {int(np.sum(first < 0))} zero columns")
    return first

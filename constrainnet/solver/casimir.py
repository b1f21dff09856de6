"""Casimir and weight splittings: the linear algebra that lets the iterative strategy solve small blocks.

For a compact group whose defining rep is orthogonal, let X₁, …, X_m be an
orthonormal basis of its Lie algebra in the trace inner product ⟨X, Y⟩ =
tr(XᵀY). On any orthogonal rep R the Casimir

    C_R = Σᵢ dρ_R(Xᵢ)ᵀ dρ_R(Xᵢ)

is symmetric, does not depend on the orthonormal basis chosen, commutes with
every dρ_R(X), and commutes with ρ_R(h) for every orthogonal h that maps the
Lie algebra to itself (conjugation by h permutes orthonormal bases). So every
intertwiner W : B → A (dρ_A W = W dρ_B, ρ_A(h) W = W ρ_B(h)) satisfies
C_A W = W C_B, and W maps each eigenspace of C_B into the eigenspace of C_A
with the same eigenvalue: W = Σ_λ U_A(λ) M_λ U_B(λ)ᵀ.

Inside one such block, any single Lie algebra element X gives a finer split:
W also intertwines S = dρ(X)ᵀdρ(X), so M_λ maps the eigenspaces of S_B into
those of S_A with the same eigenvalue. Both splits only need eigenvalues
grouped consistently on the two sides; merging two nearby eigenvalues into
one group is always safe (a coarser split, never a wrong one).
"""

from __future__ import annotations

import numpy as np

from ..groups import Group

__all__ = ["JOIN_RTOL", "orthonormal_algebra", "normalizes_algebra", "paired_clusters", "max_row_sum"]

# Eigenvalues closer than JOIN_RTOL × the largest are grouped together. Casimir
# and weight eigenvalues of distinct irreps differ by O(1) relative amounts
# (≥ 1e-3 for every rep of practical size), while eigh places equal ones
# within ~1e-14: merging is always safe, splitting too finely would not be.
JOIN_RTOL = 1e-4
# Rank cut-off of the Lie algebra generators (Frobenius singular values, relative).
ALGEBRA_RTOL = 1e-10
# h X hᵀ must lie in the Lie algebra to this accuracy (relative to ‖X‖ = 1) for
# the Casimir to commute with ρ(h); generators are exact to ~1e-15.
NORMALIZER_ATOL = 1e-9


def max_row_sum(m: np.ndarray) -> float:
    """‖m‖_∞, the largest absolute row sum: a cheap upper bound of the spectral norm of a symmetric or antisymmetric m."""
    return float(np.abs(m).sum(axis=1).max()) if m.size else 0.0


def orthonormal_algebra(G: Group) -> np.ndarray:
    """An orthonormal basis (trace inner product) of the span of ``G.lie_algebra``.

    Returns:
        (m', d, d) array, m' the rank of the given generators (0 for a finite group).

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import SO
        >>> X = orthonormal_algebra(SO(3))
        >>> np.allclose(np.einsum("aij,bij->ab", X, X), np.eye(3))
        True
    """
    lie = np.asarray(G.lie_algebra, dtype=np.float64)
    d = G.d
    if len(lie) == 0:
        return np.zeros((0, d, d))
    _, s, vt = np.linalg.svd(lie.reshape(len(lie), d * d), full_matrices=False)
    rank = int(np.sum(s > ALGEBRA_RTOL * s[0])) if s[0] > 0 else 0
    return vt[:rank].reshape(rank, d, d)


def normalizes_algebra(G: Group, basis: np.ndarray) -> bool:
    """True when every discrete generator h is orthogonal and h X hᵀ stays in the Lie algebra.

    Then conjugation by h is an orthogonal map of the algebra, and the
    Casimir of every orthogonal rep commutes with ρ(h).
    """
    if len(basis) == 0:
        return False
    flat = basis.reshape(len(basis), -1)
    for h in np.asarray(G.discrete_generators, dtype=np.float64):
        if not np.allclose(h @ h.T, np.eye(G.d), atol=NORMALIZER_ATOL):
            return False
        moved = np.einsum("ij,ajk,lk->ail", h, basis, h).reshape(len(basis), -1)
        outside = moved - (moved @ flat.T) @ flat
        if np.abs(outside).max() > NORMALIZER_ATOL:
            return False
    return True


def paired_clusters(values_a: np.ndarray, values_b: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Group the eigenvalues of two symmetric operators jointly and pair the groups.

    Sorted together, consecutive values closer than ``JOIN_RTOL × scale``
    (scale = the largest magnitude, at least 1) fall in one group.

    Args:
        values_a: eigenvalues of the operator on A.
        values_b: eigenvalues of the operator on B.

    Returns:
        ``(pairs, gap)``: for each group present on both sides, the indices of
        its values in ``values_a`` and in ``values_b``; and the smallest
        distance between adjacent groups relative to the scale (``inf`` for
        a single group).

    Example:
        >>> pairs, gap = paired_clusters(np.array([0.0, 2.0, 2.0]), np.array([2.0, 6.0]))
        >>> [(a.tolist(), b.tolist()) for a, b in pairs], round(gap, 3)
        ([([1, 2], [0])], 0.333)
    """
    values = np.concatenate([values_a, values_b])
    side = np.concatenate([np.zeros(len(values_a), dtype=np.int64), np.ones(len(values_b), dtype=np.int64)])
    index = np.concatenate([np.arange(len(values_a)), np.arange(len(values_b))])
    if len(values) == 0:
        return [], float("inf")
    scale = max(float(np.abs(values).max()), 1.0)
    order = np.argsort(values, kind="stable")
    steps = np.diff(values[order])
    breaks = np.flatnonzero(steps > JOIN_RTOL * scale)
    gap = float(steps[breaks].min()) / scale if len(breaks) else float("inf")
    pairs = []
    for group in np.split(order, breaks + 1):
        a = np.sort(index[group[side[group] == 0]])
        b = np.sort(index[group[side[group] == 1]])
        if len(a) and len(b):
            pairs.append((a, b))
    return pairs, gap

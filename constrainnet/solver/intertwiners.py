"""Nullspaces of intertwiner equations on one block, densely or by conjugate gradients.

The unknown is a matrix M (p × q) restricted to a support (a set of entries,
the rest held at zero), and the constraints are

    a_L M + M b_Lᵀ = 0      for each Lie pair (a_L, b_L),
    (a_h M b_hᵀ − M) / 2 = 0 for each discrete pair (a_h, b_h).

Written as K vec(M) = 0 (row-major vec), the Gram operator KᵀK acts as
M ↦ Σ_L a_Lᵀ R_L + R_L b_L + Σ_h (a_hᵀ R_h b_h − R_h) / 2 with R the
residuals above. Small blocks form KᵀK entry by entry from the Kronecker
identities and take its eigenvectors; large ones never form it and project
random vectors onto the nullspace with block conjugate gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverError

__all__ = ["BlockEquations", "dense_nullspace", "cg_nullspace", "GRAM_NULL_RTOL", "CG_RTOL", "RANK_RTOL"]

# Gram eigenvalues at most GRAM_NULL_RTOL × scale are candidates for the
# nullspace (singular values of K up to ~3e-6); the final certification on the
# whole rep then checks every kept vector's residual directly.
GRAM_NULL_RTOL = 1e-11
# Conjugate gradients stop when ‖G Δ − G x‖ ≤ CG_RTOL ‖G x‖ for every vector:
# the projection error is then ≲ CG_RTOL·λ_max/gap, near rounding level for
# the well separated spectra of compact groups.
CG_RTOL = 1e-13
# Projected random vectors: singular values below RANK_RTOL × the largest are
# the CG error left in dependent vectors, not new directions.
RANK_RTOL = 1e-6
# Conjugate gradients give up after this many steps (compact groups need ~100).
CG_MAX_ITER = 3000
# The random start vectors of the CG projection; the result is canonicalised
# afterwards, so it depends on the subspace only, never on this seed.
SEED = 20240917


@dataclass(frozen=True)
class BlockEquations:
    """The constraints of one block.

    Attributes:
        lie: pairs (a, b) of (p, p) and (q, q) arrays, each constraint a M + M bᵀ = 0.
        discrete: pairs (a, b), each constraint (a M bᵀ − M) / 2 = 0.
        rows: (n,) row of each unknown entry of M.
        cols: (n,) column of each unknown entry of M.
        shape: (p, q).
    """

    lie: list[tuple[np.ndarray, np.ndarray]]
    discrete: list[tuple[np.ndarray, np.ndarray]]
    rows: np.ndarray
    cols: np.ndarray
    shape: tuple[int, int]

    @property
    def unknowns(self) -> int:
        """The number of free entries of M."""
        return len(self.rows)

    def gram(self) -> np.ndarray:
        """KᵀK as an (n, n) array, entry ((i,j),(k,l)) from the Kronecker identities.

        For a Lie pair, Kᵀ K = aᵀa ⊗ I + aᵀ ⊗ b + a ⊗ bᵀ + I ⊗ bᵀb; for a
        discrete pair, (aᵀa ⊗ bᵀb − aᵀ ⊗ bᵀ − a ⊗ b + I) / 4.
        """
        i, j = self.rows, self.cols
        same_i = i[:, None] == i[None, :]
        same_j = j[:, None] == j[None, :]
        out = np.zeros((len(i), len(i)))
        for a, b in self.lie:
            ii, jj = np.ix_(i, i), np.ix_(j, j)
            out += (a.T @ a)[ii] * same_j + a.T[ii] * b[jj] + a[ii] * b.T[jj] + same_i * (b.T @ b)[jj]
        for a, b in self.discrete:
            ii, jj = np.ix_(i, i), np.ix_(j, j)
            out += 0.25 * ((a.T @ a)[ii] * (b.T @ b)[jj] - a.T[ii] * b.T[jj] - a[ii] * b[jj] + (same_i & same_j))
        return out

    def apply_gram(self, x: np.ndarray) -> np.ndarray:
        """KᵀK applied to each row of x, without forming it.

        Shape:
            x: (k, n) -> (k, n)
        """
        p, q = self.shape
        m = np.zeros((len(x), p, q))
        m[:, self.rows, self.cols] = x
        out = np.zeros_like(m)
        for a, b in self.lie:
            r = a @ m + m @ b.T
            out += a.T @ r + r @ b
        for a, b in self.discrete:
            r = 0.5 * (a @ m @ b.T - m)
            out += 0.5 * (a.T @ r @ b - r)
        return out[:, self.rows, self.cols]


def dense_nullspace(eq: BlockEquations) -> tuple[np.ndarray, float]:
    """The nullspace of a block from the eigenvectors of its Gram matrix.

    Returns:
        ``(null, gap)``: (n, r) orthonormal columns, and the smallest relative
        singular value of K outside the nullspace (sqrt of the Gram eigenvalue
        over the scale; ``inf`` when every direction is null).
    """
    gram = eq.gram()
    lam, vecs = np.linalg.eigh(gram)
    scale = max(float(lam[-1]), 1.0)
    is_null = lam <= GRAM_NULL_RTOL * scale
    rest = lam[~is_null]
    gap = float(np.sqrt(rest.min() / scale)) if len(rest) else float("inf")
    return vecs[:, is_null], gap


def _project_out_range(eq: BlockEquations, x: np.ndarray) -> tuple[np.ndarray, float]:
    """x − G⁺G x for each row of x (G = KᵀK), by conjugate gradients on G Δ = G x.

    The Krylov space of G x lies in the range of G, where G is positive
    definite, so CG converges to the range component of x; what is left is the
    projection onto the nullspace. Returns the projections and the largest
    relative CG residual.
    """
    b = eq.apply_gram(x)
    b_norm = np.linalg.norm(b, axis=1)
    delta = np.zeros_like(x)
    r = b.copy()
    p = r.copy()
    rr = np.einsum("ij,ij->i", r, r)
    active = b_norm > CG_RTOL * np.linalg.norm(x, axis=1)  # else x is null already, up to rounding
    for _ in range(CG_MAX_ITER):
        active &= np.sqrt(rr) > CG_RTOL * b_norm
        if not active.any():
            return x - delta, 0.0
        idx = np.flatnonzero(active)
        gp = eq.apply_gram(p[idx])
        pgp = np.einsum("ij,ij->i", p[idx], gp)
        alpha = np.where(pgp > 0, rr[idx] / np.where(pgp > 0, pgp, 1.0), 0.0)
        delta[idx] += alpha[:, None] * p[idx]
        r[idx] -= alpha[:, None] * gp
        rr_new = np.einsum("ij,ij->i", r[idx], r[idx])
        p[idx] = r[idx] + (rr_new / np.where(rr[idx] > 0, rr[idx], 1.0))[:, None] * p[idx]
        rr[idx] = rr_new
    worst = float(np.max(np.sqrt(rr[active]) / b_norm[active]))
    raise SolverError(
        f"iterative strategy: conjugate gradients did not converge on a block of {eq.unknowns} unknowns in "
        f"{CG_MAX_ITER} steps: expected a relative residual ≤ {CG_RTOL:g}, got {worst:.3g} (the spectral gap is too small)"
    )


def cg_nullspace(eq: BlockEquations, first: int = 32) -> tuple[np.ndarray, float]:
    """The nullspace of a block by projecting random vectors onto it, never forming KᵀK.

    Projects ``first`` random vectors, then twice as many, ... until their
    projections are linearly dependent: their span is then the whole
    nullspace, and its orthonormal basis is read from an SVD.

    Returns:
        ``(null, separation)``: (n, r) orthonormal columns, and the ratio of
        the smallest kept to the largest dropped singular value of the
        projected vectors (``inf`` when none was dropped).

    Raises:
        SolverError: CG does not converge, or the singular values show no gap.
    """
    n = eq.unknowns
    rng = np.random.default_rng(SEED)
    projected = np.zeros((0, n))
    k = min(first, n)
    while True:
        start = rng.standard_normal((k, n))
        fresh, _ = _project_out_range(eq, start)
        projected = np.concatenate([projected, fresh])
        _, s, vt = np.linalg.svd(projected, full_matrices=False)
        # Projections of unit-size random vectors: compare with their size, ~sqrt(n).
        rank = int(np.sum(s > RANK_RTOL * np.sqrt(n)))
        if rank < len(projected) or len(projected) >= n:
            break
        k = min(len(projected), n - len(projected))
    dropped = float(s[rank]) if rank < len(s) else 0.0
    separation = float(s[rank - 1]) / dropped if rank and dropped > 0 else float("inf")
    if separation < 1e3:
        raise SolverError(
            f"iterative strategy: cannot certify the rank of a block of {n} unknowns: singular values of the "
            f"projected vectors {float(s[rank - 1]) / np.sqrt(n):.3g} (smallest kept) and {dropped / np.sqrt(n):.3g} "
            f"(largest dropped), relative"
        )
    return vt[:rank].T, separation

"""The dense strategy: stack every constraint and take the nullspace in float64.

The reference every other strategy is tested against, and the solver of the
small leaf blocks that the block strategy reduces a rep to.

For a small finite group acting on a large rep without permuting its
coordinates (C(n), D(n), custom matrix groups) the nullspace is read from the
group average P = (1/|G|) Σ_g ρ(g) instead, the projector onto the
invariants: |G| dense products where the constraints' eigensolve costs
O(N³), and no eigensolve when the invariants are all or nothing (C(2) = {±I}
on tensors of even or odd order). See :func:`group_average_basis`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse

from ..errors import GroupError, SolverError
from ..reps import Rep
from .canonical import canonical_basis, canonical_basis_of_projector

__all__ = [
    "dense_basis",
    "constraint_matrix",
    "group_average_basis",
    "NULL_RTOL",
    "CERTIFY_RTOL",
    "DENSE_MAX_SIZE",
    "AVERAGE_MIN_SIZE",
    "AVERAGE_MAX_ORDER",
]

# A singular value at most NULL_RTOL × the largest counts as zero. Constraints
# are scaled to unit size, so exact-nullspace directions sit at ~1e-15·sqrt(N).
NULL_RTOL = 1e-9
# A singular value kept as non-zero must be at least CERTIFY_RTOL × the largest;
# anything between the two thresholds leaves the rank undecided, and the solver
# raises rather than return a silently truncated basis.
CERTIFY_RTOL = 1e-6
# On the Gram matrix MᵀM the exact nullspace sits at ~1e-16·λ_max (rounding of
# the product), so candidates are taken below this and then certified on M.
GRAM_NULL_RTOL = 1e-11
# Up to this size the constraints are built as numpy arrays (scipy.sparse costs
# more per call than it saves); above it, sparse from the Kronecker structure.
DENSE_CONSTRAINTS_MAX_SIZE = 128
# Above this size the O(N³) dense solve takes minutes: refuse with a clear error.
DENSE_MAX_SIZE = 8192
# The group average replaces the eigensolve from this size on (below it the
# eigensolve of the constraints takes milliseconds) ...
AVERAGE_MIN_SIZE = 256
# ... for finite groups of at most this many elements, and at most N / 8 of
# them: |G| products of N² entries then cost less than the N³ eigensolve.
AVERAGE_MAX_ORDER = 512
# A group average must reproduce the constraints to this residual (relative to
# the generator's size), else the eigensolve path is taken instead.
AVERAGE_CERTIFY_RTOL = 1e-9


def constraint_matrix(rep: Rep) -> scipy.sparse.csr_matrix:
    """The stacked constraints [ρ(h₁) − I; …; dρ(A₁); …], each scaled by the size of its generator.

    ρ(h) − I is divided by max(1, ‖ρ(h)‖) and dρ(A) by max(‖A‖, ‖dρ(A)‖)
    (max-row-sum norms): a constraint that is only rounding noise (such as
    ρ(h) − I for h = −I on V⊗V, computed from cos π and sin π) stays at noise
    level instead of being blown up to unit size. Built sparse from the rep's
    structure (Kronecker products of small factors are sparse).

    Returns:
        A (c·N, N) matrix whose nullspace is the equivariant subspace: a numpy
        array for N ≤ DENSE_CONSTRAINTS_MAX_SIZE, a scipy.sparse CSR matrix above.
    """
    n = rep.size
    G = rep.G
    small = n <= DENSE_CONSTRAINTS_MAX_SIZE  # numpy beats scipy.sparse's per-call overhead here
    eye = np.eye(n) if small else scipy.sparse.identity(n, format="csr")
    scaled = []
    for h in G.discrete_generators:
        rho = rep.rho(h) if small else rep.rho_sparse(h)
        scale = max(1.0, float(abs(rho).sum(axis=1).max()))
        scaled.append((rho - eye) / scale)
    for a in G.lie_algebra:
        d = rep.drho(a) if small else rep.drho_sparse(a)
        d_norm = float(abs(d).sum(axis=1).max()) if (small or d.nnz) else 0.0
        scale = max(float(np.abs(a).sum(axis=1).max()), d_norm)
        if scale > 0:
            scaled.append(d / scale)
    if small:
        return np.concatenate(scaled) if scaled else np.zeros((0, n))
    return scipy.sparse.vstack(scaled, format="csr") if scaled else scipy.sparse.csr_matrix((0, n))


def _gram_nullspace(m: np.ndarray) -> np.ndarray | None:
    """Fast path: eigenvectors of MᵀM (a GEMM and a symmetric eigensolver, no QR).

    Returns the nullspace basis when it certifies itself — a clear eigenvalue
    gap, the kept directions with residual ‖M q‖ ≤ NULL_RTOL·σ_max and every
    other direction with σ ≥ CERTIFY_RTOL·σ_max — and None otherwise, so the
    caller falls back to the QR + SVD path.
    """
    gram = m.T @ m
    gram = gram.toarray() if scipy.sparse.issparse(gram) else gram
    lam, vecs = np.linalg.eigh(gram)
    # Constraints are scaled to their generators' size, so thresholds are taken
    # relative to at least 1: all-noise constraints then count as zero.
    lam_max = max(float(lam[-1]), 1.0)
    is_null = lam <= GRAM_NULL_RTOL * lam_max
    nonzero = lam[~is_null]
    if len(nonzero) and nonzero.min() < CERTIFY_RTOL**2 * lam_max:
        return None
    q0 = vecs[:, is_null]
    if q0.size and np.abs(m @ q0).max() > NULL_RTOL * np.sqrt(lam_max):
        return None
    return q0


def _svd_nullspace(m: np.ndarray, rep: Rep) -> np.ndarray:
    """Reference path: QR of the stacked constraints, SVD of the triangular factor."""
    n = m.shape[1]
    m = m.toarray() if scipy.sparse.issparse(m) else m
    r_factor = np.linalg.qr(m, mode="r") if m.shape[0] > n else m
    _, s, vt = scipy.linalg.svd(r_factor, full_matrices=True, check_finite=False)
    s_full = np.zeros(n)
    s_full[: len(s)] = s
    s_max = max(float(s_full[0]), 1.0)
    is_null = s_full <= NULL_RTOL * s_max
    undecided = (~is_null) & (s_full < CERTIFY_RTOL * s_max)
    if np.any(undecided):
        nonzero = s_full[~is_null]
        zero = s_full[is_null]
        largest_zero = float(zero.max()) / s_max if len(zero) else 0.0
        raise SolverError(
            f"dense strategy: cannot certify the rank for {rep!r} of size {n}: singular values "
            f"{(s_full[undecided] / s_max).tolist()[:5]} (relative) lie between {NULL_RTOL:g} and "
            f"{CERTIFY_RTOL:g}; residual {largest_zero:.3g}, smallest non-zero {float(nonzero.min()) / s_max:.3g}"
        )
    q0 = vt[is_null].T
    residual = np.abs(m @ q0).max() if q0.size else 0.0
    if residual > 1e3 * NULL_RTOL * s_max:
        raise SolverError(f"dense strategy: basis of {rep!r} has residual {residual:.3g}, expected < {1e3 * NULL_RTOL:g}")
    return q0


def dense_basis(rep: Rep) -> np.ndarray:
    """The canonical orthonormal basis of the equivariant subspace of ``rep``, solved densely.

    Solves {w : (ρ(h) − I) w = 0, dρ(A) w = 0}: first by an eigensolve of the
    Gram matrix MᵀM of the stacked constraints M, kept only when it certifies
    itself on M; otherwise by a QR of M followed by an SVD of the (N, N)
    triangular factor, with a relative rank cut-off. The basis is then
    brought to canonical form. A small finite group on a rep of at least
    :data:`AVERAGE_MIN_SIZE` coordinates takes the group average instead
    (:func:`group_average_basis`), with the same canonical result.

    Args:
        rep: any rep of size at most :data:`DENSE_MAX_SIZE`.

    Returns:
        A read-only (N, r) float64 array with orthonormal columns.

    Raises:
        SolverError: the rep is too large, or the singular values have no
            clear gap between zero and non-zero (the message gives both).
    """
    n = rep.size
    if n > DENSE_MAX_SIZE:
        raise SolverError(
            f"dense strategy: expected a rep of size at most {DENSE_MAX_SIZE}, got {rep!r} of size {n}"
        )
    averaged = group_average_basis(rep) if _prefers_average(rep) else None
    if averaged is not None:
        return averaged
    m = constraint_matrix(rep)
    if m.shape[0] == 0:
        q0 = np.eye(n)
    else:
        q0 = _gram_nullspace(m)
        if q0 is None:
            q0 = _svd_nullspace(m, rep)
    q, _ = canonical_basis(q0)
    q.setflags(write=False)
    return q


def _prefers_average(rep: Rep) -> bool:
    """A finite group without permutation generators, |G| ≤ min(AVERAGE_MAX_ORDER, N / 8), N ≥ AVERAGE_MIN_SIZE."""
    n, G = rep.size, rep.G
    if n < AVERAGE_MIN_SIZE or not G.is_finite or G.num_discrete_generators == 0 or G.permutations is not None:
        return False
    try:
        order = len(G.elements(max_order=min(AVERAGE_MAX_ORDER, n // 8)))
    except GroupError:
        return False
    return order <= n // 8


def group_average_basis(rep: Rep) -> np.ndarray | None:
    r"""The canonical basis of the invariants of a finite group's rep from the group average, or None.

    P = (1/|G|) Σ_g ρ(g) is a projector onto the invariant vectors (P² = P,
    orthogonal when ρ is); its trace is their dimension r. r = 0 and r = N
    need nothing more; otherwise the pivots and basis are read from P
    (:func:`~constrainnet.solver.canonical.canonical_basis_of_projector`).
    The result is certified on the generators: every (ρ(h) − I) q, relative
    to ‖ρ(h)‖, is at most :data:`AVERAGE_CERTIFY_RTOL`.

    Args:
        rep: a rep of a finite group (enumerable elements).

    Returns:
        A read-only (N, r) array, the same as the constraint solve gives; or
        None when the group cannot be enumerated within
        :data:`AVERAGE_MAX_ORDER` elements or the result does not certify
        (the caller then solves the constraints).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import C
        >>> V = cn.V(C(2))
        >>> group_average_basis(V**2 >> V**2).shape, group_average_basis(V >> V**2).shape
        ((16, 16), (8, 0))
    """
    G = rep.G
    try:
        elements = G.elements(max_order=AVERAGE_MAX_ORDER)
    except GroupError:
        return None
    n = rep.size
    p = np.zeros((n, n))
    for g in elements:
        p += rep.rho(g)
    p /= len(elements)
    trace = float(np.trace(p))
    rank = int(round(trace))
    if abs(trace - rank) > 1e-6:
        return None
    try:
        q, _ = canonical_basis_of_projector(p, rank)
    except SolverError:
        return None
    for h in G.discrete_generators:
        rho = rep.rho(h)
        scale = max(1.0, float(np.abs(rho).sum(axis=1).max()))
        if q.size and float(np.abs(rho @ q - q).max()) > AVERAGE_CERTIFY_RTOL * scale:
            return None
    q = np.ascontiguousarray(q)
    q.setflags(write=False)
    return q

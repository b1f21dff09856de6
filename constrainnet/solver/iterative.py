r"""The iterative strategy: large reps of compact Lie groups, solved block by block from Casimir splittings.

A leaf rep R (no direct sum inside) is a tensor product of atoms f₁ ⊗ … ⊗ f_k
(a Hom ``a >> b`` is b ⊗ a*). Split the atoms into two halves of similar size,
R = A ⊗ B; a vector w of R is a matrix W (:math:`|A| \times |B|`, row-major) and it is
invariant exactly when W intertwines B and A:

    dρ_A(X) W + W dρ_B(X)ᵀ = 0,    ρ_A(h) W ρ_B(h)ᵀ = W.

For a group with a Lie algebra, orthogonal ρ and discrete generators that
normalise the algebra (SO(n), O(n) and their subgroups and products), such a
W commutes with the Casimirs (:mod:`constrainnet.solver.casimir`):
W = Σ_λ U_A(λ) M_λ U_B(λ)ᵀ over the common Casimir eigenvalues λ, found by
two eigensolves of size :math:`|A|` and :math:`|B|` (about :math:`\sqrt{|R|}` each). Inside each
block a weight splitting (the eigenspaces of dρ(X)ᵀdρ(X) for one fixed
algebra element X) leaves only the entries of M_λ between equal weights as
unknowns, and the remaining equations on M_λ are solved densely for small
blocks and by conjugate-gradient projection for large ones
(:mod:`constrainnet.solver.intertwiners`). Mapped back, the columns are
orthonormal; they are brought to the canonical form of
:mod:`constrainnet.solver.canonical` (a blocked pivot search), and the basis
is certified on the original generators: every constraint's residual,
relative to the generator's size, is at most :data:`RESIDUAL_RTOL`, or
:class:`~constrainnet.errors.SolverError` is raised with the residual and
the spectral gap.

For SO(3) ``V**5 >> V**5`` (59,049 coordinates) the halves are V**5
(243 × 243), the largest block has 75 × 75 entries of which 2,025 are
unknowns after the weight split, and the basis (r = 603) is found in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverError
from ..reps import Rep, ScalarRep, tensor
from ..reps.composite import _KronRep
from .casimir import max_row_sum, normalizes_algebra, orthonormal_algebra, paired_clusters
from .canonical import canonical_basis
from .intertwiners import BlockEquations, cg_nullspace, dense_nullspace

__all__ = [
    "ITERATIVE_MIN_SIZE",
    "BLOCK_DENSE_MAX",
    "HALF_MAX_SIZE",
    "RESIDUAL_RTOL",
    "IterativePlan",
    "supports_iterative",
    "prefers_iterative",
    "halves",
    "iterative_plan",
    "iterative_basis",
]

# select_strategy picks "iterative" for leaves at least this large. Below it
# the dense reference stays in charge: it takes ~0.1 s at 729 coordinates
# (SO(3) V**3 >> V**3; 0.01 s here), but ~3 s at 2,187 (V**7; 0.04 s here)
# and grows as N³ (one core).
ITERATIVE_MIN_SIZE = 1000
# Blocks with at most this many unknowns take a dense Gram eigensolve (a
# 3000² eigh is ~2 s); larger ones the CG projection, which never forms it.
BLOCK_DENSE_MAX = 3000
# Largest half |A| or |B|: its Casimir is formed and eigensolved densely.
HALF_MAX_SIZE = 4096
# Certification: every constraint of every basis vector, relative to the
# generator's size, at most this (exact solves leave ~1e-14).
RESIDUAL_RTOL = 1e-9
# Fixed coefficients of the algebra element X of the weight split. Any
# generic X gives the same final basis (only the split, never the subspace,
# depends on it), so a fixed seed keeps runs reproducible.
WEIGHT_SEED = 7
# Basis columns certified per chunk, to bound the temporaries.
CERTIFY_CHUNK = 64


@dataclass(frozen=True)
class IterativePlan:
    """How the iterative strategy splits a rep.

    Attributes:
        sizes: ``(|A|, |B|)``, the sizes of the two halves.
        blocks: one (Casimir eigenvalue, rows, columns, unknowns) per common
            Casimir eigenspace: the block's M is rows × columns, of which
            ``unknowns`` entries remain after the weight split.
        casimir_gap: smallest distance between distinct Casimir eigenvalues,
            relative to the largest.
    """

    sizes: tuple[int, int]
    blocks: tuple[tuple[float, int, int, int], ...]
    casimir_gap: float


def supports_iterative(rep: Rep) -> bool:
    """True when the iterative strategy applies: a Lie algebra, orthogonal ρ, discrete generators normalising the algebra.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import O, S, Lorentz
        >>> [supports_iterative(cn.V(G) ** 2) for G in (O(3), S(4), Lorentz())]
        [True, False, False]
    """
    if not isinstance(rep, Rep):
        raise TypeError(f"expected a Rep, got {type(rep).__name__}")
    G = rep.G
    if len(G.lie_algebra) == 0 or not rep.is_orthogonal:
        return False
    return normalizes_algebra(G, orthonormal_algebra(G))


def prefers_iterative(rep: Rep) -> bool:
    """True when :func:`~constrainnet.solver.strategy.select_strategy` picks the iterative strategy for a leaf.

    The leaf has at least :data:`ITERATIVE_MIN_SIZE` coordinates, the
    strategy applies (:func:`supports_iterative`) and both halves have at most
    :data:`HALF_MAX_SIZE` coordinates.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> prefers_iterative(V**3 >> V**3), prefers_iterative(V**4 >> V**3)
        (False, True)
    """
    if rep.size < ITERATIVE_MIN_SIZE or not supports_iterative(rep):
        return False
    return max(h.size for h in halves(rep)) <= HALF_MAX_SIZE


def _atoms(rep: Rep) -> list[Rep]:
    if isinstance(rep, _KronRep):
        return [a for f in rep.tensor_factors for a in _atoms(f)]
    return [rep]


def halves(rep: Rep) -> tuple[Rep, Rep]:
    """Split ``rep`` = A ⊗ B (Kronecker order) into two halves of similar size.

    The atoms of the tensor product (a Hom ``a >> b`` is b ⊗ a*) are cut where
    the larger half is smallest; a rep that is not a product is A ⊗ Scalar.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> [h.size for h in halves(V**3 >> V**2)]
        [9, 27]
    """
    atoms = _atoms(rep)
    if len(atoms) == 1:
        return rep, ScalarRep(rep.G)
    sizes = np.array([a.size for a in atoms], dtype=np.float64)
    cut = min(range(1, len(atoms)), key=lambda j: (max(np.prod(sizes[:j]), np.prod(sizes[j:])), j))
    return tensor(*atoms[:cut]), tensor(*atoms[cut:])


@dataclass(frozen=True)
class _Block:
    casimir: float
    equations: BlockEquations
    left: np.ndarray  # (|A|, p): W = left @ M @ right.T
    right: np.ndarray  # (|B|, q)


def _prepare(rep: Rep) -> tuple[Rep, Rep, list[_Block], float]:
    if not supports_iterative(rep):
        raise SolverError(
            f"iterative strategy: expected a rep with orthogonal ρ of a group with a Lie algebra whose discrete "
            f"generators normalise it, got {rep!r} of {rep.G!r}"
        )
    G = rep.G
    A, B = halves(rep)
    if max(A.size, B.size) > HALF_MAX_SIZE:
        raise SolverError(
            f"iterative strategy: expected halves of size at most {HALF_MAX_SIZE}, got {A.size} x {B.size} for {rep!r}"
        )
    X = orthonormal_algebra(G)
    DA, DB = [A.drho(x) for x in X], [B.drho(x) for x in X]
    scales = [max_row_sum(da) + max_row_sum(db) for da, db in zip(DA, DB)]
    HA = [A.rho(h) for h in G.discrete_generators]
    HB = [B.rho(h) for h in G.discrete_generators]
    val_a, vec_a = np.linalg.eigh(sum(d.T @ d for d in DA))
    val_b, vec_b = np.linalg.eigh(sum(d.T @ d for d in DB))
    pairs, gap = paired_clusters(val_a, val_b)
    coeffs = np.random.default_rng(WEIGHT_SEED).standard_normal(len(X))
    blocks = []
    for ia, ib in pairs:
        ua, ub = vec_a[:, ia], vec_b[:, ib]
        # the weight split: eigenvectors of S = dρ(x)ᵀdρ(x) for the fixed x = Σ cᵢXᵢ
        xa = ua.T @ sum(c * d for c, d in zip(coeffs, DA)) @ ua
        xb = ub.T @ sum(c * d for c, d in zip(coeffs, DB)) @ ub
        wa, va = np.linalg.eigh(xa.T @ xa)
        wb, vb = np.linalg.eigh(xb.T @ xb)
        left, right = ua @ va, ub @ vb
        rows, cols = [], []
        for ka, kb in paired_clusters(wa, wb)[0]:
            rows.append(np.repeat(ka, len(kb)))
            cols.append(np.tile(kb, len(ka)))
        if not rows:
            continue  # equal Casimirs but no common weight: no intertwiner
        lie = [(left.T @ da @ left / s, right.T @ db @ right / s) for da, db, s in zip(DA, DB, scales) if s > 0]
        discrete = [(left.T @ ha @ left, right.T @ hb @ right) for ha, hb in zip(HA, HB)]
        eq = BlockEquations(lie, discrete, np.concatenate(rows), np.concatenate(cols), (len(ia), len(ib)))
        blocks.append(_Block(float(val_a[ia].mean()), eq, left, right))
    return A, B, blocks, gap


def iterative_plan(rep: Rep) -> IterativePlan:
    """The halves and Casimir blocks the iterative strategy would solve, without solving them.

    Raises:
        SolverError: the strategy does not apply to ``rep``.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> plan = iterative_plan(V**2 >> V**2)
        >>> plan.sizes, [b[1:] for b in plan.blocks]
        ((9, 9), [(1, 1, 1), (3, 3, 5), (5, 5, 9)])
    """
    A, B, blocks, gap = _prepare(rep)
    summary = tuple((round(b.casimir, 9), *b.equations.shape, b.equations.unknowns) for b in blocks)
    return IterativePlan((A.size, B.size), summary, gap)


def _kron_apply(mats: list[np.ndarray], x: np.ndarray, summed: bool) -> np.ndarray:
    """(Σ_i I ⊗ m_i ⊗ I) x if ``summed``, else (m_1 ⊗ … ⊗ m_k) x, on each row of x.

    One pass per atom, one axpy per non-zero entry of its (small) matrix:
    generators of SO(n) and O(n) are sparse, so this beats a dense matmul.

    Shape:
        x: (c, Π sizes) -> (c, Π sizes)
    """
    c = len(x)
    sizes = [len(m) for m in mats]
    out = np.zeros_like(x) if summed else x
    scratch = np.empty(x.size // max(min(sizes), 1))
    for i, m in enumerate(mats):
        if not summed and np.array_equal(m, np.eye(sizes[i])):
            continue
        shape = (c * int(np.prod(sizes[:i])), sizes[i], int(np.prod(sizes[i + 1 :])))
        src = (x if summed else out).reshape(shape)
        dst = out.reshape(shape) if summed else np.zeros(shape)
        for a, b in zip(*np.nonzero(m)):
            term = np.multiply(m[a, b], src[:, b], out=scratch[: src[:, b].size].reshape(src[:, b].shape))
            dst[:, a] += term
        if not summed:
            out = dst.reshape(x.shape)
    return out


def _certify(rep: Rep, q: np.ndarray, gap: float) -> float:
    """Largest relative residual of the original constraints over the columns of q.

    dρ(A) q and ρ(h) q − q are applied atom by atom (:func:`_kron_apply`), each
    generator's residual divided by a bound of its size on ``rep``:
    Σ ‖dρ_f(A)‖∞ over the atoms f, or Π ‖ρ_f(h)‖∞ (at least 1).
    """
    G = rep.G
    atoms = _atoms(rep)
    checks = []
    for a in G.lie_algebra:
        mats = [f.drho(a) for f in atoms]
        checks.append((mats, sum(max_row_sum(m) for m in mats), True))
    for h in G.discrete_generators:
        mats = [f.rho(h) for f in atoms]
        checks.append((mats, max(1.0, float(np.prod([max_row_sum(m) for m in mats]))), False))
    worst = 0.0
    for start in range(0, q.shape[1], CERTIFY_CHUNK):
        x = np.ascontiguousarray(q[:, start : start + CERTIFY_CHUNK].T)
        for mats, scale, summed in checks:
            if scale > 0:
                r = _kron_apply(mats, x, summed) - (0 if summed else x)
                worst = max(worst, float(np.sqrt(np.einsum("ij,ij->i", r, r)).max()) / scale)
    if worst > RESIDUAL_RTOL:
        raise SolverError(
            f"iterative strategy: cannot certify the basis of {rep!r}: expected constraint residuals ≤ "
            f"{RESIDUAL_RTOL:g} (relative), got {worst:.3g}; smallest relative singular value outside the "
            f"nullspace (gap) {gap:.3g}"
        )
    return worst


def iterative_basis(rep: Rep, *, dense_block_max: int = BLOCK_DENSE_MAX) -> np.ndarray:
    """The canonical orthonormal basis of the equivariant subspace of ``rep``, solved block by block.

    Solves {w : ρ(h) w = w, dρ(A) w = 0} through the Casimir and weight
    splittings described in :mod:`constrainnet.solver.iterative`, then
    brings the basis to canonical form (the same columns as
    :func:`~constrainnet.solver.dense.dense_basis`) and certifies it.

    Args:
        rep: a rep for which :func:`supports_iterative` holds, with halves of
            size at most :data:`HALF_MAX_SIZE`.
        dense_block_max: blocks with more unknowns than this are solved by
            conjugate-gradient projection instead of a dense eigensolve.

    Returns:
        A read-only (rep.size, r) float64 array with orthonormal columns.

    Raises:
        SolverError: the strategy does not apply, or the basis cannot be
            certified (the message gives the residual and the gap).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> iterative_basis(V**3 >> V**3).shape
        (729, 15)
    """
    if not isinstance(dense_block_max, (int, np.integer)) or dense_block_max < 0:
        raise ValueError(f"dense_block_max: expected a non-negative int, got {dense_block_max!r}")
    from .budget import check_basis_memory  # (budget imports this module)

    A, B, blocks, casimir_gap = _prepare(rep)
    gap = casimir_gap
    pieces = []
    rank = 0
    for block in blocks:
        eq = block.equations
        if eq.unknowns <= dense_block_max:
            null, block_gap = dense_nullspace(eq)
            gap = min(gap, block_gap)
        else:
            null, _ = cg_nullspace(eq)
        if null.shape[1] == 0:
            continue
        rank += null.shape[1]
        check_basis_memory(rep, "iterative", rank)
        m = np.zeros((null.shape[1],) + eq.shape)
        m[:, eq.rows, eq.cols] = null.T
        w = block.left @ (m @ block.right.T)
        pieces.append(w.reshape(len(w), -1))
    q0 = np.concatenate(pieces).T if pieces else np.zeros((rep.size, 0))
    q, _ = canonical_basis(q0)
    _certify(rep, q, gap)
    q.setflags(write=False)
    return q

r"""Certification of a permutation leaf's decomposition, orbit block by orbit block.

The check of :func:`~constrainnet.solver.isotypic.certify_products` —
UᵀU = I and ρ(h) U = U (⊕ₖ I_{mₖ} ⊗ πₖ(h)) for every generator h, to
:data:`~constrainnet.solver.isotypic.CERTIFY_ATOL` — made on the only
non-zero blocks of U. In a permutation leaf every column of U lies on one
orbit and every generator maps each orbit onto itself, so once U is known
to vanish off the (orbit rows × orbit columns) blocks (their non-zeros are
counted against all of U's), both identities hold exactly when they hold
on each block:

- UᵀU restricted to an orbit's columns is U_Oᵀ U_O (the other rows are zero);
- ρ(h) U = U[σ_h] on an orbit's columns is U_O with its rows permuted
  inside the orbit, and the block form acts on an orbit's columns by the
  (|O| × |O|) block-diagonal matrix of the πₖ of the copies there.

Orbits of one size are checked as one batch (one gather of their blocks,
one batched product per generator), so the work is Σ |O|² per generator
instead of n².
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..reps import Rep
from .irreps import IrrepType
from . import isotypic

__all__ = ["certify_orbit_blocks"]


def certify_orbit_blocks(leaf: Rep, u: np.ndarray, column_orbit: np.ndarray, orbits: list[np.ndarray],
                         comps: list[tuple[IrrepType, int]], perms: np.ndarray) -> None:
    """Check UᵀU = I and ρ(h) U = U (⊕ₖ I_{mₖ} ⊗ πₖ(h)) for every generator h of a permutation leaf, else raise.

    Args:
        leaf: the leaf (named in the error).
        u: (n, n) the change of basis, columns component by component, copy by copy.
        column_orbit: (n,) the orbit each column of U is meant to lie on.
        orbits: the orbits, each an increasing index array.
        comps: ((type, multiplicity), ...) in column order.
        perms: (k, n) the generators' coordinate permutations (ρ(h) U = U[σ_h]).

    Raises:
        SolverError: a residual exceeds :data:`~constrainnet.solver.isotypic.CERTIFY_ATOL`,
            or U has a non-zero entry off its orbit blocks.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import Z
        >>> from constrainnet.solver.decompose_permutation import decompose_permutation_leaf
        >>> ld = decompose_permutation_leaf(cn.V(Z(3)))
        >>> perms = np.array([np.argmax(cn.V(Z(3)).rho(h), axis=1) for h in Z(3).discrete_generators])
        >>> certify_orbit_blocks(ld.leaf, ld.u, np.zeros(3, dtype=np.int64), [np.arange(3)], list(ld.components), perms)
    """
    sizes = np.array([len(o) for o in orbits], dtype=np.int64)
    worst = 0.0 if np.array_equal(np.bincount(column_orbit, minlength=len(orbits)), sizes) else np.inf
    if worst == 0.0:
        worst = _orbit_residual(u, column_orbit, orbits, sizes, comps, perms)
    atol = isotypic.CERTIFY_ATOL  # read at call time: one tolerance for both routes
    if not worst <= atol:
        raise SolverError(
            f"decompose: cannot certify the decomposition of {leaf!r}: residual of ρ U against U times the block form "
            f"{worst:.3g}, expected ≤ {atol:g}"
        )


def _orbit_residual(u: np.ndarray, column_orbit: np.ndarray, orbits: list[np.ndarray], sizes: np.ndarray,
                    comps: list[tuple[IrrepType, int]], perms: np.ndarray) -> float:
    """The largest residual of UᵀU = I and of ρ(h) U = U · block form over the orbit blocks (inf: U leaves them)."""
    n = u.shape[0]
    # each column's type, its place inside its copy, and its copy
    kinds = np.repeat(np.arange(len(comps)), [t.dim * m for t, m in comps])
    dims = np.array([t.dim for t, _ in comps], dtype=np.int64)
    column = np.arange(n)
    starts = np.concatenate([[0], np.cumsum(dims * np.array([m for _, m in comps], dtype=np.int64))[:-1]])
    offset = (column - starts[kinds]) % dims[kinds]
    copy = column - offset  # the first column of its copy
    top = int(dims.max())
    pis = np.zeros((len(comps), len(perms), top, top))
    for k, (t, _) in enumerate(comps):
        pis[k, :, : t.dim, : t.dim] = t.pi_generators
    pos = np.empty(n, dtype=np.int64)  # each coordinate's place in its orbit, and its orbit
    label = np.empty(n, dtype=np.int64)
    for i, orbit in enumerate(orbits):
        pos[orbit] = np.arange(len(orbit))
        label[orbit] = i
    by_orbit = np.argsort(column_orbit, kind="stable")  # the columns of orbit 0, then 1, … (increasing inside each)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    worst, inside = 0.0, 0
    for s in np.unique(sizes).tolist():
        ids = np.flatnonzero(sizes == s)
        rows = np.stack([orbits[i] for i in ids.tolist()])  # (T, s)
        cols = np.stack([by_orbit[bounds[i] : bounds[i + 1]] for i in ids.tolist()])  # (T, s)
        parts = u[rows[:, :, None], cols[:, None, :]]  # (T, s, s)
        inside += int(np.count_nonzero(parts))
        worst = max(worst, float(np.abs(np.swapaxes(parts, 1, 2) @ parts - np.eye(s)).max()))
        kc, oc, cc = kinds[cols], offset[cols], copy[cols]
        # the block form on these columns at every generator: (T, k, s, s), πₖ where two columns share a copy
        blocks = np.where((cc[:, :, None] == cc[:, None, :])[:, None], pis[kc[:, None, :, None], np.arange(len(perms))[None, :, None, None],
                                                                         oc[:, None, :, None], oc[:, None, None, :]], 0.0)
        moved = perms[:, rows]  # (k, T, s): σ_h of each orbit's points
        if not (label[moved] == ids[None, :, None]).all():
            return np.inf  # not an orbit: a generator leaves it
        image = parts[np.arange(len(ids))[None, :, None], pos[moved]]  # (k, T, s, s): ρ(h) U = U[σ_h], inside the orbit
        worst = max(worst, float(np.abs(image - np.swapaxes(parts[:, None] @ blocks, 0, 1)).max()))
    if inside != int(np.count_nonzero(u)):  # an entry off the orbit blocks: the blocks are not all of U
        return np.inf
    return worst

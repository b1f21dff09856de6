"""The product strategy: bases of reps of G₁ × … × G_n whose tensor factors each see one group factor.

A rep of a direct product whose tensor factors are each a rep of a single
factor group (``V(P, factor=i)``, its dual, scalars, and tensor products of
those) is, after grouping its tensor factors by group factor, R₁ ⊗ … ⊗ R_m
with G acting as ρ₁(g₁) ⊗ … ⊗ ρ_m(g_m). Since (g₁, e, …), (e, g₂, …), … lie
in G, a vector is invariant exactly when it lies in

.. math::
    \\mathrm{Inv}(R) = \\mathrm{Inv}(R_1) \\otimes \\cdots \\otimes \\mathrm{Inv}(R_m),

so the basis is the Kronecker product of the factors' bases (each R_i solved
as a rep of its own factor group G_i, by the strategy that suits it: orbits
for S(n) on points, dense or iterative for SO(3) on space), with its
coordinates put back in the rep's order, and brought to canonical form. No
joint constraint on the whole product space is ever formed.
"""

from __future__ import annotations

import numpy as np

from ..groups import Group
from ..groups.product import ProductGroup
from ..reps import DualRep, Rep, ScalarRep, Vector, dual, tensor
from ..reps.atoms import Scalar, V
from ..reps.composite import _KronRep
from ..errors import SolverError
from .canonical import canonical_basis

__all__ = ["factor_split", "product_basis"]

# Marks a tensor factor that sees more than one group factor (not splittable).
_SEVERAL = -1


def _factor_of(rep: Rep) -> int | None:
    """The one group factor ``rep`` depends on, None for none (scalars), ``_SEVERAL`` otherwise."""
    if isinstance(rep, ScalarRep):
        return None
    if isinstance(rep, Vector):
        return _SEVERAL if rep.factor is None else rep.factor
    if isinstance(rep, DualRep):
        return _factor_of(rep.rep)
    return _SEVERAL


def _on_factor(rep: Rep, group: Group) -> Rep:
    """The same rep seen as a rep of the factor group ``group`` (ρ is the factor's block of g)."""
    if isinstance(rep, ScalarRep):
        return Scalar(group)
    if isinstance(rep, Vector):
        return V(group)
    assert isinstance(rep, DualRep)
    return dual(_on_factor(rep.rep, group))


def _atoms(rep: Rep) -> list[Rep]:
    """The tensor factors of ``rep`` down to atoms, in coordinate order ((A ⊗ B)* = A* ⊗ B*)."""
    if isinstance(rep, _KronRep):
        return [a for f in rep.tensor_factors for a in _atoms(f)]
    if isinstance(rep, DualRep) and isinstance(rep.rep, _KronRep):
        return [dual(a) for a in _atoms(rep.rep)]
    return [rep]


def factor_split(rep: Rep) -> list[tuple[int, list[int]]] | None:
    """How ``rep`` splits over the factors of a product group, or None when it does not.

    Returns:
        ``[(factor, positions), ...]``: for each group factor that some tensor
        factor of ``rep`` depends on (in increasing order), the positions of
        those tensor factors; None if ``rep.G`` is not a product, or some tensor
        factor depends on several group factors (then only a joint solve applies).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> P = SO(3) * S(4)
        >>> r = cn.V(P, factor=0) * cn.V(P, factor=1)
        >>> factor_split(r >> r)
        [(0, [0, 2]), (1, [1, 3])]
    """
    if not isinstance(rep.G, ProductGroup):
        return None
    factors = _atoms(rep)
    groups: dict[int, list[int]] = {}
    for position, f in enumerate(factors):
        owner = _factor_of(f)
        if owner == _SEVERAL:
            return None
        if owner is not None:
            groups.setdefault(owner, []).append(position)
    return sorted(groups.items()) if groups else None


def product_basis(rep: Rep, part_basis) -> np.ndarray:
    """The canonical (rep.size, r) basis of a rep that :func:`factor_split` splits.

    Args:
        rep: the rep (a leaf: no direct sums).
        part_basis: solves one part, a rep of a factor group: ``part_basis(R_i)``
            returns its (R_i.size, r_i) basis, dense or scipy.sparse.

    Raises:
        SolverError: ``rep`` does not split over the group factors.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> P = SO(3) * S(4)
        >>> r = cn.V(P, factor=0) * cn.V(P, factor=1)
        >>> product_basis(r >> r, lambda part: np.asarray(part.equivariant_basis())).shape  # 1 × 2
        (144, 2)
    """
    split = factor_split(rep)
    if split is None:
        raise SolverError(f"product strategy: expected a rep whose tensor factors each see one group factor, got {rep!r}")
    factors = _atoms(rep)
    sizes = [f.size for f in factors]
    order: list[int] = []
    q = np.ones((1, 1))
    for factor, positions in split:
        part = tensor(*(_on_factor(factors[p], rep.G.factors[factor]) for p in positions))
        b = part_basis(part)
        b = b.toarray() if hasattr(b, "toarray") else np.asarray(b)
        # Kronecker product of the columns: coordinates (previous parts, this part), columns likewise
        q = np.einsum("ar,bs->abrs", q, b).reshape(q.shape[0] * b.shape[0], q.shape[1] * b.shape[1])
        order.extend(positions)
    # scalar factors (size 1) take no coordinates; put the others back in the rep's order
    order.extend(p for p in range(len(factors)) if p not in order)
    r = q.shape[1]
    q = q.reshape([sizes[p] for p in order] + [r])
    q = np.transpose(q, [order.index(p) for p in range(len(factors))] + [len(factors)]).reshape(rep.size, r)
    basis, _ = canonical_basis(q)
    basis.setflags(write=False)
    return basis

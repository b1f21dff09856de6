r"""The isotypic decomposition of any rep: ``rep.decompose()``.

A rep ρ of a compact group, orthogonal in its coordinates, splits as

    Uᵀ ρ(g) U = ⊕ₖ I_{mₖ} ⊗ πₖ(g)

with U orthogonal, πₖ pairwise non-isomorphic irreducibles (one canonical
matrix realisation per type, shared by every rep of the group) and mₖ their
multiplicities. Leaves (reps without a direct sum) are decomposed by
:func:`~constrainnet.solver.isotypic.decompose_leaf`, each distinct leaf
once. For a direct sum, the components gather one type across leaves: the
columns of type k are its copies in order of the leaves' first appearance,
then the copies of each leaf, then the copies inside the leaf. U stays
block-diagonal over the leaves, with that permutation folded into the
columns of each block (:class:`~constrainnet.solver.change_of_basis.ChangeOfBasis`).

Components are ordered by (dimension, commutant dimension, character
fingerprint): scalars first, and an order that does not depend on the order
in which the reps were decomposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..reps import Rep
from .blocks import LeafBlocks, block_structure, has_block_structure
from .cache import BoundedCache
from .change_of_basis import ChangeOfBasis, LeafChange
from .irreps import IrrepType, registry_clear
from .isotypic import LeafDecomposition, decompose_leaf
from .leaf_cache import load_or_decompose

__all__ = ["Component", "Decomposition", "decompose", "decomposition_cache_clear", "decomposition_cache_info"]

_DECOMPOSITIONS = BoundedCache(maxsize=256)
_LEAVES = BoundedCache(maxsize=1024)


@dataclass(frozen=True)
class Component:
    """One isotypic component: m copies of an irreducible of dimension d.

    Attributes:
        irrep: the irreducible type (shared by every rep of the group).
        dim: d.
        multiplicity: m.
        commutant: "real", "complex" or "quaternionic".
        start: its first column in U; it spans columns start .. start + m·d.
    """

    irrep: IrrepType
    dim: int
    multiplicity: int
    commutant: str
    start: int

    @property
    def stop(self) -> int:
        """One past its last column in U."""
        return self.start + self.dim * self.multiplicity


class Decomposition:
    r"""A rep written in its irreducibles: ``Uᵀ ρ(g) U = ⊕ₖ I_{mₖ} ⊗ πₖ(g)``.

    Attributes:
        rep: the decomposed rep.
        components: the isotypic components in column order.
        change_of_basis: the orthogonal U, held per leaf (``np.asarray`` gives it densely).

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> G = SO(3)
        >>> D = (cn.V(G)**3).decompose()
        >>> [(c.irrep.l, c.multiplicity) for c in D.components]
        [(0, 1), (1, 3), (2, 2), (3, 1)]
        >>> U, g = np.asarray(D.change_of_basis), G.sample()
        >>> bool(np.allclose(U.T @ (cn.V(G)**3).rho(g) @ U, D.block_form(g)))
        True
    """

    def __init__(self, rep: Rep, components: tuple[Component, ...], change_of_basis: ChangeOfBasis) -> None:
        self.rep = rep
        self.components = components
        self.change_of_basis = change_of_basis

    def pi(self, k: int, g: Any) -> np.ndarray:
        """πₖ(g), the (d, d) matrix of component k at a group element g (from its first copy)."""
        comp = self.components[k]
        e = np.zeros((self.rep.size, comp.dim))
        e[comp.start + np.arange(comp.dim), np.arange(comp.dim)] = 1.0
        b = self.change_of_basis @ e
        return b.T @ self.rep.rho_apply(g, b.T).T

    def block_form(self, g: Any) -> np.ndarray:
        """⊕ₖ I_{mₖ} ⊗ πₖ(g) as a dense (size, size) matrix (for checks on small reps)."""
        n = self.rep.size
        out = np.zeros((n, n))
        for k, comp in enumerate(self.components):
            out[comp.start : comp.stop, comp.start : comp.stop] = np.kron(np.eye(comp.multiplicity), self.pi(k, g))
        return out

    def __repr__(self) -> str:
        parts = " + ".join(
            (f"{c.multiplicity}*" if c.multiplicity > 1 else "") + c.irrep.label for c in self.components
        )
        return f"Decomposition({self.rep!r} = {parts})"


def _leaf(leaf: Rep) -> LeafDecomposition:
    return _LEAVES.get_or_compute(leaf, lambda: load_or_decompose(leaf, decompose_leaf))


def decompose(rep: Rep) -> Decomposition:
    r"""The certified, canonical isotypic decomposition of ``rep``.

    The commutant of each distinct leaf is solved as the equivariant basis of
    ``leaf >> leaf`` (read from the orbit labels of index pairs when the
    generators permute the leaf's coordinates, see
    :mod:`constrainnet.solver.decompose_permutation`); a random element of it
    splits the leaf (Dixon's method); copies of a type are aligned by the commutant's intertwiners and
    written with the type's canonical πₖ; the result is certified on the
    generators (see :mod:`constrainnet.solver.isotypic`). Cached in memory by
    rep value, and leaves of size ≥ 256 on disk (verified on read).

    Args:
        rep: a rep with orthogonal ρ (any rep of a compact group built from an
            orthogonal defining rep), whose leaves have size at most
            :data:`~constrainnet.solver.isotypic.DECOMPOSE_MAX_SIZE`.

    Returns:
        A :class:`Decomposition`.

    Raises:
        RepError: ρ is not orthogonal (e.g. the Lorentz group: no orthogonal U exists).
        SolverError: a leaf is too large, or the result cannot be certified.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> D = (3 * cn.V(SO(2))).decompose()
        >>> [(c.dim, c.multiplicity, c.commutant) for c in D.components]
        [(2, 3, 'complex')]
    """
    if not isinstance(rep, Rep):
        raise TypeError(f"decompose: expected a Rep, got {type(rep).__name__}")
    return _DECOMPOSITIONS.get_or_compute(rep, lambda: _assemble(rep))


def _assemble(rep: Rep) -> Decomposition:
    if has_block_structure(rep):
        structure = block_structure(rep)
    else:
        index = np.arange(rep.size, dtype=np.int64)[None]
        structure = [LeafBlocks(rep, index)]
    leaves = [_leaf(b.leaf) for b in structure]
    mult: dict[IrrepType, int] = {}
    for b, ld in zip(structure, leaves):
        for t, m in ld.components:
            mult[t] = mult.get(t, 0) + m * b.index.shape[0]
    types = sorted(mult, key=lambda t: t.sort_key)
    start, comps, at = {}, [], 0
    for t in types:
        start[t] = at
        comps.append(Component(t, t.dim, mult[t], t.commutant, at))
        at += t.dim * mult[t]
    counter = {t: 0 for t in types}
    blocks = []
    for b, ld in zip(structure, leaves):
        copies = b.index.shape[0]
        cols = np.empty((copies, ld.leaf.size), dtype=np.int64)
        off = 0
        for t, m in ld.components:
            idx = counter[t] + np.arange(copies * m).reshape(copies, m)
            cols[:, off : off + m * t.dim] = (start[t] + idx[:, :, None] * t.dim + np.arange(t.dim)).reshape(copies, -1)
            counter[t] += copies * m
            off += m * t.dim
        cols.setflags(write=False)
        blocks.append(LeafChange(ld.u, b.index, cols))
    return Decomposition(rep, tuple(comps), ChangeOfBasis(rep.size, blocks))


def decomposition_cache_clear() -> None:
    """Empty the decomposition caches and forget the irreducible types met so far."""
    _DECOMPOSITIONS.clear()
    _LEAVES.clear()
    registry_clear()


def decomposition_cache_info() -> dict:
    """Hit and miss counts of the decomposition caches."""
    return {"decompositions": _DECOMPOSITIONS.info(), "leaves": _LEAVES.info()}

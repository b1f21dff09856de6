"""Strategy selection and the public solver entry points."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reps import Rep, ScalarRep
from .basis import Basis, BasisBlock, Projector
from .blocks import block_structure, has_block_structure
from .cache import BoundedCache
from .dense import dense_basis
from .disk_cache import load_or_compute, load_or_compute_all
from .iterative import iterative_basis, prefers_iterative
from .orbit import orbit_basis, supports_orbits
from .product import factor_split, product_basis

__all__ = [
    "STRATEGIES",
    "select_strategy",
    "equivariant_basis",
    "equivariant_projector",
    "leaf_basis",
    "cache_clear",
    "cache_info",
]

STRATEGIES = ("dense", "orbit", "block", "product", "iterative")

_BASES = BoundedCache(maxsize=512)
_LEAVES = BoundedCache(maxsize=2048)


def select_strategy(rep: Rep) -> str:
    """The strategy the solver uses for ``rep``, chosen from its structure alone.

    Criteria, in order:

    - ``"block"``: the rep contains a direct sum (a sum, or a tensor product
      or Hom with a sum among its factors). It splits into independent leaf
      blocks; each distinct leaf is solved once and reused for every copy.
    - ``"orbit"``: a permutation rep of a permutation group (S(n), Z(n),
      P4M(n), their tensor products and Homs): normalised orbit indicators,
      exact and sparse (:func:`constrainnet.solver.orbit.orbit_basis`).
    - ``"product"``: a rep of a direct product G₁ × … × G_n whose tensor
      factors each see one group factor (``V(P, factor=0) * V(P, factor=1)``
      and its Homs): the Kronecker product of the bases of its parts, each
      solved as a rep of its own factor group
      (:func:`constrainnet.solver.product.product_basis`), never jointly.
    - ``"iterative"``: a leaf of at least
      :data:`~constrainnet.solver.iterative.ITERATIVE_MIN_SIZE` (1000)
      coordinates of a group with a Lie algebra, with orthogonal ρ and
      discrete generators that normalise the algebra (SO(n), O(n), their
      subgroups and products; not finite groups, not the Lorentz group):
      Casimir and weight splittings of the two tensor halves, small blocks
      solved separately (:func:`constrainnet.solver.iterative.iterative_basis`).
    - ``"dense"``: anything else (a leaf): stack the constraints and take the
      nullspace (:func:`constrainnet.solver.dense.dense_basis`).

    The leaves of the block strategy (and the parts of the product strategy)
    are solved by the same rule.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> select_strategy(V**2 >> V), select_strategy((V + V**0) >> V)
        ('dense', 'block')
    """
    if not isinstance(rep, Rep):
        raise TypeError(f"expected a Rep, got {type(rep).__name__}")
    if has_block_structure(rep):
        return "block"
    if supports_orbits(rep):
        return "orbit"
    if factor_split(rep) is not None:
        return "product"
    return "iterative" if prefers_iterative(rep) else "dense"


def leaf_basis(leaf: Rep) -> tuple[Any, str]:
    """The canonical (leaf.size, r) basis of a rep without direct sums, and the strategy that solved it.

    Orbit bases are scipy.sparse matrices, dense ones read-only arrays; both cached by rep value.
    """

    def compute() -> tuple[Any, str]:
        if isinstance(leaf, ScalarRep):
            q = np.ones((1, 1))
            q.setflags(write=False)
            return q, "dense"
        if supports_orbits(leaf):
            return load_or_compute(leaf, "orbit", lambda: orbit_basis(leaf)), "orbit"
        if factor_split(leaf) is not None:
            return load_or_compute(leaf, "product", lambda: product_basis(leaf, _part_basis)), "product"
        if prefers_iterative(leaf):
            return load_or_compute(leaf, "iterative", lambda: iterative_basis(leaf)), "iterative"
        return load_or_compute(leaf, "dense", lambda: dense_basis(leaf)), "dense"

    return _LEAVES.get_or_compute(leaf, compute)


def _part_basis(part: Rep) -> Any:
    """The basis of one part of the product strategy (a rep of a factor group, no direct sum)."""
    return leaf_basis(part)[0]


def equivariant_basis(rep: Rep, strategy: str | None = None) -> Basis:
    r"""An orthonormal basis Q of the equivariant subspace of ``rep``.

    The subspace is {w : ρ(h) w = w for every discrete generator h, dρ(A) w = 0
    for every Lie algebra generator A}; for a Hom rep ``a >> b`` these w are
    the flattened equivariant maps W (ρ_b(g) W = W ρ_a(g)). Bases are
    canonical (:mod:`constrainnet.solver.canonical`), cached by rep value in
    memory, and leaf bases of size ≥ 256 also on disk
    (:mod:`constrainnet.solver.disk_cache`).

    Args:
        rep: the rep.
        strategy: ``None`` to choose with :func:`select_strategy`, or one of
            :data:`STRATEGIES` to force one (for comparisons).

    Returns:
        A :class:`Basis`; ``np.asarray(Q)`` is (rep.size, r) with orthonormal columns.

    Raises:
        SolverError: the rank cannot be certified, a leaf is too large for the
            dense strategy, or ``"orbit"`` (``"iterative"``) was forced on a rep it does not apply to.
        ValueError: an unknown strategy name.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import S
        >>> V = cn.V(S(5))
        >>> equivariant_basis(V**2 >> V**2).dim
        15
    """
    if not isinstance(rep, Rep):
        raise TypeError(f"expected a Rep, got {type(rep).__name__}")
    if strategy is None:
        strategy = select_strategy(rep)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy: expected one of {STRATEGIES}, got {strategy!r}")

    def compute() -> Basis:
        index = np.arange(rep.size, dtype=np.int64)[None]
        if strategy == "dense":
            return Basis(rep, [BasisBlock(rep, load_or_compute(rep, "dense", lambda: dense_basis(rep)), index, "dense")], "dense")
        if strategy == "product":
            q = load_or_compute(rep, "product", lambda: product_basis(rep, _part_basis))
            return Basis(rep, [BasisBlock(rep, q, index, "product")], "product")
        if strategy == "iterative":
            q = load_or_compute(rep, "iterative", lambda: iterative_basis(rep))
            return Basis(rep, [BasisBlock(rep, q, index, "iterative")], "iterative")
        if strategy == "orbit":
            return Basis(rep, [BasisBlock(rep, load_or_compute(rep, "orbit", lambda: orbit_basis(rep)), index, "orbit")], "orbit")
        structure = block_structure(rep)
        # the leaves' bases and strategies, all in one disk-cache file for the whole rep
        solved = load_or_compute_all(rep, "block", [b.leaf.size for b in structure], lambda: [leaf_basis(b.leaf) for b in structure])
        return Basis(rep, [BasisBlock(b.leaf, q, b.index, how) for b, (q, how) in zip(structure, solved)], "block")

    return _BASES.get_or_compute((rep, strategy), compute)


def equivariant_projector(rep: Rep, strategy: str | None = None) -> Projector:
    """The orthogonal projector P = Q Qᵀ onto the equivariant subspace of ``rep``.

    Applied block by block (``P @ w``); ``np.asarray(P)`` gives the dense
    (size, size) matrix for small reps.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> P = ((5 * V**0 + 5 * V) >> V).equivariant_projector()
        >>> np.asarray(P).shape
        (60, 60)
    """
    return Projector(equivariant_basis(rep, strategy))


def cache_clear() -> None:
    """Empty the in-memory caches of bases and leaf bases."""
    _BASES.clear()
    _LEAVES.clear()


def cache_info() -> dict:
    """Hit and miss counts of the basis and leaf caches."""
    return {"bases": _BASES.info(), "leaves": _LEAVES.info()}

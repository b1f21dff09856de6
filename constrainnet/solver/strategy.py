"""Strategy selection and the public solver entry points."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reps import Rep, ScalarRep
from .basis import Basis, BasisBlock, Projector
from .blocks import block_structure, has_block_structure
from .budget import check_memory, check_product_memory
from .cache import BoundedCache
from .dense import dense_basis
from .disk_cache import load_or_compute, load_or_compute_all
from .verify import basis_defect
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

    Raises:
        SolverError: the leaf's strategy is estimated to need more memory than
            :func:`~constrainnet.solver.budget.memory_limit`, or cannot certify its basis.
    """

    def compute() -> tuple[Any, str]:
        if isinstance(leaf, ScalarRep):
            q = np.ones((1, 1))
            q.setflags(write=False)
            return q, "dense"
        if supports_orbits(leaf):
            how = "orbit"
        elif factor_split(leaf) is not None:
            how = "product"
        else:
            how = "iterative" if prefers_iterative(leaf) else "dense"
        check_memory(leaf, how)
        return load_or_compute(leaf, how, lambda: _SOLVERS[how](leaf)), how

    return _LEAVES.get_or_compute(leaf, compute)


def _product(rep: Rep) -> Any:
    """The product strategy, its Kronecker basis checked against the memory limit as the parts' ranks become known."""
    rank = 1

    def part_basis(part: Rep) -> Any:
        nonlocal rank
        q = leaf_basis(part)[0]
        rank *= q.shape[1]
        check_product_memory(rep, rank)  # before product_basis forms the Kronecker product with this part
        return q

    return product_basis(rep, part_basis)


_SOLVERS = {"orbit": orbit_basis, "product": _product, "iterative": iterative_basis, "dense": dense_basis}


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
            dense strategy, the strategy is estimated to need more memory than
            the limit (:func:`~constrainnet.solver.budget.check_memory`; raise it
            with :func:`~constrainnet.solver.budget.set_memory_limit` or
            ``CONSTRAINNET_MEMORY_LIMIT``), or ``"orbit"`` (``"iterative"``) was
            forced on a rep it does not apply to.
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
        check_memory(rep, strategy)  # before anything of the rep's size is allocated
        if strategy != "block":
            index = np.arange(rep.size, dtype=np.int64)[None]
            q = load_or_compute(rep, strategy, lambda: _SOLVERS[strategy](rep))
            return Basis(rep, [BasisBlock(rep, q, index, strategy)], strategy)
        structure = block_structure(rep)

        def verified(solved: list) -> bool:
            return len(solved) == len(structure) and all(basis_defect(b.leaf, q) is None for b, (q, _) in zip(structure, solved))

        # the leaves' bases and strategies, all in one disk-cache file for the whole rep
        solved = load_or_compute_all(
            rep, "block", [b.leaf.size for b in structure], lambda: [leaf_basis(b.leaf) for b in structure], verify=verified
        )
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

"""Direct products of groups, acting block-diagonally on the sum of their defining spaces."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import scipy.linalg

from ..errors import GroupError
from ._arrays import as_generator_stack
from .base import DEFAULT_MAX_ORDER, MEMBERSHIP_ATOL, Group, as_element
from .limits import MAX_GENERATOR_ENTRIES, check_dimension

__all__ = ["ProductGroup"]


class ProductGroup(Group):
    """The direct product G₁ × … × G_n, written ``G1 * G2``.

    The defining space is the direct sum of the factors' defining spaces: an
    element is the block-diagonal matrix diag(g₁, …, g_n). The generators of
    each factor are embedded in their block with identity elsewhere. Use
    ``V(P, factor=i)`` for the defining rep of one factor, so that
    ``V(P, factor=0) * V(P, factor=1)`` is a tensor product of the factors'
    spaces (e.g. positions of 4 points under SO(3) × S(4)).

    Args:
        *factors: two or more groups; products among them are flattened.

    Raises:
        GroupError: fewer than two factors, a defining dimension (the sum of
            the factors') above :data:`~constrainnet.groups.limits.MAX_DIMENSION`,
            or dense generators of more than
            :data:`~constrainnet.groups.limits.MAX_GENERATOR_ENTRIES` entries
            (both checked before anything is built).

    Example:
        >>> from constrainnet.groups import SO, S
        >>> P = SO(3) * S(4)
        >>> P.factors, P.d
        ((SO(3), S(4)), 7)
    """

    def __init__(self, *factors: Group) -> None:
        flat: list[Group] = []
        for f in factors:
            if not isinstance(f, Group):
                raise TypeError(f"ProductGroup: expected Group factors, got {type(f).__name__}")
            flat.extend(f.factors if isinstance(f, ProductGroup) else (f,))
        if len(flat) < 2:
            raise GroupError(f"ProductGroup: expected at least two factors, got {len(flat)}")
        what = f"ProductGroup of {len(flat)} factors"
        d = check_dimension(sum(f.d for f in flat), what)
        permutation = all(f.permutations is not None or f.num_discrete_generators == 0 for f in flat)
        dense = sum(len(f.lie_algebra) + (0 if permutation else f.num_discrete_generators) for f in flat)
        if dense * d * d > MAX_GENERATOR_ENTRIES:  # before any d×d block is built
            raise GroupError(
                f"{what}: expected at most {MAX_GENERATOR_ENTRIES} entries in the generator stacks, "
                f"got {dense} generators of {d}×{d} = {dense * d * d}"
            )
        self._factors = tuple(flat)
        self._offsets = tuple(int(x) for x in np.cumsum([0] + [f.d for f in flat]))
        name = "*".join(_wrap(f.name) for f in flat)
        lie = []
        for f, off in zip(flat, self._offsets):
            for a in f.lie_algebra:
                block = np.zeros((d, d))
                block[off : off + f.d, off : off + f.d] = a
                lie.append(block)
        lie_stack = as_generator_stack(np.array(lie).reshape(-1, d, d), "lie_algebra", d)
        if permutation:
            perms = []
            for f, off in zip(flat, self._offsets):
                for p in f.permutations if f.permutations is not None else ():
                    full = np.arange(d)
                    full[off : off + f.d] = p + off
                    perms.append(full)
            self._init(d, None, np.array(perms).reshape(-1, d) if perms else None, lie_stack, name)
        else:
            gens = []
            for f, off in zip(flat, self._offsets):
                for g in f.discrete_generators:
                    block = np.eye(d)
                    block[off : off + f.d, off : off + f.d] = g
                    gens.append(block)
            gens_stack = as_generator_stack(np.array(gens).reshape(-1, d, d), "discrete_generators", d)
            self._init(d, gens_stack, None, lie_stack, name)

    @property
    def factors(self) -> tuple[Group, ...]:
        """The factor groups, in order."""
        return self._factors

    def block(self, factor: int) -> tuple[int, int]:
        """The (start, stop) coordinates of factor ``factor`` in the defining space."""
        if not isinstance(factor, (int, np.integer)) or not 0 <= factor < len(self._factors):
            raise GroupError(f"factor: expected an int in [0, {len(self._factors)}), got {factor!r}")
        return self._offsets[factor], self._offsets[factor + 1]

    @property
    def order(self) -> int:
        return math.prod(f.order for f in self._factors)

    def elements(self, max_order: int = DEFAULT_MAX_ORDER) -> np.ndarray:
        if self._elements is None:
            if self.order > max_order:
                raise GroupError(f"{self!r} has {self.order} elements: expected at most max_order={max_order}")
            parts = [f.elements(max_order) for f in self._factors]
            elems = np.array([scipy.linalg.block_diag(*combo) for combo in itertools.product(*parts)])
            elems.setflags(write=False)
            self._elements = elems
        return self._elements

    def _enumerate(self, max_order: int) -> np.ndarray:
        return self.elements(max_order)

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        return scipy.linalg.block_diag(*(f._sample_one(rng) for f in self._factors))

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        if g.shape != (self.d, self.d):
            return False
        off_block = g.copy()
        for i, f in enumerate(self._factors):
            a, b = self.block(i)
            if not f.contains(g[a:b, a:b], atol):
                return False
            off_block[a:b, a:b] = 0
        return bool(np.allclose(off_block, 0, atol=atol))

    def _key(self) -> tuple:
        return ("product",) + tuple(f._key() for f in self._factors)

    def _same_generators(self, other: Group) -> bool:
        return isinstance(other, ProductGroup) and self._factors == other._factors


def _wrap(name: str) -> str:
    return f"({name})" if "*" in name else name

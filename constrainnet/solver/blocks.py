"""Block structure of a rep: the independent leaf blocks that direct sums split it into.

A direct sum splits into its components. A tensor product (or Hom) of sums
splits into the tensor products of one component per factor, placed at the
Kronecker products of their coordinate ranges. Repeated blocks (the copies of
a multiplicity, or the same component pair met twice) share one leaf rep, so
each distinct leaf is solved once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..reps import HomRep, Rep, SumRep, dual, hom, tensor
from ..reps.composite import _KronRep

__all__ = ["LeafBlocks", "block_structure", "canonical_columns", "has_block_structure"]


@dataclass(frozen=True)
class LeafBlocks:
    """All copies of one leaf rep inside a larger rep.

    Attributes:
        leaf: the rep of one block (no direct sum inside).
        index: (copies, leaf.size) int array: ``index[c, i]`` is the coordinate
            of the larger rep holding coordinate i of copy c.
    """

    leaf: Rep
    index: np.ndarray


def has_block_structure(rep: Rep) -> bool:
    """True when ``rep`` contains a direct sum, so that the block strategy applies."""
    if isinstance(rep, SumRep):
        return True
    if isinstance(rep, _KronRep):
        return any(has_block_structure(f) for f in rep.tensor_factors)
    return False


def _raw_blocks(rep: Rep) -> list[tuple[Rep, np.ndarray]]:
    if isinstance(rep, SumRep):
        out = []
        for (comp, mult), start in zip(rep.components, rep.offsets):
            copies = start + comp.size * np.arange(mult)
            for leaf, idx in _raw_blocks(comp):
                out.append((leaf, (copies[:, None, None] + idx[None]).reshape(-1, idx.shape[1])))
        return out
    if isinstance(rep, _KronRep) and has_block_structure(rep):
        factors = rep.tensor_factors
        sizes = [f.size for f in factors]
        strides = [int(np.prod(sizes[i + 1 :])) for i in range(len(sizes))]
        per_factor = [_raw_blocks(f) for f in factors]
        out = []
        for combo in itertools.product(*per_factor):
            leaves = [leaf for leaf, _ in combo]
            if isinstance(rep, HomRep):
                leaf = hom(dual(leaves[1]), leaves[0])
            else:
                leaf = tensor(*leaves)
            k = len(combo)
            total = np.zeros((1,) * (2 * k), dtype=np.int64)
            for j, (_, idx) in enumerate(combo):
                shape = [1] * (2 * k)
                shape[j], shape[k + j] = idx.shape
                total = total + strides[j] * idx.reshape(shape)
            copies = int(np.prod([idx.shape[0] for _, idx in combo]))
            out.append((leaf, total.reshape(copies, -1)))
        return out
    return [(rep, np.arange(rep.size, dtype=np.int64)[None])]


def block_structure(rep: Rep) -> list[LeafBlocks]:
    """The leaf blocks of ``rep``, one entry per distinct leaf rep, in order of first appearance.

    Returns:
        A list of :class:`LeafBlocks`; their index arrays together cover every
        coordinate of ``rep`` exactly once.
    """
    order: list[Rep] = []
    grouped: dict[Rep, list[np.ndarray]] = {}
    for leaf, idx in _raw_blocks(rep):
        if leaf not in grouped:
            grouped[leaf] = []
            order.append(leaf)
        grouped[leaf].append(idx)
    result = []
    for leaf in order:
        index = np.concatenate(grouped[leaf])
        index.setflags(write=False)
        result.append(LeafBlocks(leaf, index))
    return result


def canonical_columns(blocks: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """Where each column of a block basis goes in the canonical column order.

    A direct sum's equivariant subspace is the sum of its leaf blocks'
    subspaces, on disjoint coordinates, so its canonical basis
    (:mod:`constrainnet.solver.canonical`) is made of the leaves' canonical
    bases placed on each copy, with the columns sorted by the coordinate of
    their pivot in the whole rep (each copy's coordinates increase with the
    leaf's). Only a permutation of the columns: no product with the basis.

    Args:
        blocks: per block, ``(pivots, index)``: the (k,) pivot of each leaf
            basis column in the leaf, and the (copies, leaf.size) coordinates.

    Returns:
        Per block, a (k, copies) int64 array: the column of the whole basis
        holding leaf column k on copy c.

    Example:
        >>> import numpy as np
        >>> a = (np.array([0]), np.array([[0, 1], [4, 5]]))   # one column, two copies at 0..1 and 4..5
        >>> b = (np.array([0, 1]), np.array([[2, 3]]))        # two columns, one copy at 2..3
        >>> [c.tolist() for c in canonical_columns([a, b])]
        [[[0, 3]], [[1], [2]]]
    """
    keys = [index[:, pivots].T for pivots, index in blocks]  # (k, copies): coordinate of each column's pivot
    flat = np.concatenate([k.reshape(-1) for k in keys]) if keys else np.zeros(0, dtype=np.int64)
    rank = np.empty(len(flat), dtype=np.int64)
    rank[np.argsort(flat, kind="stable")] = np.arange(len(flat))
    out, start = [], 0
    for k in keys:
        out.append(rank[start : start + k.size].reshape(k.shape))
        start += k.size
    return out

r"""The sparse block plan of an equivariant linear map: orbit bases kept as labels, never as dense arrays.

For a block pair whose Hom(a, b) is a permutation rep, the canonical basis is
the normalised indicator of each orbit of the group on the (o, i) entries, so
a map W = Σ_k c_k B_k has W[o, i] = c[orbit(o, i)] / sqrt(|orbit|): one term
per entry, given by a label and a value, (b·a) numbers where the dense basis
takes r·b·a. :class:`SparsePlan` keeps each pair this way (other pairs as
their dense basis), restricted to a group-invariant support when one is given
(:mod:`constrainnet.solver.support`). Pairs between image reps of ``P4M(n)``
also get the expansion of their coefficients into a convolution kernel
(:mod:`constrainnet.nn.conv`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import torch

from ..reps import Rep
from ..solver import equivariant_basis
from ..solver.support import check_window, orbits_in_support, window_displacements
from .assembly import BASIS_ZERO_RTOL
from .conv import is_image_rep
from .plan import Component, components

__all__ = ["SparsePair", "SparsePlan", "leaf_orbits"]


def leaf_orbits(a: Rep, b: Rep) -> tuple[np.ndarray, np.ndarray] | None:
    """Orbit labels and values of the basis of Hom(a, b), or None when it is not an orbit basis.

    Returns:
        (labels, values), each of shape (b.size · a.size,) in the row-major
        order of W: entry t = o·|a| + i lies in orbit ``labels[t]`` (columns of
        the canonical basis) with basis value ``values[t]`` = 1/sqrt(|orbit|).
    """
    basis = equivariant_basis(a >> b)
    size = a.size * b.size
    labels = np.full(size, -1, dtype=np.int64)
    values = np.zeros(size)
    for block, columns in zip(basis.blocks, basis.block_columns):
        if not scipy.sparse.issparse(block.q):
            return None
        q = scipy.sparse.csc_matrix(block.q)
        k, copies = q.shape[1], block.index.shape[0]
        column = np.repeat(np.arange(k), np.diff(q.indptr))  # leaf basis column of each stored entry
        for c in range(copies):
            where = block.index[c, q.indices]
            labels[where] = columns[column, c]
            values[where] = q.data
    # coordinates left at -1 lie in leaf blocks without invariants: W is zero there
    return labels, values


@dataclass(frozen=True)
class SparsePair:
    """The maps from in-component ``i`` to out-component ``j``, restricted to a support.

    Attributes:
        i, j: the components.
        r: basis maps kept.
        terms: (k, o, col, value) arrays: entry (o, col) of the (|b|, |a|) block
            gets c_k · value, one array element per nonzero basis entry.
        image: for a pair of ``P4M`` image reps, (displacement (N²,) → kept
            basis index or −1, values (N²,)): W[o, i] = value · c_k at k =
            index[i − o]; None for other pairs.
        signature: Σ_k (k+1) ⟨B_k, s⟩ with s_t = sin(1 + t) (t = o·|a| + col).
        shape: (|b|, |a|).
    """

    i: int
    j: int
    r: int
    terms: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    image: tuple[np.ndarray, np.ndarray] | None
    signature: float
    shape: tuple[int, int]

    @property
    def basis(self) -> np.ndarray:
        """The dense (r, |b|, |a|) basis (built on access, for small pairs: fused layers read it)."""
        out = np.zeros((self.r,) + self.shape)
        if self.image is not None:
            index, values = self.image
            n = int(round(np.sqrt(self.shape[1])))
            r, c = np.divmod(np.arange(self.shape[1]), n)
            disp = ((r[None, :] - r[:, None]) % n) * n + (c[None, :] - c[:, None]) % n  # [o, i] -> i - o
            o, col = np.nonzero(index[disp] >= 0)
            out[index[disp][o, col], o, col] = values[disp][o, col]
            return out
        k, o, col, value = self.terms
        out[k, o, col] = value
        return out


def _probe(size: int) -> np.ndarray:
    return np.sin(1.0 + np.arange(size))


def _orbit_pair(i: int, j: int, shape: tuple[int, int], labels: np.ndarray, values: np.ndarray, kept: np.ndarray, image: bool) -> SparsePair:
    assert kept.size and kept.min() >= 0, "a pair keeps at least one orbit"
    rank = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
    rank[kept] = np.arange(len(kept))
    ranked = np.where(labels >= 0, rank[np.maximum(labels, 0)], -1)
    inside = ranked >= 0
    signature = float(np.arange(1, len(kept) + 1) @ np.bincount(ranked[inside], weights=values[inside] * _probe(labels.size)[inside], minlength=len(kept)))
    if image:
        n2 = shape[1]
        # row o = 0: the entry of in-pixel i is the displacement i − 0
        return SparsePair(i, j, len(kept), _no_terms(), (ranked[:n2], values[:n2]), signature, shape)
    t = np.flatnonzero(inside)
    o, col = np.divmod(t, shape[1])
    return SparsePair(i, j, len(kept), (ranked[t], o, col, values[t]), None, signature, shape)


def _no_terms() -> tuple[np.ndarray, ...]:
    empty = np.zeros(0, dtype=np.int64)
    return (empty, empty, empty, np.zeros(0))


def _dense_pair(i: int, j: int, shape: tuple[int, int], q: np.ndarray) -> SparsePair:
    basis = q.T.reshape(q.shape[1], *shape)
    k, o, col = np.nonzero(np.abs(basis) > BASIS_ZERO_RTOL * np.abs(basis).max())
    flat = basis.reshape(basis.shape[0], -1)
    signature = float(np.arange(1, basis.shape[0] + 1) @ (flat @ _probe(flat.shape[1])))
    return SparsePair(i, j, basis.shape[0], (k, o, col, basis[k, o, col]), None, signature, shape)


class SparsePlan:
    r"""Every block pair of Hom(rep_in, rep_out), orbit pairs as labels, restricted to an optional support.

    Same interface as :class:`~constrainnet.nn.plan.LinearPlan` (``inputs``,
    ``outputs``, ``pairs`` with ``i``, ``j``, ``r``,
    ``signature()``), but no pair holds a dense (r, |b|, |a|) basis unless its
    Hom is not a permutation rep.

    Args:
        rep_in, rep_out: the reps.
        support: None (all orbits); an odd int k (pairs between image reps of
            ``P4M(n)`` keep the orbits of displacements in the k×k window, other
            pairs are kept whole); or a boolean mask over the coordinates of
            W, shape (rep_out.size, rep_in.size) or (rep_out.size · rep_in.size,),
            a union of orbits that keeps the same orbits for every copy of a block pair.

    Raises:
        TypeError: a support of another type, or an int support without image pairs.
        ValueError: a mask of the wrong shape, that cuts an orbit, differs
            between copies of a pair, or cuts a non-permutation pair.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, support: Any = None) -> None:
        self.rep_in, self.rep_out = rep_in, rep_out
        self.inputs, self.outputs = components(rep_in), components(rep_out)
        mask, window = _parse_support(support, rep_in, rep_out)
        self.window = window
        leaves: dict[tuple[Rep, Rep], Any] = {}
        pairs = []
        for j, out in enumerate(self.outputs):
            for i, inp in enumerate(self.inputs):
                key = (inp.rep, out.rep)
                if key not in leaves:
                    found = leaf_orbits(inp.rep, out.rep)
                    leaves[key] = found if found is not None else np.asarray(equivariant_basis(inp.rep >> out.rep))
                pair = self._pair(i, j, inp, out, leaves[key], mask)
                if pair is not None and pair.r:
                    pairs.append(pair)
        if window is not None and not any(p.image is not None for p in pairs):
            raise TypeError(f"support={window}: expected image reps of a P4M group on both sides, got {rep_in!r} >> {rep_out!r}")
        self.pairs = pairs

    def _pair(self, i: int, j: int, inp: Component, out: Component, leaf: Any, mask: np.ndarray | None) -> SparsePair | None:
        shape = (out.rep.size, inp.rep.size)
        image = is_image_rep(inp.rep) and is_image_rep(out.rep)
        if isinstance(leaf, np.ndarray):
            if leaf.shape[1] == 0:
                return None
            if mask is not None:
                blocks = _copy_masks(mask, inp, out)
                if not (blocks.all() or not blocks.any()):
                    raise ValueError(
                        f"support: expected a mask that keeps or drops the non-permutation block {inp.rep!r} >> {out.rep!r} "
                        f"(in-component {i}, out-component {j}) whole, got one that cuts it"
                    )
                if not blocks.any():
                    return None
            return _dense_pair(i, j, shape, leaf)
        labels, values = leaf
        kept = np.unique(labels[labels >= 0])
        if mask is not None:
            kept = _kept_by_mask(mask, inp, out, labels, i, j)
        elif self.window is not None and image:
            n = inp.rep.G.image_size
            kept = np.unique(labels[window_displacements(n, check_window(n, self.window)).ravel()])
            kept = kept[kept >= 0]
        if kept.size == 0:  # no equivariant map between the two (e.g. V >> PseudoScalar of P4M), or none kept
            return None
        return _orbit_pair(i, j, shape, labels, values, kept, image)

    def signature(self) -> list[float]:
        """A short float fingerprint of the bases, as :meth:`LinearPlan.signature` (equal for equal bases)."""
        return [p.signature for p in self.pairs]


def _parse_support(support: Any, rep_in: Rep, rep_out: Rep) -> tuple[np.ndarray | None, int | None]:
    if support is None:
        return None, None
    if isinstance(support, (int, np.integer)) and not isinstance(support, bool):
        return None, int(support)
    if isinstance(support, torch.Tensor):
        support = support.detach().cpu().numpy()
    if not isinstance(support, np.ndarray) or support.dtype != bool:
        got = f"an array of {support.dtype}" if isinstance(support, np.ndarray) else type(support).__name__
        raise TypeError(f"support: expected None, an odd int window size or a boolean mask, got {got}")
    shape = (rep_out.size, rep_in.size)
    if support.shape not in (shape, (shape[0] * shape[1],)):
        raise ValueError(f"support: expected a boolean mask of shape {shape} or ({shape[0] * shape[1]},), got {support.shape}")
    return support.reshape(shape), None


def _copy_masks(mask: np.ndarray, inp: Component, out: Component) -> np.ndarray:
    """(n, m, |b|·|a|): the mask of each copy (p, q) of the block pair."""
    block = mask[out.offset : out.offset + out.size, inp.offset : inp.offset + inp.size]
    b, a = out.rep.size, inp.rep.size
    return block.reshape(out.mult, b, inp.mult, a).transpose(0, 2, 1, 3).reshape(out.mult, inp.mult, b * a)


def _kept_by_mask(mask: np.ndarray, inp: Component, out: Component, labels: np.ndarray, i: int, j: int) -> np.ndarray:
    copies = _copy_masks(mask, inp, out)
    what = f"support (block {inp.rep!r} >> {out.rep!r}, in-component {i}, out-component {j})"
    kept = None
    for p in range(out.mult):
        for q in range(inp.mult):
            inside = labels >= 0
            if np.any(copies[p, q][~inside]):
                raise ValueError(f"{what}: expected a mask inside the orbits of the block, got one that holds zero-weight entries")
            here = orbits_in_support(labels[inside], copies[p, q][inside], f"{what}, copy ({p}, {q})")
            if kept is None:
                kept = here
            elif not np.array_equal(kept, here):
                raise ValueError(f"{what}: expected the same orbits for every copy of the block, got {kept.tolist()} and {here.tolist()} at copy ({p}, {q})")
    return kept

r"""The cyclic form: the canonical orthonormal basis of an irreducible piece (rule 1 of :mod:`~constrainnet.solver.irreps`).

A fixed generic symmetric element S of the group algebra (a seeded
combination of the symmetrised words of length ≤ :data:`MAX_WORD_LENGTH` in
the generators) has, on an irreducible piece with commutant of dimension c,
an eigenspace of dimension c; a unit vector v₀ of the first such eigenspace,
then X v₀, X Y v₀, … (X, Y the generators, breadth first) orthonormalised in
that order (a vector kept when its residual exceeds :data:`CYCLIC_RTOL` of
its norm) form a basis in which the piece's matrices depend only on its
isomorphism class. :func:`cyclic_forms` applies the rule to many pieces at
once: v₀ for the pieces of one dimension and commutant together (one
batched eigensolve per word length), then the cyclic vectors of all pieces
in one batch (each padded with zeros to the largest dimension: the padding
never enters a product), every choice made on each piece's own numbers.
:func:`cyclic_form` is the same code on a batch of one, so every caller
gets the same rule.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SolverError

__all__ = ["cyclic_form", "cyclic_forms", "CYCLIC_SEED", "MAX_WORD_LENGTH", "EIGEN_JOIN_RTOL", "CYCLIC_RTOL"]

# Seed of the canonical group-algebra element: fixed, so every process builds the same one.
CYCLIC_SEED = 20261204
# Words up to this length enter the canonical symmetric element S.
MAX_WORD_LENGTH = 3
# Eigenvalues of S closer than this (relative to its largest) are one eigenspace.
EIGEN_JOIN_RTOL = 1e-8
# In the cyclic basis, a new vector is kept when its residual after removing
# the kept ones exceeds this fraction of its norm (generic residuals are O(1)).
CYCLIC_RTOL = 1e-6


def cyclic_form(generators: list[np.ndarray], c: int) -> np.ndarray:
    """The canonical orthonormal basis (d × d) of an irreducible piece given by its generator matrices.

    Args:
        generators: the piece's matrices π(h) and dπ(A), each (d, d), in a
            fixed order (the group's discrete generators, then its Lie algebra).
        c: the dimension of the piece's commutant (1, 2 or 4).

    Returns:
        An orthogonal (d, d) matrix B such that Bᵀ X B depends only on the
        isomorphism class of the piece (see the module docstring).

    Raises:
        SolverError: no eigenspace of dimension c was found, or the cyclic
            vectors do not span the piece (it is not irreducible).

    Example:
        >>> import numpy as np
        >>> J = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> B = cyclic_form([J], 2)
        >>> np.allclose(B.T @ J @ B, J)
        True
    """
    d = generators[0].shape[0] if generators else 1
    gens = np.asarray(generators, dtype=np.float64).reshape(len(generators), d, d)
    return cyclic_forms([gens], [c])[0]


def cyclic_forms(generators: Sequence[np.ndarray], commutants: Sequence[int]) -> list[np.ndarray]:
    """:func:`cyclic_form` of many pieces at once.

    Args:
        generators: for each piece, (k, d, d) its matrices in the order of
            :func:`cyclic_form` (k the same for all pieces, d may differ).
        commutants: for each piece, the dimension c of its commutant (1, 2 or 4).

    Returns:
        For each piece, its cyclic form: an orthogonal (d, d) matrix.

    Raises:
        SolverError: a piece has no eigenspace of dimension c, or its cyclic
            vectors do not span it (it is not irreducible).

    Example:
        >>> import numpy as np
        >>> J = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> a, b = cyclic_forms([J[None], np.eye(1)[None]], [2, 1])
        >>> bool(np.allclose(a, cyclic_form([J], 2))), b.tolist()
        (True, [[1.0]])
    """
    count = len(generators)
    dims = [int(np.shape(x)[-1]) for x in generators]
    out: list[np.ndarray | None] = [np.ones((1, 1)) if d == 1 and c == 1 else None for d, c in zip(dims, commutants)]
    wide = [i for i in range(count) if out[i] is None]  # the one unit vector of a line needs no words
    if not wide:
        return out  # type: ignore[return-value]
    k = int(np.shape(generators[wide[0]])[0])
    top = max(dims[i] for i in wide)
    padded = np.zeros((len(wide), k, top, top))
    v0 = np.zeros((len(wide), top))
    groups: dict[tuple[int, int], list[int]] = {}
    for j, i in enumerate(wide):
        padded[j, :, : dims[i], : dims[i]] = generators[i]
        groups.setdefault((dims[i], int(commutants[i])), []).append(j)
    for (d, c), members in groups.items():
        v0[members, :d] = _start_vectors(padded[members, :, :d, :d], c)
    basis = _cyclic_vectors(padded, v0, np.array([dims[i] for i in wide]))
    for j, i in enumerate(wide):
        d = dims[i]
        out[i] = np.ascontiguousarray(basis[j, :d, :d].T)
    return out  # type: ignore[return-value]


def _start_vectors(gens: np.ndarray, c: int) -> np.ndarray:
    """v₀ (B, d) of B pieces (B, k, d, d) of one dimension and commutant: a unit vector of the first eigenspace of
    dimension c of the canonical element S, S grown word length by word length until such an eigenspace appears."""
    B, k, d = gens.shape[0], gens.shape[1], gens.shape[-1]
    s = np.zeros((B, d * d))
    magnitude = np.zeros(B)  # Σ |coefficient| · |word|: the size of S before cancellations (rounding is relative to it)
    v0 = np.zeros((B, d))
    open_ = np.ones(B, dtype=bool)
    words = gens
    for length in range(1, MAX_WORD_LENGTH + 1 if k else 1):
        if length > 1:  # the words of this length in lexicographic order: each word of length − 1 times each generator
            words = np.matmul(words[:, :, None], gens[:, None]).reshape(B, -1, d, d)
        coef = _cyclic_coefficients(k, length)
        s = s + coef @ (words + np.swapaxes(words, 2, 3)).reshape(B, len(coef), d * d)
        magnitude = magnitude + np.abs(words).max(axis=(2, 3)) @ np.abs(coef)
        rows = np.flatnonzero(open_)
        values, vecs = np.linalg.eigh(s[rows].reshape(-1, d, d))
        found, first = _first_fitting(values, EIGEN_JOIN_RTOL * np.maximum(magnitude[rows], 1e-300), c)
        v0[rows[found]] = vecs[found, :, first[found]]
        open_[rows[found]] = False
        if not open_.any():
            break
    if open_.any():
        if d != c:
            raise SolverError(f"cyclic form: expected an eigenspace of dimension {c} of the canonical element, got none (d = {d})")
        v0[open_, 0] = 1.0
    return v0


def _first_fitting(values: np.ndarray, tol: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ascending eigenvalues (B, d): whether an eigenspace of dimension c exists (eigenvalues
    closer than ``tol`` joined) and the index of the first such eigenspace's first eigenvalue."""
    B, d = values.shape
    starts = np.ones((B, d), dtype=bool)
    starts[:, 1:] = np.diff(values, axis=1) > tol[:, None]
    at = np.where(starts, np.arange(d), d)
    # the start of the next eigenspace after each position: a running minimum from the right
    after = np.concatenate([at[:, 1:], np.full((B, 1), d)], axis=1)
    following = np.minimum.accumulate(after[:, ::-1], axis=1)[:, ::-1]
    fits = starts & (following - np.arange(d) == c)
    return fits.any(axis=1), fits.argmax(axis=1)


def _cyclic_vectors(gens: np.ndarray, v0: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """The cyclic vectors (B, D, D) (row i: the i-th) of B pieces padded to dimension D: gens (B, k, D, D), v0 (B, D).

    The candidates X basis[at], for at = 0, 1, … and X each generator in
    order, are orthogonalised against the vectors kept so far (twice,
    Kahan; rows not yet filled are zero) and kept when the residual exceeds
    :data:`CYCLIC_RTOL` of their norm, until a piece has ``dims`` vectors.
    """
    B, k, D = gens.shape[0], gens.shape[1], gens.shape[-1]
    basis = np.zeros((B, D, D))
    basis[:, 0] = v0 / np.sqrt((v0 * v0).sum(axis=1))[:, None]
    rows_t = np.swapaxes(basis, 1, 2)  # a view: basisᵀ, columns the vectors kept
    count = np.ones(B, dtype=np.int64)
    floor = (CYCLIC_RTOL * np.maximum(1.0, np.abs(gens).max(axis=(2, 3)))) ** 2  # (B, k): a candidate's squared norm must exceed it
    tol2 = CYCLIC_RTOL**2
    for at in range(D - 1):
        if not ((at < count) & (count < dims)).any():
            break
        source = basis[:, at, :, None]
        for h in range(k):
            cand = np.matmul(gens[:, h], source)  # (B, D, 1)
            res = cand - rows_t @ (basis @ cand)
            res = res - rows_t @ (basis @ res)
            n2 = (cand * cand).sum(axis=(1, 2))
            r2 = (res * res).sum(axis=(1, 2))
            keep = np.flatnonzero((at < count) & (count < dims) & (n2 > floor[:, h]) & (r2 > tol2 * n2))
            if len(keep):
                basis[keep, count[keep]] = res[keep, :, 0] / np.sqrt(r2[keep])[:, None]
                count[keep] += 1
    if (count != dims).any():
        bad = int(np.flatnonzero(count != dims)[0])
        raise SolverError(f"cyclic form: expected the cyclic vectors to span the piece of dimension {int(dims[bad])}, got {int(count[bad])}")
    return basis


_CYCLIC_COEFFICIENTS: dict[int, list[np.ndarray]] = {}


def _cyclic_coefficients(k: int, length: int) -> np.ndarray:
    """The seeded coefficients of the k**length words of one length in the canonical element S (drawn in word order)."""
    if k not in _CYCLIC_COEFFICIENTS:
        rng = np.random.default_rng(CYCLIC_SEED)
        _CYCLIC_COEFFICIENTS[k] = [rng.standard_normal(k**n) for n in range(1, MAX_WORD_LENGTH + 1)]
    return _CYCLIC_COEFFICIENTS[k][length - 1]

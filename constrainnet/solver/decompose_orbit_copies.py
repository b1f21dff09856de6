r"""The canonical copies of one type in a permutation leaf, orbit by orbit and batched over isomorphic orbits.

:func:`~constrainnet.solver.isotypic.canonical_copies` re-chooses the copies
of a type from the canonical basis f₁, f₂, … of the span F of their first
columns. In a permutation leaf every copy lies on one orbit, so F is the
direct sum of its parts F_O on the orbits, and the rule splits exactly:

- the canonical basis of F is the union of the canonical bases of the F_O,
  ordered by pivot coordinate (a row's residual only involves the pivot
  rows of its own orbit: the others are orthogonal to it);
- the copy through a basis vector of F_O lies on O, and is orthogonalised
  only against the kept copies of O (those of other orbits are orthogonal).

So the copies are re-chosen on each orbit and merged by the coordinate of
their pivots. The orbits of one G-set class carry the representative's
copies moved by a permutation φ; their problems have one shape and are
solved together, a batch dimension on every step: the in-order pivot
search (:func:`~constrainnet.solver.pivots.in_order_pivots`'s rule), the
QR with a positive diagonal (:func:`~constrainnet.solver.canonical.canonical_basis`)
and the block Gram–Schmidt of the copies, with the thresholds of those
functions. The result equals ``canonical_copies`` of all the copies at once,
to rounding.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from .canonical import PIVOT_ATOL
from .isotypic import COPY_RTOL

__all__ = ["batched_canonical_copies"]


def _batched_canonical_basis(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical bases (B, N, r) of the spans of ``phi`` (B, N, r, orthonormal columns) and their pivots (B, r)."""
    B, N, r = phi.shape
    if r == N:
        return np.broadcast_to(np.eye(N), (B, N, N)).copy(), np.broadcast_to(np.arange(N), (B, N)).copy()
    work = phi.copy()
    pivots = np.empty((B, r), dtype=np.int64)
    rows = np.arange(B)
    atol2 = PIVOT_ATOL * PIVOT_ATOL
    for t in range(r):
        norms2 = (work * work).sum(axis=2)
        above = norms2 > atol2
        if not above.any(axis=1).all():
            raise SolverError(f"canonical basis: found {t} pivots, expected {r}: the input columns are not orthonormal")
        first = above.argmax(axis=1)  # the first row independent of the pivot rows before it
        pivots[:, t] = first
        if t == r - 1:
            break
        u = (work[rows, first] / np.sqrt(norms2[rows, first])[:, None])[:, :, None]  # (B, r, 1)
        for _ in range(2):  # project the direction out of every row, twice (Kahan)
            work -= (work @ u) @ np.swapaxes(u, 1, 2)
    at_pivots = phi[rows[:, None], pivots]  # (B, r, r)
    if r == 1:
        return phi * np.sign(at_pivots), pivots
    qp, rp = np.linalg.qr(np.swapaxes(at_pivots, 1, 2))
    signs = np.sign(np.diagonal(rp, axis1=1, axis2=2))
    return phi @ (qp * signs[:, None, :]), pivots


def batched_canonical_copies(copies: np.ndarray, units: np.ndarray, dims: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The canonical copies of B problems of one shape at once (each as :func:`~constrainnet.solver.isotypic.canonical_copies`).

    Problems of smaller sizes ride in one batch padded with zeros: rows past
    a problem's coordinates and columns past its dimension d (``dims``) are
    zero in its copies (and in its units), take no pivot and stay zero.

    Args:
        copies: (B, m, N, d) m orthonormal copies of the type in each of B
            problems (the copies of one orbit, rows in increasing coordinate order).
        units: (c, d, d) the type's commutant units, or (B, c, d, d) each problem's.
        dims: (B,) each problem's dimension (≤ d, the rest of its columns
            zero); None: all d. Only with c = 1.

    Returns:
        ``(chosen, pivots)``: (B, m, N, d) the re-chosen copies of each problem in
        order, and (B, m) the row of the canonical basis vector each passes through.

    Raises:
        SolverError: a problem has fewer than m independent copies.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[[0.6], [0.8]]], [[[0.0], [-1.0]]]])  # two problems, one copy each
        >>> chosen, piv = batched_canonical_copies(x, np.eye(1)[None])
        >>> (np.round(chosen[:, 0, :, 0], 12) + 0.0).tolist(), piv.tolist()
        ([[0.6, 0.8], [0.0, 1.0]], [[0], [1]])
    """
    B, m, N, d = copies.shape
    c = units.shape[-3]
    if dims is not None and c != 1:
        raise ValueError("batched_canonical_copies: padded dimensions need a real type (c = 1)")
    scale = np.full((B, 1, 1), float(d)) if dims is None else np.asarray(dims, dtype=np.float64).reshape(B, 1, 1)
    if c == 1:
        bu = copies
    else:
        per = units if units.ndim == 4 else np.broadcast_to(units, (B,) + units.shape)
        bu = np.matmul(copies[:, :, None], per[:, None]).reshape(B, m * c, N, d)
    phi = np.swapaxes(bu[:, :, :, 0], 1, 2)  # (B, N, m c): the first columns, an orthonormal basis of F
    qc, pivots = _batched_canonical_basis(phi)
    r = np.swapaxes(phi, 1, 2) @ qc
    maps = np.swapaxes(r, 1, 2) @ bu.reshape(B, m * c, N * d)  # the copy through each canonical f, flattened
    if c == 1:
        # every copy through an f is kept: the Gram–Schmidt of the maps in order is a QR with a positive diagonal
        q, rr = np.linalg.qr(np.swapaxes(maps, 1, 2) / np.sqrt(scale))
        diag = np.diagonal(rr, axis1=1, axis2=2)
        if (np.abs(diag) <= COPY_RTOL).any():
            raise SolverError(f"decompose: re-chose fewer copies of an irreducible than {m}")
        chosen = np.swapaxes(q * (np.sign(diag)[:, None, :] * np.sqrt(scale)), 1, 2).reshape(B, m, N, d)
        return chosen, pivots
    kept = np.zeros((B, m * c, N * d))  # kept copies times each unit, flattened (orthonormal in ⟨x, y⟩/d)
    count = np.zeros(B, dtype=np.int64)
    chosen = np.zeros((B, m, N, d))
    through = np.zeros((B, m), dtype=np.int64)
    for i in range(m * c):
        open_ = np.flatnonzero(count < m)
        if not len(open_):
            break
        flat = maps[open_, i][:, :, None]  # (b, N d, 1)
        held = kept[open_]
        for _ in range(2):  # block Gram–Schmidt, twice (Kahan)
            flat = flat - np.swapaxes(held, 1, 2) @ ((held @ flat) / d)
        flat = flat[:, :, 0]
        norm = np.sqrt((flat * flat).sum(axis=1) / d)
        keep = norm > COPY_RTOL
        if not keep.any():
            continue
        at, flat, norm = open_[keep], flat[keep], norm[keep]
        copy = (flat / norm[:, None]).reshape(len(at), N, d)
        slot = count[at]
        chosen[at, slot] = copy
        through[at, slot] = pivots[at, i]
        images = np.matmul(copy[:, None], per[at]).reshape(len(at), c, N * d)
        kept[at[:, None], slot[:, None] * c + np.arange(c)] = images
        count[at] += 1
    if (count != m).any():
        raise SolverError(f"decompose: re-chose {int(count.min())} copies of an irreducible, expected {m}")
    return chosen, through

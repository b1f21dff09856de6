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
from .irreps import IrrepType
from .isotypic import COPY_RTOL

__all__ = ["batched_canonical_copies", "canonical_columns"]


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


def canonical_columns(n: int, found: list[tuple[IrrepType, list[tuple[int, np.ndarray]]]], num_blocks: int,
                       reps: list[int], rep_of: list[int], maps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """U (n, n), the orbit of each of its columns, and ((type, multiplicity), ...): the copies of each type
    (held on the representative orbits' blocks) carried to every orbit of their class and re-chosen canonically.

    The problems of real types with one multiplicity per orbit are solved
    as one batch, padded with zeros to the largest orbit and dimension
    (complex and quaternionic types: one batch per multiplicity, commutant
    and dimension, each problem with its type's units); the copies of a
    type are ordered by the coordinate their canonical basis vector is
    pivoted on, and every batch is written into U by one scatter (padded
    rows and columns go to a spare row and column, dropped after).
    """
    targets = [[i for i, r in enumerate(rep_of) if r == rep] for rep in reps]
    orders = [np.stack([np.argsort(maps[i]) for i in tg]) for tg in targets]
    rows = [np.stack([maps[i][o] for i, o in zip(tg, od)]) for tg, od in zip(targets, orders)]  # coordinates, increasing
    groups: dict[tuple, list[tuple[int, int, np.ndarray]]] = {}
    for k, (t, copies) in enumerate(found):
        by_block: dict[int, list[np.ndarray]] = {}
        for b, x in copies:
            by_block.setdefault(b, []).append(x)
        for blk in sorted(by_block):
            here = np.stack(by_block[blk])  # (m, |O|, d) on the representative
            c = len(t.units)
            key = (len(here), 1) if c == 1 else (len(here), c, t.dim)  # real types: padded to one size
            groups.setdefault(key, []).append((k, blk, here))
    batches = []  # per batch: picked (B, m, N, D), type, orbit, coordinates (B, N; n where padded), dimension of each problem
    for (m, c, *_), members in groups.items():
        top_n = max(x.shape[1] for _, _, x in members)
        top_d = max(x.shape[2] for _, _, x in members)
        total = sum(len(targets[blk]) for _, blk, _ in members)
        padded = np.zeros((total, m, top_n, top_d))
        where = np.full((total, top_n), n, dtype=np.int64)
        kind, orbit, dims = np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)
        at = 0
        for k, blk, here in members:
            count, size, d = len(targets[blk]), here.shape[1], here.shape[2]
            mine = slice(at, at + count)
            padded[mine, :, :size, :d] = np.swapaxes(here[:, orders[blk]], 0, 1)  # (orbits, m, |O|, d), rows increasing
            where[mine, :size] = rows[blk]
            kind[mine], orbit[mine], dims[mine] = k, targets[blk], d
            at += count
        if c == 1:
            picked, through = batched_canonical_copies(padded, np.ones((1, 1, 1)), dims)
        else:
            units = np.stack([found[k][0].units for k, _, _ in members])
            picked, through = batched_canonical_copies(padded, units[np.repeat(np.arange(len(members)), [len(targets[b]) for _, b, _ in members])])
        batches.append((picked, kind, orbit, where, dims, np.take_along_axis(where, through, axis=1)))
    # the copies of all types in column order: by type, then by the coordinate of their pivot
    kinds = np.concatenate([np.repeat(kind, x.shape[1]) for x, kind, *_ in batches])
    pivots = np.concatenate([piv.reshape(-1) for *_, piv in batches])
    dims = np.array([t.dim for t, _ in found])[kinds]
    order = np.lexsort((pivots, kinds))
    starts = np.empty(len(order), dtype=np.int64)
    starts[order] = np.concatenate([[0], np.cumsum(dims[order])[:-1]])
    u = np.zeros((n + 1, n + 1))
    column_orbit = np.empty(n + 1, dtype=np.int64)
    at = 0
    for picked, _, orbit, where, sizes, _ in batches:
        count, m, _, top_d = picked.shape
        cols = starts[at : at + count * m].reshape(count, m, 1) + np.arange(top_d)  # (problems, m, D)
        cols = np.where(np.arange(top_d) < sizes[:, None, None], cols, n)
        u[where[:, :, None, None], cols[:, None]] = np.swapaxes(picked, 1, 2)
        column_orbit[cols] = orbit[:, None, None]
        at += count * m
    counts = np.bincount(kinds, minlength=len(found))
    comps = [(t, int(m)) for (t, _), m in zip(found, counts)]
    return np.ascontiguousarray(u[:n, :n]), column_orbit[:n], comps

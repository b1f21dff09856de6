r"""The pivot search of the canonical form: the rows of a matrix that are independent of the rows before them.

For a matrix X whose rows have the Gram matrix X Xᵀ = P (the rows of an
orthonormal basis Q₀ of a subspace, or of its orthogonal projector P itself),
row i is a *pivot* when its residual, after removing its projection onto the
rows of the pivots before it, has norm above
:data:`~constrainnet.solver.canonical.PIVOT_ATOL`. The residual depends only on
P, so every basis of the subspace finds the same pivots.

Done row by row this is r sequential passes over every row, O(N r²) memory
traffic in a Python loop: 16 s for a (1024 × 1024) basis. Here the rows go
in blocks of :data:`ROW_BLOCK`, each projected once (one matrix product)
against every direction found before it; inside a block the rows are split
in halves recursively: the left half is searched first, then the right half
is projected against the directions found in the left half, and searched.
Only :data:`LEAF_ROWS` rows at a time are searched row by row. The directions found are kept orthonormal by
re-orthogonalising each leaf's new directions against the earlier ones (one
product and one QR per leaf).
"""

from __future__ import annotations

import numpy as np

__all__ = ["in_order_pivots", "LEAF_ROWS", "ROW_BLOCK"]

# Rows projected together against every direction found before them (one
# matrix product per block: each row meets each earlier direction once).
ROW_BLOCK = 256
# Rows searched one by one at the bottom of the recursion: large enough that
# the products above it run at matrix speed, small enough that the row-by-row
# updates inside a leaf stay cheap.
LEAF_ROWS = 64


def in_order_pivots(rows: np.ndarray, atol: float, limit: int | None = None) -> np.ndarray:
    """The pivot rows of ``rows`` in index order: rows independent of the rows before them.

    Row i is a pivot when the norm of its residual (row i less its projection
    onto the span of the earlier pivot rows) exceeds ``atol``.

    Args:
        rows: (N, c) float array.
        atol: absolute threshold on the residual norm.
        limit: stop after this many pivots (the rank, when it is known);
            default min(N, c).

    Returns:
        (k,) int64 increasing pivot indices, k ≤ limit.

    Example:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0]])
        >>> in_order_pivots(x, 1e-6).tolist()
        [1, 3]
    """
    n, c = rows.shape
    limit = min(n, c) if limit is None else min(limit, n, c)
    work = np.zeros((0, c))  # residuals of the current row block, updated in place
    offset = 0  # the row of ``rows`` that row 0 of ``work`` is
    directions = np.zeros((limit, c))  # orthonormal rows spanning the pivot rows found so far
    pivots: list[int] = []
    atol2 = atol * atol

    def leaf(lo: int, hi: int) -> None:
        block = work[lo:hi]
        before = len(pivots)
        norms2 = np.einsum("ij,ij->i", block, block)
        t = 0
        while len(pivots) < limit:
            candidates = np.flatnonzero(norms2[t:] > atol2)
            if len(candidates) == 0:
                break
            t += int(candidates[0])
            u = block[t] / np.sqrt(norms2[t])
            directions[len(pivots)] = u
            pivots.append(offset + lo + t)
            tail = block[t + 1 :]
            tail -= np.outer(tail @ u, u)
            norms2[t + 1 :] = np.einsum("ij,ij->i", tail, tail)
            t += 1
        found = len(pivots) - before
        if found:
            # one re-orthogonalisation against the earlier directions, then an orthonormal basis of the same span
            new = directions[before : len(pivots)]
            new -= (new @ directions[:before].T) @ directions[:before]
            directions[before : len(pivots)] = np.linalg.qr(new.T)[0].T

    def search(lo: int, hi: int) -> None:
        if len(pivots) == limit or lo == hi:
            return
        if hi - lo <= LEAF_ROWS:
            leaf(lo, hi)
            return
        mid = (lo + hi) // 2
        before = len(pivots)
        search(lo, mid)
        if before < len(pivots) < limit:
            new = directions[before : len(pivots)]
            right = work[mid:hi]
            right -= (right @ new.T) @ new
        search(mid, hi)

    for begin in range(0, n, ROW_BLOCK):
        if len(pivots) == limit:
            break
        end = min(begin + ROW_BLOCK, n)
        work, offset = np.array(rows[begin:end], dtype=np.float64), begin
        if pivots:
            found = directions[: len(pivots)]
            work -= (work @ found.T) @ found
        search(0, end - begin)
    return np.array(pivots, dtype=np.int64)

"""The orthogonal change of basis U of a decomposition, held block by block.

U is block-diagonal over the leaves of a direct sum up to a permutation of
its columns: one (n_L × n_L) orthogonal matrix per *distinct* leaf, reused
for each of its copies, with the columns of each copy scattered to their
place in the component order. U and Uᵀ are applied to vectors and batches
block by block; the dense (size × size) matrix is formed only on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RepMismatchError
from .basis import _check_dense

__all__ = ["ChangeOfBasis", "LeafChange"]


@dataclass(frozen=True)
class LeafChange:
    """One leaf's orthogonal matrix and where its copies sit.

    Attributes:
        u: (n_L, n_L) read-only orthogonal matrix of the leaf (columns by component, copy by copy).
        index: (copies, n_L) coordinates of each copy in the full rep (rows of U).
        cols: (copies, n_L) columns of U that each copy's columns of ``u`` go to.
    """

    u: np.ndarray
    index: np.ndarray
    cols: np.ndarray


class ChangeOfBasis:
    r"""The orthogonal U (size × size) of a decomposition, applied structurally.

    ``U @ x`` maps decomposed coordinates to the rep's coordinates, ``U.T @ y``
    the other way, for x of shape (size,) or (size, batch); ``np.asarray(U)``
    forms the dense matrix (refused above
    :data:`~constrainnet.solver.basis.DENSE_EXPORT_MAX_ENTRIES` entries).

    Shape:
        x: (size,) or (size, batch) -> same shape.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> U = (100 * V).decompose().change_of_basis
        >>> U.shape, len(U.blocks)
        ((300, 300), 1)
        >>> x = np.arange(300.0)
        >>> bool(np.allclose(U @ (U.T @ x), x))
        True
    """

    def __init__(self, size: int, blocks: list[LeafChange]) -> None:
        self._size = int(size)
        self._blocks = tuple(blocks)

    @property
    def shape(self) -> tuple[int, int]:
        """(size, size)."""
        return (self._size, self._size)

    @property
    def blocks(self) -> tuple[LeafChange, ...]:
        """One :class:`LeafChange` per distinct leaf."""
        return self._blocks

    def _check(self, x: Any, what: str) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n = self._size
        if x.ndim not in (1, 2) or x.shape[0] != n:
            raise RepMismatchError(f"{what}: expected an array of shape ({n},) or ({n}, batch), got {x.shape}")
        return x

    def __matmul__(self, x: Any) -> np.ndarray:
        """U x: decomposed coordinates to the rep's coordinates."""
        x = self._check(x, "U @ x")
        out = np.empty_like(x)
        for b in self._blocks:
            part = x[b.cols]  # (copies, n_L, *batch)
            out[b.index] = np.einsum("ij,cj...->ci...", b.u, part)
        return out

    def apply_transpose(self, y: Any) -> np.ndarray:
        """Uᵀ y: the rep's coordinates to decomposed coordinates."""
        y = self._check(y, "U.T @ y")
        out = np.empty_like(y)
        for b in self._blocks:
            part = y[b.index]
            out[b.cols] = np.einsum("ji,cj...->ci...", b.u, part)
        return out

    @property
    def T(self) -> "_Transpose":
        """Uᵀ, applied structurally: ``U.T @ y``."""
        return _Transpose(self)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        n = self._size
        _check_dense(n * n, "U")
        out = np.zeros((n, n))
        for b in self._blocks:
            for idx, cols in zip(b.index, b.cols):
                out[np.ix_(idx, cols)] = b.u
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"ChangeOfBasis(size={self._size}, leaves={len(self._blocks)})"


class _Transpose:
    def __init__(self, u: ChangeOfBasis) -> None:
        self._u = u

    @property
    def shape(self) -> tuple[int, int]:
        return self._u.shape

    def __matmul__(self, y: Any) -> np.ndarray:
        return self._u.apply_transpose(y)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._u, dtype=dtype).T

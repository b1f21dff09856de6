"""Block-structured equivariant bases and projectors, applied without dense matrices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse

from ..errors import RepMismatchError, SolverError
from ..reps import Rep
from .blocks import canonical_columns
from .canonical import column_pivots

__all__ = ["Basis", "Projector", "BasisBlock", "DENSE_EXPORT_MAX_ENTRIES"]

# np.asarray(Q) or np.asarray(P) refuses to build more entries than this (2 GB).
DENSE_EXPORT_MAX_ENTRIES = 250_000_000


@dataclass(frozen=True)
class BasisBlock:
    """One leaf basis and the coordinates of its copies.

    Attributes:
        leaf: the leaf rep.
        q: (leaf.size, r) orthonormal basis of the leaf: a read-only array, or a
            scipy.sparse matrix for orbit bases.
        index: (copies, leaf.size) coordinates of each copy in the full rep.
        strategy: the strategy that solved the leaf.
    """

    leaf: Rep
    q: Any
    index: np.ndarray
    strategy: str

    @property
    def dim(self) -> int:
        """Number of basis columns this block contributes: r × copies."""
        return self.q.shape[1] * self.index.shape[0]


class Basis:
    r"""An orthonormal basis Q (size × r) of a rep's equivariant subspace, kept in blocks.

    Column order: the canonical one (:mod:`constrainnet.solver.canonical`),
    the same whatever strategy solved it: the columns of all blocks sorted by
    the coordinate of their pivot; :attr:`block_columns` says where leaf
    basis vector k on copy c of each block went. ``np.asarray(Q)`` gives the
    dense (size, r) matrix; ``Q @ c`` and ``Q.T @ w`` work block by block.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> Q = (V**2).equivariant_basis()
        >>> Q.shape
        (9, 1)
        >>> np.round(np.asarray(Q).reshape(3, 3) * np.sqrt(3), 6).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """

    def __init__(self, rep: Rep, blocks: list[BasisBlock], strategy: str) -> None:
        self._rep = rep
        self._blocks = tuple(b for b in blocks if b.dim > 0)
        self._strategy = strategy
        self._dim = sum(b.dim for b in self._blocks)
        self._expansions: dict = {}  # (device, dtype) -> the torch operands of expand, built on first use
        if len(self._blocks) == 1 and self._blocks[0].index.shape[0] == 1:
            self._columns = (np.arange(self._dim, dtype=np.int64)[:, None],)
        else:
            self._columns = tuple(canonical_columns([(column_pivots(b.q), b.index) for b in self._blocks]))

    @property
    def rep(self) -> Rep:
        """The rep whose equivariant subspace this spans."""
        return self._rep

    @property
    def blocks(self) -> tuple[BasisBlock, ...]:
        """The leaf blocks with a non-empty basis."""
        return self._blocks

    @property
    def block_columns(self) -> tuple[np.ndarray, ...]:
        """Per block, a (k, copies) int array: the column of Q holding leaf basis vector k on copy c."""
        return self._columns

    @property
    def strategy(self) -> str:
        """The strategy that produced this basis ('dense', 'orbit' or 'block')."""
        return self._strategy

    @property
    def shape(self) -> tuple[int, int]:
        """(rep.size, r)."""
        return (self._rep.size, self._dim)

    @property
    def dim(self) -> int:
        """r, the dimension of the equivariant subspace."""
        return self._dim

    def __len__(self) -> int:
        return self._dim

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        n, r = self.shape
        _check_dense(n * r, "Q")
        out = np.zeros((n, r))
        for b, columns in zip(self._blocks, self._columns):
            q = b.q.toarray() if scipy.sparse.issparse(b.q) else b.q
            for kk in range(q.shape[1]):
                out[b.index, columns[kk][:, None]] = q[:, kk][None, :]
        return out if dtype is None else out.astype(dtype)

    def __matmul__(self, coeffs: Any) -> np.ndarray:
        """Q @ c for c of shape (r,) or (r, batch)."""
        c = np.asarray(coeffs, dtype=np.float64)
        if c.ndim not in (1, 2) or c.shape[0] != self._dim:
            raise RepMismatchError(f"Q @ c: expected c of shape ({self._dim},) or ({self._dim}, batch), got {c.shape}")
        batch = c.shape[1:]
        out = np.zeros((self._rep.size,) + batch)
        for b, columns in zip(self._blocks, self._columns):
            k, copies = columns.shape
            part = c[columns].reshape(k, -1)  # (k, copies * batch)
            values = np.asarray(b.q @ part).reshape((b.q.shape[0], copies) + batch)
            out[b.index] = np.moveaxis(values, 1, 0)  # (copies, leaf, *batch)
        return out

    def expand(self, coefficients: Any) -> Any:
        r"""Per-sample equivariant elements Q c_b for a batch of coefficient vectors (a torch tensor, differentiable).

        Computed block by block through the structured basis (the leaf bases
        and the coordinates of their copies), never through the dense
        (size × r) Q, so it serves wide reps: the cost is the batch times the
        nonzeros of the leaf bases times their copies. For a rep of linear
        maps ``a >> b`` the result is a batch of (b.size, a.size) matrices,
        each equivariant: ρ_b(g) W_b ρ_a(g)⁻¹ = W_b. The torch operands are
        built once per device and dtype and kept on the basis.

        Args:
            coefficients: a real floating tensor of shape (batch, r) or (r,).

        Returns:
            A tensor on the coefficients' device and dtype: (batch, b.size,
            a.size) for a Hom rep ``a >> b``, else (batch, size); without the
            batch dimension for (r,) coefficients.

        Raises:
            TypeError: not a real floating torch tensor.
            RepMismatchError: the last dimension is not r.

        Shape:
            - coefficients: ``(batch, r)`` or ``(r,)``
            - output: ``(batch, out, in)`` for ``a >> b``, ``(batch, size)`` otherwise

        Example:
            >>> import torch, constrainnet as cn
            >>> from constrainnet.groups import SO
            >>> V = cn.V(SO(3))
            >>> Q = (V**2 >> V**2).equivariant_basis()
            >>> W = Q.expand(torch.randn(5, Q.dim))  # five equivariant maps of 3×3 matrices
            >>> W.shape
            torch.Size([5, 9, 9])
        """
        from .expand import expand  # torch is imported only when a basis is expanded

        return expand(self, coefficients)

    @property
    def T(self) -> "_BasisTranspose":
        """Qᵀ, applied block by block: ``Q.T @ w``."""
        return _BasisTranspose(self)

    def coefficients(self, w: Any) -> np.ndarray:
        """Qᵀ w for w of shape (size,) or (size, batch)."""
        x = np.asarray(w, dtype=np.float64)
        n = self._rep.size
        if x.ndim not in (1, 2) or x.shape[0] != n:
            raise RepMismatchError(f"Q.T @ w: expected w of shape ({n},) or ({n}, batch), got {x.shape}")
        out = np.zeros((self._dim,) + x.shape[1:])
        for b, columns in zip(self._blocks, self._columns):
            vals = np.moveaxis(x[b.index], 0, 1)  # (leaf, copies, *batch)
            coef = np.asarray(b.q.T @ vals.reshape(vals.shape[0], -1))
            out[columns] = coef.reshape(columns.shape + x.shape[1:])
        return out

    def __repr__(self) -> str:
        return f"Basis({self._rep!r}, shape={self.shape}, strategy={self._strategy!r}, blocks={len(self._blocks)})"


class _BasisTranspose:
    def __init__(self, basis: Basis) -> None:
        self._basis = basis

    @property
    def shape(self) -> tuple[int, int]:
        n, r = self._basis.shape
        return (r, n)

    def __matmul__(self, w: Any) -> np.ndarray:
        return self._basis.coefficients(w)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._basis, dtype=dtype).T


class Projector:
    r"""The orthogonal projector P = Q Qᵀ onto the equivariant subspace, applied lazily.

    ``P @ w`` projects a vector (size,) or a batch of columns (size, batch)
    block by block, never forming the (size × size) matrix; ``np.asarray(P)``
    forms it for small reps.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> P = (V >> V).equivariant_projector()
        >>> np.round(P @ np.arange(9.0), 6).tolist()
        [4.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0]
    """

    def __init__(self, basis: Basis) -> None:
        self._basis = basis

    @property
    def basis(self) -> Basis:
        """The basis Q with P = Q Qᵀ."""
        return self._basis

    @property
    def shape(self) -> tuple[int, int]:
        n = self._basis.rep.size
        return (n, n)

    def __matmul__(self, w: Any) -> np.ndarray:
        return self._basis @ self._basis.coefficients(w)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        n = self._basis.rep.size
        _check_dense(n * n, "P")
        q = np.asarray(self._basis)
        out = q @ q.T
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"Projector({self._basis.rep!r}, rank={self._basis.dim})"


def _check_dense(entries: int, what: str) -> None:
    if entries > DENSE_EXPORT_MAX_ENTRIES:
        raise SolverError(
            f"np.asarray({what}): expected at most {DENSE_EXPORT_MAX_ENTRIES} entries for a dense matrix, "
            f"got {entries}; apply it with @ instead"
        )

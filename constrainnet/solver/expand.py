r"""Per-sample elements of an equivariant subspace: ``basis.expand(coefficients)``, through the structured basis.

For coefficients c of shape (batch, r), the expansion is the batch of vectors
v_b = Q c_b, each equivariant, computed block by block as Q is held
(:class:`~constrainnet.solver.basis.Basis`): for each leaf block, the
coefficients of its columns are gathered, multiplied by the leaf basis q (a
small dense product, or the nonzeros of a sparse orbit basis), and added at
the block's coordinates. The dense (size × r) Q is never built, so the cost is
(batch × the nonzeros of the leaf bases × copies), and the memory that of the
output. For a rep of linear maps ``a >> b`` the result is a batch of
(b.size, a.size) matrices: a hypernetwork predicts c from each sample's
context and applies its own equivariant map.

The map c ↦ Q c is linear, so gradients flow back to c (``torch.autograd``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import torch

from ..errors import RepMismatchError
from ..reps.composite import HomRep

__all__ = ["BasisExpansion"]


class BasisExpansion:
    """The torch operands of c ↦ Q c for one basis on one device and dtype (built once, reused per call).

    Args:
        basis: the :class:`~constrainnet.solver.basis.Basis`.
        device: the device of the operands.
        dtype: a floating dtype.
    """

    def __init__(self, basis: Any, device: torch.device, dtype: torch.dtype) -> None:
        self.size, self.dim = basis.shape
        self.parts: list[tuple[str, torch.Tensor, torch.Tensor, Any]] = []
        positions = []
        for block, columns in zip(basis.blocks, basis.block_columns):
            k, copies = columns.shape
            cols = torch.tensor(np.ascontiguousarray(columns.T).reshape(-1), device=device)  # (copies·k,): copy-major
            if scipy.sparse.issparse(block.q):
                coo = block.q.tocoo()
                rows, which = coo.row.astype(np.int64), coo.col.astype(np.int64)
                values = torch.tensor(coo.data, dtype=dtype, device=device)
                picks = torch.tensor((np.arange(copies)[:, None] * k + which[None]).reshape(-1), device=device)
                self.parts.append(("sparse", cols, picks, values.repeat(copies)))
                positions.append(block.index[:, rows].reshape(-1))
            else:
                qt = torch.tensor(np.ascontiguousarray(block.q.T), dtype=dtype, device=device)  # (k, leaf)
                self.parts.append(("dense", cols, torch.empty(0), qt))
                positions.append(block.index.reshape(-1))
        self.positions = torch.tensor(np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64), device=device)

    def __call__(self, c: torch.Tensor) -> torch.Tensor:
        """(batch, size): Q c_b for c of shape (batch, r)."""
        batch = c.shape[0]
        pieces = []
        for kind, cols, picks, operand in self.parts:
            gathered = c.index_select(1, cols)  # (batch, copies·k)
            if kind == "dense":
                k = operand.shape[0]
                pieces.append((gathered.view(batch, -1, k) @ operand).reshape(batch, -1))  # (batch, copies·leaf)
            else:
                pieces.append(gathered.index_select(1, picks) * operand)  # (batch, copies·nnz)
        out = c.new_zeros(batch, self.size)
        if not pieces:
            return out
        return out.index_add(1, self.positions, torch.cat(pieces, dim=1))


def expand(basis: Any, coefficients: Any) -> torch.Tensor:
    """See :meth:`constrainnet.solver.basis.Basis.expand`."""
    if not isinstance(coefficients, torch.Tensor):
        raise TypeError(f"expand: expected a torch.Tensor of coefficients, got {type(coefficients).__name__}")
    if not coefficients.is_floating_point() or coefficients.is_complex():
        raise TypeError(f"expand: expected real floating coefficients, got dtype {coefficients.dtype}")
    r = basis.dim
    if coefficients.dim() not in (1, 2) or coefficients.shape[-1] != r:
        raise RepMismatchError(f"expand: expected coefficients of shape ({r},) or (batch, {r}), got {tuple(coefficients.shape)}")
    single = coefficients.dim() == 1
    c = coefficients[None] if single else coefficients
    key = (c.device, c.dtype)
    cache = basis._expansions
    if key not in cache:
        cache[key] = BasisExpansion(basis, c.device, c.dtype)
    out = cache[key](c)
    rep = basis.rep
    if isinstance(rep, HomRep):  # a rep of linear maps: (batch, out, in) matrices
        out = out.view(c.shape[0], rep.rep_out.size, rep.rep_in.size)
    return out[0] if single else out

"""Assembly of a dense weight W = Σ_k C_k ⊗ B_k from block coefficients, as one autograd node.

Building W block by block with autograd-tracked einsums records dozens of small
nodes per layer and step; here the forward fills W with one matrix product per
block pair and the backward returns each coefficient gradient with one matrix
product, without recording anything in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

__all__ = ["BlockLayout", "assemble_weight"]


@dataclass(frozen=True)
class BlockLayout:
    """Where one block pair lives in W: rows [row, row + n·b), columns [col, col + m·a), r basis maps."""

    row: int
    n: int
    b: int
    col: int
    m: int
    a: int
    r: int


class _Assemble(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, shape: tuple[int, int], layout: Sequence[BlockLayout], bases: Sequence[torch.Tensor], *coeffs: torch.Tensor) -> torch.Tensor:
        ref = coeffs[0]
        weight = ref.new_zeros(shape)
        for lay, c, basis in zip(layout, coeffs, bases):
            block = weight[lay.row : lay.row + lay.n * lay.b, lay.col : lay.col + lay.m * lay.a].view(lay.n, lay.b, lay.m, lay.a)
            if lay.r == 1:
                # W[p, o, q, i] = C[p, q] B[o, i]: one broadcast product, written in place
                torch.mul(c.view(lay.n, 1, lay.m, 1), basis.view(1, lay.b, 1, lay.a), out=block)
                continue
            # M[(p, q), (o, i)] = Σ_k C[k, p, q] B[k, o, i]
            prod = c.reshape(lay.r, lay.n * lay.m).t() @ basis.reshape(lay.r, lay.b * lay.a)
            block.copy_(prod.view(lay.n, lay.m, lay.b, lay.a).permute(0, 2, 1, 3))
        ctx.layout = layout
        ctx.bases = bases
        return weight

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        grads = []
        for lay, basis in zip(ctx.layout, ctx.bases):
            if not ctx.needs_input_grad[3 + len(grads)]:
                grads.append(None)
                continue
            block = grad[lay.row : lay.row + lay.n * lay.b, lay.col : lay.col + lay.m * lay.a]
            if lay.r == 1:
                gc = (block.view(lay.n, lay.b, lay.m, lay.a) * basis.view(1, lay.b, 1, lay.a)).sum(dim=(1, 3))
                grads.append(gc.view(1, lay.n, lay.m))
                continue
            g = block.reshape(lay.n, lay.b, lay.m, lay.a).permute(0, 2, 1, 3).reshape(lay.n * lay.m, lay.b * lay.a)
            gc = g @ basis.reshape(lay.r, lay.b * lay.a).t()  # (n·m, r)
            grads.append(gc.t().reshape(lay.r, lay.n, lay.m))
        return (None, None, None, *grads)


def assemble_weight(
    shape: tuple[int, int], layout: Sequence[BlockLayout], bases: Sequence[torch.Tensor], coeffs: Sequence[torch.Tensor]
) -> torch.Tensor:
    r"""The (out, in) weight with block (p·b + o, q·a + i) of each pair equal to Σ_k C[k, p, q] B[k, o, i].

    Args:
        shape: (out, in).
        layout: one :class:`BlockLayout` per pair.
        bases: per pair, the (r, b, a) basis B (no gradient).
        coeffs: per pair, the (r, n, m) coefficients C.

    Returns:
        The weight, differentiable with respect to ``coeffs``; zero outside the pairs.
    """
    if not coeffs:
        return torch.zeros(shape)
    return _Assemble.apply(shape, tuple(layout), tuple(bases), *coeffs)

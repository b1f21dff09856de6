r"""Fused autograd nodes for the training step: an assembled affine map, and a whole EMLP block.

A chain of small torch operations costs, on the CPU, more in dispatch,
autograd bookkeeping and the copies between them (the ``cat`` that undoes a
``split`` in the backward, the zero-filled gradient of a slice) than in
arithmetic. Each node here runs its forward as a few large operations and its
backward by hand, writing every gradient straight into its place:

- :class:`AssembledAffine` (``Linear``): y = x Wᵀ + Q β with W assembled from
  the coefficients c by the layer's sparse map M (W = M c); the backward is
  ∂W = ∂yᵀ x, ∂c = Mᵀ ∂W, ∂β = Qᵀ Σ_n ∂y_n, ∂x = ∂y W.
- :class:`FusedBlockNode` (``EMLPBlock``, through :class:`FusedBlock`): z = x S + b, the products p of u and v
  (two slices of z, multiplied copy by copy), y = z_L + p O, then the gate; S and O come flattened in one tensor
  (one assembly node for both), whose gradient is written in one buffer.

Second derivatives: a backward run with ``create_graph=True`` (grad mode on
inside the backward) recomputes the forward with the differentiable composite
of the module and differentiates that, so gradients of gradients are exact;
the hand-written backward serves first derivatives, the training step.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

__all__ = ["AssembledAffine", "FusedBlock", "FusedBlockNode"]


def _composite_grads(
    composite: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor | None], needs: Sequence[bool], grad: torch.Tensor
) -> tuple[torch.Tensor | None, ...]:
    """Gradients of ``composite(*inputs)`` against ``grad``, with a graph (for a backward under create_graph)."""
    wanted = [t for t, need in zip(inputs, needs) if need and t is not None]
    with torch.enable_grad():
        out = composite(*inputs)
        grads = iter(torch.autograd.grad(out, wanted, grad, create_graph=True, allow_unused=True)) if wanted else iter(())
    result = []
    for t, need in zip(inputs, needs):
        g = next(grads) if need and t is not None else None
        result.append(torch.zeros_like(t) if g is None and need and t is not None else g)
    return tuple(result)


class AssembledAffine(torch.autograd.Function):
    """y = x Wᵀ + Q β for a 2-D x, W = M c assembled from the coefficients inside the node.

    ``apply(assembly, forward_buffers, backward_buffers, bias_basis, composite, x, c, beta)``:
    ``assembly`` a one-part :class:`~constrainnet.nn.assembly.WeightAssembly`
    of W (out, in), not transposed, its buffers as tensors, Q (or None, with beta None), and
    ``composite(x, c, beta)``, the same map from differentiable operations.
    """

    @staticmethod
    def forward(
        ctx: Any,
        assembly: Any,
        forward: Sequence[torch.Tensor],
        backward: Sequence[torch.Tensor],
        bias_basis: torch.Tensor | None,
        composite: Callable[..., torch.Tensor],
        x: torch.Tensor,
        c: torch.Tensor,
        beta: torch.Tensor | None,
    ) -> torch.Tensor:
        weight = assembly.sums[0].apply(c, *forward).view(assembly.shape)
        y = x.mm(weight.t()) if beta is None else torch.addmm(torch.mv(bias_basis, beta), x, weight.t())
        ctx.assembly, ctx.buffers, ctx.bias_basis, ctx.composite = assembly, backward, bias_basis, composite
        ctx.save_for_backward(x, c, beta, weight)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        x, c, beta, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[5:]
        if torch.is_grad_enabled():
            return (None,) * 5 + _composite_grads(ctx.composite, (x, c, beta), needs, grad)
        grad_x = grad.mm(weight) if needs[0] else None
        grad_c = ctx.assembly.sums[1].apply(grad.t().mm(x).view(-1), *ctx.buffers) if needs[1] else None
        grad_beta = torch.mv(ctx.bias_basis.t(), grad.sum(0)) if beta is not None and needs[2] else None
        return None, None, None, None, None, grad_x, grad_c, grad_beta


class FusedBlock:
    """One EMLP block on a 2-D x: :class:`FusedBlockNode`, or under ``torch.compile`` the block's composite.

    The node writes into slices of preallocated tensors (``out=``), which
    ``torch.compile`` cannot trace; compiled code gets the composite of the
    same operations instead, which the compiler fuses itself.
    """

    @staticmethod
    def apply(block: Any, x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """σ_gate(z_L + p(u, v) O) for ``block`` (see :class:`FusedBlockNode`)."""
        if torch.compiler.is_compiling():
            return block._composite(x, weights, bias)
        return FusedBlockNode.apply(block, x, weights, bias)


class FusedBlockNode(torch.autograd.Function):
    r"""One EMLP block on a 2-D x: σ_gate(z_L + p(u, v) O), z = x S + b = [z_L, u, v].

    ``apply(block, x, weights, bias)``: ``block`` an
    :class:`~constrainnet.nn.emlp.EMLPBlock` (its split sizes, gate and
    ``_composite``), ``weights`` the flat [S; O] as its assembly gives it
    (S: (in, wide + 2·mid), O: (products, wide)), ``bias`` b; p the products
    of :class:`~constrainnet.nn.bilinear.CopyGroups`.

    Backward, from ∂out: ∂y by the gate (:meth:`GatedNonlinearity.fused_backward`)
    into the first columns of ∂z; ∂O = pᵀ ∂y; ∂p = ∂y Oᵀ, whose contractions
    with v and u are ∂u and ∂v (written into ∂z); then ∂S = xᵀ ∂z, ∂b = Σ_n ∂z_n,
    ∂x = ∂z Sᵀ.
    """

    @staticmethod
    def forward(ctx: Any, block: Any, x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        wide, mid, _ = block._split
        stacked, out = block._stacked.matrices(weights)
        z = torch.addmm(bias, x, stacked)
        products, (u_left, v_right) = block.bilinear.groups.fused_products(z[:, wide : wide + mid], z[:, wide + mid :])
        y = torch.addmm(z[:, :wide], products, out)
        result, (gates, factor) = block.nonlinearity.fused_forward(y)
        ctx.block = block
        ctx.save_for_backward(x, weights, bias, products, u_left, v_right, y, gates, factor)
        return result

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        x, weights, bias, products, u_left, v_right, y, gates, factor = ctx.saved_tensors
        block = ctx.block
        needs = ctx.needs_input_grad[1:]
        if torch.is_grad_enabled():
            return (None,) + _composite_grads(block._composite, (x, weights, bias), needs, grad)
        wide, mid, _ = block._split
        stacked, out = block._stacked.matrices(weights)
        grad = grad.contiguous()
        grad_z = y.new_empty(y.shape[0], wide + 2 * mid)
        grad_y = grad_z[:, :wide]
        block.nonlinearity.fused_backward(grad, y, (gates, factor), grad_y)
        grad_products = grad_y.mm(out.t())
        block.bilinear.groups.products_backward(grad_products, (u_left, v_right), grad_z[:, wide : wide + mid], grad_z[:, wide + mid :])
        grad_weights = None
        if needs[1]:  # not when the weights are frozen (e.g. forces ∂E/∂x of a trained model)
            grad_weights = torch.empty_like(weights)
            grad_stacked, grad_out = block._stacked.matrices(grad_weights)
            torch.mm(products.t(), grad_y, out=grad_out)
            torch.mm(x.t(), grad_z, out=grad_stacked)
        grad_x = grad_z.mm(stacked.t()) if needs[0] else None
        return None, grad_x, grad_weights, grad_z.sum(0) if needs[2] else None

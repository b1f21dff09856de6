"""Gradient checks of a module with respect to its input and all its parameters at once."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["assert_gradients"]


def assert_gradients(module: nn.Module, x: torch.Tensor, second_order: bool = True) -> None:
    r"""Check the first (and second) derivatives of ``module(x)`` against finite differences.

    Runs :func:`torch.autograd.gradcheck` (and :func:`torch.autograd.gradgradcheck`)
    on f(x, θ) = module(x) with parameters θ, through
    :func:`torch.func.functional_call`, so hand-written backward passes (fused
    nodes, custom autograd Functions) are checked against central differences
    for the input and for every parameter together.

    Args:
        module: a float64 module (finite differences need double precision).
        x: a float64 input; a copy that requires grad is used.
        second_order: also check gradients of gradients (``create_graph=True``
            paths, as used by force or Hessian-based losses).

    Raises:
        TypeError: ``x`` or a parameter is not float64.
        AssertionError: a derivative disagrees with finite differences (the
            message says which order).

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = cn.nn.Linear(V**0 + V, V, dtype=torch.float64)
        >>> assert_gradients(layer, torch.randn(2, 4, dtype=torch.float64))
    """
    names = [name for name, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in module.parameters()]
    x = x.detach().clone().requires_grad_()
    for what, t in [("x", x)] + list(zip(names, params)):
        if t.dtype != torch.float64:
            raise TypeError(f"assert_gradients: expected float64 tensors (finite differences), got {what} of dtype {t.dtype}")

    def f(x: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(module, dict(zip(names, ps)), (x,))

    inputs = (x, *params)
    if not torch.autograd.gradcheck(f, inputs, raise_exception=False):
        raise AssertionError(f"assert_gradients: first derivatives of {type(module).__name__} disagree with finite differences")
    if second_order and not torch.autograd.gradgradcheck(f, inputs, raise_exception=False):
        raise AssertionError(f"assert_gradients: second derivatives of {type(module).__name__} disagree with finite differences")

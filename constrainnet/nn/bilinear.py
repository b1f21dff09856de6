"""An equivariant bilinear layer: features multiplied by an equivariant, input-dependent weight."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import RepMismatchError
from ..reps import Rep, Scalar, ScalarRep, tensor
from .linear import Linear, check_input
from .plan import Component, components

__all__ = ["BiLinear", "bilinear_mid_rep", "MID_ATOM_MAX_SIZE", "MID_COPIES"]

# The product space is rep_mid ⊗ rep_mid, so rep_mid is kept small: MID_COPIES
# copies of each distinct component of rep_in no larger than MID_ATOM_MAX_SIZE
# (scalars, pseudo-scalars and V of groups acting on up to 8 coordinates).
MID_ATOM_MAX_SIZE = 8
MID_COPIES = 4


def bilinear_mid_rep(rep_in: Rep) -> Rep:
    """The default rep whose tensor square :class:`BiLinear` forms, derived from ``rep_in`` alone.

    ``MID_COPIES`` copies of each distinct component of ``rep_in`` of size at
    most ``MID_ATOM_MAX_SIZE`` (in order of appearance); ``MID_COPIES``
    scalars if there is none.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> bilinear_mid_rep(10 * V**0 + 5 * V + 2 * V**2)
        4*Scalar + 4*V
    """
    seen: list[Rep] = []
    for c in components(rep_in):
        if c.rep.size <= MID_ATOM_MAX_SIZE and c.rep not in seen:
            seen.append(c.rep)
    if not seen:
        seen = [Scalar(rep_in.G)]
    parts = [MID_COPIES * r for r in seen]
    return sum(parts[1:], parts[0])


class BiLinear(nn.Module):
    r"""An equivariant bilinear map y = W_out (u ⊗ v), u = W_1 x, v = W_2 x.

    u and v are equivariant linear images of x in a small rep ``rep_mid``; their
    outer product lies in rep_mid ⊗ rep_mid, formed component pair by
    component pair as the direct sum ``rep_product`` = Σ m₁m₂ · (c₁ ⊗ c₂) (the
    same space with its coordinates grouped by block), and mapped to
    ``rep_out`` by an equivariant linear W_out. Equivalently y = W(x) x with the input-dependent
    weight W(x) = W_out (W_1 x ⊗ ·) W_2, equivariant for every x. With scalars
    and vectors in rep_mid this spans products such as q·r, r ⊗ r, r·s and r × s.
    Nothing is random at construction: rep_mid is derived from rep_in
    (:func:`bilinear_mid_rep`) or given.

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        rep_mid: the rep of the two factors (default :func:`bilinear_mid_rep`).
        device, dtype: of the parameters.

    Shape:
        - Input: (*, rep_in.size)
        - Output: (*, rep_out.size)

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = BiLinear(2 * V**0 + 2 * V, V)
        >>> layer(torch.randn(4, 8)).shape
        torch.Size([4, 3])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, rep_mid: Rep | None = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"BiLinear: expected reps of one group, got {rep_in.G!r} and {rep_out.G!r}")
        rep_mid = bilinear_mid_rep(rep_in) if rep_mid is None else rep_mid
        self.rep_in, self.rep_out, self.rep_mid = rep_in, rep_out, rep_mid
        factory = {"device": device, "dtype": dtype}
        self.left = Linear(rep_in, rep_mid, bias=not isinstance(rep_mid, ScalarRep), **factory)
        self.right = Linear(rep_in, rep_mid, bias=True, **factory)
        # u ⊗ v is formed component pair by component pair, so that the products
        # form a direct sum Σ (m₁m₂)·(c₁ ⊗ c₂) that the output Linear splits into blocks.
        self._pairs = [(c1, c2) for c1 in components(rep_mid) for c2 in components(rep_mid)]
        self.rep_product = sum(
            (c1.mult * c2.mult * tensor(c1.rep, c2.rep) for c1, c2 in self._pairs[1:]),
            self._pairs[0][0].mult * self._pairs[0][1].mult * tensor(self._pairs[0][0].rep, self._pairs[0][1].rep),
        )
        self.out = Linear(self.rep_product, rep_out, bias=False, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "BiLinear")
        u, v = self.left(x), self.right(x)
        lead = x.shape[:-1]
        parts = []
        for c1, c2 in self._pairs:
            a = _copies(u, c1).unsqueeze(-2).unsqueeze(-1)  # (*, m1, 1, |c1|, 1)
            b = _copies(v, c2).unsqueeze(-3).unsqueeze(-2)  # (*, 1, m2, 1, |c2|)
            parts.append((a * b).reshape(*lead, -1))
        return self.out(torch.cat(parts, dim=-1))

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, rep_mid={self.rep_mid!r}"


def _copies(x: torch.Tensor, c: Component) -> torch.Tensor:
    """The copies of component ``c`` of features x: (*, mult, size)."""
    return x[..., c.offset : c.offset + c.mult * c.rep.size].reshape(*x.shape[:-1], c.mult, c.rep.size)

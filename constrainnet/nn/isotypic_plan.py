r"""The isotypic plan of :class:`~constrainnet.nn.Linear`: the map applied one product per irreducible type.

``Linear(rep_in, rep_out, plan="isotypic")`` changes its input to the typed
layout of :mod:`constrainnet.nn.isotypic` (one (batch, d_k, m_k) tensor per
irreducible type k), applies the map as one product per type shared by the
two reps (the operands gathered from the layer's canonical coefficients by a
fixed sparse map) and changes the result back. Its coefficients, ``weight()``,
``export()`` and state dicts are those of the assembled plan (the same
canonical basis): a state dict saved by either loads into the other.

Cost: the product per type does Σ_k c_k m_in,k m_out,k d_k multiply-adds per
sample instead of :math:`|in| \cdot |out|`, but changing the input and output of a layer
with plain (standard-basis) features densely costs :math:`|in|^2 + |out|^2 \ge 2 |in| \cdot |out|`
more, so the cost model never prefers this plan for a standalone layer
(``plan="auto"`` keeps the assembled one); it pays where features stay typed
from one layer to the next, as in :class:`~constrainnet.nn.EMLP`, whose
hidden layers use the same typed maps (:mod:`constrainnet.nn.typed_emlp`), or
through :meth:`IsotypicPlan.forward_typed`.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ..errors import RepError
from ..reps import Rep
from .assembly import WeightAssembly, WeightPart
from .isotypic import TYPED_DENSE_MAX_SIZE, TypedLayout
from .linear_plans import KERNEL_FLOPS, REFERENCE_BATCH, LinearPlanBase, register_plan
from .plan import LinearPlan, components
from .typed import TypedAffine, TypedChange

__all__ = ["IsotypicPlan"]


class IsotypicPlan(LinearPlanBase):
    """The map applied per irreducible type between changes of basis (see the module docstring).

    Raises:
        ValueError: a ``support`` (only the orbit plan restricts to one).
        RepError: reps without an orthogonal decomposition, or larger than
            :data:`~constrainnet.nn.isotypic.TYPED_DENSE_MAX_SIZE` coordinates.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = cn.nn.Linear(2 * V**0 + V**2, V + V**0, plan="isotypic")
        >>> layer.plan.name, layer(torch.randn(4, 11)).shape
        ('isotypic', torch.Size([4, 4]))
    """

    def __init__(self, layer: Any, factory: dict, support: Any = None) -> None:
        if support is not None:
            raise ValueError(f"Linear: plan='isotypic' takes no support, got support={support!r} (the orbit plan restricts to a support)")
        for name, rep in (("rep_in", layer.rep_in), ("rep_out", layer.rep_out)):
            if rep.size > TYPED_DENSE_MAX_SIZE:
                raise RepError(f"Linear: plan='isotypic' changes {name} densely, at most {TYPED_DENSE_MAX_SIZE} coordinates, got {rep.size}")
        super().__init__(LinearPlan(layer.rep_in, layer.rep_out))
        self.layout_in, self.layout_out = TypedLayout(layer.rep_in), TypedLayout(layer.rep_out)
        q = layer._float64_buffers.get("bias_basis") if layer.bias_basis is not None else None
        self.typed = TypedAffine(layer, "_isotypic", self.layout_in, [(self.blocks, self.layout_out, q)], factory)
        self.change_in = TypedChange(layer, "_isotypic_in", self.layout_in, factory)
        self.change_out = TypedChange(layer, "_isotypic_out", self.layout_out, factory)
        part = WeightPart((layer.out_features, layer.in_features), self.layout, [p.basis for p in self.blocks.pairs])
        self.assembly = WeightAssembly(layer, "_isotypic_dense", [part], factory)

    @classmethod
    def cost(cls, rep_in: Rep, rep_out: Rep, support: Any = None, batch: int = REFERENCE_BATCH) -> float | None:
        """At least the dense changes of basis in and out (forward and backward): :math:`6 batch (|in|^2 + |out|^2)` flops, + 6 kernels.

        Declines (None) with a support, above ``TYPED_DENSE_MAX_SIZE`` coordinates, and for reps
        with permutation components larger than a scalar (the orbit and assembled plans keep
        those exact and sparse, and ``auto`` then never has to decompose an image).
        """
        if support is not None or max(rep_in.size, rep_out.size) > TYPED_DENSE_MAX_SIZE:
            return None
        if any(c.rep.is_permutation and c.rep.size > 1 for rep in (rep_in, rep_out) for c in components(rep)):
            return None
        return 6.0 * batch * (rep_in.size**2 + rep_out.size**2) + 6 * KERNEL_FLOPS

    def weight(self, layer: Any) -> torch.Tensor:
        if not self.pair_shapes:
            return layer.coefficients.new_zeros(layer.out_features, layer.in_features)
        return self.assembly(layer, (layer.coefficients,))

    def parts(self, layer: Any) -> tuple:
        """(operand per input type (or None) ..., bias on the output's trivial type (or None))."""
        ops, _, bias = self.typed.operands(layer, layer.coefficients, layer.bias_coefficients)
        return (*ops, bias)

    def forward_typed(self, layer: Any, xs: Sequence[torch.Tensor], parts: tuple | None = None) -> list[torch.Tensor]:
        """Typed input (one (batch, d_k, m_k) tensor per type of rep_in) → typed output (per type of rep_out)."""
        parts = self.parts(layer) if parts is None else parts
        (ys,) = self.typed.apply(layer, xs, parts[:-1], parts[-1])
        batch, like = xs[0].shape[0], xs[0]
        return [ys[t] if t in ys else like.new_zeros(batch, d, m) for t, d, m in zip(self.layout_out.types, self.layout_out.dims, self.layout_out.mults)]

    def apply(self, layer: Any, x: torch.Tensor, parts: tuple) -> torch.Tensor:
        if not self.layout_in.types:
            return x.new_zeros(x.shape[0], layer.out_features) + (0 if parts[-1] is None else layer.bias())
        ys = self.forward_typed(layer, self.change_in.to_typed(layer, x), parts)
        return self.change_out.from_typed(layer, ys)


register_plan("isotypic", IsotypicPlan)

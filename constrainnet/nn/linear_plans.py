r"""How a :class:`~constrainnet.nn.Linear` applies its map: plan objects, their registry and the cost model.

A layer holds one plan (``layer.plan``; ``"assembled"``: :class:`AssembledPlan`,
``"orbit"``: :class:`~constrainnet.nn.orbit_linear.OrbitPlan`, and any plan
another module adds with :func:`register_plan`). Cost model of ``plan="auto"``
(:func:`choose_plan`): each plan estimates one training call (forward and
backward) at a batch of ``REFERENCE_BATCH`` as

.. math::
    \text{cost} = \text{flops} + \text{KERNEL\_FLOPS} \cdot \text{kernels},

flops of the products, convolutions and gathers, kernels the operations it
launches (on the CPU each costs dispatch and autograd bookkeeping, on a GPU a
launch, whatever its size), or declines (None). The assembled plan declines a
``support``, pairs of ``P4M`` image reps (their dense basis grows as n⁶) and
permutation pairs whose dense basis would exceed ``DENSE_PAIR_MAX_ENTRIES``
entries. The cheapest plan that does not decline is chosen (the earlier
registered on a tie); where the assembled and orbit plans both apply they do
the same flops and the assembled plan launches fewer kernels.
"""

from __future__ import annotations

import abc
import functools
from typing import Any, ClassVar

import torch

from ..reps import Rep
from ..solver import equivariant_basis
from ..solver.orbit import supports_orbits
from .assembly import BlockLayout, WeightAssembly, WeightPart, affine
from .conv import is_image_rep
from .fused import AssembledAffine
from .plan import LinearPlan, components

__all__ = [
    "LinearPlanBase",
    "AssembledPlan",
    "register_plan",
    "plan_class",
    "plan_names",
    "choose_plan",
    "dense_flops",
    "KERNEL_FLOPS",
    "REFERENCE_BATCH",
    "DENSE_PAIR_MAX_ENTRIES",
]

# One kernel launch in flops: ~5 µs of dispatch and autograd bookkeeping per
# operation on the CPU at ~20 GFLOP/s of small-matrix arithmetic.
KERNEL_FLOPS = 100_000

# The batch at which plans are compared.
REFERENCE_BATCH = 256

# A permutation block pair whose dense basis r·|b|·|a| would exceed this many
# entries (8 MB in float64) is not assembled (the orbit plan keeps it as labels).
DENSE_PAIR_MAX_ENTRIES = 1_000_000


class LinearPlanBase(abc.ABC):
    """How a :class:`~constrainnet.nn.Linear` applies its map; one instance per layer, held as ``layer.plan``.

    A subclass is built by the layer as ``Plan(layer, factory, support)``
    after the layer has set ``rep_in``, ``rep_out``, ``in_features``,
    ``out_features`` and registered its bias basis (the buffer ``bias_basis``,
    None without bias) and before it creates its parameters: the subclass
    calls ``super().__init__(blocks)`` with its block plan, whose ``pairs``
    fix the coefficient layout, and registers its fixed tensors on the layer
    (``layer._register_float64`` for float arrays, ``register_buffer(...,
    persistent=False)`` for indices). Plans read the parameters and buffers
    from the layer at each call and keep no tensor of their own, so copies,
    pickles and casts of the layer stay valid.

    Attributes:
        name: the registered name (``"assembled"``, ``"orbit"``, ...).
        blocks: the block plan: ``inputs``, ``outputs`` (components), ``pairs``
            (with ``i``, ``j``, ``r``, ``basis``) and ``signature()``
            (:class:`~constrainnet.nn.plan.LinearPlan` or
            :class:`~constrainnet.nn.orbit_plan.SparsePlan`).
        layout: one :class:`~constrainnet.nn.assembly.BlockLayout` per pair.
        pair_shapes: (r, n, m) of each pair: its coefficients, in order, in
            the layer's flat ``coefficients``.
    """

    name: ClassVar[str] = ""

    def __init__(self, blocks: Any) -> None:
        self.blocks = blocks
        self.layout: list[BlockLayout] = []
        self.pair_shapes: list[tuple[int, int, int]] = []
        for p in blocks.pairs:
            inp, out = blocks.inputs[p.i], blocks.outputs[p.j]
            self.layout.append(BlockLayout(out.offset, out.mult, out.rep.size, inp.offset, inp.mult, inp.rep.size, p.r))
            self.pair_shapes.append((p.r, out.mult, inp.mult))

    @property
    def num_coefficients(self) -> int:
        """Free parameters of the weight: Σ r·n·m over the pairs."""
        return sum(r * n * m for r, n, m in self.pair_shapes)

    def signature(self) -> list[float]:
        """A short float fingerprint of the basis (equal for equal bases, whatever the plan)."""
        return self.blocks.signature()

    @abc.abstractmethod
    def parts(self, layer: Any) -> tuple:
        """The tensors :meth:`apply` uses, the bias (or None) last, from the layer's parameters (differentiable); cached in eval mode."""

    @abc.abstractmethod
    def apply(self, layer: Any, x: torch.Tensor, parts: tuple) -> torch.Tensor:
        """y (batch, out) from x (batch, in) and :meth:`parts`."""

    def forward(self, layer: Any, x: torch.Tensor) -> torch.Tensor:
        """The training forward on a 2-D x (default: :meth:`apply` of fresh :meth:`parts`)."""
        return self.apply(layer, x, self.parts(layer))

    def weight(self, layer: Any) -> torch.Tensor:
        """The dense (out, in) weight W (differentiable): by default the map without bias applied to the identity."""
        eye = torch.eye(layer.in_features, dtype=layer.coefficients.dtype, device=layer.coefficients.device)
        return self.apply(layer, eye, self.parts(layer)[:-1] + (None,)).t()

    @classmethod
    @abc.abstractmethod
    def cost(cls, rep_in: Rep, rep_out: Rep, support: Any = None, batch: int = REFERENCE_BATCH) -> float | None:
        """Estimated flops + ``KERNEL_FLOPS`` × kernels of a training call at ``batch``; None where ``plan="auto"`` must not pick it."""

    def extra_repr(self) -> str:
        """What the layer's repr adds about the plan."""
        return f"plan={self.name}"


_PLANS: dict[str, type[LinearPlanBase]] = {}


def register_plan(name: str, cls: type[LinearPlanBase]) -> None:
    """Make ``Linear(..., plan=name)`` build ``cls`` (and ``plan="auto"`` consider it).

    Args:
        name: the plan's name (not ``"auto"``); sets ``cls.name``.
        cls: a subclass of :class:`LinearPlanBase`.

    Raises:
        TypeError: ``cls`` is not a :class:`LinearPlanBase` subclass, or ``name`` not a str.
        ValueError: ``name`` is ``"auto"`` or empty, or names another class already.
    """
    if not (isinstance(cls, type) and issubclass(cls, LinearPlanBase)):
        raise TypeError(f"register_plan: expected a subclass of LinearPlanBase, got {cls!r}")
    if not isinstance(name, str):
        raise TypeError(f"register_plan: expected the name as a str, got {type(name).__name__}")
    if name in ("", "auto"):
        raise ValueError(f"register_plan: expected a plan name other than '' and 'auto', got {name!r}")
    old = _PLANS.get(name)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"register_plan: the name {name!r} is taken by {old.__module__}.{old.__qualname__}")
    cls.name = name
    _PLANS[name] = cls


def plan_names() -> tuple[str, ...]:
    """The registered plan names, in registration order."""
    return tuple(_PLANS)


def plan_class(name: Any) -> type[LinearPlanBase]:
    """The plan class registered as ``name``.

    Raises:
        ValueError: an unknown name (the message lists the registered ones).
    """
    if not isinstance(name, str) or name not in _PLANS:
        raise ValueError(f"Linear: unknown plan {name!r}, expected one of {('auto',) + plan_names()}")
    return _PLANS[name]


def choose_plan(rep_in: Rep, rep_out: Rep, support: Any = None) -> str:
    """The name of the cheapest registered plan for the layer by the cost model of this module.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import P4M, S
        >>> choose_plan(2 * cn.V(P4M(4)), cn.V(P4M(4))), choose_plan(cn.V(S(4)), cn.V(S(4)))
        ('orbit', 'assembled')
    """
    costs = [(cost, name) for name, cls in _PLANS.items() if (cost := cls.cost(rep_in, rep_out, support=support)) is not None]
    if not costs:
        raise ValueError(f"Linear: no plan applies to {rep_in!r} >> {rep_out!r} with support={support!r}")
    return min(costs, key=lambda item: item[0])[1]


def dense_flops(rep_in: Rep, rep_out: Rep, batch: int) -> tuple[float, bool]:
    """Flops of assembling W (forward and backward gathers) and applying it densely (three products), and whether every pair may be dense.

    A pair may be dense unless it maps a ``P4M`` image rep to an image rep or
    is a permutation rep whose dense basis exceeds ``DENSE_PAIR_MAX_ENTRIES``.
    Gather terms are counted as the entries of each pair's support (orbit
    bases) or of its dense basis.
    """
    terms, dense = 0, True
    for out in components(rep_out):
        for inp in components(rep_in):
            hom = inp.rep >> out.rep
            orbit = supports_orbits(hom)
            r = equivariant_basis(hom).dim
            if (is_image_rep(inp.rep) and is_image_rep(out.rep)) or (orbit and hom.size * r > DENSE_PAIR_MAX_ENTRIES):
                dense = False
            terms += out.mult * inp.mult * (hom.size if orbit else r * hom.size) * (r > 0)
    return 6.0 * batch * rep_in.size * rep_out.size + 4.0 * terms, dense


class AssembledPlan(LinearPlanBase):
    """W = Σ_k C_k ⊗ B_k gathered from the coefficients by one sparse map, applied as one product.

    Training: one autograd node (:class:`~constrainnet.nn.fused.AssembledAffine`:
    assembly, bias and product, with a hand-written backward); eval: the
    layer caches Wᵀ and b. Its coefficients are those of the canonical bases of
    :class:`~constrainnet.nn.plan.LinearPlan`, and so are its state dicts.
    """

    def __init__(self, layer: Any, factory: dict, support: Any = None) -> None:
        if support is not None:
            raise ValueError(f"Linear: plan='assembled' takes no support, got support={support!r} (the orbit plan restricts to a support)")
        super().__init__(LinearPlan(layer.rep_in, layer.rep_out))
        # W (out, in) row-major: the fused node forms ∂W = ∂yᵀ x itself, and in this
        # layout the gathers of both maps run along rows (the coefficients of a
        # block pair are in (p, q) order, W's entries of one output row in q order)
        part = WeightPart((layer.out_features, layer.in_features), self.layout, [p.basis for p in self.blocks.pairs])
        self.assembly = WeightAssembly(layer, "", [part], factory)

    @classmethod
    def cost(cls, rep_in: Rep, rep_out: Rep, support: Any = None, batch: int = REFERENCE_BATCH) -> float | None:
        """Dense flops (:func:`dense_flops`) + 5 kernels (gather, addmm; mm, mm, gather); None with a support or a pair that may not be dense."""
        if support is not None:
            return None
        flops, dense = dense_flops(rep_in, rep_out, batch)
        return flops + 5 * KERNEL_FLOPS if dense else None

    def weight(self, layer: Any) -> torch.Tensor:
        if not self.pair_shapes:
            return layer.coefficients.new_zeros(layer.out_features, layer.in_features)
        return self.assembly(layer, (layer.coefficients,))

    def parts(self, layer: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(Wᵀ (in, out), b), from one autograd node."""
        if not self.pair_shapes or layer.bias_coefficients is None:
            return self.weight(layer).t(), layer.bias()
        weight, bias = self.assembly(layer, (layer.coefficients,), (layer.bias_coefficients,), "bias_basis")
        return weight.t(), bias

    def apply(self, layer: Any, x: torch.Tensor, parts: tuple) -> torch.Tensor:
        return affine(x, *parts)

    def forward(self, layer: Any, x: torch.Tensor) -> torch.Tensor:
        if not self.pair_shapes or not torch.is_grad_enabled():  # (training mode under no_grad: nothing to record)
            return self.apply(layer, x, self.parts(layer))
        buffers = layer._buffers
        forward, backward = ([buffers[name] for name in names] for names in self.assembly.buffers)
        composite = functools.partial(self._composite, layer)
        return AssembledAffine.apply(self.assembly, forward, backward, layer.bias_basis, composite, x, layer.coefficients, layer.bias_coefficients)

    def _composite(self, layer: Any, x: torch.Tensor, c: torch.Tensor, beta: torch.Tensor | None) -> torch.Tensor:
        """x Wᵀ + b from differentiable operations (the reference of the fused node)."""
        if beta is None:
            return affine(x, self.assembly(layer, (c,)).t())
        weight, bias = self.assembly(layer, (c,), (beta,), "bias_basis")
        return affine(x, weight.t(), bias)


register_plan("assembled", AssembledPlan)

"""The EMLP model (equivariant multilayer perceptron) and its unconstrained MLP baseline."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import RepError, RepMismatchError
from ..groups import Group
from ..reps import Rep
from .assembly import CachedAssembly, WeightAssembly, WeightPart, stacked_layout
from .fused import FusedBlock
from .bilinear import BiLinear
from .checks import check_input, check_like, factory_kwargs
from .linear import Linear
from .nonlinear import GatedNonlinearity, gated
from .typed_emlp import EMLP_PLANS, build_typed, typed_forward
from .uniform import uniform_rep

__all__ = ["EMLPBlock", "EMLP", "MLP", "hidden_reps"]


class EMLPBlock(CachedAssembly):
    r"""One hidden layer of an EMLP: y = σ_gate(L x + B(x)).

    L = Linear(rep_in, gated(rep_out)) maps to the features plus their gates,
    B = BiLinear(rep_in, gated(rep_out)) adds products of the input's features
    (B(x) = W_out (W_1 x ⊗ W_2 x), with W_1, W_2 mapping to the small
    ``bilinear.rep_mid``, multiplied copy by copy), and the gated nonlinearity
    (:class:`GatedNonlinearity`) maps back to rep_out.

    L, W_1 and W_2 all read x, so the forward applies them as one stacked
    matrix [L; W_1; W_2], forms the products of W_1 x and W_2 x and adds
    W_out of it to L x inside one matrix product. The stacked matrix, W_out and
    the biases come from one assembly node, and the block itself runs as one
    autograd node with a hand-written backward
    (:class:`~constrainnet.nn.fused.FusedBlock`; second derivatives go through
    the composite of the same operations). In eval mode under
    ``torch.no_grad()`` the assembled matrices are cached, as in
    :class:`Linear`.

    The parameters of ``linear`` and ``bilinear`` (drawn by those modules, as
    documented there) are one vector, the block's ``coefficients``: the
    coefficients of linear, bilinear.left, bilinear.right and bilinear.out,
    then the bias coefficients of linear, left and right. The submodules keep
    theirs as views of it, so ``block.linear.coefficients`` reads and writes
    the block's vector, but only the block registers a parameter: one tensor
    for the optimiser, one gradient.

    Args:
        rep_in: the input rep.
        rep_out: the output rep (the features, without their gates).
        device, dtype: of the parameters.

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> block = cn.nn.EMLPBlock(2 * V**0 + 2 * V, 4 * V**0 + 2 * V)
        >>> block(torch.randn(5, 8)).shape
        torch.Size([5, 10])
    """

    # 2: the parameters of linear and bilinear became one vector (state dicts of version 1
    # also carry basis format 1, which the Linears refuse)
    _version = 2

    def __init__(self, rep_in: Rep, rep_out: Rep, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        device, dtype = factory_kwargs(device, dtype, "EMLPBlock").values()
        self.rep_in, self.rep_out = rep_in, rep_out
        wide = gated(rep_out)
        self.linear = Linear(rep_in, wide, device=device, dtype=dtype)
        self.bilinear = BiLinear(rep_in, wide, device=device, dtype=dtype)
        self.nonlinearity = GatedNonlinearity(rep_out, device=device, dtype=dtype)
        self._own_parameters()
        # [L; W_1; W_2] (transposed) and the bilinear's W_out (transposed, its
        # rows in the order of the products) from one assembly, flattened one
        # after the other, and the bias [Q β; Q_1 β_1; Q_2 β_2]
        left, right = self.bilinear.left, self.bilinear.right
        mid = self.bilinear.rep_mid.size
        self._split = [wide.size, mid, mid]
        layout, bases, _ = stacked_layout([self.linear, left, right])
        factory = {"device": device, "dtype": dtype}
        # rows of W_1, W_2 in the bilinear's copy-major order (its factor_order)
        rows = np.concatenate([np.arange(wide.size), wide.size + self.bilinear.factor_order])
        stacked = WeightPart((wide.size + 2 * mid, rep_in.size), layout, bases, transposed=True, row_order=rows)
        parts = [stacked, self.bilinear.product_part]
        self._stacked = WeightAssembly(self, "_stacked", parts, factory)
        q_linear = self.linear._float64_buffers["bias_basis"]
        q_factors = self.bilinear._float64_buffers["_factors_bias_basis"]
        q = np.zeros((wide.size + 2 * mid, q_linear.shape[1] + q_factors.shape[1]))
        q[: wide.size, : q_linear.shape[1]], q[wide.size :, q_linear.shape[1] :] = q_linear, q_factors
        self._register_float64("_stacked_bias_basis", q, factory)

    # -- the parameters: one vector, which the submodules see as views -----------
    def _own_parameters(self) -> None:
        """Move the submodules' parameters, in assembly order, into the block's one vector ``coefficients``."""
        subs = {"linear": self.linear, "bilinear.left": self.bilinear.left, "bilinear.right": self.bilinear.right, "bilinear.out": self.bilinear.out}
        members = [(path, "coefficients") for path in subs]
        members += [(path, "bias_coefficients") for path in ("linear", "bilinear.left", "bilinear.right") if subs[path].bias_coefficients is not None]
        self._members = [(path, name, subs[path]) for path, name in members]
        self._member_sizes = [getattr(sub, name).numel() for _, name, sub in self._members]
        self._num_weight_coefficients = sum(self._member_sizes[:4])
        flat = torch.cat([getattr(sub, name).detach().reshape(-1) for _, name, sub in self._members])
        self.coefficients = nn.Parameter(flat)
        self._bind_views()

    def _bind_views(self) -> None:
        """Give the submodules their coefficients as views of :attr:`coefficients` (after init, casts and copies)."""
        start = 0
        for (_, name, sub), size in zip(self._members, self._member_sizes):
            sub._parameters.pop(name, None)
            if name not in sub._borrowed:
                sub._borrowed = sub._borrowed + (name,)
            # single views (not one split): they stay valid in autograd after in-place updates of the vector
            with torch.enable_grad():
                object.__setattr__(sub, name, self.coefficients.narrow(0, start, size))
            sub._cache = None
            start += size

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        out = super()._apply(fn, recurse)
        self._bind_views()
        return out

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._bind_views()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "EMLPBlock")
        check_like(x, self.coefficients, "EMLPBlock")
        weights, bias = self._weights()
        y = FusedBlock.apply(self, x.reshape(-1, x.shape[-1]), weights, bias)
        return y.view(*x.shape[:-1], y.shape[-1])

    def _composite(self, x: torch.Tensor, weights: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """The forward on a 2-D x from differentiable operations (the reference of :class:`FusedBlock`)."""
        stacked, out = self._stacked.matrices(weights)
        h, u, v = torch.addmm(bias, x, stacked).split(self._split, dim=-1)
        return self.nonlinearity(torch.addmm(h, self.bilinear.groups.products(u, v), out))

    def _assemble(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._stacked.from_flat(self, self.coefficients, self._num_weight_coefficients, "_stacked_bias_basis")

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}"


def hidden_reps(group: Group, ch: int | Rep | Sequence[int | Rep], num_layers: int) -> list[Rep]:
    """The hidden reps of an EMLP: ``ch`` as an int (via :func:`uniform_rep`), a Rep, or a list of them.

    Raises:
        RepError: a list whose length is not ``num_layers``, or a bad entry.
        RepMismatchError: a hidden Rep of another group.
    """
    if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 0:
        raise RepError(f"num_layers: expected a non-negative int, got {num_layers!r}")
    if isinstance(ch, (int, Rep)) and not isinstance(ch, bool):
        entries: list[int | Rep] = [ch] * num_layers
    else:
        entries = list(ch)
        if len(entries) != num_layers:
            raise RepError(f"ch: expected {num_layers} hidden sizes (num_layers), got {len(entries)}")
    reps = []
    for e in entries:
        if isinstance(e, Rep):
            if e.G != group:
                raise RepMismatchError(f"ch: expected hidden reps of {group!r}, got one of {e.G!r}")
            reps.append(e)
        elif isinstance(e, int) and not isinstance(e, bool):
            reps.append(uniform_rep(e, group))
        else:
            raise RepError(f"ch: expected an int or a Rep per layer, got {e!r}")
    return reps


class EMLP(nn.Module):
    r"""An equivariant MLP: EMLPBlocks through the hidden reps, then an equivariant Linear to rep_out.

    Every layer's weights lie in the equivariant subspace, so the model
    satisfies f(ρ_in(g) x) = ρ_out(g) f(x) for every g of ``group``, to
    floating-point accuracy.

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        group: the group (must be the group of both reps).
        ch: hidden channels: an int (each hidden rep is ``uniform_rep(ch, group)``),
            a Rep, or a list of ints/Reps, one per layer.
        num_layers: number of hidden EMLPBlocks.
        device, dtype: of every parameter and buffer.
        plan: ``"isotypic"``: hidden features held per irreducible type from
            the first block to the last (:mod:`constrainnet.nn.typed_emlp`);
            ``"assembled"``: every layer assembles its dense weight; ``"auto"``
            (default): isotypic where every hidden rep allows it (no
            permutation components, which are gated elementwise, and an
            orthogonal decomposition), else assembled. Both compute the same
            function of the same parameters (state_dicts load into either).

    Raises:
        RepMismatchError: reps of another group, or an input of the wrong width.
        DtypeError, DeviceError: a bad ``dtype``/``device``, or an input of another
            dtype or device than the model's (see :class:`Linear`).

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> G = SO(3); V = cn.V(G)
        >>> model = cn.nn.EMLP(5 * V**0 + 5 * V, V, group=G, ch=64, num_layers=2)
        >>> model(torch.randn(8, 20)).shape
        torch.Size([8, 3])
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group,
        ch: int | Rep | Sequence[int | Rep] = 384,
        num_layers: int = 3,
        device: Any = None,
        dtype: Any = None,
        plan: str = "auto",
    ) -> None:
        super().__init__()
        _check_reps(rep_in, rep_out, group, "EMLP")
        if plan not in EMLP_PLANS:
            raise ValueError(f"EMLP: expected plan in {EMLP_PLANS}, got {plan!r}")
        factory = factory_kwargs(device, dtype, "EMLP")
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, group
        reps = [rep_in] + hidden_reps(group, ch, num_layers)
        self.hidden = tuple(reps[1:])
        blocks: list[nn.Module] = [EMLPBlock(a, b, **factory) for a, b in zip(reps, reps[1:])]
        blocks.append(Linear(reps[-1], rep_out, **factory))
        self.layers = nn.Sequential(*blocks)
        self._typed = build_typed(self.layers, reps, rep_out, plan, factory)
        self.plan = "isotypic" if self._typed is not None else "assembled"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "EMLP")
        if self._typed is None:
            return self.layers(x)
        return typed_forward(self.layers, self._typed, x)

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, group={self.group!r}, plan={self.plan!r}"


class MLP(nn.Module):
    """The unconstrained baseline with EMLP's signature: Linear → SiLU layers of width ``ch``.

    ``ch`` may be an int, a Rep (its size) or a list of them; the reps only set
    the input and output widths, nothing is constrained.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> G = SO(3); V = cn.V(G)
        >>> cn.nn.MLP(5 * V**0 + 5 * V, V, group=G, ch=32, num_layers=2)(torch.randn(4, 20)).shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group,
        ch: int | Rep | Sequence[int | Rep] = 384,
        num_layers: int = 3,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        _check_reps(rep_in, rep_out, group, "MLP")
        factory = factory_kwargs(device, dtype, "MLP")
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, group
        widths = [r.size for r in hidden_reps(group, ch, num_layers)] if not isinstance(ch, int) else [ch] * num_layers
        if any(w < 1 for w in widths):
            raise RepError(f"MLP: expected positive widths, got {widths}")
        sizes = [rep_in.size] + widths
        layers: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [nn.Linear(a, b, **factory), nn.SiLU()]
        layers.append(nn.Linear(sizes[-1], rep_out.size, **factory))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "MLP")
        check_like(x, self.layers[0].weight, "MLP")
        return self.layers(x)


def _check_reps(rep_in: Any, rep_out: Any, group: Any, what: str) -> None:
    if not isinstance(group, Group):
        raise TypeError(f"{what}: expected group to be a Group, got {type(group).__name__}")
    for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(rep, Rep):
            raise TypeError(f"{what}: expected {name} to be a Rep, got {type(rep).__name__}")
        if rep.G != group:
            raise RepMismatchError(f"{what}: expected {name} to be a rep of {group!r}, got a rep of {rep.G!r}")

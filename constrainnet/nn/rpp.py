r"""Soft equivariance by residual pathway priors (Finzi, Benton, Wilson 2021): :class:`RPP` and :class:`SoftLinear`.

A residual pathway prior model is an equivariant path plus an unconstrained
("basic") path, summed,

.. math::
    f(x) = f_E(x) + f_B(x),

trained with a Gaussian prior on each path's parameters that is broad on the
equivariant path and narrow on the basic one. The negative log prior is the
penalty added to the loss,

.. math::
    \Omega(\theta) = \lambda_E \lVert\theta_E\rVert^2 + \lambda_B \lVert\theta_B\rVert^2,
    \qquad \lambda_B \gg \lambda_E,

(a Gaussian N(0, σ²) on a parameter is ‖θ‖²/(2σ²) of negative log density,
so λ = 1/(2σ²) in the units of the loss it is added to). The data decide how
much of the fit goes through the basic path: when they are exactly symmetric
the basic path only costs penalty and shrinks towards 0, leaving the
equivariant model; when they break the symmetry a little, the basic path
carries the small non-equivariant part, which the equivariant path cannot
represent at all. Setting ``basic_wd`` very large recovers the EMLP, very
small the EMLP + MLP sum without preference.

Where the two paths meet is a choice. The paper sums them in every layer;
:class:`RPP` sums two whole networks (an :class:`~constrainnet.nn.EMLP` and
an :class:`~constrainnet.nn.MLP` of the same hidden widths), which keeps the
EMLP's fastest plan (fused blocks, hidden features held per irreducible type)
untouched and makes the basic path's output an additive, inspectable
correction (``model.basic(x)``). :class:`SoftLinear` is the per-layer form
(an equivariant :class:`~constrainnet.nn.Linear` plus an unconstrained weight)
for building layer-wise residual pathways by hand; it is a separate module so
that :class:`~constrainnet.nn.Linear` and its plans stay strictly equivariant.

The penalty is given by :meth:`RPP.prior_penalty` (and
:meth:`SoftLinear.prior_penalty`); pass it to
:func:`constrainnet.train.fit` as ``penalty=model.prior_penalty``.

Example:
    >>> import torch, constrainnet as cn
    >>> from constrainnet.groups import SO
    >>> G = SO(3); V = cn.V(G)
    >>> _ = torch.manual_seed(0)
    >>> model = cn.nn.RPP(V, V**0, group=G, ch=16, num_layers=1)
    >>> model(torch.randn(4, 3)).shape
    torch.Size([4, 1])
    >>> model.prior_penalty().item() > 0
    True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ..reps import Rep
from ..groups import Group
from .checks import check_input, check_like, factory_kwargs
from .emlp import EMLP, MLP, _check_reps
from .linear import Linear

__all__ = ["RPP", "SoftLinear", "DEFAULT_EQUIVARIANT_WD", "DEFAULT_BASIC_WD"]

#: λ_E: the broad prior of the equivariant path (σ ≈ 220 per coefficient).
DEFAULT_EQUIVARIANT_WD = 1e-5
#: λ_B: the narrow prior of the basic path (σ ≈ 7 per weight): 1,000 × λ_E.
DEFAULT_BASIC_WD = 1e-2


def _check_wd(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what}: expected a non-negative float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what}: expected a finite non-negative float, got {value!r}")
    return value


def _squared_norm(params: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """Σ‖p‖² over ``params`` (a 0-d zero when there are none)."""
    total = None
    for p in params:
        term = p.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(()) if like is None else like.new_zeros(())
    return total


class _Pathways(nn.Module):
    """The shared penalty of the two modules: λ_E‖θ_E‖² + λ_B‖θ_B‖² over ``equivariant`` and ``basic``."""

    equivariant: nn.Module
    basic: nn.Module
    equivariant_wd: float
    basic_wd: float

    def _path_parameters(self, path: str) -> list[torch.Tensor]:
        return [p for p in getattr(self, path).parameters() if p.requires_grad]

    def prior_penalty(self) -> torch.Tensor:
        r"""The negative log prior λ_E‖θ_E‖² + λ_B‖θ_B‖², a differentiable 0-d tensor to add to the loss.

        θ_E are the equivariant path's trainable parameters (coefficients in
        the orthonormal equivariant bases, so ‖θ_E‖ is the norm of the
        weights they give), θ_B the basic path's.

        Returns:
            A 0-d tensor of the parameters' dtype and device.
        """
        equivariant, basic = self._path_parameters("equivariant"), self._path_parameters("basic")
        like = (equivariant + basic)[0] if equivariant or basic else None
        return self.equivariant_wd * _squared_norm(equivariant, like) + self.basic_wd * _squared_norm(basic, like)

    def param_groups(self) -> list[dict[str, Any]]:
        """The two paths as optimiser parameter groups with their ``weight_decay`` (for an optimiser of your own).

        ``torch.optim.Adam(model.param_groups(), lr=...)`` puts the prior into
        Adam's L2 term (the gradient of λ‖θ‖²/2 per unit weight decay: pass
        2λ to match :meth:`prior_penalty` exactly, as these groups do).
        """
        return [
            {"params": self._path_parameters("equivariant"), "weight_decay": 2 * self.equivariant_wd},
            {"params": self._path_parameters("basic"), "weight_decay": 2 * self.basic_wd},
        ]


class RPP(_Pathways):
    r"""A residual pathway prior model: ``EMLP(x) + MLP(x)``, the MLP under a narrower prior.

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        group: the group (of both reps) the equivariant path respects.
        ch: hidden channels of both paths, as for :class:`~constrainnet.nn.EMLP`
            (an int, a Rep, or one per layer; the MLP takes their sizes).
        num_layers: hidden layers of both paths.
        equivariant_wd: λ_E, the equivariant path's prior weight (default
            :data:`DEFAULT_EQUIVARIANT_WD`).
        basic_wd: λ_B, the basic path's (default :data:`DEFAULT_BASIC_WD`).
        basic_init_scale: factor on the basic path's last layer at
            initialisation (default 0: the untrained model is exactly the
            equivariant one, and the basic path grows only where the data ask).
        device, dtype: of every parameter.
        plan: the EMLP's plan (see :class:`~constrainnet.nn.EMLP`).

    Attributes:
        equivariant: the :class:`~constrainnet.nn.EMLP` path.
        basic: the :class:`~constrainnet.nn.MLP` path.

    Raises:
        TypeError: reps that are not Reps, a group that is not a Group, or a
            weight decay that is not a number.
        ValueError: a negative or non-finite weight decay or init scale.
        RepMismatchError: reps of another group, or an input of the wrong width.

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> G = SO(3); V = cn.V(G)
        >>> model = cn.nn.RPP(2 * V, V, group=G, ch=16, num_layers=1, basic_wd=1.0)
        >>> x = torch.randn(5, 6)
        >>> torch.equal(model(x), model.equivariant(x))  # the basic path starts at 0
        True
        >>> model.basic_wd, len(model.param_groups())
        (1.0, 2)
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        group: Group,
        ch: int | Rep | Sequence[int | Rep] = 384,
        num_layers: int = 3,
        equivariant_wd: float = DEFAULT_EQUIVARIANT_WD,
        basic_wd: float = DEFAULT_BASIC_WD,
        basic_init_scale: float = 0.0,
        device: Any = None,
        dtype: Any = None,
        plan: str = "auto",
    ) -> None:
        super().__init__()
        _check_reps(rep_in, rep_out, group, "RPP")
        self.equivariant_wd = _check_wd(equivariant_wd, "RPP: equivariant_wd")
        self.basic_wd = _check_wd(basic_wd, "RPP: basic_wd")
        scale = _check_wd(basic_init_scale, "RPP: basic_init_scale")
        self.rep_in, self.rep_out, self.group = rep_in, rep_out, group
        self.equivariant = EMLP(rep_in, rep_out, group, ch=ch, num_layers=num_layers, device=device, dtype=dtype, plan=plan)
        self.basic = MLP(rep_in, rep_out, group, ch=ch, num_layers=num_layers, device=device, dtype=dtype)
        last = self.basic.layers[-1]
        with torch.no_grad():
            last.weight.mul_(scale)
            last.bias.mul_(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "RPP")
        return self.equivariant(x) + self.basic(x)

    def extra_repr(self) -> str:
        return f"equivariant_wd={self.equivariant_wd:g}, basic_wd={self.basic_wd:g}"


class SoftLinear(_Pathways):
    r"""A softly equivariant linear map: y = (W_E + W_B) x + b, W_E equivariant, W_B free under a narrow prior.

    The per-layer residual pathway of the RPP paper: ``equivariant`` is a
    :class:`~constrainnet.nn.Linear` (its bias invariant), ``basic`` a
    bias-free ``torch.nn.Linear`` whose weight starts at 0, so the layer starts
    exactly equivariant. :meth:`prior_penalty` is λ_E‖θ_E‖² + λ_B‖W_B‖².

    Args:
        rep_in: the input rep.
        rep_out: the output rep (of the same group).
        bias: whether the equivariant path learns an invariant bias.
        equivariant_wd: λ_E (default :data:`DEFAULT_EQUIVARIANT_WD`).
        basic_wd: λ_B (default :data:`DEFAULT_BASIC_WD`).
        device, dtype: of the parameters.

    Raises:
        TypeError, ValueError: as :class:`RPP` for the weight decays, and as
            :class:`~constrainnet.nn.Linear` for the reps.

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = cn.nn.SoftLinear(V, V**0 + V)
        >>> x = torch.randn(2, 3)
        >>> torch.equal(layer(x), layer.equivariant(x))
        True
        >>> layer.weight().shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        bias: bool = True,
        equivariant_wd: float = DEFAULT_EQUIVARIANT_WD,
        basic_wd: float = DEFAULT_BASIC_WD,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.equivariant_wd = _check_wd(equivariant_wd, "SoftLinear: equivariant_wd")
        self.basic_wd = _check_wd(basic_wd, "SoftLinear: basic_wd")
        self.equivariant = Linear(rep_in, rep_out, bias=bias, device=device, dtype=dtype)
        self.rep_in, self.rep_out = rep_in, rep_out
        factory = factory_kwargs(device, dtype, "SoftLinear")
        self.basic = nn.Linear(rep_in.size, rep_out.size, bias=False, **factory)
        nn.init.zeros_(self.basic.weight)

    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight W_E + W_B (differentiable)."""
        return self.equivariant.weight() + self.basic.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "SoftLinear")
        check_like(x, self.basic.weight, "SoftLinear")
        return self.equivariant(x) + self.basic(x)

    def extra_repr(self) -> str:
        return f"equivariant_wd={self.equivariant_wd:g}, basic_wd={self.basic_wd:g}"

"""The equivariant linear layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import RepMismatchError
from ..reps import Rep
from .assembly import CachedAssembly
from .checks import check_input, check_like, factory_kwargs
from .linear_plans import choose_plan, plan_class
from .orbit_linear import OrbitPlan  # noqa: F401  (registers the orbit plan)
from .plan import BASIS_FORMAT_VERSION

__all__ = ["Linear", "check_input"]

# Relative tolerance when comparing a saved basis signature with the rebuilt
# one: bases are canonical to ~1e-12, a different basis differs at O(1).
_SIGNATURE_RTOL = 1e-6


class Linear(CachedAssembly):
    r"""An equivariant linear map y = W x + b with W in the equivariant subspace of ``rep_in >> rep_out``.

    Between sums of reps, W splits into blocks: for an in-component a with m
    copies and an out-component b with n copies,

    .. math::
        W_{ab} = \sum_k C_k \otimes B_k,

    with B_k the canonical basis of Hom(a, b) and C_k a free (n × m)
    coefficient matrix (the parameters). The bias b = Q_out β lies in the
    invariant subspace of ``rep_out``.

    How the map is applied is the layer's plan (``layer.plan``, see
    :mod:`constrainnet.nn.linear_plans`), chosen per layer by a cost model
    (flops and kernels per training call) or forced by ``plan``:

    - ``"assembled"``: W gathered from the coefficients at each call
      (:class:`~constrainnet.nn.assembly.WeightAssembly`) and applied by one
      matrix product, all in one autograd node with a hand-written backward
      (:class:`~constrainnet.nn.fused.AssembledAffine`); deterministic and
      differentiable to any order;
    - ``"orbit"``: orbit bases kept sparse, image reps of ``P4M(n)`` as one
      circular convolution, restricted to a ``support``
      (:class:`~constrainnet.nn.orbit_linear.OrbitPlan`); chosen by ``"auto"``
      for a support, image reps and large orbit bases.

    Plans that share a basis (the assembled plan, the orbit plan without
    support on orbit bases, and every plan on the canonical bases) share
    coefficients: their state dicts are interchangeable. In eval mode under
    ``torch.no_grad()`` the layer caches what its plan applies (W and b),
    rebuilt when a parameter changes (an in-place update bumps its version:
    optimiser steps, ``load_state_dict``; or new storage is assigned), but not
    under ``torch.compile``. ``export()`` gives a plain ``torch.nn.Linear``.

    Args:
        rep_in: the input rep.
        rep_out: the output rep (of the same group).
        bias: whether to learn an invariant bias.
        device, dtype: of the parameters and buffers (bases are solved in float64
            and cast once).
        support: a group-invariant support that restricts the basis to the
            orbits inside it (the orbit plan only): an odd int k (on image
            reps of ``P4M(n)``: the V → V blocks become local D4-symmetric
            k×k circular convolutions), or a boolean mask over the coordinates
            of W (out, in) that is a union of orbits.
        plan: ``"auto"`` (the cost model), or a registered plan name
            (``"assembled"``, ``"orbit"``, ...).

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Attributes:
        plan: the plan object; ``plan.name`` its name.
        coefficients: (num_coefficients,) the coefficients C of all block pairs
            with r > 0, pair after pair, each pair's (r, n, m) in C order
            (:meth:`pair_coefficients` gives them as views), initialised
            U(-s, s) with ``s = sqrt(|b| / Σ_a m_a r_ab)``, so that for unit-variance
            inputs every output has variance 1/3, as with ``torch.nn.Linear``'s
            default initialisation.
        bias_coefficients: (r_out,) coefficients of the bias in the invariant
            basis, U(-1/sqrt(in), 1/sqrt(in)) as ``torch.nn.Linear``'s bias.

    Raises:
        RepMismatchError: reps of different groups, or an input of the wrong width.
        TypeError, ValueError: a support of the wrong type, one that cuts an
            orbit, or one given to the assembled plan; an unknown plan name.
        DtypeError: a non-floating ``dtype``, or an input of another dtype than the
            layer's (as ``torch.nn.Linear``, the input is not cast).
        DeviceError: an unknown or unavailable ``device``, or an input on another device.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = cn.nn.Linear(5 * V**0 + 5 * V, V)
        >>> layer(torch.randn(7, 20)).shape
        torch.Size([7, 3])
        >>> layer.num_coefficients, layer.plan.name
        (5, 'assembled')
    """

    # 2: the coefficients became one flat parameter (state dicts of version 1 also carry
    # basis format 1, which set_extra_state refuses)
    _version = 2

    def __init__(
        self,
        rep_in: Rep,
        rep_out: Rep,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
        support: Any = None,
        plan: str = "auto",
    ) -> None:
        super().__init__()
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if not isinstance(rep, Rep):
                raise TypeError(f"Linear: expected {name} to be a Rep, got {type(rep).__name__}")
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"Linear: expected reps of one group, got rep_in of {rep_in.G!r} and rep_out of {rep_out.G!r}")
        factory = factory_kwargs(device, dtype, "Linear")
        cls = plan_class(plan) if plan != "auto" else None  # an unknown name fails before any solve
        self.rep_in, self.rep_out = rep_in, rep_out
        self.in_features, self.out_features = rep_in.size, rep_out.size
        # parameters held by an owner module (EMLPBlock) as views of its own vector
        self._borrowed: tuple[str, ...] = ()
        if bias:
            self._register_float64("bias_basis", np.asarray(rep_out.equivariant_basis()), factory)
        else:
            self.register_buffer("bias_basis", None, persistent=False)
        self.plan = (cls or plan_class(choose_plan(rep_in, rep_out, support)))(self, factory, support)
        # the block plan and its layout, as the modules that stack Linears read them (EMLPBlock, BiLinear)
        self._plan, self._layout, self._pair_shapes = self.plan.blocks, self.plan.layout, self.plan.pair_shapes
        self.coefficients = nn.Parameter(torch.empty(self.plan.num_coefficients, **factory))
        if bias:
            self.bias_coefficients = nn.Parameter(torch.empty(self.bias_basis.shape[1], **factory))
        else:
            self.register_parameter("bias_coefficients", None)
        self.reset_parameters()

    # -- initialisation ------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw the coefficients as documented in the class docstring (torch's global RNG)."""
        blocks = self.plan.blocks
        fan = [0] * len(blocks.outputs)
        for p in blocks.pairs:
            fan[p.j] += blocks.inputs[p.i].mult * p.r
        with torch.no_grad():
            for c, p in zip(self.pair_coefficients(), blocks.pairs):
                bound = math.sqrt(blocks.outputs[p.j].rep.size / fan[p.j])
                c.uniform_(-bound, bound)
            if self.bias_coefficients is not None:
                bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
                self.bias_coefficients.uniform_(-bound, bound)
        self._cache = None

    # -- the weight ----------------------------------------------------------
    @property
    def num_coefficients(self) -> int:
        """Free parameters of the weight (the bias excluded)."""
        return self.plan.num_coefficients

    def pair_coefficients(self) -> tuple[torch.Tensor, ...]:
        """The (r, n, m) coefficients C of each block pair: views into :attr:`coefficients`, in plan order.

        Example:
            >>> import constrainnet as cn
            >>> from constrainnet.groups import SO
            >>> V = cn.V(SO(3))
            >>> layer = cn.nn.Linear(2 * V**0 + V**2, V**0 + V**2)
            >>> [tuple(c.shape) for c in layer.pair_coefficients()]
            [(1, 1, 2), (1, 1, 1), (1, 1, 2), (3, 1, 1)]
        """
        views, start = [], 0
        for r, n, m in self.plan.pair_shapes:
            views.append(self.coefficients[start : start + r * n * m].view(r, n, m))
            start += r * n * m
        return tuple(views)

    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight W = Σ_k C_k ⊗ B_k (differentiable)."""
        return self.plan.weight(self)

    def bias(self) -> torch.Tensor | None:
        """The bias Q_out β (in the invariant subspace of rep_out), or None."""
        if self.bias_coefficients is None:
            return None
        return self.bias_basis @ self.bias_coefficients

    def _assemble(self) -> tuple:
        # laid out contiguously: x Wᵀ is then a plain (non-transposed) product
        return tuple(t if t is None else t.contiguous() for t in self.plan.parts(self))

    def _weights(self) -> tuple:
        # keyed by the coefficients themselves (borrowed ones too): in-place updates (optimisers,
        # load_state_dict) bump _version, a new tensor assigned to .data changes data_ptr
        if torch.compiler.is_compiling():  # (which compiled code cannot read)
            return self._assemble()
        c, beta = self.coefficients, self.bias_coefficients
        key = (c._version, c.data_ptr()) if beta is None else (c._version, c.data_ptr(), beta._version, beta.data_ptr())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._assemble())
        return self._cache[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "Linear")
        check_like(x, self.coefficients, "Linear")
        x2d = x if x.ndim == 2 else x.reshape(-1, self.in_features)
        if self.training or torch.is_grad_enabled():
            y = self.plan.forward(self, x2d)
        else:
            y = self.plan.apply(self, x2d, self._weights())
        return y if x.ndim == 2 else y.view(*x.shape[:-1], self.out_features)

    # -- export and fingerprint ----------------------------------------------
    def export(self) -> nn.Linear:
        """A plain ``torch.nn.Linear`` with the same weight and bias (a detached copy)."""
        ref = self.coefficients
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias_coefficients is not None, device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            out.weight.copy_(self.weight())
            if out.bias is not None:
                out.bias.copy_(self.bias())
        return out

    def __getstate__(self) -> dict:
        # Borrowed views (parameters held by an owner, see EMLPBlock) are saved as
        # parameters of this layer's own: a copy of the layer alone then works by
        # itself, and an owner copied with it borrows them again.
        state = self.__dict__.copy()
        borrowed = state.get("_borrowed", ())
        if borrowed:
            owned = state["_parameters"]
            state["_parameters"] = {
                name: nn.Parameter(state.pop(name).detach().clone()) if name in borrowed else owned.get(name)
                for name in ("coefficients", "bias_coefficients")
            }
            state["_borrowed"] = ()
        state["_cache"] = None
        return state

    def get_extra_state(self) -> dict:
        return {
            "basis_format": BASIS_FORMAT_VERSION,
            "rep_in": f"{self.rep_in.digest:016x}",
            "rep_out": f"{self.rep_out.digest:016x}",
            "signature": self.plan.signature(),
        }

    def set_extra_state(self, state: Any) -> None:
        mine = self.get_extra_state()
        if not isinstance(state, dict) or state.get("basis_format") != mine["basis_format"]:
            got = state.get("basis_format") if isinstance(state, dict) else state
            raise RepMismatchError(f"Linear.load_state_dict: expected basis format {mine['basis_format']}, got {got!r}")
        for key in ("rep_in", "rep_out"):
            if state.get(key) != mine[key]:
                raise RepMismatchError(
                    f"Linear.load_state_dict: the saved layer has another {key} (digest {state.get(key)}), "
                    f"expected {mine[key]} for {getattr(self, key)!r}"
                )
        saved, now = np.asarray(state.get("signature", []), dtype=float), np.asarray(mine["signature"])
        if saved.shape != now.shape or not np.allclose(saved, now, rtol=_SIGNATURE_RTOL, atol=_SIGNATURE_RTOL):
            raise RepMismatchError(
                "Linear.load_state_dict: the saved coefficients refer to another basis of "
                f"{self.rep_in!r} >> {self.rep_out!r} (basis signature differs); refusing to load"
            )

    def extra_repr(self) -> str:
        return (
            f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, coefficients={self.num_coefficients}, "
            f"bias={self.bias_coefficients is not None}, {self.plan.extra_repr()}"
        )

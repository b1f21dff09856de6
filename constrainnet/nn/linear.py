"""The equivariant linear layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import RepMismatchError
from ..reps import Rep
from .assembly import BlockLayout, Float64Buffers, WeightAssembly, WeightPart, affine
from .checks import check_input, check_like, factory_kwargs
from .fused import AssembledAffine
from .plan import BASIS_FORMAT_VERSION, LinearPlan

__all__ = ["Linear", "check_input"]

# Relative tolerance when comparing a saved basis signature with the rebuilt
# one: bases are canonical to ~1e-12, a different basis differs at O(1).
_SIGNATURE_RTOL = 1e-6


class Linear(Float64Buffers):
    r"""An equivariant linear map y = W x + b with W in the equivariant subspace of ``rep_in >> rep_out``.

    Between sums of reps, W splits into blocks: for an in-component a with m
    copies and an out-component b with n copies,

    .. math::
        W_{ab} = \sum_k C_k \otimes B_k,

    with B_k the canonical basis of Hom(a, b) (solved once, a non-persistent
    buffer) and C_k a free (n × m) coefficient matrix (the parameters). The
    bias b = Q_out β lies in the invariant subspace of ``rep_out``.

    In training mode the layer assembles W and b from the coefficients at each
    call by a few gathers over index buffers built once from the float64 bases
    (:class:`~constrainnet.nn.assembly.WeightAssembly`), whatever the number of
    block pairs, and applies them, all in one autograd node with a hand-written
    backward (:class:`~constrainnet.nn.fused.AssembledAffine`); deterministic
    and differentiable to any order. In eval mode under ``torch.no_grad()`` it caches W and b, rebuilt
    when a parameter changes (an in-place update bumps its version: optimiser
    steps, ``load_state_dict``; or new storage is assigned).
    ``export()`` gives a plain ``torch.nn.Linear``.

    Args:
        rep_in: the input rep.
        rep_out: the output rep (of the same group).
        bias: whether to learn an invariant bias.
        device, dtype: of the parameters and buffers (bases are solved in float64
            and cast once).
        support: a group-invariant support that restricts the basis to the
            orbits inside it: an odd int k (on image reps of ``P4M(n)``: the
            V → V blocks become local D4-symmetric k×k circular convolutions),
            or a boolean mask over the coordinates of W (out, in) that is a
            union of orbits. Permutation reps are then kept sparse
            (:class:`~constrainnet.nn.orbit_linear.OrbitLinear`, which
            ``Linear`` builds by itself when a support is given, for image reps
            and for large orbit bases).

    Shape:
        - Input: (*, rep_in.size)
        - Output: (*, rep_out.size)

    Attributes:
        coefficients: (num_coefficients,) the coefficients C of all block pairs
            with r > 0, pair after pair, each pair's (r, n, m) in C order
            (:meth:`pair_coefficients` gives them as views), initialised
            U(-s, s) with s = sqrt(|b| / Σ_a m_a r_ab), so that for unit-variance
            inputs every output has variance 1/3, as with ``torch.nn.Linear``'s
            default initialisation.
        bias_coefficients: (r_out,) coefficients of the bias in the invariant
            basis, U(-1/sqrt(in), 1/sqrt(in)) as ``torch.nn.Linear``'s bias.

    Raises:
        RepMismatchError: reps of different groups, or an input of the wrong width.
        TypeError, ValueError: a support of the wrong type, or one that cuts an orbit.
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
        >>> layer.num_coefficients
        5
    """

    # 2: the coefficients became one flat parameter (older state_dicts still load)
    _version = 2

    def __new__(cls, *args: Any, **kwargs: Any) -> "Linear":
        # Linear(...) builds the sparse OrbitLinear where orbit bases, image
        # convolutions or a support call for it (copy and pickle pass no arguments)
        if cls is Linear and (args or kwargs):
            from .orbit_linear import OrbitLinear, use_sparse_plan

            rep_in = args[0] if args else kwargs.get("rep_in")
            rep_out = args[1] if len(args) > 1 else kwargs.get("rep_out")
            support = args[5] if len(args) > 5 else kwargs.get("support")
            if use_sparse_plan(rep_in, rep_out, support):
                cls = OrbitLinear
        return super().__new__(cls)

    def __init__(
        self, rep_in: Rep, rep_out: Rep, bias: bool = True, device: Any = None, dtype: Any = None, support: Any = None
    ) -> None:
        super().__init__()
        if support is not None:  # only a subclass constructed directly gets here
            raise TypeError(f"{type(self).__name__}: expected support=None (the dense plan has no support), got {support!r}")
        factory = self._init_layer(rep_in, rep_out, device, dtype)
        plan = LinearPlan(rep_in, rep_out)
        self._plan = plan
        self.coefficients = nn.Parameter(torch.empty(plan.num_coefficients, **factory))
        self._layout, self._pair_shapes = [], []
        for t, p in enumerate(plan.pairs):
            self._register_float64(f"basis_{t}", p.basis, factory)
            inp, out = plan.inputs[p.i], plan.outputs[p.j]
            self._layout.append(BlockLayout(out.offset, out.mult, out.rep.size, inp.offset, inp.mult, inp.rep.size, p.r))
            self._pair_shapes.append((p.r, out.mult, inp.mult))
        # the gathers that assemble W (and its backward), as buffers "_forward_*", "_backward_*";
        # W (out, in) row-major: the fused node forms ∂W = ∂yᵀ x itself, and in this
        # layout the gathers of both maps run along rows (the coefficients of a
        # block pair are in (p, q) order, W's entries of one output row in q order)
        part = WeightPart((self.out_features, self.in_features), self._layout, [p.basis for p in plan.pairs])
        self._assembly = WeightAssembly(self, "", [part], factory)
        self._init_bias(bias, factory)
        self.reset_parameters()

    def _init_layer(self, rep_in: Rep, rep_out: Rep, device: Any, dtype: Any) -> dict:
        """Check the arguments every plan shares, set the state every plan has; returns the factory kwargs."""
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if not isinstance(rep, Rep):
                raise TypeError(f"Linear: expected {name} to be a Rep, got {type(rep).__name__}")
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"Linear: expected reps of one group, got rep_in of {rep_in.G!r} and rep_out of {rep_out.G!r}")
        factory = factory_kwargs(device, dtype, "Linear")
        self.rep_in, self.rep_out = rep_in, rep_out
        self.in_features, self.out_features = rep_in.size, rep_out.size
        self._cache: tuple | None = None
        self._fused_args: tuple | None = None  # the fused node's fixed arguments, rebuilt after casts
        # parameters held by an owner module (EMLPBlock) as views of its own vector
        self._borrowed: tuple[str, ...] = ()
        return factory

    def _init_bias(self, bias: bool, factory: dict) -> None:
        """The invariant bias Q_out β: its basis buffer and coefficients (or None for both)."""
        if bias:
            q = np.asarray(self.rep_out.equivariant_basis())
            self._register_float64("bias_basis", q, factory)
            self.bias_coefficients = nn.Parameter(torch.empty(q.shape[1], **factory))
        else:
            self.register_buffer("bias_basis", None, persistent=False)
            self.register_parameter("bias_coefficients", None)

    # -- initialisation ------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw the coefficients as documented in the class docstring (torch's global RNG)."""
        plan = self._plan
        fan = [0] * len(plan.outputs)
        for p in plan.pairs:
            fan[p.j] += plan.inputs[p.i].mult * p.r
        with torch.no_grad():
            for c, p in zip(self.pair_coefficients(), plan.pairs):
                bound = math.sqrt(plan.outputs[p.j].rep.size / fan[p.j])
                c.uniform_(-bound, bound)
            if self.bias_coefficients is not None:
                bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
                self.bias_coefficients.uniform_(-bound, bound)
        self._cache = None

    # -- the weight ----------------------------------------------------------
    @property
    def num_coefficients(self) -> int:
        """Free parameters of the weight (the bias excluded)."""
        return self._plan.num_coefficients

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
        for r, n, m in self._pair_shapes:
            views.append(self.coefficients[start : start + r * n * m].view(r, n, m))
            start += r * n * m
        return tuple(views)

    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight W = Σ_k C_k ⊗ B_k, assembled as one autograd node (differentiable)."""
        if not self._pair_shapes:
            return self.coefficients.new_zeros(self.out_features, self.in_features)
        return self._assembly(self, (self.coefficients,))

    def bias(self) -> torch.Tensor | None:
        """The bias Q_out β (in the invariant subspace of rep_out), or None."""
        if self.bias_coefficients is None:
            return None
        return self.bias_basis @ self.bias_coefficients

    def _weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """W and b."""
        weight_t, bias = self._affine_parts()
        return weight_t.t(), bias

    def _affine_parts(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Wᵀ (in, out, a transposed view) and b from one autograd node."""
        if not self._pair_shapes or self.bias_coefficients is None:
            return self.weight().t(), self.bias()
        weight, bias = self._assembly(self, (self.coefficients,), (self.bias_coefficients,), "bias_basis")
        return weight.t(), bias

    def _cached_weight(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        # in-place updates (optimisers, load_state_dict) bump _version; a new
        # tensor assigned to .data changes data_ptr
        c, beta = self.coefficients, self.bias_coefficients
        key = (c._version, c.data_ptr()) if beta is None else (c._version, c.data_ptr(), beta._version, beta.data_ptr())
        cache = self._cache
        if cache is None or cache[0] != key:
            with torch.no_grad():
                weight_t, bias = self._affine_parts()
                # Wᵀ laid out contiguously: x Wᵀ is then a plain (non-transposed) product
                cache = self._cache = (key, weight_t.contiguous(), bias)
        return cache[1], cache[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "Linear")
        check_like(x, self.coefficients, "Linear")
        if not (self.training or torch.is_grad_enabled()):
            return affine(x, *self._cached_weight())
        if not self._pair_shapes:
            return affine(x, *self._affine_parts())
        # one node: assembly, bias and product, with a hand-written backward
        args = self._fused_args
        if args is None:
            buffers = self._buffers
            forward, backward = (tuple(buffers[name] for name in names) for names in self._assembly.buffers)
            args = self._fused_args = (self._assembly, forward, backward, self.bias_basis, self._composite_affine)
        if x.ndim == 2:
            return AssembledAffine.apply(*args, x, self.coefficients, self.bias_coefficients)
        y = AssembledAffine.apply(*args, x.reshape(-1, self.in_features), self.coefficients, self.bias_coefficients)
        return y.view(*x.shape[:-1], self.out_features)

    def _composite_affine(self, x: torch.Tensor, c: torch.Tensor, beta: torch.Tensor | None) -> torch.Tensor:
        """x Wᵀ + b from differentiable operations (the reference of the fused node)."""
        if beta is None:
            return affine(x, self._assembly(self, (c,)).t())
        weight, bias = self._assembly(self, (c,), (beta,), "bias_basis")
        return affine(x, weight.t(), bias)

    def train(self, mode: bool = True) -> "Linear":
        self._cache = None
        return super().train(mode)

    def _clear_cache(self) -> None:
        self._cache = None
        self._fused_args = None

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
        state["_fused_args"] = None
        return state

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict, *args: Any) -> None:
        # Before version 2 the coefficients were one parameter per block pair,
        # "coefficients.0", "coefficients.1", ...: concatenate them into the flat
        # vector (the same values in the same order, so loading stays bit-identical).
        if (local_metadata.get("version") or 1) < 2 and prefix + "coefficients" not in state_dict:
            keys = [f"{prefix}coefficients.{t}" for t in range(len(self._pair_shapes))]
            if keys and all(k in state_dict for k in keys):
                state_dict[prefix + "coefficients"] = torch.cat([state_dict.pop(k).reshape(-1) for k in keys])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)

    def get_extra_state(self) -> dict:
        return {
            "basis_format": BASIS_FORMAT_VERSION,
            "rep_in": f"{self.rep_in.digest:016x}",
            "rep_out": f"{self.rep_out.digest:016x}",
            "signature": self._plan.signature(),
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
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, coefficients={self.num_coefficients}, bias={self.bias_coefficients is not None}"

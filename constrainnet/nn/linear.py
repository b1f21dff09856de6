"""The equivariant linear layer."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RepMismatchError
from ..reps import Rep
from .assembly import BlockLayout, assemble_weight
from .plan import BASIS_FORMAT_VERSION, LinearPlan

__all__ = ["Linear", "check_input"]

# Relative tolerance when comparing a saved basis signature with the rebuilt
# one: bases are canonical to ~1e-12, a different basis differs at O(1).
_SIGNATURE_RTOL = 1e-6


def check_input(x: torch.Tensor, rep: Rep, what: str) -> None:
    """Raise :class:`RepMismatchError` unless the last dimension of ``x`` is ``rep.size``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != rep.size:
        got = x.shape[-1] if x.ndim else "a scalar"
        raise RepMismatchError(f"{what}: expected input width {rep.size} (rep_in = {rep!r}), got {got} (shape {tuple(x.shape)})")


class Linear(nn.Module):
    r"""An equivariant linear map y = W x + b with W in the equivariant subspace of ``rep_in >> rep_out``.

    Between sums of reps, W splits into blocks: for an in-component a with m
    copies and an out-component b with n copies,

    .. math::
        W_{ab} = \sum_k C_k \otimes B_k,

    with B_k the canonical basis of Hom(a, b) (solved once, a non-persistent
    buffer) and C_k a free (n × m) coefficient matrix (the parameters). The
    bias b = Q_out β lies in the invariant subspace of ``rep_out``.

    In training mode the layer assembles W from the coefficients at each call
    (one small matrix product per block pair, as a single autograd node:
    :func:`~constrainnet.nn.assembly.assemble_weight`); in eval mode
    under ``torch.no_grad()`` it caches W, rebuilt after any parameter change.
    ``export()`` gives a plain ``torch.nn.Linear``.

    Args:
        rep_in: the input rep.
        rep_out: the output rep (of the same group).
        bias: whether to learn an invariant bias.
        device, dtype: of the parameters and buffers (bases are solved in float64
            and cast once).

    Shape:
        - Input: (*, rep_in.size)
        - Output: (*, rep_out.size)

    Attributes:
        coefficients: one parameter (r, n, m) per block pair with r > 0,
            initialised U(-s, s) with s = sqrt(|b| / Σ_a m_a r_ab), so that for
            unit-variance inputs every output has variance 1/3, as with
            ``torch.nn.Linear``'s default initialisation.
        bias_coefficients: (r_out,) coefficients of the bias in the invariant
            basis, U(-1/sqrt(in), 1/sqrt(in)) as ``torch.nn.Linear``'s bias.

    Raises:
        RepMismatchError: reps of different groups, or an input of the wrong width.

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

    def __init__(self, rep_in: Rep, rep_out: Rep, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if not isinstance(rep, Rep):
                raise TypeError(f"Linear: expected {name} to be a Rep, got {type(rep).__name__}")
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"Linear: expected reps of one group, got rep_in of {rep_in.G!r} and rep_out of {rep_out.G!r}")
        factory = {"device": device, "dtype": dtype if dtype is not None else torch.get_default_dtype()}
        self.rep_in = rep_in
        self.rep_out = rep_out
        self.in_features = rep_in.size
        self.out_features = rep_out.size
        plan = LinearPlan(rep_in, rep_out)
        self._plan = plan
        self._float64_buffers: dict[str, np.ndarray] = {}
        self.coefficients = nn.ParameterList(
            [
                nn.Parameter(torch.empty(p.r, plan.outputs[p.j].mult, plan.inputs[p.i].mult, **factory))
                for p in plan.pairs
            ]
        )
        self._layout = []
        for t, p in enumerate(plan.pairs):
            self._register_basis(f"basis_{t}", p.basis, factory)
            inp, out = plan.inputs[p.i], plan.outputs[p.j]
            self._layout.append(BlockLayout(out.offset, out.mult, out.rep.size, inp.offset, inp.mult, inp.rep.size, p.r))
        if bias:
            q = np.asarray(rep_out.equivariant_basis())
            self._register_basis("bias_basis", q, factory)
            self.bias_coefficients = nn.Parameter(torch.empty(q.shape[1], **factory))
        else:
            self.register_buffer("bias_basis", None, persistent=False)
            self.register_parameter("bias_coefficients", None)
        self._cache: tuple | None = None
        self.reset_parameters()

    def _register_basis(self, name: str, array: np.ndarray, factory: dict) -> None:
        self._float64_buffers[name] = array
        self.register_buffer(name, torch.as_tensor(array, **factory), persistent=False)

    # -- initialisation ------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw the coefficients as documented in the class docstring (torch's global RNG)."""
        plan = self._plan
        fan = [0] * len(plan.outputs)
        for p in plan.pairs:
            fan[p.j] += plan.inputs[p.i].mult * p.r
        with torch.no_grad():
            for c, p in zip(self.coefficients, plan.pairs):
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

    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight W = Σ_k C_k ⊗ B_k, assembled block by block (differentiable)."""
        if not self._layout:
            ref = self._reference()
            return ref.new_zeros(self.out_features, self.in_features)
        bases = [getattr(self, f"basis_{t}") for t in range(len(self._layout))]
        return assemble_weight((self.out_features, self.in_features), self._layout, bases, list(self.coefficients))

    def bias(self) -> torch.Tensor | None:
        """The bias Q_out β (in the invariant subspace of rep_out), or None."""
        if self.bias_coefficients is None:
            return None
        return self.bias_basis @ self.bias_coefficients

    def _reference(self) -> torch.Tensor:
        for buf in self.buffers():
            return buf
        return torch.zeros(())

    def _cached_weight(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.weight().detach(), None if self.bias() is None else self.bias().detach())
        return self._cache[1], self._cache[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "Linear")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        if not self.training and not torch.is_grad_enabled():
            weight, bias = self._cached_weight()
            y = F.linear(x2, weight, bias)
        else:
            y = F.linear(x2, self.weight(), self.bias())
        return y.reshape(*lead, self.out_features)

    def train(self, mode: bool = True) -> "Linear":
        self._cache = None
        return super().train(mode)

    def _apply(self, fn: Any, recurse: bool = True) -> "Linear":
        # Casting a float32 basis to float64 would keep float32 accuracy: rebuild
        # every basis buffer from its float64 solution in the new dtype instead.
        self._cache = None
        out = super()._apply(fn, recurse)
        for name, array in self._float64_buffers.items():
            buf = getattr(self, name)
            if buf is not None:
                setattr(self, name, torch.as_tensor(array, dtype=buf.dtype, device=buf.device))
        return out

    # -- export and fingerprint ----------------------------------------------
    def export(self) -> nn.Linear:
        """A plain ``torch.nn.Linear`` with the same weight and bias (a detached copy)."""
        ref = self._reference()
        out = nn.Linear(self.in_features, self.out_features, bias=self.bias_coefficients is not None, device=ref.device, dtype=ref.dtype)
        with torch.no_grad():
            out.weight.copy_(self.weight())
            if out.bias is not None:
                out.bias.copy_(self.bias())
        return out

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

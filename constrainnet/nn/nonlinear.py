"""Equivariant nonlinearities: gated, norm-based and (where allowed) pointwise."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RepError, RepMismatchError
from ..reps import Rep, Scalar, ScalarRep
from .checks import check_device, check_floating, check_input, check_like, factory_kwargs
from .fields import FieldType
from .plan import components

__all__ = ["gated", "GatedNonlinearity", "NormNonlinearity", "PointwiseNonlinearity", "gate_count"]

# the out= / grad_input= overloads used by the fused gate, resolved once (torch.ops lookups are slow)
_SILU_OUT = torch.ops.aten.silu.out
_SILU_BACKWARD = torch.ops.aten.silu_backward.grad_input
_SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward.grad_input


def _features(rep: Rep | FieldType, what: str) -> tuple[Rep, FieldType | None]:
    """(the rep of the features, the field type when they are feature maps (N, C, H, W), else None)."""
    if isinstance(rep, FieldType):
        return rep.rep, rep
    if not isinstance(rep, Rep):
        raise TypeError(f"{what}: expected a Rep or a FieldType, got {type(rep).__name__}")
    return rep, None


def _check_map(module: nn.Module, x: Any) -> None:
    """Raise unless x is a (N, C, H, W) feature map of ``module.in_type``."""
    name = type(module).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != module.in_type.size:
        raise RepMismatchError(f"{name}: expected a feature map (N, {module.in_type.size}, H, W), got shape {tuple(x.shape)}")


def _channels_last(module: nn.Module, x: torch.Tensor, forward: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply a features-last ``forward`` to a (N, C, H, W) feature map of ``module.in_type``."""
    _check_map(module, x)
    return forward(x.movedim(1, -1)).movedim(-1, 1)


def _pointwise_ok(rep: Rep) -> bool:
    return isinstance(rep, ScalarRep) or rep.is_permutation


def gate_count(rep: Rep) -> int:
    """Number of gate scalars ``gated(rep)`` adds: one per copy of each component that is neither scalar nor permutation."""
    return sum(c.mult for c in components(rep) if not _pointwise_ok(c.rep))


def gated(rep: Rep) -> Rep:
    """``rep`` followed by one gate scalar per copy of each non-scalar, non-permutation component.

    This is the input rep of :class:`GatedNonlinearity` (rep).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> gated(2 * V**0 + 3 * V)
        2*Scalar + 3*V + 3*Scalar
    """
    k = gate_count(rep)
    return rep + k * Scalar(rep.G) if k else rep


class GatedNonlinearity(nn.Module):
    r"""Gate every non-scalar block by a sigmoid of its own scalar: y_c = σ(s_c) · x_c.

    The input is ``gated(rep)``: the features of ``rep`` followed by one gate
    scalar per copy of each component that is not a scalar or a permutation
    rep. Scalars and permutation-rep coordinates are gated pointwise by
    themselves (y = x σ(x), the SiLU), which commutes with permutations; every
    other copy is multiplied by σ of its invariant gate, which commutes with
    any ρ(g).

    On feature maps, give a :class:`~constrainnet.nn.FieldType` t: the input
    is ``in_type`` = t's fields followed by one scalar gate field per gated
    field, channels first (N, C, H, W).

    Args:
        rep: the rep of the features (the output), or a FieldType.
        device, dtype: of the 0/1 buffers that expand gates over their copies.
            The layer has no parameters and takes inputs of any floating dtype
            (as ``torch.nn.SiLU``), on the device of its buffers.

    Raises:
        DtypeError: an input that is not floating, or a non-floating ``dtype``.
        DeviceError: an input on another device than the buffers, or an unknown ``device``.

    Shape:
        - Input: ``(*, gated(rep).size)``
        - Output: ``(*, rep.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> act = GatedNonlinearity(4 * V**0 + 2 * V)
        >>> act(torch.randn(5, 12)).shape
        torch.Size([5, 10])
    """

    def __init__(self, rep: Rep | FieldType, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = factory_kwargs(device, dtype, "GatedNonlinearity")
        rep, fields = _features(rep, "GatedNonlinearity")
        self.out_type = fields
        self.in_type = None if fields is None else FieldType(fields.G, fields.reps + gate_count(rep) * (Scalar(rep.G),), fields.grid)
        self.rep = rep
        self.rep_in = gated(rep)
        self.rep_out = rep
        # The coordinates of rep in runs of adjacent components of one kind: a
        # self-gated run (scalars, permutation reps) goes through SiLU; a gated
        # run is multiplied by the sigmoids of its gates, expanded to one per
        # coordinate by a 0/1 matrix (the gates of the run's copies × the run's
        # coordinates): a matrix product, where a gather would scatter-add in
        # its backward and broadcasting over tiny blocks is slow.
        runs: list[list] = []  # [size, gated, [(copies, size), ...]]
        for c in components(rep):
            gated_c = not _pointwise_ok(c.rep)
            if not runs or runs[-1][1] != gated_c:
                runs.append([0, gated_c, []])
            runs[-1][0] += c.size
            runs[-1][2].append((c.mult, c.rep.size))
        self._sizes = [size for size, _, _ in runs] + [self.rep_in.size - rep.size]
        self._gate_sizes = []
        self._expansions: list[str | None] = []
        # per run, for the fused path: its columns, its gates' columns among the
        # gates (empty for a self-gated run) and its expansion buffer (or None)
        self._fused_runs: list[tuple[slice, slice, str | None]] = []
        start, gate = 0, 0
        for t, (size, gated_run, blocks) in enumerate(runs):
            if not gated_run:
                self._expansions.append(None)
                self._fused_runs.append((slice(start, start + size), slice(gate, gate), None))
                start += size
                continue
            copies = sum(mult for mult, _ in blocks)
            expand = torch.zeros(copies, size, dtype=factory["dtype"])
            copy, at = 0, 0
            for mult, block_size in blocks:
                for _ in range(mult):
                    expand[copy, at : at + block_size] = 1.0
                    copy, at = copy + 1, at + block_size
            self.register_buffer(f"expand_{t}", expand.to(factory["device"]), persistent=False)
            self._expansions.append(f"expand_{t}")
            self._gate_sizes.append(copies)
            self._fused_runs.append((slice(start, start + size), slice(gate, gate + copies), f"expand_{t}"))
            start, gate = start + size, gate + copies
        # a buffer whose device inputs must share (none when every run is self-gated)
        self._first_expansion = next((name for name in self._expansions if name is not None), None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_type is not None:
            return _channels_last(self, x, self._forward)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "GatedNonlinearity")
        check_floating(x, "GatedNonlinearity")
        if self._first_expansion is not None:
            check_device(x, self._buffers[self._first_expansion], "GatedNonlinearity")
        # one sigmoid over features and gates; the gate of each coordinate is
        # its own sigmoid (self-gated runs: x σ(x) is SiLU) or its copy's gate,
        # expanded by a matrix product; then a single product with the features
        *runs, gates = torch.sigmoid(x).split(self._sizes, dim=-1)
        gates = iter(gates.split(self._gate_sizes, dim=-1) if len(self._gate_sizes) > 1 else (gates,))
        parts = [run if expand is None else next(gates) @ getattr(self, expand).to(run.dtype) for run, expand in zip(runs, self._expansions)]
        factor = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
        return x[..., : self.rep.size] * factor

    def fused_forward(self, y: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor | None, torch.Tensor]]:
        """The forward on a 2-D y without autograd, for :meth:`fused_backward`: (output, saved tensors).

        Sigmoids only where they are used: SiLU on self-gated runs, σ of the
        gates expanded over their copies on gated runs (the features' own
        sigmoids are never formed).
        """
        n = self.rep.size
        out = y.new_empty(y.shape[0], n)
        gates = torch.sigmoid(y[:, n:]) if y.shape[1] > n else None
        factor = y.new_empty(y.shape[0], n) if gates is not None else out
        for run, gate_cols, expand in self._fused_runs:
            if expand is None:
                _SILU_OUT(y[:, run], out=out[:, run])
                continue
            expansion = self._buffers[expand]
            torch.mm(gates[:, gate_cols], expansion if expansion.dtype == y.dtype else expansion.to(y.dtype), out=factor[:, run])
            torch.mul(y[:, run], factor[:, run], out=out[:, run])
        return out, (gates, factor)

    def fused_backward(self, grad: torch.Tensor, y: torch.Tensor, saved: tuple[torch.Tensor | None, torch.Tensor], out: torch.Tensor) -> None:
        r"""Write ∂L/∂y into ``out`` (y's shape) from ∂L/∂output, with y and the tensors saved by :meth:`fused_forward`.

        Self-gated runs: the SiLU derivative σ(y)(1 + y(1 − σ(y))). Gated runs:
        ∂y_c = ∂out_c σ(s_c), and each gate gets Σ_c ∂out_c y_c over its copy
        (a product with the transposed expansion) times σ'(gate).
        """
        gates, factor = saved
        n = self.rep.size
        for run, gate_cols, expand in self._fused_runs:
            if expand is None:
                _SILU_BACKWARD(grad[:, run], y[:, run], grad_input=out[:, run])
                continue
            expansion = self._buffers[expand]
            expansion = expansion if expansion.dtype == y.dtype else expansion.to(y.dtype)
            torch.mul(grad[:, run], factor[:, run], out=out[:, run])
            gate_grad = (grad[:, run] * y[:, run]).mm(expansion.t())
            _SIGMOID_BACKWARD(gate_grad, gates[:, gate_cols], grad_input=out[:, n + gate_cols.start : n + gate_cols.stop])

    def extra_repr(self) -> str:
        return f"rep={self.rep!r}, gates={self.rep_in.size - self.rep.size}"


class NormNonlinearity(nn.Module):
    r"""Scale each copy of a non-scalar block by a function of its norm: y_c = x_c · σ(‖x_c‖ + β_c).

    Scalars pass through SiLU. β_c is a learned bias per copy. The norm is
    invariant only under orthogonal ρ, so a component whose rep is not
    orthogonal (e.g. V of the Lorentz group) is rejected.

    Args:
        rep: the rep of the features, or a :class:`~constrainnet.nn.FieldType`
            (then inputs are feature maps (N, C, H, W)).
        device, dtype: of the bias β (initialised to zero).

    Raises:
        RepError: a component whose rep is not orthogonal.
        DtypeError: an input of another dtype than β, or a non-floating ``dtype``.
        DeviceError: an input on another device than β, or an unknown ``device``.

    Shape:
        - Input: ``(*, rep.size)``
        - Output: ``(*, rep.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> NormNonlinearity(2 * V**0 + V**2)(torch.randn(3, 11)).shape
        torch.Size([3, 11])
    """

    def __init__(self, rep: Rep | FieldType, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        factory = factory_kwargs(device, dtype, "NormNonlinearity")
        rep, self.in_type = _features(rep, "NormNonlinearity")
        self.out_type = self.in_type
        self.rep_in = self.rep_out = rep
        bad = [c.rep for c in components(rep) if not isinstance(c.rep, ScalarRep) and not c.rep.is_orthogonal]
        if bad:
            raise RepError(f"NormNonlinearity: expected orthogonal components (norms must be invariant), got {bad[0]!r} of {rep.G!r}")
        self._blocks = [(c.offset, c.mult, c.rep.size, isinstance(c.rep, ScalarRep)) for c in components(rep)]
        n_bias = sum(m for _, m, _, scalar in self._blocks if not scalar)
        self.bias = nn.Parameter(torch.zeros(n_bias, **factory))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_type is not None:
            return _channels_last(self, x, self._forward)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "NormNonlinearity")
        check_like(x, self.bias, "NormNonlinearity")
        lead = x.shape[:-1]
        parts = []
        used = 0
        for offset, mult, size, scalar in self._blocks:
            block = x[..., offset : offset + mult * size]
            if scalar:
                parts.append(F.silu(block))
                continue
            copies = block.reshape(*lead, mult, size)
            norm = copies.norm(dim=-1, keepdim=True)
            gate = torch.sigmoid(norm + self.bias[used : used + mult, None])
            parts.append((copies * gate).reshape(*lead, mult * size))
            used += mult
        return torch.cat(parts, dim=-1)


class PointwiseNonlinearity(nn.Module):
    """An elementwise function, allowed only where it is equivariant: scalars and permutation reps.

    Args:
        rep: the rep of the features, or a :class:`~constrainnet.nn.FieldType`
            (then inputs are feature maps (N, C, H, W): regular, quotient and
            trivial fields).
        fn: the elementwise function (default SiLU).

    Raises:
        RepError: ``rep`` has a component on which an elementwise function breaks
            equivariance (anything but scalars and permutation reps).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> _ = PointwiseNonlinearity(cn.V(S(4)) ** 2)
        >>> PointwiseNonlinearity(cn.V(SO(3)))
        Traceback (most recent call last):
        ...
        constrainnet.errors.RepError: PointwiseNonlinearity: an elementwise function breaks equivariance on V of SO(3); expected scalars or permutation reps (use GatedNonlinearity or NormNonlinearity)
    """

    def __init__(self, rep: Rep | FieldType, fn: Callable[[torch.Tensor], torch.Tensor] = F.silu) -> None:
        super().__init__()
        rep, self.in_type = _features(rep, "PointwiseNonlinearity")
        self.out_type = self.in_type
        for c in components(rep):
            if not _pointwise_ok(c.rep):
                raise RepError(
                    f"PointwiseNonlinearity: an elementwise function breaks equivariance on {c.rep!r} of {rep.G!r}; "
                    "expected scalars or permutation reps (use GatedNonlinearity or NormNonlinearity)"
                )
        self.rep_in = self.rep_out = rep
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_type is not None:
            _check_map(self, x)
            check_floating(x, "PointwiseNonlinearity")
            return self.fn(x)
        check_input(x, self.rep_in, "PointwiseNonlinearity")
        check_floating(x, "PointwiseNonlinearity")
        return self.fn(x)

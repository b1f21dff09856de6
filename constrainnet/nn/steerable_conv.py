r"""The steerable convolution: ``torch.nn.Conv2d`` with its kernel in the equivariant subspace."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RepMismatchError
from ..reps import Rep, Scalar
from .assembly import CachedAssembly
from .checks import check_like, factory_kwargs
from .fields import FieldType
from .steerable_kernels import check_kernel_arguments, kernel_basis

__all__ = ["SteerableConv2d", "PADDING_MODES"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_SIGNATURE_RTOL = 1e-6


def _groups(t: FieldType) -> tuple[list[Rep], list[list[int]], np.ndarray]:
    """Distinct field reps (first appearance), the fields of each, and the channels in that grouped order."""
    reps: list[Rep] = []
    fields: list[list[int]] = []
    for i, r in enumerate(t.reps):
        if r not in reps:
            reps.append(r)
            fields.append([])
        fields[reps.index(r)].append(i)
    order = np.concatenate([np.arange(t.size)[t.slice(i)] for fs in fields for i in fs])
    return reps, fields, order


def _pair_int(value: Any, what: str, minimum: int) -> tuple[int, int]:
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum for v in pair):
        raise ValueError(f"SteerableConv2d: expected {what} an int ≥ {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


class SteerableConv2d(CachedAssembly):
    r"""A 2-d convolution between feature fields that commutes with a point group and the grid's translations.

    The kernel is K = Σ_t c_t K_t over the solved basis of equivariant kernels
    between each pair of field types (:func:`~constrainnet.nn.steerable_kernels.kernel_basis`):
    between m_in fields of type a and m_out fields of type b, a free
    (m_out, m_in, r_ab) coefficient block. The layer gathers the (C_out, C_in,
    k, k) kernel from the coefficients and calls one ``conv2d``
    (cross-correlation, as ``torch.nn.Conv2d``):

    .. math::
        y(p) = b + \sum_{\delta} K(\delta)\, x(p + \delta),
        \qquad K(L(g)\delta) = \rho_{out}(g) K(\delta) \rho_{in}(g)^{-1}.

    The bias lies in the invariant vectors of each output field (one number
    per trivial field, one per regular field, none for a non-trivial irreducible).
    Equivariance is exact for the grid's elements of G
    (:meth:`FieldType.grid_elements`) when the rotation about the image
    centre maps the sampled output grid onto itself: zero padding and an
    image that the group maps onto itself, or reflect/replicate/circular
    padding of a square image; with stride s, (H + 2·padding − dilation·(k − 1) − 1)
    divisible by s. The coefficients are drawn as ``Linear``'s: uniform with
    bound √(d_out / fan), fan = Σ m_in r over the pairs into that output type.
    In eval mode under ``torch.no_grad()`` the kernel is cached (rebuilt when a
    parameter changes). ``export()`` gives a plain ``torch.nn.Conv2d``.

    Args:
        in_type, out_type: the field types (one group, one grid).
        kernel_size: the odd side k of the kernel window.
        stride, padding, dilation: as ``torch.nn.Conv2d`` (ints or pairs).
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        bias: learn an invariant bias.
        basis: ``"grid"`` (every equivariant kernel on the window; exact) or
            ``"harmonic"`` (band-limited rings, see :mod:`~constrainnet.nn.steerable_kernels`).
        max_frequency: the harmonic basis' cap on angular frequency.
        device, dtype: of the parameters.

    Raises:
        TypeError: a type is not a FieldType.
        RepMismatchError: the types are of different groups or grids.
        ValueError: a bad size, stride, padding, dilation, padding mode or basis.
        RepError: ``basis="grid"`` for a group that does not preserve the grid.

    Shape:
        - Input: ``(N, in_type.size, H, W)``
        - Output: ``(N, out_type.size, H_out, W_out)``, as ``torch.nn.Conv2d``.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> G = D(4)
        >>> t_in = cn.nn.FieldType(G, [cn.Scalar(G)])
        >>> t_out = cn.nn.FieldType(G, 4 * [cn.regular(G)])
        >>> conv = SteerableConv2d(t_in, t_out, 5, padding=2)
        >>> x = torch.randn(2, 1, 9, 9)
        >>> g = G.discrete_generators[0]
        >>> torch.allclose(conv(t_in.transform(x, g)), t_out.transform(conv(x), g), atol=1e-5)
        True
    """

    def __init__(
        self,
        in_type: FieldType,
        out_type: FieldType,
        kernel_size: int,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        bias: bool = True,
        basis: str = "grid",
        max_frequency: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, t in (("in_type", in_type), ("out_type", out_type)):
            if not isinstance(t, FieldType):
                raise TypeError(f"SteerableConv2d: expected {name} a FieldType, got {type(t).__name__}")
        if in_type.G != out_type.G or in_type.grid != out_type.grid:
            raise RepMismatchError(
                f"SteerableConv2d: in_type is over {in_type.G!r} on the {in_type.grid} grid, "
                f"out_type over {out_type.G!r} on the {out_type.grid} grid: expected the same"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"SteerableConv2d: expected padding_mode in {PADDING_MODES}, got {padding_mode!r}")
        factory = factory_kwargs(device, dtype, "SteerableConv2d")
        kernel_size, max_frequency = check_kernel_arguments(kernel_size, basis, max_frequency, "SteerableConv2d")
        self.in_type, self.out_type = in_type, out_type
        self.kernel_size = kernel_size
        self.stride = _pair_int(stride, "stride", 1)
        self.padding = _pair_int(padding, "padding", 0)
        self.dilation = _pair_int(dilation, "dilation", 1)
        self.padding_mode = padding_mode
        self.basis, self.max_frequency = basis, max_frequency
        in_reps, in_fields, in_order = _groups(in_type)
        out_reps, out_fields, out_order = _groups(out_type)
        self._in_counts = [len(f) for f in in_fields]
        self._in_sizes = [r.size for r in in_reps]
        # (out type, in type, r, buffer name) per pair with a non-empty basis
        self._pairs: list[tuple[int, int, int, str]] = []
        signature = 0.0
        for b, rb in enumerate(out_reps):
            for a, ra in enumerate(in_reps):
                E = kernel_basis(ra, rb, in_type.grid, kernel_size, basis, max_frequency)
                if len(E):
                    name = f"kernel_basis_{b}_{a}"
                    self._register_float64(name, np.array(E), factory)
                    self._pairs.append((b, a, len(E), name))
                    signature += _fingerprint(E)
                    gather = _orbit_gather(E, len(in_fields[a]))
                    if gather is not None:  # an orbit basis: the kernel block is one gather of the coefficients
                        self.register_buffer(f"{name}_index", torch.as_tensor(gather[0], device=factory["device"]), persistent=False)
                        self._register_float64(f"{name}_value", gather[1], factory)
        self._out_blocks = [(len(out_fields[b]), rb.size) for b, rb in enumerate(out_reps)]
        self._register_index("in_inverse", in_order, factory["device"])
        self._register_index("out_inverse", out_order, factory["device"])
        bias_bases = [np.asarray((Scalar(rb.G) >> rb).equivariant_basis()) for rb in out_reps]
        self._bias_pairs = []
        for b, q in enumerate(bias_bases):
            if q.shape[1]:
                self._register_float64(f"bias_basis_{b}", np.array(q), factory)
                self._bias_pairs.append((b, q.shape[1], f"bias_basis_{b}"))
        self._signature = signature
        n_coef = sum(len(out_fields[b]) * len(in_fields[a]) * r for b, a, r, _ in self._pairs)
        self.coefficients = nn.Parameter(torch.empty(n_coef, **factory))
        if bias:
            n_bias = sum(self._out_blocks[b][0] * s for b, s, _ in self._bias_pairs)
            self.bias_coefficients = nn.Parameter(torch.empty(n_bias, **factory))
        else:
            self.register_parameter("bias_coefficients", None)
        self.reset_parameters()

    def _register_index(self, name: str, order: np.ndarray, device: Any) -> None:
        if np.array_equal(order, np.arange(len(order))):
            self.register_buffer(name, None, persistent=False)
        else:
            self.register_buffer(name, torch.as_tensor(np.argsort(order), device=device), persistent=False)

    # -- parameters ----------------------------------------------------------
    def reset_parameters(self) -> None:
        """Draw the coefficients as documented in the class docstring (torch's global RNG)."""
        fan = [0] * len(self._out_blocks)
        for b, a, r, _ in self._pairs:
            fan[b] += self._in_counts[a] * r
        with torch.no_grad():
            for (b, a, r, _), c in zip(self._pairs, self._pair_coefficients()):
                c.uniform_(-1.0, 1.0).mul_(math.sqrt(self._out_blocks[b][1] / fan[b]))
            if self.bias_coefficients is not None:
                self.bias_coefficients.zero_()
        self._cache = None

    def _pair_coefficients(self) -> list[torch.Tensor]:
        out, start = [], 0
        for b, a, r, _ in self._pairs:
            n = self._out_blocks[b][0] * self._in_counts[a] * r
            out.append(self.coefficients[start : start + n].view(self._out_blocks[b][0], self._in_counts[a], r))
            start += n
        return out

    @property
    def num_coefficients(self) -> int:
        """Free parameters of the kernel (the bias excluded)."""
        return self.coefficients.numel()

    # -- the kernel ----------------------------------------------------------
    def _assemble(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        k = self.kernel_size
        c = self.coefficients
        blocks: dict[tuple[int, int], torch.Tensor] = {}
        for (b, a, r, name), coef in zip(self._pairs, self._pair_coefficients()):
            m_out, d_out = self._out_blocks[b]
            rows, cols = m_out * d_out, self._in_counts[a] * self._in_sizes[a]
            index = self._buffers.get(f"{name}_index")
            if index is not None:  # block[(o, p), (i, q), x, y] = c[o, i, label(p, q, x, y)] · value(p, q, x, y)
                blk = coef.reshape(m_out, -1).index_select(1, index) * self._buffers[f"{name}_value"]
                blocks[b, a] = blk.view(rows, cols, k, k)
                continue
            E = getattr(self, name)  # (r, d_out, d_in, k, k)
            blk = torch.mm(coef.reshape(-1, r), E.reshape(r, -1))  # (m_out m_in, d_out d_in k²)
            blk = blk.view(m_out, self._in_counts[a], d_out, self._in_sizes[a], k, k).permute(0, 2, 1, 3, 4, 5)
            blocks[b, a] = blk.reshape(rows, cols, k, k)
        rows = []
        for b, (m_out, d_out) in enumerate(self._out_blocks):
            row = [
                blocks.get((b, a), c.new_zeros(m_out * d_out, m * d, k, k))
                for a, (m, d) in enumerate(zip(self._in_counts, self._in_sizes))
            ]
            rows.append(row[0] if len(row) == 1 else torch.cat(row, dim=1))
        weight = rows[0] if len(rows) == 1 else torch.cat(rows, dim=0)
        if self.out_inverse is not None:
            weight = weight.index_select(0, self.out_inverse)
        if self.in_inverse is not None:
            weight = weight.index_select(1, self.in_inverse)
        return weight, self._assemble_bias()

    def _assemble_bias(self) -> torch.Tensor | None:
        if self.bias_coefficients is None:
            return None
        parts = [self.bias_coefficients.new_zeros(m * d) for m, d in self._out_blocks]
        start = 0
        for b, s, name in self._bias_pairs:
            m, d = self._out_blocks[b]
            coef = self.bias_coefficients[start : start + m * s].view(m, s)
            parts[b] = (coef @ getattr(self, name).T).reshape(m * d)
            start += m * s
        bias = torch.cat(parts)
        return bias if self.out_inverse is None else bias.index_select(0, self.out_inverse)

    @property
    def weight(self) -> torch.Tensor:
        """The (C_out, C_in, k, k) kernel, assembled from the coefficients (differentiable)."""
        return self._assemble()[0]

    @property
    def bias(self) -> torch.Tensor | None:
        """The (C_out,) bias, or None."""
        return self._assemble_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SteerableConv2d: expected a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != self.in_type.size:
            raise RepMismatchError(
                f"SteerableConv2d: expected input (N, {self.in_type.size}, H, W), got shape {tuple(x.shape)}"
            )
        check_like(x, self.coefficients, "SteerableConv2d")
        weight, bias = self._weights()
        if self.padding_mode == "zeros":
            return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation)
        ph, pw = self.padding
        x = F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
        return F.conv2d(x, weight, bias, self.stride, 0, self.dilation)

    def export(self) -> nn.Conv2d:
        """A plain ``torch.nn.Conv2d`` with this layer's kernel and bias (same dtype and device)."""
        weight, bias = self._assemble()
        conv = nn.Conv2d(
            self.in_type.size, self.out_type.size, self.kernel_size, self.stride, self.padding, self.dilation,
            bias=bias is not None, padding_mode=self.padding_mode, device=weight.device, dtype=weight.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(weight)
            if bias is not None:
                conv.bias.copy_(bias)
        return conv

    # -- saving --------------------------------------------------------------
    def get_extra_state(self) -> dict:
        return {"format": 1, "num_coefficients": self.num_coefficients, "signature": self._signature}

    def set_extra_state(self, state: Any) -> None:
        ok = (
            isinstance(state, dict)
            and state.get("format") == 1
            and state.get("num_coefficients") == self.num_coefficients
            and abs(state.get("signature", math.inf) - self._signature) <= _SIGNATURE_RTOL * max(1.0, abs(self._signature))
        )
        if not ok:
            raise RepMismatchError(
                "SteerableConv2d: the state dict was saved from a layer with another kernel basis "
                f"(saved {state!r}, this layer has {self.num_coefficients} coefficients, signature {self._signature:.6g})"
            )

    def extra_repr(self) -> str:
        return (
            f"{self.in_type}, {self.out_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, padding_mode={self.padding_mode!r}, basis={self.basis!r}, "
            f"coefficients={self.num_coefficients}, bias={self.bias_coefficients is not None}"
        )


def _orbit_gather(E: np.ndarray, m_in: int) -> tuple[np.ndarray, np.ndarray] | None:
    """For a basis whose elements have disjoint supports (orbit indicators), the gather that builds a kernel block.

    Returns (index, value), both (d_out, m_in, d_in, k, k) flattened: entry
    (p, i, q, x, y) of a block row o is c[o, i, t] · value with index = i·r + t,
    t the element whose support holds (p, q, x, y) (value 0 where none does);
    or None when supports overlap.
    """
    r = E.shape[0]
    flat = E.reshape(r, -1)
    support = flat != 0
    if np.any(support.sum(0) > 1):
        return None
    label = np.argmax(support, axis=0)
    value = flat[label, np.arange(flat.shape[1])]  # 0 where no element is supported
    d_out, d_in, k = E.shape[1], E.shape[2], E.shape[3]
    label = label.reshape(d_out, 1, d_in, k, k)
    value = value.reshape(d_out, 1, d_in, k, k)
    index = label + r * np.arange(m_in).reshape(1, m_in, 1, 1, 1)
    return index.reshape(-1).astype(np.int64), np.broadcast_to(value, index.shape).reshape(-1).copy()


def _fingerprint(E: np.ndarray) -> float:
    """A number that changes when the basis does: Σ E · w for fixed weights w (independent of the machine)."""
    flat = E.reshape(-1)
    w = np.cos(np.arange(flat.size) * 0.7548776662466927)
    return float(flat @ w)

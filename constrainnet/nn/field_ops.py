r"""Equivariant operations on feature fields: group pooling, spatial pooling, batch norm.

Each takes (N, C, H, W) feature maps of a :class:`~constrainnet.nn.FieldType`
and commutes with the action of its point group (on the grid's elements):

- :class:`GroupPooling` turns each permutation field (regular, quotient)
  into one invariant channel (max or mean over its coordinates, which G
  permutes), each other field into its norm (invariant under orthogonal ρ);
  trivial fields pass unchanged.
- :class:`FieldPool2d` pools over space: average for any field (linear and
  per channel), max only on trivial and permutation fields (a channelwise
  max commutes with permuting channels, not with rotating them).
- :class:`FieldBatchNorm2d` normalises per field: the batch mean is projected
  on the field's invariant vectors (only those may be subtracted), the
  variance is the mean squared norm of the centred field over its dimension
  (one number per field), the affine scale is one number per field and the
  affine shift lies in the invariant vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import RepError, RepMismatchError
from ..reps import Rep, Scalar, ScalarRep
from .checks import factory_kwargs
from .fields import FieldType

__all__ = ["GroupPooling", "FieldPool2d", "FieldBatchNorm2d"]


def _check_type(t: Any, what: str) -> FieldType:
    if not isinstance(t, FieldType):
        raise TypeError(f"{what}: expected a FieldType, got {type(t).__name__}")
    return t


def _check_map(x: Any, t: FieldType, what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != t.size:
        raise RepMismatchError(f"{what}: expected a feature map (N, {t.size}, H, W), got shape {tuple(x.shape)}")


def _runs(t: FieldType) -> list[tuple[Rep, int, int, int]]:
    """Maximal runs of adjacent fields of one rep: (rep, first channel, copies, field size)."""
    runs: list[tuple[Rep, int, int, int]] = []
    for i, r in enumerate(t.reps):
        if runs and runs[-1][0] == r:
            rep, start, m, d = runs[-1]
            runs[-1] = (rep, start, m + 1, d)
        else:
            runs.append((r, t.slice(i).start, 1, r.size))
    return runs


class GroupPooling(nn.Module):
    r"""Pool each field over the group: one invariant channel per field.

    A permutation field (``cn.regular(G)``, ``cn.quotient(G, H)``) becomes the
    max (or mean) of its coordinates; a trivial field passes; any other field
    (orthogonal ρ) becomes its Euclidean norm. The output type has one trivial
    field per input field.

    Args:
        in_type: the input fields.
        mode: ``"max"`` or ``"mean"`` over a permutation field's coordinates.

    Raises:
        TypeError: ``in_type`` is not a FieldType.
        ValueError: an unknown mode.
        RepError: a field that is neither a permutation rep nor orthogonal.

    Shape:
        - Input: ``(N, in_type.size, H, W)``
        - Output: ``(N, len(in_type), H, W)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> G = D(4)
        >>> t = cn.nn.FieldType(G, 3 * [cn.regular(G)])
        >>> GroupPooling(t)(torch.randn(2, 24, 5, 5)).shape
        torch.Size([2, 3, 5, 5])
    """

    def __init__(self, in_type: FieldType, mode: str = "max") -> None:
        super().__init__()
        self.in_type = _check_type(in_type, "GroupPooling")
        if mode not in ("max", "mean"):
            raise ValueError(f"GroupPooling: expected mode 'max' or 'mean', got {mode!r}")
        for r in in_type.reps:
            if not (isinstance(r, ScalarRep) or r.is_permutation or r.is_orthogonal):
                raise RepError(f"GroupPooling: the field {r!r} is neither a permutation rep nor orthogonal")
        self.mode = mode
        self.out_type = FieldType(in_type.G, len(in_type) * [Scalar(in_type.G)], in_type.grid)
        self._runs = _runs(in_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x, self.in_type, "GroupPooling")
        N, _, H, W = x.shape
        parts = []
        for rep, start, m, d in self._runs:
            block = x[:, start : start + m * d].reshape(N, m, d, H, W)
            if d == 1 and isinstance(rep, ScalarRep):
                parts.append(block[:, :, 0])
            elif rep.is_permutation:
                parts.append(block.amax(dim=2) if self.mode == "max" else block.mean(dim=2))
            else:
                parts.append(block.norm(dim=2))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def extra_repr(self) -> str:
        return f"{self.in_type}, mode={self.mode!r}"


class FieldPool2d(nn.Module):
    r"""Spatial pooling of feature fields: average for any field, max for trivial and permutation fields.

    Equivariant when the pooling windows tile the image symmetrically about
    its centre (for instance kernel 2, stride 2 on an even-sized square image,
    or an odd kernel with padding k // 2 and stride 1).

    Args:
        in_type: the fields (the output has the same type).
        kernel_size, stride, padding: as ``torch.nn.AvgPool2d`` (stride
            defaults to the kernel size).
        mode: ``"avg"`` or ``"max"``.

    Raises:
        TypeError: ``in_type`` is not a FieldType.
        ValueError: an unknown mode.
        RepError: ``mode="max"`` with a field that is not trivial or a permutation rep.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, C, H_out, W_out)``, as ``torch.nn.AvgPool2d``.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import C
        >>> t = cn.nn.FieldType(C(4), [cn.regular(C(4))])
        >>> FieldPool2d(t, 2, mode="max")(torch.randn(1, 4, 8, 8)).shape
        torch.Size([1, 4, 4, 4])
    """

    def __init__(self, in_type: FieldType, kernel_size: Any, stride: Any = None, padding: Any = 0, mode: str = "avg") -> None:
        super().__init__()
        self.in_type = self.out_type = _check_type(in_type, "FieldPool2d")
        if mode not in ("avg", "max"):
            raise ValueError(f"FieldPool2d: expected mode 'avg' or 'max', got {mode!r}")
        if mode == "max":
            for r in in_type.reps:
                if not (isinstance(r, ScalarRep) or r.is_permutation):
                    raise RepError(
                        f"FieldPool2d: a channelwise max breaks equivariance on the field {r!r}; "
                        "expected trivial or permutation fields (use mode='avg')"
                    )
        self.kernel_size, self.stride, self.padding, self.mode = kernel_size, stride, padding, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x, self.in_type, "FieldPool2d")
        pool = F.max_pool2d if self.mode == "max" else F.avg_pool2d
        return pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"{self.in_type}, kernel_size={self.kernel_size}, stride={self.stride}, mode={self.mode!r}"


class FieldBatchNorm2d(nn.Module):
    r"""Batch normalisation per field, equivariant for orthogonal fields.

    For a field x ∈ R^d of rep ρ with invariant vectors Q (d × s, orthonormal),
    over the batch and the pixels:

    .. math::
        \mu = Q Q^\top \mathbb{E}[x], \quad
        \sigma^2 = \mathbb{E}\,\|x - \mu\|^2 / d, \quad
        y = \gamma\, (x - \mu) / \sqrt{\sigma^2 + \epsilon} + Q \beta.

    On a trivial field this is ``torch.nn.BatchNorm2d``; a field whose only
    invariant is the constant vector (regular, quotient: μ is the mean over
    its coordinates) is normalised by one fused ``batch_norm`` over all such
    adjacent fields. Running estimates (updated with ``momentum``; the
    variance unbiased, as torch's) are used in eval mode: ``running_mean``
    holds μ's coordinates (the field mean for constant-invariant fields, Qᵀμ
    for the others), ``running_var`` one number per field.

    Args:
        in_type: the fields (orthogonal reps); the output has the same type.
        eps, momentum: as ``torch.nn.BatchNorm2d``.
        affine: learn γ (one per field, init 1) and β (in the invariant vectors, init 0).
        device, dtype: of the parameters and running estimates.

    Raises:
        TypeError: ``in_type`` is not a FieldType.
        RepError: a field whose rep is not orthogonal.

    Shape:
        - Input: ``(N, C, H, W)``
        - Output: ``(N, C, H, W)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> G = D(4)
        >>> t = cn.nn.FieldType(G, [cn.regular(G), cn.V(G), cn.Scalar(G)])
        >>> FieldBatchNorm2d(t)(torch.randn(4, 11, 6, 6)).shape
        torch.Size([4, 11, 6, 6])
    """

    def __init__(
        self, in_type: FieldType, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
        device: Any = None, dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_type = self.out_type = _check_type(in_type, "FieldBatchNorm2d")
        factory = factory_kwargs(device, dtype, "FieldBatchNorm2d")
        for r in in_type.reps:
            if not r.is_orthogonal:
                raise RepError(f"FieldBatchNorm2d: expected orthogonal fields (norms must be invariant), got {r!r}")
        self.eps, self.momentum = float(eps), float(momentum)
        # per run of adjacent equal fields: (first channel, copies, size, first field, first mean coordinate, Q buffer or None)
        self._runs: list[tuple[int, int, int, int, int, str | None]] = []
        field, coord = 0, 0
        for t, (rep, start, m, d) in enumerate(_runs(in_type)):
            q = np.asarray((Scalar(rep.G) >> rep).equivariant_basis())
            uniform = q.shape[1] == 1 and np.allclose(np.abs(q[:, 0]), 1 / np.sqrt(d), atol=1e-12, rtol=0)
            name = None
            if not uniform:
                name = f"invariants_{t}"
                self.register_buffer(name, torch.as_tensor(np.array(q), **factory), persistent=False)
            self._runs.append((start, m, d, field, coord, name))
            field, coord = field + m, coord + m * (1 if uniform else q.shape[1])
        self.register_buffer("running_mean", torch.zeros(coord, **factory))
        self.register_buffer("running_var", torch.ones(field, **factory))
        if affine:
            self.weight = nn.Parameter(torch.ones(field, **factory))
            self.bias = nn.Parameter(torch.zeros(coord, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x, self.in_type, "FieldBatchNorm2d")
        N, _, H, W = x.shape
        parts = []
        for start, m, d, field, coord, name in self._runs:
            block = x[:, start : start + m * d]
            fields = slice(field, field + m)
            weight = None if self.weight is None else self.weight[fields]
            if name is None:
                coords = slice(coord, coord + m)
                bias = None if self.bias is None else self.bias[coords]
                y = F.batch_norm(
                    block.reshape(N, m, d * H, W), self.running_mean[coords], self.running_var[fields],
                    weight, bias, self.training, self.momentum, self.eps,
                )
                parts.append(y.reshape(N, m * d, H, W))
            else:
                parts.append(self._general(block.reshape(N, m, d, H, W), getattr(self, name), fields, coord, weight))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def _general(self, x: torch.Tensor, Q: torch.Tensor, fields: slice, coord: int, weight: torch.Tensor | None) -> torch.Tensor:
        """The normalisation of m fields (N, m, d, H, W) with invariant vectors Q (d, s)."""
        N, m, d, H, W = x.shape
        s = Q.shape[1]
        coords = slice(coord, coord + m * s)
        Q = Q.to(x.dtype)
        if self.training:
            c = x.mean(dim=(0, 3, 4)) @ Q  # (m, s)
            centred = x - (c @ Q.T)[None, :, :, None, None]
            var = centred.pow(2).mean(dim=(0, 3, 4)).sum(1) / d
            with torch.no_grad():
                n = N * H * W
                self.running_mean[coords].lerp_(c.detach().reshape(-1).to(self.running_mean.dtype), self.momentum)
                unbiased = var.detach() * (n * d / max(n * d - 1, 1))
                self.running_var[fields].lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        else:
            c = self.running_mean[coords].to(x.dtype).view(m, s)
            centred = x - (c @ Q.T)[None, :, :, None, None]
            var = self.running_var[fields].to(x.dtype)
        scale = torch.rsqrt(var + self.eps)
        if weight is not None:
            scale = scale * weight
        y = centred * scale[None, :, None, None, None]
        if self.bias is not None and s:
            y = y + (self.bias[coords].view(m, s) @ Q.T)[None, :, :, None, None]
        return y.reshape(N, m * d, H, W)

    def extra_repr(self) -> str:
        return f"{self.in_type}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"

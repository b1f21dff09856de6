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

    On a trivial field this is ``torch.nn.BatchNorm2d``. Running estimates of
    μ and σ² (updated with ``momentum``) are used in eval mode.

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
        self._runs = _runs(in_type)
        n_fields = len(in_type)
        # P = Q Qᵀ over all channels (block-diagonal), the projection on the invariant vectors
        proj = np.zeros((in_type.size, in_type.size))
        inv_cols = []
        for i, r in enumerate(in_type.reps):
            q = np.asarray((Scalar(r.G) >> r).equivariant_basis())
            s = in_type.slice(i)
            proj[s, s] = q @ q.T
            inv_cols += [(s.start, q)]
        self.register_buffer("invariant_projection", torch.as_tensor(proj, **factory), persistent=False)
        self.register_buffer("field_index", torch.as_tensor(
            np.repeat(np.arange(n_fields), [r.size for r in in_type.reps]), device=factory["device"]), persistent=False)
        self.register_buffer("field_size", torch.as_tensor([float(r.size) for r in in_type.reps], **factory), persistent=False)
        q_all = np.zeros((in_type.size, sum(q.shape[1] for _, q in inv_cols)))
        col = 0
        for start, q in inv_cols:
            q_all[start : start + q.shape[0], col : col + q.shape[1]] = q
            col += q.shape[1]
        self.register_buffer("invariant_basis", torch.as_tensor(q_all, **factory), persistent=False)
        self.register_buffer("running_mean", torch.zeros(in_type.size, **factory))
        self.register_buffer("running_var", torch.ones(n_fields, **factory))
        if affine:
            self.weight = nn.Parameter(torch.ones(n_fields, **factory))
            self.bias = nn.Parameter(torch.zeros(q_all.shape[1], **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_map(x, self.in_type, "FieldBatchNorm2d")
        P = self.invariant_projection.to(x.dtype)
        if self.training:
            mean = P @ x.mean(dim=(0, 2, 3))
            centred = x - mean[None, :, None, None]
            sq = centred.pow(2).mean(dim=(0, 2, 3))
            var = torch.zeros_like(self.running_var, dtype=x.dtype).index_add(0, self.field_index, sq) / self.field_size
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
                self.running_var.lerp_(var.detach().to(self.running_var.dtype), self.momentum)
        else:
            mean, var = self.running_mean.to(x.dtype), self.running_var.to(x.dtype)
            centred = x - mean[None, :, None, None]
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        y = centred * scale[self.field_index][None, :, None, None]
        if self.bias is not None:
            y = y + (self.invariant_basis.to(x.dtype) @ self.bias)[None, :, None, None]
        return y

    def extra_repr(self) -> str:
        return f"{self.in_type}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"

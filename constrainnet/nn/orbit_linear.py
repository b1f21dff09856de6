r"""The orbit plan of :class:`~constrainnet.nn.Linear`: orbit bases by gathers, image reps by convolution.

``Linear(..., plan="orbit")`` (chosen by ``plan="auto"`` for a support, image
reps of ``P4M(n)`` and large orbit bases; see :mod:`constrainnet.nn.linear_plans`)
never forms a dense ``(r, |b|, |a|)`` basis:

- pairs between image reps become one multi-channel circular ``conv2d``, its
  kernel K = C E gathered from the coefficients C by a fixed (r, k²) matrix
  E (:mod:`constrainnet.nn.conv`);
- the other pairs (scalars to images, images to scalars, any other rep)
  are gathered into small dense weights from their orbit labels, W[o, i] =
  ``c[orbit(o, i)] / sqrt(|orbit|)``, by one ``embedding_bag`` per weight
  (:class:`~constrainnet.nn.assembly.SparseSum`): W_1 for the rows of image
  outputs and the columns of the other inputs, W_2 for the other rows.

The coefficients are those of the canonical orbit bases (restricted to the
support): without a support a layer's state dict is interchangeable with the
assembled plan's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..reps import Rep
from .assembly import WeightAssembly, WeightPart
from .conv import FFT_MIN_KERNEL, circular_conv, is_image_rep, kernel_expansion, kernel_grid
from .linear_plans import KERNEL_FLOPS, REFERENCE_BATCH, LinearPlanBase, dense_flops, register_plan
from .orbit_plan import SparsePlan
from .plan import components

__all__ = ["OrbitPlan"]


class OrbitPlan(LinearPlanBase):
    r"""Orbit pairs gathered from their labels, image pairs as one circular convolution; takes a ``support``.

    ``support``: an odd int k (on image reps of ``P4M(n)`` the V → V blocks
    become local D4-symmetric k×k circular convolutions, one free parameter
    per D4 orbit of the window's displacements and channel pair), or a
    boolean mask over W (out, in) that is a union of orbits
    (:class:`~constrainnet.nn.orbit_plan.SparsePlan`).

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import P4M
        >>> V = cn.V(P4M(8))
        >>> layer = cn.nn.Linear(3 * V, 2 * V, support=5)
        >>> layer.plan.name, layer.num_coefficients  # 6 orbits of the 5×5 window per channel pair
        ('orbit', 36)
        >>> layer(torch.randn(4, 3 * 64)).shape
        torch.Size([4, 128])
    """

    def __init__(self, layer: Any, factory: dict, support: Any = None) -> None:
        super().__init__(SparsePlan(layer.rep_in, layer.rep_out, support))
        self.support = support if support is None or isinstance(support, int) else "mask"
        self.in_features, self.out_features = layer.in_features, layer.out_features
        self._init_image(layer, factory)
        self._init_gathers(layer, factory)
        # images out only: an invariant bias is constant on each channel, and conv2d adds it
        self.fused_bias = "bias_basis" in layer._float64_buffers and self.image_pairs and self.image_rows_are_all and not self.gathers
        if self.fused_bias:
            layer._register_float64("_channel_bias_basis", layer._float64_buffers["bias_basis"][:: self.grid.n**2], factory)

    # -- construction --------------------------------------------------------
    def _init_image(self, layer: Any, factory: dict) -> None:
        """The convolution: image channels of each side, the kernel window, one expansion matrix per image pair."""
        blocks = self.blocks
        self.image_pairs = [t for t, p in enumerate(blocks.pairs) if p.image is not None]
        self.grid = None
        self.image_rows = self.image_cols = None
        self.image_rows_are_all = False
        self.image_cols_span = None
        if not self.image_pairs:
            return

        def channels(comps: list) -> tuple[dict[int, int], np.ndarray]:
            start, first, coords = 0, {}, []
            for c, comp in enumerate(comps):
                if is_image_rep(comp.rep):
                    first[c] = start
                    start += comp.mult
                    coords.append(np.arange(comp.offset, comp.offset + comp.size))
            return first, np.concatenate(coords)

        self.in_channels, self.image_cols = channels(blocks.inputs)
        self.out_channels, self.image_rows = channels(blocks.outputs)
        self.image_rows_are_all = _span(self.image_rows) == (0, self.out_features)
        self.image_cols_span = _span(self.image_cols)
        n = blocks.inputs[blocks.pairs[self.image_pairs[0]].i].rep.G.image_size
        kept = np.concatenate([np.flatnonzero(blocks.pairs[t].image[0] >= 0) for t in self.image_pairs])
        self.grid = kernel_grid(n, kept)
        for t in self.image_pairs:
            p = blocks.pairs[t]
            layer._register_float64(f"_expansion_{t}", kernel_expansion(self.grid, p.image[0], p.image[1], p.r), factory)
        _register_index(layer, "_image_rows", self.image_rows, factory)
        _register_index(layer, "_image_cols", self.image_cols, factory)

    def _init_gathers(self, layer: Any, factory: dict) -> None:
        """The assemblies c → W_1 (image rows × other columns) and c → W_2 (other rows × all columns)."""
        image_out = np.zeros(self.out_features, dtype=bool)
        image_in = np.zeros(self.in_features, dtype=bool)
        if self.image_pairs:
            image_out[self.image_rows] = True
            image_in[self.image_cols] = True
        offsets = np.cumsum([0] + [r * n * m for r, n, m in self.pair_shapes])
        self.gathers: dict[str, WeightAssembly] = {}
        self.w1_cols_span = None
        for name, row_sel, col_sel in (("_w1", image_out, ~image_in), ("_w2", ~image_out, np.ones(self.in_features, dtype=bool))):
            pairs = [t for t, (p, lay) in enumerate(zip(self.blocks.pairs, self.layout)) if p.image is None and image_out[lay.row] == (name == "_w1")]
            if not pairs:
                continue
            # each pair's block moved into the rows and columns the weight keeps (whole components)
            rows, cols = np.cumsum(row_sel) - 1, np.cumsum(col_sel) - 1
            layout = [replace(self.layout[t], row=int(rows[self.layout[t].row]), col=int(cols[self.layout[t].col])) for t in pairs]
            shape = (int(row_sel.sum()), int(col_sel.sum()))
            part = WeightPart(shape, layout, [self.blocks.pairs[t].terms for t in pairs], offsets=[int(offsets[t]) for t in pairs], num_coefficients=self.num_coefficients)
            self.gathers[name] = WeightAssembly(layer, name, [part], factory)
            if name == "_w1":
                _register_index(layer, "_w1_cols", np.flatnonzero(col_sel), factory)
                self.w1_cols_span = _span(np.flatnonzero(col_sel))
        if self.image_pairs and "_w2" in self.gathers:
            # the output is [image rows, W_2 rows] put back in coordinate order
            _register_index(layer, "_output_order", np.argsort(np.concatenate([self.image_rows, np.flatnonzero(~image_out)])), factory)

    # -- cost ----------------------------------------------------------------
    @classmethod
    def cost(cls, rep_in: Rep, rep_out: Rep, support: Any = None, batch: int = REFERENCE_BATCH) -> float | None:
        """Dense flops (:func:`~constrainnet.nn.linear_plans.dense_flops`) with the image blocks as convolutions; kernels: 2, + 6 for a convolution, + 5 per gathered weight."""
        flops, _ = dense_flops(rep_in, rep_out, batch)
        image_in = [c for c in components(rep_in) if is_image_rep(c.rep)]
        image_out = [c for c in components(rep_out) if is_image_rep(c.rep)]
        kernels = 2 + 5  # without a convolution, W_2 is the whole weight
        if image_in and image_out:
            n = image_in[0].rep.G.image_size
            m, p = sum(c.mult for c in image_in), sum(c.mult for c in image_out)
            k = support if isinstance(support, int) else n
            flops -= 6.0 * batch * (m * n * n) * (p * n * n)
            if k >= FFT_MIN_KERNEL:  # transforms of the inputs and outputs, a product per frequency and channel pair
                flops += 3.0 * batch * n * n * (5 * (m + p) * math.log2(n * n) + 8 * m * p)
            else:
                flops += 6.0 * batch * m * p * n * n * k * k
            kernels += 6 - 5 * (len(image_out) == len(components(rep_out))) + 5 * (len(image_in) < len(components(rep_in)))
        return flops + kernels * KERNEL_FLOPS

    # -- the parts of the weight -----------------------------------------------
    def kernel(self, layer: Any) -> torch.Tensor | None:
        """The (out channels, in channels, k, k) kernel of the image convolution (differentiable), or None."""
        if not self.image_pairs:
            return None
        coefficients = layer.pair_coefficients()
        blocks = self.blocks
        n_out = sum(blocks.outputs[c].mult for c in self.out_channels)
        n_in = sum(blocks.inputs[c].mult for c in self.in_channels)
        k = self.grid.size
        parts = []
        for t in self.image_pairs:
            c, p = coefficients[t], blocks.pairs[t]
            block = (c.permute(1, 2, 0).reshape(-1, p.r) @ layer._buffers[f"_expansion_{t}"]).view(c.shape[1], c.shape[2], k, k)
            parts.append((self.out_channels[p.j], self.in_channels[p.i], block))
        if len(parts) == 1 and tuple(parts[0][2].shape[:2]) == (n_out, n_in):
            return parts[0][2]
        kernel = layer.coefficients.new_zeros(n_out, n_in, k, k)
        for row, col, block in parts:
            kernel[row : row + block.shape[0], col : col + block.shape[1]] = block
        return kernel

    def parts(self, layer: Any) -> tuple:
        """(kernel, W_1, W_2, bias), all differentiable (the bias per channel when the convolution adds it)."""
        bias = layer._channel_bias_basis @ layer.bias_coefficients if self.fused_bias else layer.bias()
        w1, w2 = [self.gathers[name](layer, (layer.coefficients,)) if name in self.gathers else None for name in ("_w1", "_w2")]
        return self.kernel(layer), w1, w2, bias

    # -- forward -------------------------------------------------------------
    def apply(self, layer: Any, x: torch.Tensor, parts: tuple) -> torch.Tensor:
        kernel, w1, w2, bias = parts
        if kernel is None:  # no image pairs: W_2 is the whole weight
            return F.linear(x, w2, bias) if w2 is not None else x.new_zeros(x.shape[0], self.out_features) + (0 if bias is None else bias)
        images = _columns(x, layer._image_cols_index, self.image_cols_span).reshape(x.shape[0], -1, self.grid.n, self.grid.n)
        if self.fused_bias:
            return circular_conv(images, kernel, self.grid, bias).reshape(x.shape[0], -1)
        y = circular_conv(images, kernel, self.grid).reshape(x.shape[0], -1)
        if w1 is not None:
            y = y + F.linear(_columns(x, layer._w1_cols_index, self.w1_cols_span), w1)
        if w2 is not None:
            y = torch.cat([y, F.linear(x, w2)], dim=1).index_select(1, layer._output_order_index)
        elif not self.image_rows_are_all:
            y = x.new_zeros(x.shape[0], self.out_features).index_copy(1, layer._image_rows_index, y)
        return y if bias is None else y + bias

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", support={self.support}" if self.support is not None else "")


register_plan("orbit", OrbitPlan)


def _register_index(layer: Any, name: str, index: np.ndarray, factory: dict) -> None:
    layer.register_buffer(name + "_index", torch.as_tensor(index, dtype=torch.int64, device=factory.get("device")), persistent=False)


def _span(index: np.ndarray) -> tuple[int, int] | None:
    """(start, length) when ``index`` is one increasing contiguous range, else None."""
    if len(index) and index[-1] - index[0] + 1 == len(index) and np.all(np.diff(index) == 1):
        return int(index[0]), len(index)
    return None


def _columns(x: torch.Tensor, index: torch.Tensor, span: tuple[int, int] | None) -> torch.Tensor:
    """x[:, index], as a narrowed view when the columns are one contiguous range."""
    return x.narrow(1, *span) if span is not None else x.index_select(1, index)

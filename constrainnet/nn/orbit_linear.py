r"""The sparse path of :class:`~constrainnet.nn.Linear`: orbit bases by gathers, image reps by convolution.

:class:`~constrainnet.nn.Linear` hands a layer to :class:`OrbitLinear` when
:func:`use_sparse_plan` says so: a support was given, the layer maps image
reps of ``P4M(n)`` to image reps, or the dense basis of a permutation block
pair would be large. The layer then never forms a dense (r, |b|, |a|) basis:

- pairs between image reps become one multi-channel circular ``conv2d``, its
  kernel K = C E gathered from the coefficients C by a fixed (r, k²) matrix
  E (:mod:`constrainnet.nn.conv`);
- the other pairs (scalars to images, images to scalars, any other rep)
  are gathered into small dense weights from their orbit labels, W[o, i] =
  c[orbit(o, i)] / sqrt(|orbit|), by one ``embedding_bag`` per weight
  (:class:`~constrainnet.nn.assembly.SparseSum`): W_1 for the rows of image
  outputs and the columns of the other inputs, W_2 for the other rows.

Everything else — the flat ``coefficients`` parameter, initialisation,
``pair_coefficients()``, the basis fingerprint in ``get_extra_state``, the
eval-mode cache, ``export()`` — is :class:`~constrainnet.nn.Linear`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..reps import Rep
from ..solver import equivariant_basis
from ..solver.orbit import supports_orbits
from .assembly import BlockLayout, Float64Buffers, SparseSum, register_sums, sparse_map
from .checks import check_input, check_like
from .conv import circular_conv, conv_matrix, is_image_rep, kernel_expansion, kernel_grid
from .linear import Linear
from .orbit_plan import SparsePlan
from .plan import components

__all__ = ["OrbitLinear", "use_sparse_plan", "DENSE_PAIR_MAX_ENTRIES"]

# A permutation block pair whose dense basis r·|b|·|a| would exceed this many
# entries (8 MB in float64) goes the sparse way; below it the dense plan's
# fused assembly is as fast and its bases are small.
DENSE_PAIR_MAX_ENTRIES = 1_000_000


def use_sparse_plan(rep_in: Any, rep_out: Any, support: Any = None) -> bool:
    """True when ``Linear(rep_in, rep_out, support=support)`` is built by :class:`OrbitLinear`.

    Criteria: a support is given; or a block pair maps an image rep of
    ``P4M(n)`` to an image rep (a convolution); or a block pair is a
    permutation rep whose dense basis would hold more than
    ``DENSE_PAIR_MAX_ENTRIES`` entries. Reps that are not reps of one group
    give False (``Linear`` then raises).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import P4M, S
        >>> use_sparse_plan(2 * cn.V(P4M(4)), cn.V(P4M(4))), use_sparse_plan(cn.V(S(4)), cn.V(S(4)))
        (True, False)
    """
    if not (isinstance(rep_in, Rep) and isinstance(rep_out, Rep)) or rep_in.G != rep_out.G:
        return False
    if support is not None:
        return True
    for out in components(rep_out):
        for inp in components(rep_in):
            if is_image_rep(inp.rep) and is_image_rep(out.rep):
                return True
            hom = inp.rep >> out.rep
            if supports_orbits(hom) and hom.size * equivariant_basis(hom).dim > DENSE_PAIR_MAX_ENTRIES:
                return True
    return False


class OrbitLinear(Linear):
    r"""An equivariant linear map kept sparse: :class:`~constrainnet.nn.Linear` for orbit bases, image convolutions and supports.

    Built by ``Linear(...)`` itself (see :func:`use_sparse_plan`); the
    arguments and attributes are :class:`~constrainnet.nn.Linear`'s. On image
    reps of ``P4M(n)`` with ``support=k`` the V → V blocks are local
    D4-symmetric k×k circular convolutions, one free parameter per D4 orbit
    of the window's displacements and channel pair.

    Shape:
        - Input: (*, rep_in.size); image channels are (n, n) row-major.
        - Output: (*, rep_out.size)

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import P4M
        >>> V = cn.V(P4M(8))
        >>> layer = cn.nn.Linear(3 * V, 2 * V, support=5)
        >>> type(layer).__name__, layer.num_coefficients  # 6 orbits of the 5×5 window per channel pair
        ('OrbitLinear', 36)
        >>> layer(torch.randn(4, 3 * 64)).shape
        torch.Size([4, 128])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, bias: bool = True, device: Any = None, dtype: Any = None, support: Any = None) -> None:
        Float64Buffers.__init__(self)
        factory = self._init_layer(rep_in, rep_out, device, dtype)
        self.support = support if support is None or isinstance(support, int) else "mask"
        plan = self._plan = SparsePlan(rep_in, rep_out, support)
        self.coefficients = nn.Parameter(torch.empty(plan.num_coefficients, **factory))
        self._layout, self._pair_shapes, offsets = [], [], []
        for p in plan.pairs:
            inp, out = plan.inputs[p.i], plan.outputs[p.j]
            self._layout.append(BlockLayout(out.offset, out.mult, out.rep.size, inp.offset, inp.mult, inp.rep.size, p.r))
            offsets.append(sum(r * n * m for r, n, m in self._pair_shapes))
            self._pair_shapes.append((p.r, out.mult, inp.mult))
        self._init_image(factory)
        self._init_gathers(offsets, factory)
        self._init_bias(bias, factory)
        # images out only: an invariant bias is constant on each channel, and conv2d adds it
        self._fused_bias = bias and bool(self._image_pairs) and self._image_rows_are_all and not self._gathers
        if self._fused_bias:
            q = self._float64_buffers["bias_basis"]
            self._register_float64("_channel_bias_basis", q[:: self._grid.n**2], factory)
        self.reset_parameters()

    # -- construction --------------------------------------------------------
    def _init_image(self, factory: dict) -> None:
        """The convolution: image channels of each side, the kernel window, one expansion matrix per image pair."""
        plan = self._plan
        self._image_pairs = [t for t, p in enumerate(plan.pairs) if p.image is not None]
        self._index_arrays: dict[str, np.ndarray] = {}
        self._fused_bias = self._image_rows_are_all = False
        self._grid = None
        self._image_rows = self._image_cols = None
        if not self._image_pairs:
            return

        def channels(comps: list) -> tuple[dict[int, int], np.ndarray]:
            start, first, coords = 0, {}, []
            for c, comp in enumerate(comps):
                if is_image_rep(comp.rep):
                    first[c] = start
                    start += comp.mult
                    coords.append(np.arange(comp.offset, comp.offset + comp.size))
            return first, np.concatenate(coords)

        self._in_channels, image_cols = channels(plan.inputs)
        self._out_channels, image_rows = channels(plan.outputs)
        self._image_rows_are_all = _is_range(image_rows, self.out_features)
        self._image_rows, self._image_cols = image_rows, image_cols
        n = plan.inputs[plan.pairs[self._image_pairs[0]].i].rep.G.image_size
        kept = np.concatenate([np.flatnonzero(plan.pairs[t].image[0] >= 0) for t in self._image_pairs])
        self._grid = kernel_grid(n, kept)
        for t in self._image_pairs:
            p = plan.pairs[t]
            self._register_float64(f"_expansion_{t}", kernel_expansion(self._grid, p.image[0], p.image[1], p.r), factory)
        self._register_index("_image_rows", image_rows, factory)
        self._register_index("_image_cols", image_cols, factory)

    def _register_index(self, name: str, index: np.ndarray, factory: dict) -> None:
        self._index_arrays[name] = index
        self.register_buffer(name + "_index", torch.as_tensor(index, dtype=torch.int64, device=factory.get("device")), persistent=False)

    def _init_gathers(self, offsets: list[int], factory: dict) -> None:
        """The fixed maps c → W_1 (image rows × other columns) and c → W_2 (other rows × all columns)."""
        plan, size_in, size_out = self._plan, self.in_features, self.out_features
        image_out = np.zeros(size_out, dtype=bool)
        image_in = np.zeros(size_in, dtype=bool)
        if self._image_pairs:
            image_out[self._image_rows] = True
            image_in[self._image_cols] = True
        targets = {"_w1": (image_out, ~image_in), "_w2": (~image_out, np.ones(size_in, dtype=bool))}
        terms: dict[str, list] = {name: [] for name in targets}
        for t, (p, lay, off) in enumerate(zip(plan.pairs, self._layout, offsets)):
            if p.image is not None:
                continue
            k, o, col, value = p.terms
            P = np.arange(lay.n)[:, None, None]
            Q = np.arange(lay.m)[None, :, None]
            # terms ordered (p, q, basis entry), as the dense plan's assembly
            rows, cols, src, val = (
                a.ravel() for a in np.broadcast_arrays(lay.row + P * lay.b + o, lay.col + Q * lay.a + col, off + k * lay.n * lay.m + P * lay.m + Q, value)
            )
            name = "_w1" if image_out[lay.row] else "_w2"
            terms[name].append((rows, cols, src, val))
        self._gathers: dict[str, tuple] = {}
        for name, (row_sel, col_sel) in targets.items():
            if not terms[name]:
                continue
            rows, cols, src, val = (np.concatenate(parts) for parts in zip(*terms[name]))
            row_map, col_map = np.cumsum(row_sel) - 1, np.cumsum(col_sel) - 1
            shape = (int(row_sel.sum()), int(col_sel.sum()))
            dest = row_map[rows] * shape[1] + col_map[cols]
            maps = (SparseSum.build(shape[0] * shape[1], dest, src, val), SparseSum.build(self.num_coefficients, src, dest, val))
            buffers = register_sums(self, name, maps, factory)
            self._gathers[name] = (maps, buffers, shape)
            self._register_index(f"{name}_rows", np.flatnonzero(row_sel), factory)
            self._register_index(f"{name}_cols", np.flatnonzero(col_sel), factory)
        if self._image_pairs and "_w2" in self._gathers:
            # the output is [image rows, W_2 rows] put back in coordinate order
            self._register_index("_output_order", np.argsort(np.concatenate([self._image_rows, self._index_arrays["_w2_rows"]])), factory)

    # -- the parts of the weight -----------------------------------------------
    def kernel(self) -> torch.Tensor | None:
        """The (out channels, in channels, k, k) kernel of the image convolution (differentiable), or None."""
        if not self._image_pairs:
            return None
        coefficients = self.pair_coefficients()
        n_out, n_in = sum(self._plan.outputs[c].mult for c in self._out_channels), sum(self._plan.inputs[c].mult for c in self._in_channels)
        k = self._grid.size
        blocks = []
        for t in self._image_pairs:
            c, p = coefficients[t], self._plan.pairs[t]
            expansion = getattr(self, f"_expansion_{t}")
            block = (c.permute(1, 2, 0).reshape(-1, p.r) @ expansion).view(c.shape[1], c.shape[2], k, k)
            blocks.append((self._out_channels[p.j], self._in_channels[p.i], block))
        if len(blocks) == 1 and blocks[0][2].shape[:2] == (n_out, n_in):
            return blocks[0][2]
        kernel = self.coefficients.new_zeros(n_out, n_in, k, k)
        for row, col, block in blocks:
            kernel[row : row + block.shape[0], col : col + block.shape[1]] = block
        return kernel

    def _gather(self, name: str) -> torch.Tensor | None:
        if name not in self._gathers:
            return None
        maps, names, shape = self._gathers[name]
        buffers = tuple([self._buffers[b] for b in part] for part in names)
        return sparse_map(maps, buffers, self.coefficients).view(shape)

    def _parts(self) -> tuple:
        """(kernel, W_1, W_2, bias): what the forward applies, all differentiable (the bias per channel when fused)."""
        bias = self._channel_bias_basis @ self.bias_coefficients if self._fused_bias else self.bias()
        return self.kernel(), self._gather("_w1"), self._gather("_w2"), bias

    def _cached_parts(self) -> tuple:
        c, beta = self.coefficients, self.bias_coefficients
        key = (c._version, c.data_ptr()) if beta is None else (c._version, c.data_ptr(), beta._version, beta.data_ptr())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self._parts())
        return self._cache[1]

    def weight(self) -> torch.Tensor:
        """The dense (out, in) weight (differentiable; for ``export()`` and checks: the forward never forms it)."""
        kernel, w1, w2, _ = self._parts()
        W = self.coefficients.new_zeros(self.out_features, self.in_features)
        if kernel is not None:
            W[self._image_rows_index[:, None], self._image_cols_index] = conv_matrix(kernel, self._grid)
        for name, part in (("_w1", w1), ("_w2", w2)):
            if part is not None:
                W[getattr(self, f"{name}_rows_index")[:, None], getattr(self, f"{name}_cols_index")] = part
        return W

    def _weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.weight(), self.bias()

    # -- forward -------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "Linear")
        check_like(x, self.coefficients, "Linear")
        parts = self._parts() if self.training or torch.is_grad_enabled() else self._cached_parts()
        return self._apply_parts(x, *parts)

    def _apply_parts(self, x: torch.Tensor, kernel: Any, w1: Any, w2: Any, bias: Any) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features)
        if kernel is None:  # no image pairs: W_2 is the whole weight
            y = F.linear(x, w2, bias) if w2 is not None else x.new_zeros(x.shape[0], self.out_features) + (0 if bias is None else bias)
            return y.view(*lead, self.out_features)
        n = self._grid.n
        images = _columns(x, self._image_cols_index, self._image_cols).reshape(x.shape[0], -1, n, n)
        if self._fused_bias:
            y = circular_conv(images, kernel, self._grid, bias).reshape(x.shape[0], -1)
            return y.view(*lead, self.out_features)
        y = circular_conv(images, kernel, self._grid).reshape(x.shape[0], -1)
        if w1 is not None:
            y = y + F.linear(_columns(x, self._w1_cols_index, self._index_arrays["_w1_cols"]), w1)
        if w2 is not None:
            y = torch.cat([y, F.linear(x, w2)], dim=1).index_select(1, self._output_order_index)
        elif not _is_range(self._image_rows, self.out_features):
            y = x.new_zeros(x.shape[0], self.out_features).index_copy(1, self._image_rows_index, y)
        if bias is not None:
            y = y + bias
        return y.view(*lead, self.out_features)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", support={self.support}" if self.support is not None else "")


def _is_range(index: np.ndarray | None, size: int) -> bool:
    return index is not None and len(index) == size and bool(np.all(index == np.arange(size)))


def _columns(x: torch.Tensor, index: torch.Tensor, array: np.ndarray | None) -> torch.Tensor:
    """x[:, index], as a narrowed view when the columns are one contiguous range."""
    if array is not None and len(array) and array[-1] - array[0] + 1 == len(array):
        return x.narrow(1, int(array[0]), len(array))
    return x.index_select(1, index)


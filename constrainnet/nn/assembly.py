r"""Assembly of a dense weight W = Σ_k C_k ⊗ B_k from block coefficients, as one autograd node.

W is linear in the flat coefficient vector c (all C_k of all block pairs) and
sparse in it: an entry of a block is Σ_k C[k, p, q] B[k, o, i] over the few k
with B[k, o, i] ≠ 0. :func:`joint_weight_sums` lists these terms once, from the
float64 bases, as two fixed sparse maps (:class:`SparseSum`): c → W and its
transpose ∂W → ∂c. Each is applied with one ``embedding_bag`` (a gather and a
weighted sum per destination) and at most a write into a zero tensor, however
many block pairs the layer has, where a loop over pairs dispatches several
small operations per pair: on CPU the cost of assembling a layer's weight is
dispatch and memory traffic, not arithmetic.

Every destination is written once, never accumulated into by a scatter, so
both directions are deterministic on every device (no atomic adds), and each
sum runs over its terms in a fixed order.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

__all__ = [
    "BlockLayout",
    "WeightPart",
    "SparseSum",
    "sum_strategy",
    "Float64Buffers",
    "WeightAssembly",
    "BASIS_ZERO_RTOL",
    "EMPTY_BAGS",
    "affine",
    "sparse_map",
    "CachedAssembly",
    "stacked_layout",
    "register_sums",
    "joint_weight_sums",
]

# Basis entries at most this fraction of their pair's largest entry are rounding
# residue of the float64 solve (canonical bases are exact to ~1e-12; the residue
# seen is ≤ 3e-14 of the max, true entries ≥ 3e-2): the assembly skips them,
# which moves W by at most this fraction of Σ_k |C_k| — far below the 1e-10
# equivariance tolerance of float64 and invisible in float32.
BASIS_ZERO_RTOL = 1e-12

# sum_strategy: a "bags" map pays for a bag per destination, an empty one about
# as much as a term; "split" pays a few more operations instead. Set from
# timings of the layers of EMLP and uniform_rep Linears (16 to 432 wide, 2 CPU
# threads): maps of up to this many empty destinations are cheaper as bags.
EMPTY_BAGS = 16384


@dataclass(frozen=True)
class BlockLayout:
    """Where one block pair lives in W: rows [row, row + n·b), columns [col, col + m·a), r basis maps."""

    row: int
    n: int
    b: int
    col: int
    m: int
    a: int
    r: int


@dataclass(frozen=True)
class SparseSum:
    r"""A fixed sparse linear map y = M x: y[d] = Σ_t x[src_t] · value_t over the terms t with dest_t = d.

    Built once from its terms (:meth:`build`, float64 values) into arrays that
    :meth:`apply` takes as tensors. The terms of each destination form a bag,
    and one ``embedding_bag`` gathers and sums every bag (weighted by the
    values, in the order given to :meth:`build`). (A torch sparse CSR
    matrix-vector product is faster in isolation on the CPU, but it runs on
    MKL's own thread pool, whose spinning threads then slow every later small
    operation of the process by an order of magnitude: not used.) Two
    strategies (:func:`sum_strategy`):

    - ``"bags"``: a bag for every destination (an empty one sums to 0): y is
      the ``embedding_bag`` itself.
    - ``"split"``: bags only for the destinations with terms, written into a
      zero y at those (distinct) destinations.

    No destination is accumulated into, so results are deterministic.

    Attributes:
        size: length of y.
        strategy: ``"bags"`` or ``"split"``.
        names: the names of the arrays, in the order :meth:`apply` takes them.
        arrays: int32 bag sources and offsets, float64 weights, int64 destinations.

    Example:
        >>> import numpy as np, torch
        >>> m = SparseSum.build(3, np.array([0, 0, 2]), np.array([0, 1, 1]), np.array([1.0, 2.0, -1.0]))
        >>> m.apply(torch.tensor([1.0, 10.0]), *[torch.as_tensor(a, dtype=torch.float32 if a.dtype == np.float64 else None) for a in m.arrays])
        tensor([ 21.,   0., -10.])
    """

    size: int
    strategy: str
    names: tuple[str, ...]
    arrays: tuple[np.ndarray, ...]

    @staticmethod
    def build(size: int, dest: np.ndarray, src: np.ndarray, value: np.ndarray, strategy: str | None = None) -> "SparseSum":
        """From terms (dest, src, value): y[dest] += x[src] · value, summed in the given order per destination.

        Raises:
            ValueError: an unknown ``strategy`` (default: :func:`sum_strategy`).
        """
        order = np.argsort(dest, kind="stable")
        dest, src, value = dest[order].astype(np.int64), src[order], value[order].astype(np.float64)
        counts = np.bincount(dest, minlength=size)
        strategy = strategy or sum_strategy(size, counts)
        if strategy == "split":
            counts = counts[counts > 0]
        elif strategy != "bags":
            raise ValueError(f"SparseSum: expected strategy 'bags' or 'split', got {strategy!r}")
        # embedding_bag takes int32 sources and offsets (half the memory traffic of int64)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
        arrays = (src.astype(np.int32), offsets, value)
        if strategy == "bags":
            return SparseSum(size, strategy, ("src", "offsets", "value"), arrays)
        return SparseSum(size, strategy, ("src", "offsets", "value", "dest"), (*arrays, np.unique(dest)))

    def apply(self, x: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
        """y = M x (not recorded by autograd), with this map's arrays as tensors on x's device, weights in x's dtype."""
        # detached: embedding_bag then skips the bookkeeping for its own backward;
        # the aten op directly (mode 0 = sum), without the argument checks of F.embedding_bag
        sums = torch.embedding_bag(x.detach().reshape(-1, 1), tensors[0], tensors[1], False, 0, False, tensors[2])[0].view(-1)
        if self.strategy == "bags":
            return sums
        y = sums.new_zeros(self.size)
        # put_ is the fastest write here and deterministic (distinct destinations);
        # torch's deterministic mode rejects it whatever the indices, so there
        # index_put_ (deterministic under that mode too) takes over
        if torch.are_deterministic_algorithms_enabled():
            return y.index_put_((tensors[3],), sums)
        return y.put_(tensors[3], sums)


def sum_strategy(size: int, counts: np.ndarray) -> str:
    """How :class:`SparseSum` evaluates a map of ``size`` destinations, ``counts[d]`` terms for destination d.

    ``"bags"`` (one operation) when at most ``EMPTY_BAGS`` destinations have no
    term, as for the backward map of a weight (every coefficient has terms)
    and small weights; else ``"split"`` (a mostly zero weight).
    """
    return "bags" if int(size - np.count_nonzero(counts)) <= EMPTY_BAGS else "split"


@dataclass(frozen=True, eq=False)
class WeightPart:
    """One matrix W = Σ_k C_k ⊗ B_k of a :class:`WeightAssembly`, over its block pairs.

    Attributes:
        shape: (out, in) of W.
        layout: one :class:`BlockLayout` per pair.
        bases: per pair, the (r, b, a) float64 basis B, or its nonzero entries
            as terms (k, o, i, value): B[k, o, i] = value.
        column_order: optional (in,) permutation: the assembled matrix holds
            column c of W at position ``column_order[c]`` (W with its columns
            permuted, for inputs whose coordinates come in another order).
        row_order: optional (out,) permutation, the same for the rows of W
            (outputs wanted in another order).
        transposed: assemble Wᵀ (in, out) row-major instead of W: ``x @ Wᵀ``
            then reads a contiguous matrix, and the gradient that comes back
            for it is contiguous too (the gradient of W would be a transposed
            view, copied before every backward gather).
        offsets: optional, per pair, the position of its first coefficient in
            a vector of ``num_coefficients`` (default: pair after pair).
    """

    shape: tuple[int, int]
    layout: Sequence[BlockLayout]
    bases: Sequence[Any]
    column_order: np.ndarray | None = None
    transposed: bool = False
    row_order: np.ndarray | None = None
    offsets: Sequence[int] | None = None
    num_coefficients: int | None = None

    @property
    def assembled_shape(self) -> tuple[int, int]:
        """The shape of the matrix as assembled: (in, out) if transposed, else (out, in)."""
        return (self.shape[1], self.shape[0]) if self.transposed else self.shape


def joint_weight_sums(parts: Sequence[WeightPart]) -> tuple[SparseSum, SparseSum]:
    r"""The forward (c → W, flattened) and backward (∂W → ∂c) maps of the matrices W = Σ_k C_k ⊗ B_k of ``parts``.

    c holds each part's coefficients, part after part, and within a part each
    pair's (r, n, m) coefficients in C order, pair after pair; the weight entry
    (row + p·b + o, col + q·a + i) of a pair is Σ_k C[k, p, q] B[k, o, i]. Basis
    entries within ``BASIS_ZERO_RTOL`` of zero (relative to the pair's largest)
    are skipped. The output is every part's assembled matrix, flattened, one
    after the other.
    """
    dest, src, val = [], [], []
    coefficients = entries = 0
    for part in parts:
        d, s, v, count = _part_terms(part)
        dest.append(d + entries)
        src.append(s + coefficients)
        val.append(v)
        coefficients += count
        entries += part.shape[0] * part.shape[1]
    dest_all, src_all, val_all = np.concatenate(dest), np.concatenate(src), np.concatenate(val)
    forward = SparseSum.build(entries, dest_all, src_all, val_all)
    backward = SparseSum.build(coefficients, src_all, dest_all, val_all)
    return forward, backward


def _part_terms(part: WeightPart) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The terms (dest, src, value) of one matrix, and its number of coefficients."""
    shape, layout, bases, column_order, transposed = part.shape, part.layout, part.bases, part.column_order, part.transposed
    row_order = None if part.row_order is None else np.asarray(part.row_order, dtype=np.int64)
    dest, src, val = [], [], []
    offset = 0
    width = shape[1]
    for t, (lay, basis) in enumerate(zip(layout, bases)):
        if isinstance(basis, tuple):
            k, o, i, value = basis
        else:
            basis = np.asarray(basis, dtype=np.float64).reshape(lay.r, lay.b, lay.a)
            k, o, i = np.nonzero(np.abs(basis) > BASIS_ZERO_RTOL * np.abs(basis).max())
            value = basis[k, o, i]
        start = offset if part.offsets is None else part.offsets[t]
        p = np.arange(lay.n)[:, None, None]
        q = np.arange(lay.m)[None, :, None]
        # terms ordered (p, q, k, o, i): per weight entry the k are increasing
        rows = lay.row + p * lay.b + o[None, None, :]
        rows = rows if row_order is None else row_order[rows]
        cols = lay.col + q * lay.a + i[None, None, :]
        dest.append((rows * width + cols).ravel())
        src.append((start + k[None, None, :] * lay.n * lay.m + p * lay.m + q).ravel())
        val.append(np.broadcast_to(value, (lay.n, lay.m, len(k))).ravel())
        offset += lay.r * lay.n * lay.m
    dest_all = np.concatenate(dest).astype(np.int64) if dest else np.zeros(0, dtype=np.int64)
    if column_order is not None:
        order = np.asarray(column_order, dtype=np.int64)
        dest_all = dest_all // width * width + order[dest_all % width]
    if transposed:
        dest_all = dest_all % width * shape[0] + dest_all // width
    src_all = np.concatenate(src).astype(np.int64) if src else np.zeros(0, dtype=np.int64)
    val_all = np.concatenate(val) if val else np.zeros(0)
    return dest_all, src_all, val_all, offset if part.num_coefficients is None else part.num_coefficients


class Float64Buffers(nn.Module):
    """A module whose float buffers are kept as float64 arrays and rebuilt in its dtype on every cast.

    Casting a float32 basis to float64 would keep float32 accuracy, so after
    ``.to()``, ``.double()``, ... every such buffer is rebuilt from its float64
    array in the new dtype and device. Casts also call :meth:`_clear_cache`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._float64_buffers: dict[str, np.ndarray] = {}

    def _register_float64(self, name: str, array: np.ndarray, factory: dict) -> None:
        self._float64_buffers[name] = array
        self.register_buffer(name, torch.as_tensor(array, **factory), persistent=False)

    def _clear_cache(self) -> None:
        pass

    def _apply(self, fn: Any, recurse: bool = True) -> Any:
        self._clear_cache()
        out = super()._apply(fn, recurse)
        for name, array in self._float64_buffers.items():
            buf = getattr(self, name)
            if buf is not None:
                setattr(self, name, torch.as_tensor(array, dtype=buf.dtype, device=buf.device))
        return out


def stacked_layout(layers: Sequence[Any]) -> tuple[list[BlockLayout], list[np.ndarray], int]:
    """The block layout and bases of the weights of ``layers`` (``Linear``s) stacked one below the other.

    Returns:
        (layout, bases, rows): each layer's blocks moved down by the rows of the
        layers above it, their bases in the same order, and the total rows.
    """
    layout: list[BlockLayout] = []
    bases: list[np.ndarray] = []
    rows = 0
    for layer in layers:
        layout += [replace(lay, row=lay.row + rows) for lay in layer.plan.layout]
        bases += [p.basis for p in layer.plan.blocks.pairs]
        rows += layer.out_features
    return layout, bases, rows


class CachedAssembly(Float64Buffers, abc.ABC):
    """A module whose forward uses tensors assembled from its parameters by :meth:`_assemble`,
    cached in eval mode under ``torch.no_grad()`` (not under ``torch.compile``) and rebuilt
    when a parameter changes (an in-place update bumps its version; new storage changes its address)."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: tuple | None = None

    @abc.abstractmethod
    def _assemble(self) -> tuple[torch.Tensor, ...]:
        """The tensors the forward uses, assembled from the parameters (differentiable)."""

    def _weights(self) -> tuple[torch.Tensor, ...]:
        """:meth:`_assemble`'s tensors: fresh (differentiable) in training or with grad, else cached."""
        if self.training or torch.is_grad_enabled() or torch.compiler.is_compiling():
            return self._assemble()  # (the cache key reads tensor versions and addresses, which compiled code cannot)
        key = tuple((p._version, p.data_ptr()) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, *self._assemble())
        return self._cache[1:]

    def train(self, mode: bool = True) -> "CachedAssembly":
        self._cache = None
        return super().train(mode)

    def _clear_cache(self) -> None:
        self._cache = None


def register_sums(module: Float64Buffers, prefix: str, sums: tuple[SparseSum, SparseSum], factory: dict) -> tuple[list[str], list[str]]:
    """Register the arrays of a (forward, backward) pair of maps as non-persistent buffers of ``module``.

    Buffers ``{prefix}_forward_*`` and ``{prefix}_backward_*``: index arrays as
    integer buffers, values as float buffers of the module's dtype, rebuilt
    from float64 on casts (:class:`Float64Buffers`).

    Returns:
        The buffer names of each direction, in the order :meth:`SparseSum.apply` takes them.
    """
    buffers: tuple[list[str], list[str]] = ([], [])
    for direction, smap, names in zip(("forward", "backward"), sums, buffers):
        for name, array in zip(smap.names, smap.arrays):
            buffer = f"{prefix}_{direction}_{name}"
            if array.dtype == np.float64:
                module._register_float64(buffer, array, factory)
            else:
                module.register_buffer(buffer, torch.as_tensor(array, device=factory.get("device")), persistent=False)
            names.append(buffer)
    return buffers


class WeightAssembly:
    """The maps of :func:`joint_weight_sums`, registered as non-persistent buffers of a module, and the weights they give.

    Buffers ``{prefix}_forward_*`` and ``{prefix}_backward_*``: index arrays as
    integer buffers, basis values as float buffers of the module's dtype,
    rebuilt from float64 on casts (:class:`Float64Buffers`). Calling it
    assembles the weights of all its parts as one autograd node
    (``_Assemble``), whose backward applies the transposed map and is itself
    differentiable: the matrix itself for one part, else the parts' matrices
    flattened one after the other (:meth:`matrices` gives them as views).
    """

    def __init__(self, module: Float64Buffers, prefix: str, parts: Sequence[WeightPart], factory: dict) -> None:
        self.parts = tuple(parts)
        self.shapes = [part.assembled_shape for part in self.parts]
        self.shape = self.shapes[0] if len(self.parts) == 1 else (sum(a * b for a, b in self.shapes),)
        self.sums = joint_weight_sums(self.parts)
        self.buffers = register_sums(module, prefix, self.sums, factory)

    def matrices(self, flat: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The parts' matrices (as assembled, see :attr:`WeightPart.assembled_shape`) as views of the flat weights."""
        out, start = [], 0
        for a, b in self.shapes:
            out.append(flat[start : start + a * b].view(a, b))
            start += a * b
        return tuple(out)

    def __call__(
        self, module: nn.Module, coefficients: Sequence[torch.Tensor], biases: Sequence[torch.Tensor] = (), bias_basis: str = ""
    ) -> Any:
        """The weights from coefficient vectors (concatenated in order), with ``module``'s buffers; differentiable.

        With ``biases``, also the bias Q β, β the bias vectors concatenated and Q
        the module's buffer named ``bias_basis``: returns (W, Q β) from the same
        single autograd node.
        """
        buffers = module._buffers
        forward, backward = ([buffers[name] for name in names] for names in self.buffers)
        q = buffers[bias_basis] if biases else None
        if not torch.is_grad_enabled():  # nothing to record (and no autograd.Function for torch.compile to trace)
            return _assemble(self, forward, q, coefficients, biases)
        return _Assemble.apply(self, forward, backward, q, len(coefficients), None, *coefficients, *biases)

    def from_flat(self, module: nn.Module, flat: torch.Tensor, split: int, bias_basis: str) -> Any:
        """(weights, Q β) as :meth:`__call__`, from one vector: the coefficients ``flat[:split]``, then β.

        Its gradient comes back as one vector too (no split and no gathering of
        several parameters' gradients).
        """
        buffers = module._buffers
        forward, backward = ([buffers[name] for name in names] for names in self.buffers)
        if not torch.is_grad_enabled():
            return _assemble(self, forward, buffers[bias_basis], (flat[:split],), (flat[split:],))
        return _Assemble.apply(self, forward, backward, buffers[bias_basis], 1, split, flat)


def affine(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = x Wᵀ + b from the transposed weight Wᵀ (in, out), for inputs of any leading shape.

    One ``addmm`` (``mm`` without bias) on the flattened leading dimensions.
    """
    if x.ndim != 2:
        return affine(x.reshape(-1, x.shape[-1]), weight_t, bias).view(*x.shape[:-1], weight_t.shape[1])
    return x.mm(weight_t) if bias is None else torch.addmm(bias, x, weight_t)


class _Assemble(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        assembly: WeightAssembly,
        forward: Sequence[torch.Tensor],
        backward: Sequence[torch.Tensor],
        bias_basis: torch.Tensor | None,
        n: int,
        split: int | None,
        *params: torch.Tensor,
    ) -> Any:
        ctx.split = split
        if split is not None:  # one vector: coefficients, then bias coefficients
            params = (params[0][:split], params[0][split:])
        coefficients, biases = params[:n], params[n:]
        ctx.sums, ctx.buffers, ctx.bias_basis = assembly.sums, (forward, backward), bias_basis
        ctx.sizes = ([p.numel() for p in coefficients], [p.numel() for p in biases])
        return _assemble(assembly, forward, bias_basis, coefficients, biases)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor, grad_bias: torch.Tensor | None = None) -> tuple:
        # ∂c = Mᵀ ∂W, itself differentiable when the graph of the gradient is built
        coefficient_grad = sparse_map(ctx.sums[::-1], ctx.buffers[::-1], grad.reshape(-1))
        bias_grad = torch.mv(ctx.bias_basis.t(), grad_bias) if grad_bias is not None else None
        needs = ctx.needs_input_grad[6:]
        if ctx.split is not None:
            if bias_grad is None:
                bias_grad = coefficient_grad.new_zeros(sum(ctx.sizes[1]))
            return (None,) * 6 + (torch.cat([coefficient_grad, bias_grad]) if needs[0] else None,)
        grads = _split(coefficient_grad, ctx.sizes[0])
        if bias_grad is not None:
            grads += _split(bias_grad, ctx.sizes[1])
        return (None,) * 6 + tuple(g if need else None for g, need in zip(grads, needs))


def _assemble(assembly: WeightAssembly, forward: Sequence[torch.Tensor], bias_basis: torch.Tensor | None, coefficients: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> Any:
    """The weights (and Q β with biases) of :class:`_Assemble`'s forward, not recorded by autograd."""
    c = coefficients[0] if len(coefficients) == 1 else torch.cat(list(coefficients))
    weight = assembly.sums[0].apply(c, *forward).view(assembly.shape)
    if not biases:
        return weight
    return weight, torch.mv(bias_basis, biases[0] if len(biases) == 1 else torch.cat(list(biases)))


def _split(flat: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, ...]:
    return flat.split(sizes) if len(sizes) > 1 else (flat,)


class _SparseMap(torch.autograd.Function):
    """y = M x for the first of ``sums`` (M, Mᵀ); the backward applies Mᵀ the same way, so any order is differentiable."""

    @staticmethod
    def forward(ctx: Any, sums: tuple[SparseSum, SparseSum], buffers: tuple, x: torch.Tensor) -> torch.Tensor:
        ctx.sums, ctx.buffers = sums, buffers
        return sums[0].apply(x, *buffers[0])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        return None, None, sparse_map(ctx.sums[::-1], ctx.buffers[::-1], grad)


def sparse_map(sums: tuple[SparseSum, SparseSum], buffers: tuple, x: torch.Tensor) -> torch.Tensor:
    """M x for the first of ``sums`` (M, Mᵀ), recorded for autograd only when x needs it (a gradient computed with ``create_graph=True``)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _SparseMap.apply(sums, buffers, x)
    return sums[0].apply(x, *buffers[0])

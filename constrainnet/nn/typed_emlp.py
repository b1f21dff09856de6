r"""EMLP on typed features: the input changed once, every hidden feature kept per irreducible type, the output changed once.

An :class:`~constrainnet.nn.EMLPBlock` computes σ_gate(L x + W_out (W_1 x ⊙ W_2 x)).
On typed features (:mod:`constrainnet.nn.isotypic`) the same block is

- one product per input type for L, W_1 and W_2 together (:class:`TypedAffine`),
  the biases on the trivial type;
- u = W_1 x and v = W_2 x (the small ``rep_mid``) changed back to their
  coordinates, multiplied copy by copy as in :class:`~constrainnet.nn.BiLinear`,
  the products changed to typed coordinates (one small dense matrix per type)
  and mapped by W_out, one product per type;
- the gates applied per type (:class:`TypedGates`).

The parameters are the block's own (its one ``coefficients`` vector), so a
model computes the same function either way, up to rounding; the typed
operands are gathered from the coefficients by one sparse map per block.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..errors import RepError, SolverError
from .checks import check_like
from .assembly import register_sums, sparse_map
from .isotypic import PlainToTyped, RealTypes, TypedLayout, TypedMaps, TypedToPlain, joint_sums, typed_product
from .nonlinear import gated
from .typed import BlockTypedChange, PlainAffine, TypedAffine, TypedChange, TypedGates, TypedPair, typed_supported

__all__ = ["TypedBlock", "TypedHead", "typed_model_supported", "build_typed", "typed_forward", "EMLP_PLANS", "TypedModel"]

EMLP_PLANS = ("auto", "isotypic", "assembled")


def typed_model_supported(reps: Sequence[Any]) -> bool:
    """True when every hidden rep can be gated per type and every rep decomposes orthogonally."""
    return all(typed_supported(r) and r.is_orthogonal for r in reps)


class TypedBlock:
    """The typed forward of one :class:`~constrainnet.nn.EMLPBlock`, its buffers registered on the block.

    Args:
        block: the block.
        layout_in: the typed layout of its input, or None for plain input (the
            first block: its input change folds into one product x A for L, W_1
            and W_2, and u, v come out in plain coordinates).
        factory: device and dtype of the buffers.
    """

    def __init__(self, block: Any, layout_in: TypedLayout | None, factory: dict, merge: dict | None = None) -> None:
        bil = block.bilinear
        merge = merge or {}
        self.layout_in = layout_in
        self.layout_out = TypedLayout(block.rep_out, merge_real=merge)
        wide = TypedLayout(gated(block.rep_out), merge_real=merge)
        mid = TypedLayout(bil.rep_mid, merge_real=merge)
        bias = lambda layer: layer._float64_buffers["bias_basis"] if layer.bias_coefficients is not None else None  # noqa: E731
        # W_out: the products (copy-major) changed to their own typed layout (a dense change, |P|² multiply-adds)
        # and mapped one product per type; or, where the products are many (|P|² > |P|·|wide|, e.g. O(2)'s
        # 675), mapped straight from plain coordinates to the typed outputs in one product
        self.prod_layout = prod = TypedLayout(bil.rep_product, merge_real=merge)
        self.products: Any = TypedMaps(prod, [(bil.out._plan, wide)])
        typed_flops = sum(d * rows * width for d, (rows, width) in zip(prod.dims, self.products.operands))
        block_change = BlockTypedChange(block, "_typed_prodb", prod, factory, order=bil.groups.product_order)
        per_kernel = KERNEL_SECONDS["cpu"] / MULTIPLY_ADD_SECONDS["cpu"] / 512  # a kernel in multiply-adds per sample
        costs = {
            "dense": prod.size**2 + typed_flops + 2 * len(prod.types) * per_kernel,
            "block": block_change.flops + typed_flops + (block_change.kernels + len(prod.types)) * per_kernel,
            "plain": prod.size * wide.size + per_kernel,
        }
        self.product_route = min(costs, key=costs.get)
        self.typed_products = self.product_route != "plain"
        if self.product_route == "dense":
            self.prod_change: Any = TypedChange(block, "_typed_prod", prod, factory, order=bil.groups.product_order)
        elif self.product_route == "block":
            self.prod_change = block_change
        else:
            self.products = PlainToTyped(prod.size, [(bil.out._plan, wide, None)], order_in=bil.groups.product_order)
        self.prod_units = []
        for k, t in enumerate(prod.types):
            if len(t.units) > 1 and self.typed_products:
                block._register_float64(f"_typed_prod_units_{k}", np.array(t.units[1:]), factory)
            self.prod_units.append(f"_typed_prod_units_{k}" if len(t.units) > 1 and self.typed_products else None)
        if layout_in is None:
            order = bil.groups.order
            maps = [(block.linear._plan, wide, None, bias(block.linear)), (bil.left._plan, None, order, bias(bil.left)),
                    (bil.right._plan, None, order, bias(bil.right))]
            self.affine: Any = PlainAffine(block, "_typed", block.rep_in.size, maps, factory, extra=[self.products])
            self.mid = None
        else:
            maps = [(block.linear._plan, wide, bias(block.linear)), (bil.left._plan, mid, bias(bil.left)), (bil.right._plan, mid, bias(bil.right))]
            self.affine = TypedAffine(block, "_typed", layout_in, maps, factory, extra=[self.products])
            self.mid = TypedPair(block, "_typed_mid", mid, factory, order=bil.groups.order)
        self.gates = TypedGates(block, "_typed_gates", block.rep_out, self.layout_out, wide, factory)
        self.wide, self.mid_layout = wide, mid

    def counts(self) -> tuple[int, int]:
        """(kernels, multiply-adds per sample) of :meth:`forward`, as the cost model counts them."""
        wide, mid = self.wide, self.mid_layout
        kernels = 4 + 2 * len(wide.types) + 4
        if self.layout_in is None:
            kernels += 1
            flops = self.affine.maps.operands[0][0] * self.affine.maps.width
        else:
            lin = self.layout_in
            kernels += len(lin.types) + 2 * len(mid.types)
            flops = sum(d * rows * width for d, (rows, width) in zip(lin.dims, self.affine.maps.operands))
            flops += sum(d * 2 * m * 2 * mid.size for d, m in zip(mid.dims, mid.mults))
        prod = self.prod_layout
        if self.typed_products:
            block = self.product_route == "block"
            kernels += (self.prod_change.kernels if block else len(prod.types)) + len(prod.types)
            flops += (self.prod_change.flops if block else prod.size * prod.size)
            flops += sum(d * rows * width for d, (rows, width) in zip(prod.dims, self.products.operands))
        else:
            kernels += 2
            flops += prod.size * self.products.width
        return kernels, flops

    def operands(self, block: Any) -> tuple:
        """(operands of L, W_1, W_2; the operand of W_out; the bias), differentiable."""
        c = block.coefficients
        n = block._num_weight_coefficients
        weights, betas = c.split([n, c.shape[0] - n]) if c.shape[0] > n else (c, None)
        ops, (prod_ops,), bias = self.affine.operands(block, weights, betas)
        return ops, prod_ops, bias

    def forward(self, block: Any, xs: Any, operands: tuple) -> list[torch.Tensor]:
        """Typed input (one (batch, d, m) tensor per type; plain ``(batch, |in|)`` for the first block) → typed output."""
        ops, prod_op, bias = operands
        if self.layout_in is None:
            batch, like = xs.shape[0], xs
            linear, u, v = self.affine.apply(xs, ops, bias)
            linear = {self.wide.types[k]: y for k, y in linear.items()}
            u, v = u[None], v[None]
        else:
            batch, like = xs[0].shape[0], xs[0]
            linear, u, v = self.affine.apply(block, xs, ops, bias)
            u, v = self.mid.from_typed(block, u, v, batch, like)
        products = block.bilinear.groups.products(u, v)
        bil = {}
        if self.typed_products:
            buffers = block._buffers
            for k, (p, op) in enumerate(zip(self.prod_change.to_typed(block, products), prod_op)):
                if op is not None:
                    units = buffers[self.prod_units[k]] if self.prod_units[k] is not None else None
                    bil[self.prod_layout.types[k]] = typed_product(p, units, op)
        else:
            pieces = products.mm(prod_op[0]).split([d * m for d, m in zip(self.wide.dims, self.wide.mults)], dim=1)
            bil = {t: piece.view(batch, d, m) for t, d, m, piece in zip(self.wide.types, self.wide.dims, self.wide.mults, pieces)}
        z = {}
        for t, d, m in zip(self.wide.types, self.wide.dims, self.wide.mults):
            a, b = linear.get(t), bil.get(t)
            z[t] = (a if b is None else b if a is None else a + b) if (a is not None or b is not None) else like.new_zeros(batch, d, m)
        return self.gates(block, z)


class TypedHead:
    """The last Linear of an EMLP on typed features, its output plain: y = Σ_k T_k A_k + b (buffers on that Linear)."""

    def __init__(self, last: Any, layout_hidden: TypedLayout, factory: dict) -> None:
        self.layout_hidden = layout_hidden
        self.maps = TypedToPlain(layout_hidden, last._plan)
        self.sums = joint_sums([self.maps])
        self.buffers = register_sums(last, "_typed", self.sums, factory)

    def operands(self, last: Any) -> tuple:
        b = last._buffers
        forward, backward = ([b[n] for n in names] for names in self.buffers)
        ops = self.maps.split(sparse_map(self.sums, (forward, backward), last.coefficients))
        return ops, last.bias()

    def forward(self, last: Any, xs: Sequence[torch.Tensor], operands: tuple) -> torch.Tensor:
        ops, bias = operands
        out = bias
        for x, op in zip(xs, ops):
            if op is None:
                continue
            flat = x.reshape(x.shape[0], x.shape[1] * x.shape[2])
            out = flat.mm(op) if out is None else torch.addmm(out, flat, op)
        if out is None:
            return xs[0].new_zeros(xs[0].shape[0], last.out_features)
        return out if out.dim() == 2 else out.expand(xs[0].shape[0], last.out_features)


def _complete(parts: dict, layout: TypedLayout, batch: int, like: torch.Tensor) -> list[torch.Tensor]:
    """The typed features of ``layout`` in order, zeros for the types no input reached."""
    return [parts[t] if t in parts else like.new_zeros(batch, d, m) for t, d, m in zip(layout.types, layout.dims, layout.mults)]


# The cost model of plan="auto" (see the guide, "Plans"): a forward costs
# kernels × KERNEL_SECONDS + batch × multiply-adds per sample × MULTIPLY_ADD_SECONDS,
# per device type. Set from timings of EMLP layers at widths 64 to 384 on 2 CPU
# threads (about 20 µs per kernel with its autograd bookkeeping, 20 G multiply-adds
# per second in small GEMMs) and on an H200 (launch-bound: 8 µs per kernel).
KERNEL_SECONDS = {"cpu": 20e-6, "cuda": 8e-6}
# plan="auto" builds the typed forward only if the cost model runs it from batches below this
AUTO_MAX_MIN_BATCH = 1 << 16
# kernels a real type costs per block on its own (product, add, gate multiply, split), saved by merging it
MERGE_KERNELS = 4
MULTIPLY_ADD_SECONDS = {"cpu": 1 / 20e9, "cuda": 1 / 20e12}


class TypedModel:
    """The typed forward of a whole EMLP: per block a :class:`TypedBlock`, and the :class:`TypedHead`.

    Attributes:
        kernels: (typed, assembled) kernels of one forward, as the cost model counts them.
        multiply_adds: (typed, assembled) multiply-adds per sample of one forward.
    """

    def __init__(self, layers: Sequence[Any], reps: Sequence[Any], factory: dict) -> None:
        blocks, last = list(layers[:-1]), layers[-1]
        layout = None  # the first block reads plain input
        self.merge = merged_types([gated(r) for r in reps[1:]])
        self.blocks = []
        typed_k, dense_k, typed_f, dense_f = 0, 0, 0, 0
        for block in blocks:
            typed = TypedBlock(block, layout, factory, self.merge)
            self.blocks.append(typed)
            k, f = typed.counts()
            typed_k, typed_f = typed_k + k, typed_f + f
            wide, mid = typed.wide.size, typed.mid_layout.size
            dense_k += 9  # stacked affine, split, products (3), W_out, gates (3)
            dense_f += block.rep_in.size * (wide + 2 * mid) + block.bilinear.rep_product.size * wide + wide
            layout = typed.layout_out
        self.head = TypedHead(last, layout, factory)
        typed_k += len(layout.types)
        typed_f += layout.size * last.rep_out.size
        dense_k += 1
        dense_f += layout.size * last.rep_out.size
        self.kernels, self.multiply_adds = (typed_k, dense_k), (typed_f, dense_f)

    forced = False  # plan="isotypic": typed whatever the batch

    def min_batch_now(self, device_type: str) -> int:
        """0 when the typed forward is forced, else :meth:`min_batch` (memoised per device type)."""
        if self.forced:
            return 0
        memo = self.__dict__.setdefault("_min_batch", {})
        if device_type not in memo:
            memo[device_type] = self.min_batch(device_type)
        return memo[device_type]

    def min_batch(self, device_type: str) -> int:
        """The smallest batch for which the cost model prefers the typed forward on this kind of device (huge: never)."""
        kernel = KERNEL_SECONDS.get(device_type, KERNEL_SECONDS["cuda"])
        flop = MULTIPLY_ADD_SECONDS.get(device_type, MULTIPLY_ADD_SECONDS["cuda"])
        saved = (self.multiply_adds[1] - self.multiply_adds[0]) * flop
        extra = (self.kernels[0] - self.kernels[1]) * kernel
        if saved <= 0:
            return 2**62
        return max(1, int(np.ceil(extra / saved)))


def merged_types(hidden: Sequence[Any], batch: int = 512) -> dict:
    """Which real irreducible types of equal dimension an EMLP holds in one tensor (see :class:`~constrainnet.nn.isotypic.RealTypes`).

    Merging types of multiplicities m_1, m_2, … saves the kernels of all but one
    of them (a product, an add, a multiply and a split per block:
    ``MERGE_KERNELS``) and costs the block-diagonal's zeros, d·((Σ m)² − Σ m²)
    multiply-adds per sample, priced by the CPU constants of the cost model at
    ``batch``. Types are merged smallest first (largest multiplicity in the hidden
    reps) while that saves time; the choice depends on the hidden reps only, so
    every layout of the model uses the same one.
    """
    mults: dict = {}
    for rep in hidden:
        layout = TypedLayout(rep)
        for t, m in zip(layout.types, layout.mults):
            if len(t.units) == 1:
                mults[t] = max(mults.get(t, 0), m)
    kernel, flop = KERNEL_SECONDS["cpu"], MULTIPLY_ADD_SECONDS["cpu"]
    merge: dict = {}
    for d in sorted({t.dim for t in mults}):
        kinds = sorted((t for t in mults if t.dim == d), key=lambda t: (mults[t], t.sort_key))
        chosen, total, squares = [], 0, 0
        for t in kinds:
            m = mults[t]
            waste = d * ((total + m) ** 2 - squares - m * m - (total**2 - squares)) * batch * flop
            if not chosen or waste < MERGE_KERNELS * kernel:
                chosen.append(t)
                total, squares = total + m, squares + m * m
        if len(chosen) > 1:
            merge.update({t: RealTypes(t.group, d) for t in chosen})
    return merge


def build_typed(layers: Sequence[Any], reps: Sequence[Any], rep_out: Any, plan: str, factory: dict) -> TypedModel | None:
    """The :class:`TypedModel` of an EMLP's layers for ``plan`` (None: run the layers as they are).

    ``"auto"`` takes the typed path where every hidden rep allows it
    (:func:`typed_model_supported`) and every rep decomposes; ``"isotypic"``
    raises where it cannot.

    Raises:
        RepError, SolverError: ``plan="isotypic"`` for reps that cannot be held per type.
    """
    if plan == "assembled" or len(layers) < 2:
        if plan == "isotypic" and len(layers) < 2:
            raise RepError("EMLP: plan='isotypic' needs at least one hidden layer (num_layers >= 1)")
        return None
    if not typed_model_supported(reps[1:]) or not all(r.is_orthogonal for r in (reps[0], rep_out)):
        if plan == "isotypic":
            raise RepError(
                "EMLP: plan='isotypic' needs hidden reps without permutation components (gated elementwise) "
                f"and orthogonal reps; got hidden reps {list(reps[1:])!r}"
            )
        return None
    try:
        model = TypedModel(layers, reps, factory)
        model.forced = plan == "isotypic"
        device = torch.device(factory["device"]).type if factory.get("device") is not None else "cpu"
        if not model.forced and model.min_batch(device) >= AUTO_MAX_MIN_BATCH:
            return None  # the cost model would never run it: keep the assembled plan alone
        return model
    except (RepError, SolverError):
        if plan == "isotypic":
            raise
        return None


def typed_forward(layers: Sequence[Any], typed: TypedModel, x: torch.Tensor) -> torch.Tensor:
    """The EMLP's output from its typed forward; x ``(*, rep_in.size)``."""
    first, last = layers[0], layers[-1]
    x2 = x.reshape(-1, x.shape[-1])
    if x2.shape[0] < typed.min_batch_now(x2.device.type):
        return layers(x)
    check_like(x2, first.coefficients, "EMLP")
    xs: Any = x2
    for block, tb in zip(layers[:-1], typed.blocks):
        xs = tb.forward(block, xs, _operands(block, tb.operands))
    y = typed.head.forward(last, xs, _operands(last, typed.head.operands))
    return y.view(*x.shape[:-1], y.shape[-1])


def _operands(module: Any, compute: Any) -> tuple:
    """``compute(module)``: fresh in training or with grad (and when compiling), else cached on the module
    until one of its parameters changes (in-place updates bump the version, new storage moves the address)."""
    if module.training or torch.is_grad_enabled() or torch.compiler.is_compiling():
        return compute(module)
    key = tuple((p._version, p.data_ptr()) for p in module.parameters())
    cache = module.__dict__.get("_typed_cache")
    if cache is None or cache[0] != key:
        cache = (key, compute(module))
        module.__dict__["_typed_cache"] = cache
    return cache[1]

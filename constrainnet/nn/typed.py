r"""Layers on features held per irreducible type (:mod:`constrainnet.nn.isotypic`), registered on their owner module.

:class:`TypedAffine` applies one or several equivariant affine maps that read
the same typed input, from a slice of the owner's canonical coefficients:
one product per input type (the maps' operands side by side, so a block's
linear part and both bilinear factors take one product per type), the bias
on the trivial type. :class:`TypedGates` is the gated nonlinearity per type,
and :class:`TypedChange` the change of a small rep's coordinates to and from
the typed layout. The parameters are those of the ``Linear``/``EMLPBlock``
that owns them, unchanged: only the coordinates of the computation differ.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..errors import RepError
from ..reps import Rep, ScalarRep
from .assembly import Float64Buffers, register_sums, sparse_map
from .isotypic import PlainToTyped, TypedLayout, TypedMaps, joint_sums, typed_product
from .plan import LinearPlan, components

__all__ = ["BlockTypedChange", "PlainAffine", "TypedAffine", "TypedChange", "TypedGates", "TypedPair", "typed_supported"]


def typed_supported(rep: Rep) -> bool:
    """True when features of ``rep`` can be gated per type: no component is a permutation rep other than scalars.

    (An elementwise function on a permutation rep, as :class:`GatedNonlinearity`
    applies, does not act type by type.)
    """
    return all(_self_gated(c.rep) or not c.rep.is_permutation for c in components(rep))


def _self_gated(rep: Rep) -> bool:
    """Scalars, and 1-dimensional permutation reps (ρ = 1: scalars too), pass through SiLU by themselves."""
    return isinstance(rep, ScalarRep) or (rep.size == 1 and rep.is_permutation)


class TypedChange:
    """A small rep's coordinates ↔ its typed layout, by one dense matrix per type, registered on ``owner``.

    Args:
        owner: the module that holds the buffers.
        prefix: buffer name prefix.
        layout: the rep's typed layout.
        order: optional (size,) permutation: the outside coordinates are the
            rep's coordinates placed at ``order`` (coordinate i of the rep is
            column ``order[i]`` of the outside tensor).
        factory: device and dtype of the buffers.
    """

    def __init__(self, owner: Float64Buffers, prefix: str, layout: TypedLayout, factory: dict, order: np.ndarray | None = None) -> None:
        self.layout = layout
        p = layout.change_matrix()
        if order is not None:
            moved = np.empty_like(p)
            moved[np.asarray(order)] = p
            p = moved
        self.names_in, self.names_out = [], []
        for k, (o, d, m) in enumerate(zip(layout.offsets, layout.dims, layout.mults)):
            block = np.ascontiguousarray(p[:, o : o + d * m])
            owner._register_float64(f"{prefix}_in_{k}", block, factory)
            owner._register_float64(f"{prefix}_out_{k}", np.ascontiguousarray(block.T), factory)
            self.names_in.append(f"{prefix}_in_{k}")
            self.names_out.append(f"{prefix}_out_{k}")

    def to_typed(self, owner: Float64Buffers, x: torch.Tensor) -> list[torch.Tensor]:
        """(batch, size) → one (batch, d_k, m_k) tensor per type."""
        b = owner._buffers
        return [x.mm(b[name]).view(x.shape[0], d, m) for name, d, m in zip(self.names_in, self.layout.dims, self.layout.mults)]

    def from_typed(self, owner: Float64Buffers, typed: Sequence[torch.Tensor]) -> torch.Tensor:
        """One (batch, d_k, m_k) tensor per type → (batch, size)."""
        b = owner._buffers
        out = None
        for t, name in zip(typed, self.names_out):
            flat = t.reshape(t.shape[0], t.shape[1] * t.shape[2])
            out = flat.mm(b[name]) if out is None else torch.addmm(out, flat, b[name])
        if out is None:
            raise RepError("TypedChange.from_typed: the rep has no coordinates")
        return out


class BlockTypedChange:
    """A rep's coordinates → its typed layout, component by component (each distinct component's own U), no dense matrix.

    For a sum of many small components (the bilinear products of a d = 2 group:
    675 coordinates in 48 components of at most 64) this does Σ copies·n² multiply-adds
    per sample instead of :math:`|rep|^2`: per distinct component one gather and one product,
    then one gather into the typed order.

    Args: as :class:`TypedChange` (``order``: outside column of each rep coordinate).
    """

    def __init__(self, owner: Float64Buffers, prefix: str, layout: TypedLayout, factory: dict, order: np.ndarray | None = None) -> None:
        self.layout = layout
        order = np.arange(layout.size) if order is None else np.asarray(order)
        positions = layout.typed_positions()
        kinds: dict = {}
        for j, comp in enumerate(layout.components):
            rows = comp.offset + np.arange(comp.mult * comp.rep.size).reshape(comp.mult, comp.rep.size)
            kinds.setdefault(comp.rep, (j, []))[1].append(rows)
        self.parts = []  # (gather buffer, change buffer or None, copies, n)
        placed = []
        for t, (rep, (j, rows)) in enumerate(kinds.items()):
            rows = np.concatenate(rows)
            owner.register_buffer(f"{prefix}_gather_{t}", torch.as_tensor(order[rows.ravel()], dtype=torch.long, device=factory.get("device")),
                                  persistent=False)
            u = layout.change[j]
            identity = u.shape == (1, 1) and u[0, 0] == 1.0
            if not identity:
                owner._register_float64(f"{prefix}_u_{t}", u, factory)
            self.parts.append((f"{prefix}_gather_{t}", None if identity else f"{prefix}_u_{t}", rows.shape[0], rep.size))
            placed.append(positions[rows.ravel()])
        placed = np.concatenate(placed)
        inverse = np.empty_like(placed)
        inverse[placed] = np.arange(len(placed))
        owner.register_buffer(f"{prefix}_typed_order", torch.as_tensor(inverse, dtype=torch.long, device=factory.get("device")), persistent=False)
        self.order_name = f"{prefix}_typed_order"
        self.flops = sum(c * n * n for _, u, c, n in self.parts if u is not None)
        self.kernels = 2 * len(self.parts) + 2

    def to_typed(self, owner: Float64Buffers, x: torch.Tensor) -> list[torch.Tensor]:
        """(batch, size) → one (batch, d_k, m_k) tensor per type."""
        b = owner._buffers
        batch = x.shape[0]
        changed = []
        for gather, u, copies, n in self.parts:
            block = x.index_select(1, b[gather])
            if u is not None:
                block = block.view(batch * copies, n).mm(b[u]) if block.is_contiguous() else block.reshape(batch * copies, n).mm(b[u])
            changed.append(block.reshape(batch, copies * n))
        flat = torch.cat(changed, dim=1).index_select(1, b[self.order_name])
        sizes = [d * m for d, m in zip(self.layout.dims, self.layout.mults)]
        pieces = flat.split(sizes, dim=1) if len(sizes) > 1 else [flat]
        return [p.reshape(batch, d, m) for p, d, m in zip(pieces, self.layout.dims, self.layout.mults)]


class TypedPair:
    """Two typed features of one small rep (u and v of a bilinear layer) → both in plain coordinates, one product per type.

    Args:
        owner, prefix, layout, factory, order: as :class:`TypedChange` (``order``: plain column of each rep coordinate).
    """

    def __init__(self, owner: Float64Buffers, prefix: str, layout: TypedLayout, factory: dict, order: np.ndarray | None = None) -> None:
        self.layout = layout
        p = layout.change_matrix()
        if order is not None:
            moved = np.empty_like(p)
            moved[np.asarray(order)] = p
            p = moved
        n = layout.size
        self.names = []
        for k, (o, d, m) in enumerate(zip(layout.offsets, layout.dims, layout.mults)):
            pt = p[:, o : o + d * m].T.reshape(d, m, n)
            both = np.zeros((d, 2 * m, 2 * n))
            both[:, :m, :n] = pt
            both[:, m:, n:] = pt
            owner._register_float64(f"{prefix}_{k}", both.reshape(d * 2 * m, 2 * n), factory)
            self.names.append(f"{prefix}_{k}")

    def from_typed(self, owner: Float64Buffers, u: dict, v: dict, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """({type: (batch, d, m)} of u, the same of v) → (u, v), each (batch, size) in plain coordinates."""
        b = owner._buffers
        out = None
        for k, (t, d, m) in enumerate(zip(self.layout.types, self.layout.dims, self.layout.mults)):
            parts = [x[t] if t in x else like.new_zeros(batch, d, m) for x in (u, v)]
            flat = torch.cat(parts, dim=-1).view(batch, d * 2 * m)
            out = flat.mm(b[self.names[k]]) if out is None else torch.addmm(out, flat, b[self.names[k]])
        assert out is not None
        return out[:, : self.layout.size], out[:, self.layout.size :]


class TypedAffine:
    r"""Equivariant affine maps that read one typed input, applied one product per input type.

    Args:
        owner: the module holding the parameters and the buffers (a :class:`Float64Buffers`).
        prefix: buffer name prefix.
        layout_in: typed layout of the input.
        maps: per map, (plan, layout_out, bias basis Q ``(|out|, r)`` or None).
        factory: device and dtype of the buffers.

    The coefficients of the maps are one slice of the owner's flat vector (map
    after map, each in its plan's order), the bias coefficients another (map
    after map, for the maps with a bias).
    """

    def __init__(self, owner: Float64Buffers, prefix: str, layout_in: TypedLayout,
                 maps: Sequence[tuple[LinearPlan, TypedLayout, np.ndarray | None]], factory: dict,
                 extra: Sequence[TypedMaps] = ()) -> None:
        self.layout_in = layout_in
        self.outputs = [lout for _, lout, _ in maps]
        self.maps = TypedMaps(layout_in, [(plan, lout) for plan, lout, _ in maps])
        self.extra = list(extra)
        self.sums = joint_sums([self.maps, *self.extra])
        self.buffers = register_sums(owner, prefix, self.sums, factory)
        # the units J_1.. of every complex or quaternionic type read by these maps
        self.units: dict = {}
        for layout in (layout_in, *(g.layout_in for g in self.extra if hasattr(g, "layout_in"))):
            for t in layout.types:
                if len(t.units) > 1 and t not in self.units:
                    name = f"{prefix}_units_{len(self.units)}"
                    owner._register_float64(name, np.array(t.units[1:]), factory)
                    self.units[t] = name
        # the bias: on each output's trivial type, Q_typed β; stacked (Σ_s m_triv,s, Σ_s r_s), block-diagonal
        blocks = []
        for s, (_, lout, q) in enumerate(maps):
            if q is not None and q.shape[1]:
                blocks.append((s, lout.bias_matrix(q)))
        self.num_bias = sum(b.shape[1] for _, b in blocks)
        self.bias_slots: list[tuple[int, int, int]] = []  # (map, start, stop) rows of the stacked bias per map
        rows = 0
        for s, b in blocks:
            self.bias_slots.append((s, rows, rows + b.shape[0]))
            rows += b.shape[0]
        q_all = np.zeros((rows, self.num_bias))
        col = 0
        for (s, start, stop), (_, b) in zip(self.bias_slots, blocks):
            q_all[start:stop, col : col + b.shape[1]] = b
            col += b.shape[1]
        self.bias_name = f"{prefix}_bias_basis"
        owner._register_float64(self.bias_name, q_all, factory)
        # where each map's bias lands in the trivial input type's operand (if the input has a trivial type)
        self.trivial_in = layout_in.trivial
        self._bias_into_operand = self.trivial_in is not None and all(
            self.maps.columns[self.trivial_in][s] is not None for s, _, _ in self.bias_slots
        )

    def operands(self, owner: Float64Buffers, coefficients: torch.Tensor, betas: torch.Tensor | None) -> tuple[list, list, torch.Tensor | None]:
        """(operands of the maps, operands of ``extra``, stacked bias or None) from the coefficient and bias vectors (differentiable)."""
        b = owner._buffers
        forward, backward = ([b[n] for n in names] for names in self.buffers)
        flat = sparse_map(self.sums, (forward, backward), coefficients)
        sizes = [self.maps.size] + [g.size for g in self.extra]
        flat = flat if flat.shape[0] == sum(sizes) else flat[: sum(sizes)]  # (a map onto nothing returns one empty bag)
        pieces = flat.split(sizes) if self.extra else [flat]
        ops = self.maps.split(pieces[0])
        extra = [g.split(piece) for g, piece in zip(self.extra, pieces[1:])]
        bias = None if betas is None or not self.num_bias else torch.mv(b[self.bias_name], betas)
        return ops, extra, bias

    def apply(self, owner: Float64Buffers, xs: Sequence[torch.Tensor], ops: Sequence[torch.Tensor | None],
              bias: torch.Tensor | None, maps: TypedMaps | None = None) -> list[dict]:
        """Per map, {type: (batch, d, m_out) tensor} of its output types that the input reaches (views of one product per input type)."""
        maps = maps or self.maps
        b = owner._buffers
        own = maps is self.maps
        trivial_bias = None
        if bias is not None and own and self._bias_into_operand:
            trivial_bias = _scatter_bias(bias, self.bias_slots, self.maps.columns[self.trivial_in], self.maps.operands[self.trivial_in][1])
        out: list[dict] = [dict() for _ in maps.maps]
        for k, (x, op) in enumerate(zip(xs, ops)):
            if op is None:
                continue
            t = maps.layout_in.types[k]
            units = b[self.units[t]] if t in self.units else None
            y = typed_product(x, units, op, trivial_bias if own and k == self.trivial_in else None)
            present = [(s, cols) for s, cols in enumerate(maps.columns[k]) if cols is not None]
            parts = y.split([hi - lo for _, (lo, hi) in present], dim=-1) if len(present) > 1 else [y]
            for (s, _), part in zip(present, parts):
                out[s][t] = part
        if bias is not None and own and not self._bias_into_operand:
            for s, start, stop in self.bias_slots:
                lout = self.outputs[s]
                t = lout.types[lout.trivial]
                here = bias[start:stop].view(1, 1, -1)
                out[s][t] = out[s][t] + here if t in out[s] else here.expand(xs[0].shape[0], 1, stop - start)
        return out


def _scatter_bias(bias: torch.Tensor, slots: list[tuple[int, int, int]], columns: list, width: int) -> torch.Tensor:
    """The stacked bias placed at each map's columns of the trivial operand (zeros elsewhere)."""
    parts, at = [], 0
    for s, start, stop in slots:
        lo, hi = columns[s]
        if lo > at:
            parts.append(bias.new_zeros(lo - at))
        parts.append(bias[start:stop])
        at = hi
    if width > at:
        parts.append(bias.new_zeros(width - at))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


class PlainAffine:
    r"""Equivariant affine maps that read plain input ``(batch, |in|)``: one product x A for all of them.

    Args:
        owner, prefix, factory: as :class:`TypedAffine`.
        size_in: input coordinates.
        maps: per map, (plan, layout_out or None for a plain output, order of a
            plain output's coordinates or None, bias basis Q or None).
        extra: further operands gathered by the same sparse map (their coefficients after the maps').

    :meth:`apply` gives per map {type index: (batch, d, m) view} for a typed
    output, ``{None: (batch, |out|) view}`` for a plain one (see
    :class:`~constrainnet.nn.isotypic.PlainToTyped`).
    """

    def __init__(self, owner: Float64Buffers, prefix: str, size_in: int,
                 maps: Sequence[tuple[LinearPlan, TypedLayout | None, np.ndarray | None, np.ndarray | None]],
                 factory: dict, extra: Sequence = ()) -> None:
        self.maps = PlainToTyped(size_in, [(plan, lout, order) for plan, lout, order, _ in maps])
        self.extra = list(extra)
        self.sums = joint_sums([self.maps, *self.extra])
        self.buffers = register_sums(owner, prefix, self.sums, factory)
        blocks = []
        for s, (plan, lout, order, q) in enumerate(maps):
            if q is None or not q.shape[1]:
                continue
            if lout is not None:
                start = self.maps.regions[s][lout.trivial][0]
                blocks.append((start + np.arange(lout.mults[lout.trivial]), lout.bias_matrix(q)))
            else:
                start = self.maps.regions[s][None][0]
                blocks.append((start + (np.arange(q.shape[0]) if order is None else np.asarray(order)), q))
        self.num_bias = sum(b.shape[1] for _, b in blocks)
        q_all = np.zeros((self.maps.width, self.num_bias))
        col = 0
        for rows, b in blocks:
            q_all[rows, col : col + b.shape[1]] = b
            col += b.shape[1]
        self.bias_name = f"{prefix}_bias_basis"
        owner._register_float64(self.bias_name, q_all, factory)
        # the output regions in column order (they tile the columns of x A)
        self._order = sorted(((s, key, region) for s, regions in enumerate(self.maps.regions) for key, region in regions.items()),
                             key=lambda item: item[2][0])

    def operands(self, owner: Float64Buffers, coefficients: torch.Tensor, betas: torch.Tensor | None) -> tuple[torch.Tensor, list, torch.Tensor | None]:
        """(A, operands of ``extra``, bias (W,) or None) from the coefficient and bias vectors (differentiable)."""
        b = owner._buffers
        forward, backward = ([b[n] for n in names] for names in self.buffers)
        flat = sparse_map(self.sums, (forward, backward), coefficients)
        sizes = [self.maps.size] + [g.size for g in self.extra]
        flat = flat if flat.shape[0] == sum(sizes) else flat[: sum(sizes)]  # (a map onto nothing returns one empty bag)
        pieces = flat.split(sizes) if self.extra else [flat]
        (a,) = self.maps.split(pieces[0])
        extra = [g.split(piece) for g, piece in zip(self.extra, pieces[1:])]
        bias = None if betas is None or not self.num_bias else torch.mv(b[self.bias_name], betas)
        return a, extra, bias

    def apply(self, x: torch.Tensor, a: torch.Tensor, bias: torch.Tensor | None) -> list[dict]:
        """Per map, its outputs as views of x A + b (see the class docstring)."""
        y = x.mm(a) if bias is None else torch.addmm(bias, x, a)
        batch = x.shape[0]
        out: list[dict] = [dict() for _ in self.maps.regions]
        pieces = y.split([d * m for _, _, (_, d, m) in self._order], dim=1)
        for (s, key, (_, d, m)), piece in zip(self._order, pieces):
            out[s][key] = piece if key is None else piece.view(batch, d, m)
        return out


class TypedGates:
    r"""The gated nonlinearity of :class:`GatedNonlinearity` on typed features.

    The input is the typed ``gated(rep)``: per type, the features of ``rep``
    (the first m_k slots, since the gates come after every feature) and, on
    the trivial type, the gates. Scalar components pass through SiLU; every
    other copy is multiplied by σ of its gate, on each of its pieces.

    One sigmoid over the trivial type's slots (its scalars and the gates) and one
    gather give every slot of every type its factor: its own σ (a scalar: x σ(x)
    is SiLU) or its copy's gate; then one multiplication per type.

    Raises:
        RepError: ``rep`` has a permutation component (see :func:`typed_supported`).
    """

    def __init__(self, owner: Float64Buffers, prefix: str, rep: Rep, layout: TypedLayout, gated_layout: TypedLayout, factory: dict) -> None:
        if not typed_supported(rep):
            raise RepError(f"TypedGates: {rep!r} has permutation components, which are gated elementwise, not per type")
        self.layout, self.gated_layout = layout, gated_layout
        g_triv = gated_layout.trivial
        n_gates = 0
        sources: list[tuple[int, int, int]] = []  # (source column among the trivial slots, type, slot)
        gate_of: list[list[tuple[int, int]]] = []
        for j, comp in enumerate(layout.components):
            pieces, slots = layout.pieces[j], layout.slots[j]
            for p in range(comp.mult):
                if _self_gated(comp.rep):
                    sources.append((int(slots[p, 0]), pieces[0].type_index, int(slots[p, 0])))
                    continue
                gate_of.append([(piece.type_index, int(slots[p, s])) for s, piece in enumerate(pieces)])
                n_gates += 1
        self.n_gates = n_gates
        width = gated_layout.mults[g_triv] if g_triv is not None else 0
        first_gate = width - n_gates
        for g, places in enumerate(gate_of):
            sources += [(first_gate + g, k, slot) for k, slot in places]
        offsets = np.concatenate([[0], np.cumsum(layout.mults)]).astype(np.int64)
        expansion = np.zeros((width, int(offsets[-1])))
        for src, k, slot in sources:
            expansion[src, offsets[k] + slot] = 1.0
        if expansion.shape[1] and not np.all(expansion.sum(axis=0) == 1):
            raise RepError(f"TypedGates: every slot of {rep!r} needs one factor")
        self.trivial_type = gated_layout.types[g_triv] if g_triv is not None else None
        self.feature_slots = first_gate
        owner._register_float64(f"{prefix}_expand", expansion, factory)
        owner.register_buffer(f"{prefix}_source", torch.as_tensor(expansion.argmax(axis=0) if expansion.size else np.zeros(0, dtype=np.int64),
                                                                   dtype=torch.long, device=factory.get("device")), persistent=False)
        self.expand_name, self.index_name = f"{prefix}_expand", f"{prefix}_source"

    def __call__(self, owner: Float64Buffers, zs: dict) -> list[torch.Tensor]:
        """{type: (batch, d, m) features and gates of gated(rep)} → the typed features of rep (list in layout order)."""
        b = owner._buffers
        triv = zs[self.trivial_type]
        factors = _ExpandGates.apply(torch.sigmoid(triv[:, 0, :]), b[self.index_name], b[self.expand_name])
        if self.n_gates:
            zs = {**zs, self.trivial_type: triv.split([self.feature_slots, self.n_gates], dim=-1)[0]}
        mults = self.layout.mults
        parts = factors.split(list(mults), dim=1) if len(mults) > 1 else [factors]
        out = []
        for t, factor in zip(self.layout.types, parts):
            z = zs.get(t)
            if z is None:
                raise RepError(f"TypedGates: no features of type {t.label}")
            out.append(z * factor.unsqueeze(1))
        return out


class _ExpandGates(torch.autograd.Function):
    """σ(gates) copied to the columns of their copies: a gather forward, the 0/1 expansion's transpose backward.

    The backward sums each gate's columns by a product with the fixed 0/1 matrix E
    (n_gates, columns), in a fixed order on every device (a scatter-add would
    accumulate in an arbitrary order on a GPU); itself differentiable.
    """

    @staticmethod
    def forward(ctx, gates: torch.Tensor, index: torch.Tensor, expansion: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(expansion)
        return gates.index_select(1, index)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple:  # type: ignore[override]
        (expansion,) = ctx.saved_tensors
        return grad.mm(expansion.t()), None, None

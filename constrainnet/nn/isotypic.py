r"""Features held per irreducible type, and equivariant maps applied type by type.

A rep decomposes as ``Uᵀ ρ(g) U = ⊕ₖ I_{mₖ} ⊗ πₖ(g)`` (:meth:`Rep.decompose`).
In that basis an equivariant map a → b is block-diagonal over the types k
shared by a and b:

.. math::
    W' = U_bᵀ W U_a = \bigoplus_k \sum_u M_{k,u} \otimes J_{k,u},

with J_{k,u} the ``units`` of type k (c = 1, 2 or 4 of them: the identity, and
for complex or quaternionic types the rest of the commutant of π_k) and
M_{k,u} free (m_b,k × m_a,k) matrices. So the map costs one matrix product
per type, Σ_k c_k m_b,k m_a,k d_k multiply-adds per sample instead of
:math:`|a| \cdot |b|`.

:class:`TypedLayout` fixes how a rep's features are held per type: one tensor
(batch, d_k, m_k) per type k (contiguous, so that (batch·d_k, m_k) is a plain
matrix for the product), the copies of a type in the order of the rep's
coordinates (component by component, copy by copy, and inside one copy in
the order of its decomposition). Each component of the rep is changed of
basis by its own U (solved once per distinct component rep).

:class:`TypedMaps` turns the canonical coefficients of one or several
``Linear`` maps that read the same typed input (their :class:`LinearPlan`
pairs, the parameters every plan shares) into one right-hand matrix per
input type, ``R_k`` of shape (c_k·m_a,k, Σ widths), by a fixed sparse map
(:class:`~constrainnet.nn.assembly.SparseSum`, one ``embedding_bag`` for all
types): the weights stay exactly the projected ones, only their coordinates
change. The entries of R_k are M_{k,u}[i, j] = ⟨J_u, B'_{ij}⟩ / ⟨J_u, J_u⟩ of
the blocks B' of the changed bases U_bᵀ B U_a, checked to have that form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..errors import RepError
from ..reps import Rep, ScalarRep
from ..solver.irreps import IrrepType
from .assembly import SparseSum
from .plan import LinearPlan, components

__all__ = ["TypedLayout", "TypedMaps", "TYPED_DENSE_MAX_SIZE", "is_trivial_type", "RealTypes", "joint_sums", "PlainToTyped", "TypedToPlain", "split_operands", "to_typed", "from_typed", "typed_product"]

# Reps up to this many coordinates are changed to and from the typed layout by
# one dense (size × d_k·m_k) matrix per type (in an EMLP only the input, the
# output and the small bilinear reps are ever changed; hidden features stay typed).
TYPED_DENSE_MAX_SIZE = 2048

# A changed basis block B' must be Σ_u M_u ⊗ J_u to this accuracy (relative to
# the largest entry of the pair's basis): canonical bases are exact to ~1e-12.
_BLOCK_RTOL = 1e-8
# Coefficients of the typed matrices below this fraction of the pair's largest are rounding residue.
_ZERO_RTOL = 1e-12


def is_trivial_type(t: IrrepType) -> bool:
    """True for the trivial irreducible (π = 1 on every generator): the type that holds invariants and biases."""
    return t.dim == 1 and bool(np.all(np.abs(t.pi_generators - 1.0) < 1e-9)) and bool(np.all(np.abs(t.pi_algebra) < 1e-9))


@dataclass(frozen=True)
class _Piece:
    """One irreducible piece inside a component copy: type (or group) index, first column in the component's U,
    dimension, and its irreducible type."""

    type_index: int
    column: int
    dim: int
    irrep: IrrepType | None = None


@dataclass(frozen=True)
class RealTypes:
    """The real irreducible types of one dimension of a group, held together (``TypedLayout(..., merge_real=True)``).

    Their copies share one (batch, d, m) tensor, so that a map applies one product
    (block-diagonal over the types) and a nonlinearity one operation for all of them.
    """

    group: object
    dim: int

    @property
    def units(self) -> np.ndarray:
        return np.eye(self.dim)[None]

    @property
    def label(self) -> str:
        return f"real{self.dim}"


class TypedLayout:
    r"""How the features of a rep are held per irreducible type.

    Attributes:
        rep: the rep.
        types: the irreducible types met, in the canonical order of
            :meth:`Rep.decompose` (dimension, commutant, fingerprint); with
            ``merge_real`` (True: every real type; or a dict from types to
            :class:`RealTypes`) real types of one dimension are held together
            under one :class:`RealTypes` key, their copies in coordinate order.
        dims, mults, commutants: per type, d_k, m_k and c_k (1, 2 or 4).
        slots: per component of ``rep`` (in :func:`~constrainnet.nn.plan.components`
            order), an int array (copies, pieces) giving the slot (0 ≤ slot < m_k)
            of each piece of each copy among the copies of its type.
        pieces: per component, its pieces (type index, first column in the
            component's U, dimension) in column order.
        change: per component, its orthogonal U (size × size), columns piece by piece.

    The flat typed order (used by :meth:`change_matrix`) is type by type, and
    inside type k the (d_k, m_k) entries row-major: position
    off_k + e·m_k + slot holds coordinate e of copy ``slot``.

    Raises:
        RepError: a rep that has no orthogonal decomposition (see :meth:`Rep.decompose`).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> lay = TypedLayout(2 * V**0 + V**2)
        >>> [t.l for t in lay.types], lay.dims, lay.mults
        ([0, 1, 2], (1, 3, 5), (3, 1, 1))
    """

    def __init__(self, rep: Rep, merge_real: bool | dict = False) -> None:
        if not isinstance(rep, Rep):
            raise TypeError(f"TypedLayout: expected a Rep, got {type(rep).__name__}")
        self.rep = rep
        self.components = components(rep)
        found: dict[Rep, tuple[np.ndarray, list[tuple[IrrepType, int, int]]]] = {}
        for c in self.components:
            if c.rep not in found:
                d = c.rep.decompose()
                raw = [(k.irrep, k.start + s * k.dim, k.dim) for k in d.components for s in range(k.multiplicity)]
                u = np.asarray(d.change_of_basis)
                if isinstance(c.rep, ScalarRep) or (c.rep.size == 1 and c.rep.is_permutation):
                    u = np.ones((1, 1))  # ρ = 1: the trivial type in any sign; +1 keeps scalars as they are (SiLU gates them)
                found[c.rep] = (u, raw)
        irreps = sorted({t for _, raw in found.values() for t, _, _ in raw}, key=lambda t: t.sort_key)
        if isinstance(merge_real, dict):  # an explicit choice: irreducible type → the key it is held under
            key = lambda t: merge_real.get(t, t)  # noqa: E731
        else:
            key = (lambda t: RealTypes(t.group, t.dim) if len(t.units) == 1 else t) if merge_real else (lambda t: t)
        types = list(dict.fromkeys(key(t) for t in irreps))
        self.types: tuple = tuple(types)
        index = {t: k for k, t in enumerate(types)}
        self.dims = tuple(t.dim for t in types)
        self.commutants = tuple(len(t.units) for t in types)
        counts = [0] * len(types)
        self.change: list[np.ndarray] = []
        self.pieces: list[tuple[_Piece, ...]] = []
        self.slots: list[np.ndarray] = []
        for c in self.components:
            u, raw = found[c.rep]
            pieces = tuple(_Piece(index[key(t)], col, d, t) for t, col, d in raw)
            slots = np.empty((c.mult, len(pieces)), dtype=np.int64)
            for p in range(c.mult):
                for s, piece in enumerate(pieces):
                    slots[p, s] = counts[piece.type_index]
                    counts[piece.type_index] += 1
            self.change.append(u)
            self.pieces.append(pieces)
            self.slots.append(slots)
        self.mults = tuple(counts)
        sizes = [d * m for d, m in zip(self.dims, self.mults)]
        self.offsets = tuple(int(o) for o in np.concatenate([[0], np.cumsum(sizes)[:-1]])) if sizes else ()
        self.size = rep.size
        trivial = [index[key(t)] for t in irreps if is_trivial_type(t)]
        self.trivial: int | None = trivial[0] if trivial else None

    def typed_positions(self) -> np.ndarray:
        """(size,) the flat typed position of each changed coordinate, in the rep's coordinate order.

        Changed coordinate (component j, copy p, column i of its U) sits at rep
        coordinate :math:`offset_j + p |c_j| + i` before the change.
        """
        out = np.empty(self.size, dtype=np.int64)
        for comp, pieces, slots in zip(self.components, self.pieces, self.slots):
            n = comp.rep.size
            for s, piece in enumerate(pieces):
                k = piece.type_index
                e = np.arange(piece.dim)
                pos = self.offsets[k] + e[None, :] * self.mults[k] + slots[:, s, None]
                cols = comp.offset + np.arange(comp.mult)[:, None] * n + piece.column + e[None, :]
                out[cols] = pos
        return out

    def change_matrix(self) -> np.ndarray:
        """The dense (size × size) matrix P with x P = the features in the flat typed order (P orthogonal).

        Raises:
            RepError: ``rep`` has more than :data:`TYPED_DENSE_MAX_SIZE` coordinates.
        """
        if self.size > TYPED_DENSE_MAX_SIZE:
            raise RepError(
                f"TypedLayout: changing {self.rep!r} ({self.size} coordinates) to and from the typed layout densely "
                f"takes more than TYPED_DENSE_MAX_SIZE = {TYPED_DENSE_MAX_SIZE} coordinates; keep such features typed"
            )
        u = np.zeros((self.size, self.size))
        for comp, change in zip(self.components, self.change):
            n = comp.rep.size
            for p in range(comp.mult):
                at = comp.offset + p * n
                u[at : at + n, at : at + n] = change
        p = np.zeros_like(u)
        p[:, self.typed_positions()] = u
        return p

    def bias_matrix(self, q: np.ndarray) -> np.ndarray:
        """The invariant basis ``q`` (size, r) in typed coordinates: (m_trivial, r) on the trivial type's slots.

        Raises:
            RepError: ``q`` has a part outside the trivial type (it is not invariant).
        """
        typed = self.change_matrix().T @ q if self.size <= TYPED_DENSE_MAX_SIZE else self._typed_rows(q)
        if self.trivial is None:
            if q.size and np.abs(typed).max() > 1e-9:
                raise RepError("TypedLayout.bias_matrix: expected invariant columns, but the rep has no trivial type")
            return np.zeros((0, q.shape[1]))
        k = self.trivial
        inside = typed[self.offsets[k] : self.offsets[k] + self.mults[k]]
        rest = np.delete(typed, np.arange(self.offsets[k], self.offsets[k] + self.mults[k]), axis=0)
        if rest.size and np.abs(rest).max() > 1e-9 * max(1.0, np.abs(q).max()):
            raise RepError("TypedLayout.bias_matrix: expected invariant columns (only the trivial type)")
        return inside

    def _typed_rows(self, q: np.ndarray) -> np.ndarray:
        """Uᵀ q in the flat typed order, component by component (no dense U)."""
        out = np.zeros_like(q)
        positions = self.typed_positions()
        for comp, change in zip(self.components, self.change):
            n = comp.rep.size
            rows = comp.offset + np.arange(comp.mult * n)
            block = q[rows].reshape(comp.mult, n, -1)
            out[positions[rows]] = np.einsum("ij,pik->pjk", change, block).reshape(comp.mult * n, -1)
        return out


def to_typed(x: torch.Tensor, change: Sequence[torch.Tensor], dims: Sequence[int]) -> list[torch.Tensor]:
    """Features x (batch, size) in a rep's coordinates → one (batch, d_k, m_k) tensor per type.

    ``change`` holds the columns of :meth:`TypedLayout.change_matrix` of each type (size, d_k·m_k).
    """
    return [x.mm(p).view(x.shape[0], d, p.shape[1] // d) for p, d in zip(change, dims)]


def from_typed(typed: Sequence[torch.Tensor], change_t: Sequence[torch.Tensor]) -> torch.Tensor:
    """The inverse of :func:`to_typed`: Σ_k T_k (batch, d_k·m_k) Pₖᵀ, with ``change_t`` the (d_k·m_k, size) rows of Pᵀ."""
    out = None
    for t, p in zip(typed, change_t):
        flat = t.reshape(t.shape[0], t.shape[1] * t.shape[2])
        out = flat.mm(p) if out is None else torch.addmm(out, flat, p)
    assert out is not None
    return out


def typed_product(x: torch.Tensor, units: torch.Tensor | None, operand: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""Apply a type's right-hand matrix R (c·m_in, W) to its features x (batch, d, m_in): (batch, d, W).

    y[b, e, :] = Σ_u (J_u x[b])[e, :] R_u, the input expanded by the units
    J_1..J_{c−1} (``units`` (c−1, d, d), or None for a real type) along its
    last axis; ``bias`` (W,) is added (trivial type only).
    """
    batch, d, _ = x.shape
    if units is not None:
        x = torch.cat([x, *torch.matmul(units.unsqueeze(1), x.unsqueeze(0)).unbind(0)], dim=-1)
    flat = x.reshape(batch * d, x.shape[-1])
    y = flat.mm(operand) if bias is None else torch.addmm(bias, flat, operand)
    return y.view(batch, d, operand.shape[1])


class TypedMaps:
    r"""The right-hand matrices of equivariant maps that read one typed input, from their canonical coefficients.

    Args:
        layout_in: the typed layout of the input rep (shared by all maps).
        maps: (plan, layout_out) per map: its :class:`LinearPlan` (the canonical
            pair bases; coefficients in the plan's order) and the typed layout
            of its output.

    Attributes:
        operands: per input type k, (rows, width) of R_k = [R_k of map 0 | map 1 | …]
            with rows c_k·m_a,k (width 0 when no map has an output of type k).
        columns: per input type k and map s, (start, stop) of map s's columns in R_k
            (its output type's m_b), or None when map s has no output of type k.

    Its :attr:`sums` are the (forward, backward) sparse maps from the maps'
    coefficient vectors (concatenated, map after map) to the operands flattened
    one after the other.
    """

    def __init__(self, layout_in: TypedLayout, maps: Sequence[tuple[LinearPlan, TypedLayout]]) -> None:
        self.layout_in = layout_in
        self.maps = list(maps)
        n_types = len(layout_in.types)
        self.columns: list[list[tuple[int, int] | None]] = [[None] * len(self.maps) for _ in range(n_types)]
        widths = [0] * n_types
        for s, (_, lout) in enumerate(self.maps):
            where = {t: j for j, t in enumerate(lout.types)}
            for k, t in enumerate(layout_in.types):
                if t in where:
                    m = lout.mults[where[t]]
                    self.columns[k][s] = (widths[k], widths[k] + m)
                    widths[k] += m
        self.operands = [(c * m, w) for c, m, w in zip(layout_in.commutants, layout_in.mults, widths)]
        flat_offsets = np.concatenate([[0], np.cumsum([r * w for r, w in self.operands])]).astype(np.int64)
        dest, src, val = [], [], []
        coefficient_offset = 0
        for s, (plan, lout) in enumerate(self.maps):
            for d, c, v in _map_terms(plan, layout_in, lout, s, self.columns, widths, flat_offsets):
                dest.append(d)
                src.append(c + coefficient_offset)
                val.append(v)
            coefficient_offset += plan.num_coefficients
        self.num_coefficients = coefficient_offset
        self.size = int(flat_offsets[-1])
        self.terms = (
            np.concatenate(dest) if dest else np.zeros(0, dtype=np.int64),
            np.concatenate(src) if src else np.zeros(0, dtype=np.int64),
            np.concatenate(val) if val else np.zeros(0),
        )

    @property
    def sums(self) -> tuple[SparseSum, SparseSum]:
        """The (forward, backward) sparse maps: coefficients → operands (flattened) and back."""
        return joint_sums([self])

    def split(self, flat: torch.Tensor) -> list[torch.Tensor | None]:
        """The operands R_k as views of the flat vector the forward sum gives (None where the width is 0)."""
        return split_operands(flat, self.operands)


def joint_sums(groups: Sequence[TypedMaps]) -> tuple[SparseSum, SparseSum]:
    """The sparse maps of several :class:`TypedMaps` at once: coefficients group after group → operands group after group."""
    dest, src, val = [], [], []
    size = coefficients = 0
    for g in groups:
        d, c, v = g.terms
        dest.append(d + size)
        src.append(c + coefficients)
        val.append(v)
        size += g.size
        coefficients += g.num_coefficients
    d, c, v = np.concatenate(dest), np.concatenate(src), np.concatenate(val)
    return SparseSum.build(size, d, c, v), SparseSum.build(coefficients, c, d, v)


def _map_terms(plan: LinearPlan, lin: TypedLayout, lout: TypedLayout, s: int, columns: list, widths: list[int],
               flat_offsets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The (dest, src, value) terms of one map: its coefficients → entries of the operands R_k."""
    out_index = {t: j for j, t in enumerate(lout.types)}
    terms = []
    offset = 0
    for p in plan.pairs:
        i, j = p.i, p.j
        ua, ub = lin.change[i], lout.change[j]
        n, m = plan.outputs[j].mult, plan.inputs[i].mult
        changed = np.einsum("ob,kbi,ia->koa", ub.T, p.basis, ua)  # (r, |b|, |a|): U_bᵀ B U_a
        scale = max(np.abs(p.basis).max(), 1e-300)
        covered = np.zeros(changed.shape, dtype=bool)
        for sa, pa in enumerate(lin.pieces[i]):
            t = lin.types[pa.type_index]
            if t not in out_index:
                continue
            units = pa.irrep.units
            d = pa.dim
            for sb, pb in enumerate(lout.pieces[j]):
                if pb.type_index != out_index[t] or pb.irrep is not pa.irrep:
                    continue
                block = changed[:, pb.column : pb.column + d, pa.column : pa.column + d]
                covered[:, pb.column : pb.column + d, pa.column : pa.column + d] = True
                coef = np.einsum("kxy,uxy->ku", block, units) / np.einsum("uxy,uxy->u", units, units)
                if np.abs(block - np.einsum("ku,uxy->kxy", coef, units)).max() > _BLOCK_RTOL * scale:
                    raise RepError(f"TypedMaps: the basis of {plan.inputs[i].rep!r} >> {plan.outputs[j].rep!r} is not of the typed form")
                k_idx, u_idx = np.nonzero(np.abs(coef) > _ZERO_RTOL * scale)
                if not len(k_idx):
                    continue
                ka = pa.type_index
                start = columns[ka][s][0]
                rows_in = lin.slots[i][:, sa]  # (m,) slot of each input copy
                cols_out = lout.slots[j][:, sb]  # (n,)
                mult_in = lin.mults[ka]
                # entry (u·m_in + slot_in, start + slot_out) of R_ka, for copies (pp, qq) and terms (k, u)
                pp = np.arange(n)[:, None, None]
                qq = np.arange(m)[None, :, None]
                row = u_idx[None, None, :] * mult_in + rows_in[qq]
                dest = flat_offsets[ka] + row * widths[ka] + start + cols_out[pp]
                src = offset + k_idx[None, None, :] * n * m + pp * m + qq
                value = np.broadcast_to(coef[k_idx, u_idx], dest.shape)
                terms.append((dest.ravel(), np.broadcast_to(src, dest.shape).ravel(), value.ravel()))
        if np.abs(changed[~covered]).max(initial=0.0) > _BLOCK_RTOL * scale:
            raise RepError(f"TypedMaps: the basis of {plan.inputs[i].rep!r} >> {plan.outputs[j].rep!r} maps between different types")
        offset += p.r * n * m
    return terms


class PlainToTyped:
    r"""One matrix A ``(|in|, W)`` from plain input coordinates to several maps' typed outputs (and plain ones).

    ``x A`` gives, for map s and output type k, the (batch, d_k·m_k) region
    ``regions[s][k]`` (entry e·m_k + slot) of its typed output, and for a map
    whose output is plain (layout None, with its coordinate ``order``), its
    coordinates at ``regions[s][None]``.

    Args:
        size_in: input coordinates; ``order_in`` (optional) places rep coordinate i at column ``order_in[i]``.
        maps: per map, (plan, layout_out or None, order_out or None).
    """

    def __init__(self, size_in: int, maps: Sequence[tuple[LinearPlan, TypedLayout | None, np.ndarray | None]],
                 order_in: np.ndarray | None = None) -> None:
        self.maps = list(maps)
        self.regions: list[dict] = []
        width = 0
        for _, lout, _ in self.maps:
            here: dict = {}
            if lout is None:
                pass
            else:
                for k, (d, m) in enumerate(zip(lout.dims, lout.mults)):
                    here[k] = (width, d, m)
                    width += d * m
            self.regions.append(here)
        for s, (plan, lout, _) in enumerate(self.maps):
            if lout is None:
                self.regions[s][None] = (width, 1, plan.rep_out.size)
                width += plan.rep_out.size
        self.width = width
        self.operands = [(size_in, width)]
        order_in = np.arange(size_in) if order_in is None else np.asarray(order_in)
        dest, src, val = [], [], []
        offset = 0
        for s, (plan, lout, order_out) in enumerate(self.maps):
            for d, c, v in _entry_terms(plan, None, lout, order_in, order_out, self.regions[s], width, None):
                dest.append(d)
                src.append(c + offset)
                val.append(v)
            offset += plan.num_coefficients
        self.num_coefficients = offset
        self.size = size_in * width
        self.terms = _cat_terms(dest, src, val)

    def split(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """[A] as a ``(|in|, W)`` view of the flat vector."""
        return [flat.view(self.operands[0])]


class TypedToPlain:
    r"""Per input type k a matrix A_k ``(d_k·m_k, |out|)``: y = Σ_k T_k ``(batch, d_k·m_k)`` A_k, the output in plain coordinates.

    Args:
        layout_in: typed layout of the input.
        plan: the map's plan.
        order_out: optional; rep coordinate i of the output goes to column ``order_out[i]``.
    """

    def __init__(self, layout_in: TypedLayout, plan: LinearPlan, order_out: np.ndarray | None = None) -> None:
        self.layout_in = layout_in
        n_out = plan.rep_out.size
        self.operands = [(d * m, n_out) for d, m in zip(layout_in.dims, layout_in.mults)]
        offsets = np.concatenate([[0], np.cumsum([r * w for r, w in self.operands])]).astype(np.int64)
        self.num_coefficients = plan.num_coefficients
        self.size = int(offsets[-1])
        self.terms = _cat_terms(*zip(*_entry_terms(plan, layout_in, None, None, order_out, None, n_out, offsets)) if plan.pairs else ([], [], []))

    def split(self, flat: torch.Tensor) -> list[torch.Tensor | None]:
        """The operands A_k as views of the flat vector (None where empty)."""
        return split_operands(flat, self.operands)


def split_operands(flat: torch.Tensor, shapes: Sequence[tuple[int, int]]) -> list[torch.Tensor | None]:
    """``flat`` cut into matrices of the given shapes (None for empty ones) by one ``split``.

    One split (not one slice per matrix): its backward joins the gradients in
    one operation, where each slice would write into a zero tensor of the whole size.
    """
    sizes = [r * w for r, w in shapes]
    if not sum(sizes):  # (a sparse map onto nothing still returns one empty bag)
        return [None] * len(sizes)
    parts = flat.split(sizes) if len(sizes) > 1 else [flat]
    return [p.view(shape) if size else None for p, shape, size in zip(parts, shapes, sizes)]


def _cat_terms(dest: Sequence, src: Sequence, val: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not len(dest):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(dest).astype(np.int64), np.concatenate(src).astype(np.int64), np.concatenate(val)


def _entry_terms(plan: LinearPlan, lin: TypedLayout | None, lout: TypedLayout | None, order_in: np.ndarray | None,
                 order_out: np.ndarray | None, regions: dict | None, width: int, offsets: np.ndarray | None) -> list:
    """Terms of maps with one plain side: entries of U_bᵀ B (plain input) or B U_a (plain output), placed by position."""
    terms = []
    offset = 0
    for p in plan.pairs:
        inp, out = plan.inputs[p.i], plan.outputs[p.j]
        n, m, a, b = out.mult, inp.mult, inp.rep.size, out.rep.size
        basis = p.basis
        if lout is not None:
            basis = np.einsum("ob,kbi->koi", lout.change[p.j].T, basis)
        if lin is not None:
            basis = np.einsum("koi,ia->koa", basis, lin.change[p.i])
        scale = max(np.abs(basis).max(), 1e-300)
        k, o, i = np.nonzero(np.abs(basis) > _ZERO_RTOL * scale)
        value = basis[k, o, i]
        pp = np.arange(n)[:, None]
        qq = np.arange(m)[:, None]
        # the row (output side) position of (copy pp, o) and the column (input side) position of (copy qq, i)
        if lout is not None:
            piece_of = np.empty(b, dtype=np.int64)
            for s, piece in enumerate(lout.pieces[p.j]):
                piece_of[piece.column : piece.column + piece.dim] = s
            s_o = piece_of[o]
            kind = np.array([lout.pieces[p.j][s].type_index for s in s_o], dtype=np.int64)
            e = o - np.array([lout.pieces[p.j][s].column for s in s_o], dtype=np.int64)
            starts = np.array([regions[t][0] for t in kind], dtype=np.int64)
            mults = np.array([lout.mults[t] for t in kind], dtype=np.int64)
            out_pos = starts[None, :] + e[None, :] * mults[None, :] + lout.slots[p.j][:, s_o]  # (n, terms)
        else:
            rows = out.offset + pp * b + o[None, :]
            out_pos = (rows if order_out is None else np.asarray(order_out)[rows]) + (regions[None][0] if regions else 0)
        if lin is not None:
            piece_of = np.empty(a, dtype=np.int64)
            for s, piece in enumerate(lin.pieces[p.i]):
                piece_of[piece.column : piece.column + piece.dim] = s
            s_i = piece_of[i]
            kind = np.array([lin.pieces[p.i][s].type_index for s in s_i], dtype=np.int64)
            e = i - np.array([lin.pieces[p.i][s].column for s in s_i], dtype=np.int64)
            mults = np.array([lin.mults[t] for t in kind], dtype=np.int64)
            in_row = e[None, :] * mults[None, :] + lin.slots[p.i][:, s_i]  # (m, terms): row of A_kind
            base = offsets[kind][None, :]
            dest = base[None] + in_row[None, :, :] * width + out_pos[:, None, :]
        else:
            cols = inp.offset + qq * a + i[None, :]
            in_pos = order_in[cols]  # (m, terms)
            dest = in_pos[None, :, :] * width + out_pos[:, None, :]
        src = offset + k[None, None, :] * n * m + np.arange(n)[:, None, None] * m + np.arange(m)[None, :, None]
        terms.append((dest.ravel(), np.broadcast_to(src, dest.shape).ravel(), np.broadcast_to(value, dest.shape).ravel()))
        offset += p.r * n * m
    return terms

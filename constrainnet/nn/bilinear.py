"""An equivariant bilinear layer: features multiplied by an equivariant, input-dependent weight."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import RepMismatchError
from ..groups import ProductGroup
from ..reps import Rep, Scalar, ScalarRep, tensor
from ..solver.product import factor_split
from .assembly import CachedAssembly, WeightAssembly, WeightPart, affine, stacked_layout
from .checks import check_input, check_like, factory_kwargs
from .linear import Linear
from .plan import components

__all__ = ["BiLinear", "CopyGroups", "PAIRINGS", "bilinear_mid_rep", "MID_ATOM_MAX_SIZE", "MID_COPIES", "MID_PRODUCT_MAX_SIZE"]

# The products are formed copy by copy (CopyGroups), at most rep_mid ⊗ rep_mid,
# so rep_mid is kept small: MID_COPIES copies of each distinct component of
# rep_in no larger than MID_ATOM_MAX_SIZE (scalars, pseudo-scalars and V of
# groups acting on up to 8 coordinates).
MID_ATOM_MAX_SIZE = 8
MID_COPIES = 3
# For a product group the features that matter are often bigger than 8
# coordinates (a vector per point of SO(3) × S(n) has 3n), so there rep_mid may
# take larger components too, within MID_PRODUCT_MAX_SIZE coordinates in all:
# at most 38² = 1444 products per sample (fewer copywise).
MID_PRODUCT_MAX_SIZE = 38


def bilinear_mid_rep(rep_in: Rep) -> Rep:
    """The default rep whose products :class:`BiLinear` forms (copy by copy), derived from ``rep_in`` alone.

    ``MID_COPIES`` copies of each distinct component of ``rep_in`` of size at
    most ``MID_ATOM_MAX_SIZE`` (in order of appearance); ``MID_COPIES``
    scalars if there is none.

    For a rep of a :class:`~constrainnet.groups.ProductGroup` rep_mid may also
    take components bigger than ``MID_ATOM_MAX_SIZE`` (a vector per point
    V[0]*V[1] of SO(3) × S(n) has 3n coordinates, and without it no product
    reaches the shape of a point cloud), within ``MID_PRODUCT_MAX_SIZE``
    coordinates in all (so rep_mid ⊗ rep_mid within its square). Copies of
    the distinct components of ``rep_in`` are added in this order, each only
    if it still fits, and listed in their order of appearance:

    1. one copy of each component of size at most ``MID_ATOM_MAX_SIZE``;
    2. one copy of each larger component, those that couple factors first
       (their tensor factors are defining reps of two or more factors, such as
       V[0]*V[1]: their products give Σ_j p_j q_jᵀ, p_i·q_j, s_j p_j), then the
       others (V[0]**2, V[1]**2, …), each kind smallest first;
    3. ``MID_COPIES − 1`` more rounds of one copy of each larger component (in
       the order of 2), then of each small one: parallel product paths, which
       shorten the plateaus of training where a product of small factors
       must grow.

    Larger components are taken only when they are tensor products of the
    factors' defining reps (their products are then solved factor by factor,
    see :func:`~constrainnet.solver.product.factor_split`), never e.g. V**2
    of the whole defining rep V = V[0] ⊕ V[1].
    ``MID_COPIES`` scalars if none fits.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> V = cn.V(SO(3))
        >>> bilinear_mid_rep(10 * V**0 + 5 * V + 2 * V**2)
        3*Scalar + 3*V
        >>> P = SO(3) * S(4)
        >>> a, b = cn.V(P, factor=0), cn.V(P, factor=1)
        >>> mid = bilinear_mid_rep(15 * a**0 + 3 * b + 4 * a + a**2 + 4 * (a * b))
        >>> mid, mid.size
        (Scalar + V[1] + V[0] + 2*V[0]**2 + V[0]*V[1], 38)
    """
    distinct: list[Rep] = []
    for c in components(rep_in):
        if c.rep not in distinct:
            distinct.append(c.rep)
    if isinstance(rep_in.G, ProductGroup):
        counts = _product_mid_counts(distinct)
        seen = [r for r in distinct if counts[r]]
        parts = [counts[r] * r for r in seen] if seen else [MID_COPIES * Scalar(rep_in.G)]
        return sum(parts[1:], parts[0])
    seen = [r for r in distinct if r.size <= MID_ATOM_MAX_SIZE]
    if not seen:
        seen = [Scalar(rep_in.G)]
    parts = [MID_COPIES * r for r in seen]
    return sum(parts[1:], parts[0])


def _product_mid_counts(distinct: list[Rep]) -> dict[Rep, int]:
    """Copies of each distinct component in rep_mid for a product group (the priorities of :func:`bilinear_mid_rep`)."""
    small = [r for r in distinct if r.size <= MID_ATOM_MAX_SIZE]
    # larger components only where the product strategy solves their products factor by factor
    splits = {r: factor_split(r) for r in distinct if r.size > MID_ATOM_MAX_SIZE}
    large = sorted((r for r, split in splits.items() if split is not None), key=lambda r: (len(splits[r]) < 2, r.size))
    counts = dict.fromkeys(distinct, 0)
    used = 0
    for r in small + large + (large + small) * (MID_COPIES - 1):
        if used + r.size <= MID_PRODUCT_MAX_SIZE:
            counts[r] += 1
            used += r.size
    return counts


PAIRINGS = ("copywise", "all")


class CopyGroups:
    r"""How :class:`BiLinear` pairs the coordinates of u and v: the product space and its layout.

    ``"copywise"``: group k holds copy k of every component of rep_mid that
    has more than k copies, and products are formed inside each group only,
    u_k ⊗ v_k: with rep_mid = 3·(scalar + vector) that is three independent
    (scalar + vector)⊗(scalar + vector) products of 16 coordinates (48 in
    all) instead of one 12 × 12 outer product (144). ``"all"``: one group,
    every coordinate with every other (the full rep_mid ⊗ rep_mid).

    u and v are kept copy-major (group after group, each group's components in
    rep_mid's order): :attr:`order` maps rep_mid's coordinates there, and the
    products of group k are its coordinates (i, j) at ``offset_k + i·s_k + j``.

    Attributes:
        order: ``(|mid|,)`` the copy-major position of each rep_mid coordinate.
        sizes: coordinates per group.
        members: per group, the (rep, offset in the group) of its components.
        rep_product: ⊕_k group_k ⊗ group_k as a sum over component pairs, k, c₁, c₂ in that order.
        product_order: (rep_product.size,) the position of each rep_product coordinate among the products.
    """

    def __init__(self, rep_mid: Rep, pairing: str = "copywise") -> None:
        if pairing not in PAIRINGS:
            raise ValueError(f"BiLinear: expected pairing in {PAIRINGS}, got {pairing!r}")
        comps = components(rep_mid)
        copies = max(c.mult for c in comps) if pairing == "copywise" else 1
        order = np.zeros(rep_mid.size, dtype=np.int64)
        self.sizes: list[int] = []
        self.members: list[list[tuple[Rep, int]]] = []
        start = 0
        for k in range(copies):
            members = []
            at = 0
            for c in comps:
                taken = range(c.mult) if pairing == "all" else ([k] if c.mult > k else [])
                for copy in taken:
                    first = c.offset + copy * c.rep.size
                    order[first : first + c.rep.size] = start + at + np.arange(c.rep.size)
                    members.append((c.rep, at))
                    at += c.rep.size
            self.sizes.append(at)
            self.members.append(members)
            start += at
        self.order = order
        reps, positions, offset = [], [], 0
        for size, members in zip(self.sizes, self.members):
            for r1, at1 in members:
                for r2, at2 in members:
                    reps.append(tensor(r1, r2))
                    o1, o2 = np.meshgrid(np.arange(r1.size), np.arange(r2.size), indexing="ij")
                    positions.append((offset + (at1 + o1) * size + at2 + o2).ravel())
            offset += size * size
        self.rep_product: Rep = sum(reps[1:], reps[0])
        self.product_order = np.concatenate(positions)
        # product t is u[left[t]] · v[right[t]] (copy-major coordinates)
        left, right, start = [], [], 0
        for size in self.sizes:
            i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
            left.append(start + i.ravel())
            right.append(start + j.ravel())
            start += size
        self.left_index = torch.as_tensor(np.concatenate(left))
        self.right_index = torch.as_tensor(np.concatenate(right))
        self._on: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def _indices(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(left index, right index, one-hot left ``(P, |mid|)``, one-hot right) on ``like``'s device, in its dtype."""
        key = (like.device, like.dtype)
        if key not in self._on:
            left, right = self.left_index.to(like.device), self.right_index.to(like.device)
            eye = torch.eye(len(self.order), dtype=like.dtype, device=like.device)
            self._on[key] = (left, right, eye[left], eye[right])
        return self._on[key]

    def products(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The products of u and v (copy-major, shape ``(*, |mid|)``) group by group: ``(*, Σ_k s_k²)``; differentiable.

        Two column gathers and one multiplication (their backward scatters
        into the few columns of u and v).
        """
        left, right, _, _ = self._indices(u)
        return u.index_select(-1, left) * v.index_select(-1, right)

    def fused_products(self, u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """:meth:`products` for 2-D u, v without autograd, with the gathered factors saved for :meth:`products_backward`."""
        left, right, _, _ = self._indices(u)
        u_left, v_right = u.index_select(1, left), v.index_select(1, right)
        return u_left * v_right, (u_left, v_right)

    def products_backward(self, grad: torch.Tensor, saved: tuple[torch.Tensor, torch.Tensor], out_u: torch.Tensor, out_v: torch.Tensor) -> None:
        """Write ∂L/∂u and ∂L/∂v (2-D, copy-major) into ``out_u``, ``out_v`` from ∂L/∂products.

        ∂u_i = Σ_{t: left[t] = i} ∂p_t v_right[t] as a product with the one-hot
        ``(P, |mid|)`` matrix of left (a sum in a fixed order, no scattered
        accumulation), and the same for v.
        """
        u_left, v_right = saved
        _, _, one_left, one_right = self._indices(grad)
        torch.mm(grad * v_right, one_left, out=out_u)
        torch.mm(grad * u_left, one_right, out=out_v)


class BiLinear(CachedAssembly):
    r"""An equivariant bilinear map y = W_out (u ⊗ v), u = W_1 x, v = W_2 x.

    u and v are equivariant linear images of x in a small rep ``rep_mid``, and
    their products are mapped to ``rep_out`` by an equivariant linear W_out.
    Products are formed copy by copy (``pairing="copywise"``, see
    :class:`CopyGroups`): copy k of every component of rep_mid with copy k of
    every other, Σ_k u_k ⊗ v_k, which keeps the product space small and its
    paths independent; ``pairing="all"`` takes the whole of rep_mid ⊗ rep_mid.
    The product space as a rep is ``rep_product``. Equivalently y = W(x) x
    with an input-dependent weight, equivariant for every x. With scalars and
    vectors in rep_mid this spans products such as q·r, r ⊗ r, r·s and r × s.
    Nothing is random at construction: rep_mid is derived from rep_in
    (:func:`bilinear_mid_rep`) or given.

    The three maps are the Linear submodules ``left`` (W_1, without bias when
    rep_mid is a single scalar), ``right`` (W_2) and ``out`` (W_out, no bias),
    which hold the parameters. The forward applies W_1 and W_2 as one stacked
    matrix (its rows in the copy-major order of the products), forms the
    products with one broadcast multiplication (one per group when the groups
    differ in size), and applies W_out with its columns assembled in the
    products' order; in eval mode under ``torch.no_grad()`` these weights are
    cached, as in :class:`Linear`.

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        rep_mid: the rep of the two factors (default :func:`bilinear_mid_rep`).
        device, dtype: of the parameters.
        pairing: ``"copywise"`` (default) or ``"all"``.

    Raises:
        RepMismatchError: reps of different groups.
        ValueError: an unknown pairing.

    Shape:
        - Input: ``(*, rep_in.size)``
        - Output: ``(*, rep_out.size)``

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = BiLinear(2 * V**0 + 2 * V, V)
        >>> layer(torch.randn(4, 8)).shape
        torch.Size([4, 3])
        >>> layer.rep_mid, layer.rep_product.size
        (3*Scalar + 3*V, 48)
    """

    def __init__(
        self, rep_in: Rep, rep_out: Rep, rep_mid: Rep | None = None, device: Any = None, dtype: Any = None, pairing: str = "copywise"
    ) -> None:
        super().__init__()
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if not isinstance(rep, Rep):
                raise TypeError(f"BiLinear: expected {name} to be a Rep, got {type(rep).__name__}")
        device, dtype = factory_kwargs(device, dtype, "BiLinear").values()
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"BiLinear: expected reps of one group, got {rep_in.G!r} and {rep_out.G!r}")
        rep_mid = bilinear_mid_rep(rep_in) if rep_mid is None else rep_mid
        self.rep_in, self.rep_out, self.rep_mid = rep_in, rep_out, rep_mid
        self.groups = CopyGroups(rep_mid, pairing)
        self.pairing = pairing
        factory = {"device": device, "dtype": dtype}
        self.left = Linear(rep_in, rep_mid, bias=not isinstance(rep_mid, ScalarRep), **factory)
        self.right = Linear(rep_in, rep_mid, bias=True, **factory)
        self.rep_product = self.groups.rep_product
        self.out = Linear(self.rep_product, rep_out, bias=False, **factory)

        # the maps that apply left, right and out fused (buffers rebuilt from float64 on casts)
        factory = {"device": device, "dtype": self.out.coefficients.dtype}
        mid = rep_mid.size
        # [W_1; W_2] from the coefficients of left, then right (rows of W_2 below
        # W_1), each with its rows in copy-major order, and the bias
        # [Q_1 β_1; Q_2 β_2] in the same order (Q_1 β_1 = 0 if left has no bias)
        layout, bases, _ = stacked_layout([self.left, self.right])
        self.factor_order = np.concatenate([self.groups.order, mid + self.groups.order])
        part = WeightPart((2 * mid, rep_in.size), layout, bases, transposed=True, row_order=self.factor_order)
        # both assembled transposed (see WeightPart): x @ [W_1; W_2]ᵀ, products @ W_outᵀ
        self._factors = WeightAssembly(self, "_factors", [part], factory)
        q_right = np.asarray(rep_mid.equivariant_basis())
        q_left = q_right if self.left.bias_coefficients is not None else q_right[:, :0]
        q = np.zeros((2 * mid, q_left.shape[1] + q_right.shape[1]))
        q[:mid, : q_left.shape[1]], q[mid:, q_left.shape[1] :] = q_left, q_right
        q_ordered = np.empty_like(q)
        q_ordered[self.factor_order] = q
        self._register_float64("_factors_bias_basis", q_ordered, factory)
        shape = (self.out.out_features, self.out.in_features)
        bases = [p.basis for p in self.out._plan.pairs]
        self.product_part = WeightPart(shape, self.out._layout, bases, self.groups.product_order, transposed=True)
        self._product = WeightAssembly(self, "_product", [self.product_part], factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "BiLinear")
        check_like(x, self.out.coefficients, "BiLinear")
        factors, bias, out = self._weights()
        u, v = affine(x, factors, bias).split(self.rep_mid.size, dim=-1)
        return affine(self.groups.products(u, v), out)

    def _assemble(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        betas = [b for b in (self.left.bias_coefficients, self.right.bias_coefficients) if b is not None]
        factors, bias = self._factors(self, (self.left.coefficients, self.right.coefficients), betas, "_factors_bias_basis")
        return factors, bias, self._product(self, (self.out.coefficients,))

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, rep_mid={self.rep_mid!r}, pairing={self.pairing!r}"

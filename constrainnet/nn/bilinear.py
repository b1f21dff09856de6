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
from .linear import Linear, check_input
from .plan import components

__all__ = ["BiLinear", "bilinear_mid_rep", "MID_ATOM_MAX_SIZE", "MID_COPIES", "MID_PRODUCT_MAX_SIZE"]

# The product space is rep_mid ⊗ rep_mid, so rep_mid is kept small: MID_COPIES
# copies of each distinct component of rep_in no larger than MID_ATOM_MAX_SIZE
# (scalars, pseudo-scalars and V of groups acting on up to 8 coordinates).
MID_ATOM_MAX_SIZE = 8
MID_COPIES = 3
# For a product group the features that matter are often bigger than 8
# coordinates (a vector per point of SO(3) × S(n) has 3n), so there rep_mid may
# take larger components too, within MID_PRODUCT_MAX_SIZE coordinates in all:
# 38² = 1444 coordinates of rep_mid ⊗ rep_mid, formed densely per sample.
MID_PRODUCT_MAX_SIZE = 38


def bilinear_mid_rep(rep_in: Rep) -> Rep:
    """The default rep whose tensor square :class:`BiLinear` forms, derived from ``rep_in`` alone.

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


class BiLinear(CachedAssembly):
    r"""An equivariant bilinear map y = W_out (u ⊗ v), u = W_1 x, v = W_2 x.

    u and v are equivariant linear images of x in a small rep ``rep_mid``; their
    outer product lies in rep_mid ⊗ rep_mid, which as the direct sum
    ``rep_product`` = Σ m₁m₂ · (c₁ ⊗ c₂) over component pairs (the same space
    with its coordinates grouped by block) is mapped to ``rep_out`` by an
    equivariant linear W_out. Equivalently y = W(x) x with the input-dependent
    weight W(x) = W_out (W_1 x ⊗ ·) W_2, equivariant for every x. With scalars
    and vectors in rep_mid this spans products such as q·r, r ⊗ r, r·s and r × s.
    Nothing is random at construction: rep_mid is derived from rep_in
    (:func:`bilinear_mid_rep`) or given.

    The three maps are the Linear submodules ``left`` (W_1, without bias when
    rep_mid is a single scalar), ``right`` (W_2) and ``out`` (W_out, no bias),
    which hold the parameters. The forward applies W_1 and W_2 as one stacked
    matrix, forms u ⊗ v as one outer product, and applies W_out with its
    columns assembled in that product's coordinate order; in eval mode under
    ``torch.no_grad()`` these weights are cached, as in :class:`Linear`.

    Args:
        rep_in: the input rep.
        rep_out: the output rep.
        rep_mid: the rep of the two factors (default :func:`bilinear_mid_rep`).
        device, dtype: of the parameters.

    Shape:
        - Input: (*, rep_in.size)
        - Output: (*, rep_out.size)

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> layer = BiLinear(2 * V**0 + 2 * V, V)
        >>> layer(torch.randn(4, 8)).shape
        torch.Size([4, 3])
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, rep_mid: Rep | None = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if rep_in.G != rep_out.G:
            raise RepMismatchError(f"BiLinear: expected reps of one group, got {rep_in.G!r} and {rep_out.G!r}")
        rep_mid = bilinear_mid_rep(rep_in) if rep_mid is None else rep_mid
        self.rep_in, self.rep_out, self.rep_mid = rep_in, rep_out, rep_mid
        factory = {"device": device, "dtype": dtype}
        self.left = Linear(rep_in, rep_mid, bias=not isinstance(rep_mid, ScalarRep), **factory)
        self.right = Linear(rep_in, rep_mid, bias=True, **factory)
        pairs = [(c1, c2) for c1 in components(rep_mid) for c2 in components(rep_mid)]
        self.rep_product = sum(
            (c1.mult * c2.mult * tensor(c1.rep, c2.rep) for c1, c2 in pairs[1:]),
            pairs[0][0].mult * pairs[0][1].mult * tensor(pairs[0][0].rep, pairs[0][1].rep),
        )
        self.out = Linear(self.rep_product, rep_out, bias=False, **factory)

        # the maps that apply left, right and out fused (buffers rebuilt from float64 on casts)
        factory = {"device": device, "dtype": self.out.coefficients.dtype}
        mid = rep_mid.size
        # [W_1; W_2] from the coefficients of left, then right (rows of W_2 below W_1),
        # and the bias [Q_1 β_1; Q_2 β_2] (Q_1 β_1 = 0 if left has no bias)
        layout, bases, _ = stacked_layout([self.left, self.right])
        # both assembled transposed (see WeightAssembly): x @ [W_1; W_2]ᵀ, (u ⊗ v) @ W_outᵀ
        self._factors = WeightAssembly(self, "_factors", [WeightPart((2 * mid, rep_in.size), layout, bases, transposed=True)], factory)
        q_right = np.asarray(rep_mid.equivariant_basis())
        q_left = q_right if self.left.bias_coefficients is not None else q_right[:, :0]
        q = np.zeros((2 * mid, q_left.shape[1] + q_right.shape[1]))
        q[:mid, : q_left.shape[1]], q[mid:, q_left.shape[1] :] = q_left, q_right
        self._register_float64("_factors_bias_basis", q, factory)
        # u ⊗ v is formed as one outer product, coordinate (i, j) at i·|mid| + j,
        # and W_out assembled with its columns in that order: coordinate
        # (c1, c2, p1, p2, o1, o2) of rep_product is u[copy p1 of c1, o1] · v[copy p2 of c2, o2].
        order = []
        for c1, c2 in pairs:
            p1, p2, o1, o2 = np.meshgrid(np.arange(c1.mult), np.arange(c2.mult), np.arange(c1.rep.size), np.arange(c2.rep.size), indexing="ij")
            order.append(((c1.offset + p1 * c1.rep.size + o1) * mid + c2.offset + p2 * c2.rep.size + o2).ravel())
        shape = (self.out.out_features, self.out.in_features)
        bases = [p.basis for p in self.out._plan.pairs]
        self.product_part = WeightPart(shape, self.out._layout, bases, np.concatenate(order), transposed=True)
        self._product = WeightAssembly(self, "_product", [self.product_part], factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.rep_in, "BiLinear")
        return self._bilinear(x)

    def _bilinear(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """y = W_out (u ⊗ v), plus ``residual`` (of y's shape) if given, added inside the last matrix product."""
        factors, bias, out = self._weights()
        u, v = affine(x, factors, bias).split(self.rep_mid.size, dim=-1)
        products = (u.unsqueeze(-1) * v.unsqueeze(-2)).flatten(-2)
        if residual is None:
            return affine(products, out)
        if products.ndim == 2:
            return torch.addmm(residual, products, out)
        return residual + affine(products, out)

    def _assemble(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        betas = [b for b in (self.left.bias_coefficients, self.right.bias_coefficients) if b is not None]
        factors, bias = self._factors(self, (self.left.coefficients, self.right.coefficients), betas, "_factors_bias_basis")
        return factors, bias, self._product(self, (self.out.coefficients,))

    def extra_repr(self) -> str:
        return f"rep_in={self.rep_in!r}, rep_out={self.rep_out!r}, rep_mid={self.rep_mid!r}"


"""Hidden reps: spread a channel budget evenly over tensor ranks (or, for a product group, over factor tensor types)."""

from __future__ import annotations

import heapq
import itertools
import math

from ..errors import RepError
from ..groups import Group, ProductGroup
from ..reps import Rep, Scalar, T, V, dual, tensor
from ..solver.product import factor_split

__all__ = ["uniform_rep", "PRODUCT_MAX_ORDER", "PRODUCT_SIZE_FRACTION", "PRODUCT_COUPLED_FRACTION"]

# For a product group the hidden rep is made of tensor products of the
# factors' defining reps of total order at most PRODUCT_MAX_ORDER (scalars,
# per-point scalars and vectors, global and per-point rank-2 tensors, pair
# features and the order-3 tensors a wide layer can afford) ...
PRODUCT_MAX_ORDER = 3
# ... each of size at most ch / PRODUCT_SIZE_FRACTION, so that no component
# takes more than a quarter of the channels and sizes that grow like n^k for
# S(n) factors only enter once the budget can hold them several times over.
PRODUCT_SIZE_FRACTION = 4
# Half of the budget goes to the types that couple two or more factors (a
# vector per point V[0]*V[1] of SO(3) × S(n)): the data of a point cloud lives
# there, while the types of one factor (global vectors and tensors, per-point
# scalars) are summaries of it.
PRODUCT_COUPLED_FRACTION = 0.5


def _max_rank(ch: int, d: int) -> int:
    """The largest r with (r + 1) · d^r ≤ ch: the top rank one round of allocation can afford."""
    r = 0
    while (r + 2) * d ** (r + 1) <= ch:
        r += 1
    return r


def uniform_rep(ch: int, group: Group) -> Rep:
    r"""A hidden rep of size ``ch`` that spends its channels evenly over tensor ranks 0, 1, 2, ….

    Rounds of allocation: with budget c left, take the top rank r with
    (r + 1)·d^r ≤ c and add d^{r−s} copies of rank s for s = 0..r, so that each
    rank takes d^r coordinates, until the budget is spent. For an orthogonal
    group rank s is V**s; otherwise the copies of rank s are split over
    T(p, q), p + q = s, in proportion to the binomial C(s, p) (largest
    remainders, ties to smaller q). Deterministic: no random state.

    For a :class:`~constrainnet.groups.ProductGroup` G₁ × … × G_k the whole
    V = V[0] ⊕ … ⊕ V[k−1] is a poor unit: its powers mix every factor, and a
    point cloud under SO(3) × S(n) needs the *products* of the factors (a
    vector per point is V[0] ⊗ V[1]), which the ranks of V reach only at sizes
    (3 + n)^r. There the channels are spread over the tensor types
    V[0]^{a_0} ⊗ … ⊗ V[k−1]^{a_{k−1}} (a non-orthogonal factor contributes
    V[i] and its dual V[i].T as two letters), chosen by these criteria:

    - low total order Σ a_i. For SO(3) × S(n), order ≤ 2 is scalars
      (invariants), V[1] (a scalar per point: norms, charges), V[0] (global
      vectors: centroid, dipole), V[0]*V[1] (a vector per point: positions,
      displacements, forces), V[0]**2 (global rank-2 tensors: the shape
      tensor Σ_j p_j p_jᵀ, what tells a rectangle from a square) and V[1]**2
      (pair features: p_i·p_j); order 3 adds per-point and rank-3 tensors and
      pair vectors. Each block multiplies two features (its bilinear term),
      so orders ≤ 2 already reach degree-3 functions such as
      (Σ_k p_k p_kᵀ) p_j in two blocks: order 3 adds capacity, not reach. So
      order r + 1 is admitted only once every type of order r fits the size
      cap below, and never beyond ``PRODUCT_MAX_ORDER`` (3);
    - size ≤ ch // ``PRODUCT_SIZE_FRACTION`` (4): no component is large
      relative to ch (an n² pair feature or an n³ triple feature of S(n)
      enters only when the budget can hold it four times over);
    - a ``PRODUCT_COUPLED_FRACTION`` (half) of the budget goes to the types
      that couple two or more factors (V[0]*V[1], V[0]**2*V[1], …): the data
      of a point cloud lives there, the one-factor types are its summaries.
      Since such a type takes at most a quarter of ch, it gets at least two
      copies, each with its own gate, so one gate closing during training
      cannot cut the per-point path;
    - within each part the budget is water-filled in coordinates: repeatedly
      add one copy of the type whose coordinates after the addition would be
      fewest (ties to the smaller type: lower order, then smaller size, then
      factor order) among those that still fit, so the types of a part end
      with about the same number of coordinates, and a type bigger than that
      share gets no copy. What the coupling part leaves goes to the rest,
      where scalars (size 1) always fit: the size is exactly ch.

    The components are listed with the self-gated ones first (scalars and
    permutation reps such as V[1] and V[1]**2 of an S(n) factor, gated
    pointwise by :class:`GatedNonlinearity`), then the gated ones, each kind
    by (order, size, factor order), so the two kinds form contiguous runs.

    Args:
        ch: the number of channels (the size of the rep), at least 1.
        group: the group.

    Returns:
        A rep of size exactly ``ch``.

    Raises:
        RepError: ``ch`` is not a positive int.
        TypeError: ``group`` is not a Group.

    Example:
        >>> from constrainnet.groups import SO, S
        >>> rep = uniform_rep(384, SO(3))
        >>> rep, rep.size
        (102*Scalar + 34*V + 11*V**2 + 3*V**3, 384)
        >>> uniform_rep(96, SO(3) * S(4))
        15*Scalar + 3*V[1] + 4*V[0] + V[0]**2 + 4*(V[0]*V[1])
    """
    if not isinstance(ch, int) or isinstance(ch, bool) or ch < 1:
        raise RepError(f"uniform_rep: expected a positive int number of channels, got {ch!r}")
    if not isinstance(group, Group):
        raise TypeError(f"uniform_rep: expected a Group, got {type(group).__name__}")
    if isinstance(group, ProductGroup):
        return _product_rep(ch, group)
    d = group.d
    counts: list[int] = []
    budget = ch
    while budget > 0:
        r = _max_rank(budget, d)
        counts += [0] * (r + 1 - len(counts))
        for s in range(r + 1):
            counts[s] += d ** (r - s)
        budget -= (r + 1) * d**r
    orthogonal = V(group).is_orthogonal
    parts: list[Rep] = []
    for s, n in enumerate(counts):
        if n == 0:
            continue
        if s == 0:
            parts.append(n * Scalar(group))
        elif orthogonal:
            parts.append(n * V(group) ** s)
        else:
            for q, m in enumerate(_binomial_split(n, s)):
                if m:
                    parts.append(m * T(s - q, q, group))
    return sum(parts[1:], parts[0])


def _binomial_split(n: int, s: int) -> list[int]:
    weights = [math.comb(s, q) for q in range(s + 1)]
    exact = [n * w / 2**s for w in weights]
    base = [int(math.floor(e)) for e in exact]
    left = n - sum(base)
    order = sorted(range(s + 1), key=lambda q: (-(exact[q] - base[q]), q))
    for q in order[:left]:
        base[q] += 1
    return base


def _product_types(ch: int, group: ProductGroup) -> list[Rep]:
    """The tensor types of :func:`uniform_rep` for a product group, in canonical order (scalar first)."""
    letters: list[Rep] = []
    for i in range(len(group.factors)):
        v = V(group, factor=i)
        letters += [v] if v.is_orthogonal else [v, dual(v)]
    cap = ch // PRODUCT_SIZE_FRACTION
    found = []
    for order in range(PRODUCT_MAX_ORDER + 1):
        # every multiset of `order` letters, as non-decreasing letter indices
        words = list(itertools.combinations_with_replacement(range(len(letters)), order))
        reps = [tensor(Scalar(group), *(letters[w] for w in word)) for word in words]
        found += [((order, rep.size, word), rep) for word, rep in zip(words, reps) if order == 0 or rep.size <= cap]
        if any(rep.size > cap for rep in reps):
            break  # order + 1 is admitted only once every type of this order fits
    return [rep for _, rep in sorted(found, key=lambda item: item[0])]


def _product_rep(ch: int, group: ProductGroup) -> Rep:
    """Water-fill ``ch`` coordinates over :func:`_product_types`, half to the coupling ones (see :func:`uniform_rep`)."""
    types = _product_types(ch, group)
    coupled = [i for i, t in enumerate(types) if len(factor_split(t) or ()) > 1]
    rest = [i for i in range(len(types)) if i not in coupled]
    counts = [0] * len(types)
    left = ch - _water_fill(types, coupled, int(ch * PRODUCT_COUPLED_FRACTION), counts)
    left -= _water_fill(types, rest, left, counts)
    assert left == 0, "scalars fill any budget"
    chosen = [(t, n) for t, n in zip(types, counts) if n]
    chosen.sort(key=lambda tn: not tn[0].is_permutation)  # stable: self-gated first, canonical order kept
    parts = [n * t for t, n in chosen]
    return sum(parts[1:], parts[0])


def _water_fill(types: list[Rep], among: list[int], budget: int, counts: list[int]) -> int:
    """Add copies of ``types[i]``, i in ``among``, into ``counts``, fewest coordinates first; returns the coordinates used."""
    # heap of (coordinates after one more copy, canonical index); a type that no
    # longer fits the budget is dropped for good (the budget only shrinks)
    heap = [(types[i].size * (counts[i] + 1), i) for i in among]
    heapq.heapify(heap)
    used = 0
    while heap:
        after, i = heapq.heappop(heap)
        size = types[i].size
        if used + size > budget:
            continue
        counts[i] += 1
        used += size
        heapq.heappush(heap, (after + size, i))
    return used

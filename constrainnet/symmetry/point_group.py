"""The point group of a finite point set: the orthogonal maps that permute it."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.spatial

from ..errors import GroupError
from ..groups import O, Subgroup
from ._finite import closure, generators_of

__all__ = ["point_group", "induced_permutation", "POINT_GROUP_TOL"]

# Two points closer than this fraction of the set's radius are the same point.
# Coordinates typed by hand or computed in float64 agree far better than this;
# a looser value lets a slightly distorted shape keep its ideal symmetry.
POINT_GROUP_TOL = 1e-6

# Number of points checked before the full KD-tree match of a candidate map.
_PROBES = 8


def _as_points(points: Any, what: str) -> np.ndarray:
    try:
        x = np.array(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GroupError(f"{what}: expected a numeric (n, 2) or (n, 3) array, got {type(points).__name__}") from exc
    if x.ndim != 2 or x.shape[1] not in (2, 3) or x.shape[0] == 0:
        raise GroupError(f"{what}: expected an (n, 2) or (n, 3) array of n >= 1 points, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise GroupError(f"{what}: expected finite coordinates, got NaN or inf")
    return x


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not 0 < tol < 1:
        raise GroupError(f"tol: expected a float in (0, 1), got {tol!r}")
    return float(tol)


def _match(a: np.ndarray, tree: scipy.spatial.cKDTree, atol: float) -> np.ndarray | None:
    """σ with a[j] ≈ points[σ[j]] for every j (a bijection), or None."""
    dist, idx = tree.query(a, k=1)
    if np.max(dist) > atol or len(np.unique(idx)) != len(idx):
        return None
    return idx.astype(np.int64)


def _frame(x: np.ndarray, rank: int) -> list[int]:
    """``rank`` linearly independent points, greedily: each is farthest from the span of those before."""
    residual = np.array(x)
    chosen: list[int] = []
    for _ in range(rank):
        norms = np.einsum("ij,ij->i", residual, residual)
        i = int(np.argmax(norms))
        chosen.append(i)
        u = residual[i] / np.sqrt(norms[i])
        residual = residual - np.outer(residual @ u, u)
    return chosen


def _unit_normal(columns: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to the (dim, dim - 1) columns' span."""
    u, _, _ = np.linalg.svd(columns, full_matrices=True)
    return u[:, -1]


def _polar(g: np.ndarray) -> np.ndarray:
    """The orthogonal matrix nearest to g (its polar factor)."""
    u, _, vt = np.linalg.svd(g)
    return u @ vt


def point_group(points: Any, tol: float = POINT_GROUP_TOL) -> Subgroup:
    r"""The finite group of orthogonal maps that send a point set to itself.

    The points are centred at their centroid c; the result is the group of
    g ∈ O(dim) with {g (p − c)} = {p − c} as sets (dim = 3, or 2 for planar
    input of shape (n, 2)). A square in the plane z = 0 gives D4h (16
    elements), a rectangle D2h (8), a regular tetrahedron Td (24), a cube
    Oh (48), a generic cloud the trivial group.

    Algorithm (no search over a continuous group): an orthogonal map is fixed
    by the images of r = rank linearly independent points (plus the sign of
    the normal when the set is planar in 3-D or collinear in 2-D). Choose
    such a frame f₁..f_r greedily (each point farthest from the span of the
    previous ones); the image of f_k must be a point of the same norm, and
    the images must have the frame's Gram matrix ⟨f_a, f_b⟩. Every candidate
    tuple passing these tests gives one g = [images] [frame]⁻¹, made exactly
    orthogonal by its polar factor, and g is kept when it maps every point
    within tol·R of a distinct point (a KD-tree query), R being the largest
    distance to the centroid.

    Cost: at most m₁ ⋯ m_r candidate tuples, m_k the number of points on
    the sphere of f_k (so ≤ nʳ, r ≤ 3, and far fewer after the Gram test),
    each checked on 8 probe points first and then in O(n log n); then
    :math:`O(|G|^2)` to pick generators. 1000 points on a sphere take well under a
    second.

    Args:
        points: (n, 3) or (n, 2) array of distinct points.
        tol: relative tolerance: points closer than tol·R are the same point.

    Returns:
        A :class:`~constrainnet.groups.Subgroup` of O(3) (or O(2)) whose
        discrete generators (a small set, chosen canonically) generate the
        group and whose ``elements()`` are its elements.

    Raises:
        GroupError (a ValueError): a wrong shape, non-finite or repeated
            points, or a set whose group is infinite: all points at one place
            (every orthogonal map fixes them) or, in 3-D, all on a line (every
            rotation about the line fixes them).

    Example:
        >>> import numpy as np
        >>> square = np.array([[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]])
        >>> point_group(square).order
        16
        >>> point_group(square[:, :2]).order   # the same square in the plane: D4
        8
    """
    x = _as_points(points, "point_group")
    tol = _check_tol(tol)
    n, dim = x.shape
    x = x - x.mean(axis=0)
    radius = float(np.sqrt(np.max(np.einsum("ij,ij->i", x, x))))
    if radius == 0.0:
        raise GroupError(
            f"point_group: all {n} points coincide, so every map of O({dim}) fixes them (an infinite group); "
            "expected points that are not all at one place"
        )
    atol = tol * radius
    tree = scipy.spatial.cKDTree(x)
    close = tree.query_pairs(atol)
    if close:
        i, j = min(close)
        raise GroupError(f"point_group: expected distinct points, got points {i} and {j} within {atol:.3g} of each other")
    s = np.linalg.svd(x, compute_uv=False)
    rank = int(np.sum(s > tol * s[0]))
    if dim - rank > 1:
        raise GroupError(
            "point_group: the points are collinear, so every rotation about their line fixes them "
            "(an infinite group); expected points spanning a plane or space"
        )
    frame = _frame(x, rank)
    f = x[frame]
    norms = np.linalg.norm(x, axis=1)
    gram = f @ f.T
    gram_atol = 3.0 * atol * radius  # |Δ⟨a, b⟩| ≤ |Δa|·|b| + |a|·|Δb| + |Δa||Δb|
    candidates = [np.flatnonzero(np.abs(norms - norms[k]) <= 2.0 * atol) for k in frame]

    normal_f = _unit_normal(f.T) if rank < dim else None
    frame_matrix = f.T if normal_f is None else np.column_stack([f.T, normal_f])
    frame_inv = np.linalg.inv(frame_matrix)

    # a few points spread over the set, tested before the full match rejects most wrong maps cheaply
    probes = x[np.unique(np.linspace(0, n - 1, min(n, _PROBES)).astype(np.int64))]
    found: list[np.ndarray] = []

    def extend(chosen: list[int]) -> None:
        k = len(chosen)
        if k == rank:
            images = x[chosen].T
            signs = (1.0,) if normal_f is None else (1.0, -1.0)
            normal_img = None if normal_f is None else _unit_normal(images)
            for sign in signs:
                cols = images if normal_img is None else np.column_stack([images, sign * normal_img])
                g = _polar(cols @ frame_inv)
                if np.max(tree.query(probes @ g.T, k=1)[0]) <= atol and _match(x @ g.T, tree, atol) is not None:
                    found.append(g)
            return
        cand = candidates[k]
        if k:
            ok = np.all(np.abs(x[cand] @ x[chosen].T - gram[k, :k]) <= gram_atol, axis=1)
            cand = cand[ok]
        for j in cand:
            if j not in chosen:
                extend(chosen + [int(j)])

    extend([])
    elements = np.array(found).reshape(-1, dim, dim)
    gens = generators_of(elements)
    order = len(closure(gens, max_order=len(elements))) if len(gens) else 1
    if order != len(elements):  # pragma: no cover - only with a tolerance loose enough to merge points
        raise GroupError(f"point_group: the maps found do not close into a group (tol={tol:g} too loose?)")
    return Subgroup(O(dim), discrete_generators=gens, name=f"PointGroup(order={len(elements)}, d={dim})")


def induced_permutation(g: Any, points: Any, tol: float = POINT_GROUP_TOL) -> np.ndarray:
    r"""The permutation σ of the points that the orthogonal map g induces: g p_{σ(j)} = p_j.

    With it, the pair (g, I[σ]) of SO(3) × S(n) (``scipy.linalg.block_diag(g,
    np.eye(n)[σ])``) fixes the positions X (rows p_j) as a vector of
    ``V(G, 0) * V(G, 1)``: ρ(g, σ) vec(Xᵀ) = vec(g Xᵀ I[σ]ᵀ) = vec(Xᵀ).
    The points are used as given (g acts about the origin, not the centroid).

    Args:
        g: (dim, dim) orthogonal matrix.
        points: (n, dim) array of distinct points.
        tol: relative tolerance, as in :func:`point_group`.

    Returns:
        (n,) int64 array σ.

    Raises:
        GroupError: g does not map the point set to itself within tolerance.

    Example:
        >>> import numpy as np
        >>> square = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
        >>> quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> induced_permutation(quarter_turn, square).tolist()
        [3, 0, 1, 2]
    """
    x = _as_points(points, "induced_permutation")
    tol = _check_tol(tol)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (x.shape[1], x.shape[1]):
        raise GroupError(f"induced_permutation: expected a {x.shape[1]}x{x.shape[1]} matrix g, got shape {g.shape}")
    radius = float(np.max(np.linalg.norm(x, axis=1))) or 1.0
    # σ(j) is the point that g sends to p_j: the point at gᵀ p_j = g⁻¹ p_j
    sigma = _match(x @ g, scipy.spatial.cKDTree(x), tol * radius)
    if sigma is None:
        raise GroupError("induced_permutation: expected g to map the points onto themselves, got a point with no image")
    return sigma

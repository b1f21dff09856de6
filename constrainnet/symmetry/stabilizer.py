"""Stabilizers: the elements of a finite group that fix a vector of a rep."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RepError, RepMismatchError
from ..groups import Group, Subgroup
from ..reps import Rep
from ._finite import generators_of

__all__ = ["stabilizer", "stabilizer_subgroup", "STABILIZER_TOL"]

# ρ(g) x counts as x when ‖ρ(g) x − x‖ ≤ tol · ‖x‖: float64 products of exact
# group elements are off by ~1e-15, and distinct images of a generic x differ by O(1).
STABILIZER_TOL = 1e-8


def _rep_of(rep: Any, G: Group, what: str) -> Rep:
    if not isinstance(rep, Rep):
        raise TypeError(f"{what}: expected rep to be a Rep, got {type(rep).__name__}")
    if not isinstance(G, Group):
        raise TypeError(f"{what}: expected G to be a Group, got {type(G).__name__}")
    if rep.G == G:
        return rep
    if isinstance(G, Subgroup) and G.is_subgroup_of(rep.G):
        return rep.restrict(G)
    raise RepMismatchError(f"{what}: expected a rep of {G!r} or of a group containing it, got a rep of {rep.G!r}")


def stabilizer(G: Group, x: Any, rep: Rep, tol: float = STABILIZER_TOL) -> np.ndarray:
    r"""The elements g of the finite group G that fix x: ρ(g) x = x.

    Every element of ``G.elements()`` is tested, in that order (identity
    first), with ‖ρ(g) x − x‖ ≤ tol · ‖x‖. The result is a subgroup of G
    (wrap it with :func:`stabilizer_subgroup` to use it as a group).

    Args:
        G: a finite group.
        x: (rep.size,) vector.
        rep: a rep of G, or of a group G is a :class:`~constrainnet.groups.Subgroup` of.
        tol: relative tolerance of the test.

    Returns:
        (k, d, d) array of the fixing elements; k divides :math:`|G|`.

    Raises:
        GroupError: G is continuous (the stabilizer of a finite group only).
        RepMismatchError: rep is not a rep of G (or a group containing it), or x
            has the wrong size.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> G = D(4)                                   # the square's symmetries in the plane
        >>> len(stabilizer(G, np.array([1.0, 0.0]), cn.V(G)))   # the mirror fixing the x axis, and 1
        2
    """
    rep = _rep_of(rep, G, "stabilizer")
    vec = np.asarray(x, dtype=np.float64)
    if vec.shape != (rep.size,):
        raise RepMismatchError(f"stabilizer: expected x of shape ({rep.size},), got {vec.shape}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating)) or not tol > 0:
        raise RepError(f"stabilizer: expected a positive tol, got {tol!r}")
    elements = G.elements()
    scale = float(np.linalg.norm(vec))
    keep = [i for i, g in enumerate(elements) if np.linalg.norm(rep.rho_apply(g, vec) - vec) <= tol * scale]
    return np.array(elements[keep])


def stabilizer_subgroup(G: Group, x: Any, rep: Rep, tol: float = STABILIZER_TOL) -> Subgroup:
    """The stabilizer of x (see :func:`stabilizer`) as a :class:`~constrainnet.groups.Subgroup` of G.

    Its discrete generators are a small set chosen canonically from the
    fixing elements, so ``rep.restrict(H)`` works on it.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> H = stabilizer_subgroup(D(4), np.array([1.0, 1.0]), cn.V(D(4)))   # the diagonal mirror
        >>> H.order, H.parent
        (2, D(4))
    """
    elements = stabilizer(G, x, rep, tol)
    return Subgroup(G, discrete_generators=generators_of(elements), name=f"Stab({G!r}, order={len(elements)})")

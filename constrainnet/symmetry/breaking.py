"""Symmetry-breaking directions: the vectors of a rep fixed by a subgroup H but not by G."""

from __future__ import annotations

import numpy as np

from ..errors import GroupError, SolverError
from ..groups import Group
from ..reps import Rep
from ..solver import canonical_basis
from .stabilizer import _rep_of

__all__ = ["breaking_directions", "fixed_space"]

# Fix(G) ⊆ Fix(H), so the projection of Fix(H)'s orthonormal basis off Fix(G)
# has singular values exactly 1 (the breaking directions) or 0; a value in
# between beyond this margin means Fix(G) is not inside Fix(H).
_SINGULAR_MARGIN = 1e-6


def fixed_space(rep: Rep, K: Group) -> np.ndarray:
    """The canonical orthonormal basis of Fix(K) = {v : ρ(k) v = v for all k in K}, from the solver.

    Args:
        rep: a rep of K or of a group K is a Subgroup of.
        K: the group.

    Returns:
        (rep.size, r) array with orthonormal columns.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> fixed_space(cn.V(SO(3))**2, SO(3)).shape    # the identity matrix, only
        (9, 1)
    """
    return np.asarray(_rep_of(rep, K, "fixed_space").equivariant_basis())


def _is_subgroup(H: Group, G: Group) -> bool:
    return all(G.contains(h) for h in H.discrete_generators) and all(G.lie_contains(a) for a in H.lie_algebra)


def breaking_directions(rep: Rep, G: Group, H: Group) -> np.ndarray:
    r"""An orthonormal basis of the vectors of ``rep`` fixed by the subgroup H but not by G.

    This is Fix(H) ⊖ Fix(G), the orthogonal complement of Fix(G) inside
    Fix(H) (Fix(G) ⊆ Fix(H) because H ⊆ G): an input along one of these
    directions breaks the symmetry G of a problem down to (at least) H, and
    no vector of Fix(G) does. Both fixed spaces come from the solver (the
    equivariant bases of ``rep.restrict(H)`` and ``rep.restrict(G)``); no
    character table is used. The complement is the range of
    (I − Q_G Q_Gᵀ) Q_H, whose singular values are 1 or 0.

    The basis is canonical (:func:`~constrainnet.solver.canonical_basis`):
    it depends only on the subspace, columns in pivot order, each positive
    at its own pivot coordinate.

    Args:
        rep: a rep of a group containing G (e.g. ``V(O(3))**2``).
        G: the larger group (a :class:`~constrainnet.groups.Subgroup` of rep's group, or that group).
        H: a subgroup of G, given in the same space.

    Returns:
        (rep.size, k) array with orthonormal columns; k = dim Fix(H) − dim Fix(G).

    Raises:
        GroupError: a generator of H that is not in G.
        RepMismatchError: G or H is not a subgroup of rep's group.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import O
        >>> from constrainnet.symmetry import point_group
        >>> square = point_group([[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]])
        >>> rectangle = point_group([[2, 1, 0], [-2, 1, 0], [-2, -1, 0], [2, -1, 0]])
        >>> b = breaking_directions(cn.V(O(3))**2, square, rectangle)
        >>> np.round(b[:, 0].reshape(3, 3) * np.sqrt(2), 6).tolist()   # (x² − y²)/√2
        [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if not isinstance(H, Group) or not isinstance(G, Group):
        raise TypeError(f"breaking_directions: expected Groups G and H, got {type(G).__name__} and {type(H).__name__}")
    if not _is_subgroup(H, G):
        raise GroupError(f"breaking_directions: expected H to be a subgroup of G, got a generator of {H!r} outside {G!r}")
    q_g = fixed_space(rep, G)
    q_h = fixed_space(rep, H)
    off = q_h - q_g @ (q_g.T @ q_h)
    if off.shape[1] == 0:
        return np.zeros((rep.size, 0))
    u, s, _ = np.linalg.svd(off, full_matrices=False)
    unclear = (s > _SINGULAR_MARGIN) & (s < 1 - _SINGULAR_MARGIN)
    if np.any(unclear):
        raise SolverError(
            f"breaking_directions: expected Fix(G) inside Fix(H) (singular values 0 or 1), got {s[unclear].tolist()}"
        )
    q, _ = canonical_basis(u[:, s >= 1 - _SINGULAR_MARGIN])
    return q

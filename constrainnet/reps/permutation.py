r"""Permutation reps of a finite group: regular, quotient, and points of a lattice.

Each rep here permutes a finite set of points X on which G acts:
ρ(g) e_x = e_{g·x}, so ρ(g)[g·x, x] = 1. The solver recognises them as
permutation reps (``is_permutation``), so their equivariant bases come from
orbits, exactly and fast.

- :func:`regular`: X = G itself, acted on by left multiplication; its
  elements in the order of ``G.elements()`` (breadth-first from the identity).
- :func:`quotient`: X = G/H, the left cosets of a subgroup H, each named by
  its first element in ``G.elements()`` order.
- :func:`lattice_points`: X a finite set of points of a lattice in the plane
  (or in Rᵈ) closed under G, which acts on their integer coordinates by
  L(g) = B⁻¹ g B (B the lattice basis); the window of a steerable
  convolution kernel.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import RepError
from ..groups import Group
from ..groups.base import _element_key
from .base import Rep

__all__ = ["PermutationRep", "RegularRep", "QuotientRep", "LatticeRep", "regular", "quotient", "lattice_points"]


class PermutationRep(Rep):
    """A rep that permutes a finite set of points; subclasses say where g sends each point.

    ρ(g) is the permutation matrix with ρ(g)[σ_g(x), x] = 1, where σ_g =
    :meth:`permutation` (g); the group has no Lie algebra (finite groups only).
    """

    def permutation(self, g: Any) -> np.ndarray:
        """The image σ_g(x) of every point x = 0, …, size − 1 under g, as an int array.

        Raises:
            RepError: g does not act on the points (not an element of the group).
        """
        return self._permutation(self._check_element(g, f"{self!r}.permutation"))

    def _permutation(self, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _rho(self, g: np.ndarray) -> np.ndarray:
        sigma = self._permutation(g)
        out = np.zeros((self.size, self.size))
        out[sigma, np.arange(self.size)] = 1.0
        return out

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        sigma = self._permutation(g)
        out = np.empty_like(np.asarray(x, dtype=float))
        out[..., sigma] = x
        return out

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return np.zeros((self.size, self.size))

    is_permutation = True  # type: ignore[assignment]
    is_orthogonal = True  # type: ignore[assignment]


def _finite(G: object, what: str) -> Group:
    if not isinstance(G, Group):
        raise TypeError(f"{what}: expected a constrainnet Group, got {type(G).__name__}")
    if not G.is_finite:
        raise RepError(f"{what}: expected a finite group, got {G!r} (it has a Lie algebra)")
    return G


@functools.lru_cache(maxsize=64)
def _element_index(G: Group) -> dict[bytes, int]:
    return {_element_key(e): i for i, e in enumerate(G.elements())}


def _index_of(G: Group, g: np.ndarray, rep: Rep) -> int:
    i = _element_index(G).get(_element_key(g))
    if i is None:
        raise RepError(f"{rep!r}: the element {np.round(g, 6).tolist()} is not in {G!r}")
    return i


class RegularRep(PermutationRep):
    """The regular rep of a finite group: G permuting its own elements by left multiplication.

    Build it with :func:`regular`. ``acting`` is the group the rep is a rep of
    (G itself, or a subgroup after :meth:`~Rep.restrict`).
    """

    def __init__(self, G: Group, acting: Group | None = None) -> None:
        self._set(_source=G, _G=G if acting is None else acting)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return len(self._source.elements())

    def _permutation(self, g: np.ndarray) -> np.ndarray:
        elems = self._source.elements()
        return np.array([_index_of(self._source, g @ h, self) for h in elems], dtype=np.int64)

    def _key(self) -> tuple:
        return ("regular", self._source, self._G)

    def _rebind(self, group: Group) -> Rep:
        return RegularRep(self._source, group)

    def __repr__(self) -> str:
        return f"regular({self._source!r})"


def regular(G: Group) -> Rep:
    r"""The regular rep of a finite group G: ρ(g) e_h = e_{gh} on :math:`\mathbb{R}^{|G|}`.

    Its coordinates are the elements of G in ``G.elements()`` order (the
    identity first). Every irreducible of G appears in it as often as its
    dimension; pointwise nonlinearities commute with it (it permutes).

    Args:
        G: a finite group.

    Returns:
        The rep, of size :math:`|G|`.

    Raises:
        TypeError: G is not a constrainnet Group.
        RepError: G is continuous.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import D
        >>> R = cn.regular(D(4))
        >>> R.size, (R >> R).equivariant_basis().dim
        (8, 8)
    """
    G = _finite(G, "regular(G)")
    return RegularRep(G)


class QuotientRep(PermutationRep):
    """G permuting the left cosets gH of a subgroup H. Build it with :func:`quotient`."""

    def __init__(self, G: Group, H: Group, acting: Group | None = None) -> None:
        self._set(_source=G, _H=H, _G=G if acting is None else acting)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def subgroup(self) -> Group:
        """H, the subgroup whose cosets are permuted."""
        return self._H

    @property
    def size(self) -> int:
        return len(_cosets(self._source, self._H)[1])

    def _permutation(self, g: np.ndarray) -> np.ndarray:
        coset_of, reps = _cosets(self._source, self._H)
        elems = self._source.elements()
        return np.array([coset_of[_index_of(self._source, g @ elems[r], self)] for r in reps], dtype=np.int64)

    def _key(self) -> tuple:
        return ("quotient", self._source, self._H, self._G)

    def _rebind(self, group: Group) -> Rep:
        return QuotientRep(self._source, self._H, group)

    def __repr__(self) -> str:
        return f"quotient({self._source!r}, {self._H!r})"


@functools.lru_cache(maxsize=64)
def _cosets(G: Group, H: Group) -> tuple[np.ndarray, tuple[int, ...]]:
    """(coset index of every element of G, first element of each coset), in ``G.elements()`` order."""
    index = _element_index(G)
    elems = G.elements()
    coset_of = np.full(len(elems), -1, dtype=np.int64)
    reps: list[int] = []
    for i, e in enumerate(elems):
        if coset_of[i] >= 0:
            continue
        for h in H.elements():
            j = index.get(_element_key(e @ h))
            if j is None:
                raise RepError(f"quotient(G, H): H = {H!r} is not a subgroup of G = {G!r}")
            coset_of[j] = len(reps)
        reps.append(i)
    return coset_of, tuple(reps)


def quotient(G: Group, H: Group) -> Rep:
    """The quotient (permutation) rep of G on the left cosets G/H: ρ(g) e_{xH} = e_{gxH}.

    ``quotient(G, trivial subgroup)`` is the regular rep and ``quotient(G, G)``
    the trivial one. Cosets are ordered by their first element in
    ``G.elements()`` order.

    Args:
        G: a finite group.
        H: a subgroup of G (a group of the same dimension whose elements are in G).

    Returns:
        The rep, of size :math:`|G| / |H|`.

    Raises:
        TypeError: G or H is not a constrainnet Group.
        RepError: a group is continuous, or H is not a subgroup of G.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import C, D
        >>> cn.quotient(D(4), C(4)).size     # rotations kept, the mirror's sign
        2
    """
    G = _finite(G, "quotient(G, H)")
    H = _finite(H, "quotient(G, H)")
    if H.d != G.d:
        raise RepError(f"quotient(G, H): H acts on R^{H.d}, G on R^{G.d}: expected a subgroup of G")
    rep = QuotientRep(G, H)
    rep.size  # validates that H ⊂ G
    return rep


class LatticeRep(PermutationRep):
    """G permuting a finite set of lattice points by L(g) = B⁻¹ g B. Build it with :func:`lattice_points`."""

    def __init__(self, G: Group, points: np.ndarray, basis: np.ndarray) -> None:
        points = np.array(points, dtype=np.int64)
        basis = np.array(basis, dtype=float)
        points.setflags(write=False)
        basis.setflags(write=False)
        lookup = {tuple(p): i for i, p in enumerate(points.tolist())}
        self._set(_G=G, _points=points, _basis=basis, _lookup=lookup, _basis_inv=np.linalg.inv(basis))

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return len(self._points)

    @property
    def points(self) -> np.ndarray:
        """(size, d) integer coordinates of the points in the lattice basis."""
        return self._points

    @property
    def lattice_basis(self) -> np.ndarray:
        """B: its columns are the lattice vectors in the coordinates G acts on."""
        return self._basis

    def lattice_action(self, g: Any) -> np.ndarray:
        """L(g) = B⁻¹ g B, the integer matrix by which g moves lattice coordinates.

        Raises:
            RepError: g does not preserve the lattice (L(g) is not integral).
        """
        return self._lattice_action(self._check_element(g, f"{self!r}.lattice_action"))

    def _lattice_action(self, g: np.ndarray) -> np.ndarray:
        m = self._basis_inv @ g @ self._basis
        r = np.rint(m)
        if np.abs(m - r).max() > 1e-8:
            raise RepError(
                f"{self!r}: g = {np.round(g, 6).tolist()} does not map the lattice to itself "
                f"(B⁻¹ g B = {np.round(m, 6).tolist()} is not integral)"
            )
        return r.astype(np.int64)

    def _permutation(self, g: np.ndarray) -> np.ndarray:
        moved = self._points @ self._lattice_action(g).T
        try:
            return np.array([self._lookup[tuple(p)] for p in moved.tolist()], dtype=np.int64)
        except KeyError as exc:
            raise RepError(f"{self!r}: the points are not closed under g = {np.round(g, 6).tolist()}") from exc

    def _key(self) -> tuple:
        return ("lattice", self._G, self._points.tobytes(), self._points.shape, self._basis.tobytes())

    def _rebind(self, group: Group) -> Rep:
        return LatticeRep(group, self._points, self._basis)

    def __repr__(self) -> str:
        return f"lattice_points({self._G!r}, {len(self._points)} points)"


def lattice_points(G: Group, points: Any, basis: Any = None) -> Rep:
    """The permutation rep of a finite group G on a finite set of lattice points.

    g moves the integer coordinates x of a point (in the lattice basis B) to
    L(g) x with L(g) = B⁻¹ g B; ρ(g) e_x = e_{L(g) x}.

    Args:
        G: a finite group acting on R^d.
        points: (n, d) distinct integer coordinates, closed under every L(g).
        basis: the (d, d) lattice basis B (its columns are the lattice
            vectors); the identity (the square lattice) by default.

    Returns:
        The rep, of size n.

    Raises:
        TypeError: G is not a constrainnet Group.
        RepError: G is continuous; the points are not integer, not distinct,
            or not closed under G; or G does not preserve the lattice.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import D
        >>> window = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)])
        >>> W = cn.lattice_points(D(4), window)      # the 3×3 window: 3 orbits
        >>> W.size, (cn.Scalar(D(4)) >> W).equivariant_basis().dim
        (9, 3)
    """
    G = _finite(G, "lattice_points(G, points)")
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != G.d:
        raise RepError(f"lattice_points: expected (n, {G.d}) points for {G!r}, got shape {pts.shape}")
    if pts.size and (not np.issubdtype(pts.dtype, np.number) or np.any(pts != np.rint(pts))):
        raise RepError("lattice_points: expected integer lattice coordinates")
    pts = np.rint(pts).astype(np.int64)
    if len({tuple(p) for p in pts.tolist()}) != len(pts):
        raise RepError("lattice_points: the points are not distinct")
    B = np.eye(G.d) if basis is None else np.asarray(basis, dtype=float)
    if B.shape != (G.d, G.d) or abs(np.linalg.det(B)) < 1e-12:
        raise RepError(f"lattice_points: expected an invertible ({G.d}, {G.d}) basis, got shape {B.shape}")
    rep = LatticeRep(G, pts, B)
    for g in G.discrete_generators:
        rep._permutation(g)  # validates integrality and closure
    return rep

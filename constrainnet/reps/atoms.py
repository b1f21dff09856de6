"""The atoms of the rep algebra: the defining rep V, scalars and pseudo-scalars."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import RepError
from ..groups import Group, Paired, ProductGroup
from .base import Rep

__all__ = ["V", "Vector", "ScalarRep", "PseudoScalarRep", "Scalar", "PseudoScalar", "T"]


def _check_group(G: object, what: str) -> Group:
    if not isinstance(G, Group):
        raise TypeError(f"{what}: expected a constrainnet Group, got {type(G).__name__}")
    return G


class Vector(Rep):
    """The defining rep of G (ρ(g) = g), or of one factor of a product group.

    Build it with :func:`V`.
    """

    def __init__(self, G: Group, block: tuple[int, int] | None = None, factor: int | None = None) -> None:
        block = (0, G.d) if block is None else (int(block[0]), int(block[1]))
        self._set(_G=G, _block=block, _factor=factor)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return self._block[1] - self._block[0]

    @property
    def factor(self) -> int | None:
        """The factor of a product group this is the defining rep of, or None."""
        return self._factor

    def _slice(self, m: np.ndarray) -> np.ndarray:
        a, b = self._block
        return m[a:b, a:b]

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return np.array(self._slice(g))

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return np.array(self._slice(a))

    def _key(self) -> tuple:
        return ("V", self._G, self._block)

    def _rebind(self, group: Group) -> Rep:
        return Vector(group, self._block, self._factor)

    @property
    def is_permutation(self) -> bool:
        G = self.G
        if any(np.any(self._slice(a)) for a in G.lie_algebra):
            return False
        if G.permutations is not None or G.num_discrete_generators == 0:
            return True
        gens = np.array([self._slice(h) for h in G.discrete_generators])
        from ..groups._arrays import permutations_of

        return permutations_of(gens) is not None

    @property
    def is_orthogonal(self) -> bool:
        return _block_is_orthogonal(self.G, self._block)

    def __repr__(self) -> str:
        return "V" if self._factor is None else f"V[{self._factor}]"


@functools.lru_cache(maxsize=256)
def _block_is_orthogonal(G: Group, block: tuple[int, int] | None) -> bool:
    """Whether the generators of G restricted to ``block`` are orthogonal (Lie ones antisymmetric); cached, as reps ask often."""
    v = Vector(G, block)
    if G.permutations is not None:
        return all(np.allclose(v._slice(a), -v._slice(a).T) for a in G.lie_algebra)
    gens = [v._slice(h) for h in G.discrete_generators]
    lie = [v._slice(a) for a in G.lie_algebra]
    return all(np.allclose(h @ h.T, np.eye(v.size), atol=1e-8) for h in gens) and all(np.allclose(a, -a.T, atol=1e-8) for a in lie)


def V(G: Group, factor: int | None = None) -> Rep:
    """The defining representation of G: ρ(g) = g acting on R^d.

    Args:
        G: the group.
        factor: for a product group G₁ × … × G_n, the index of the factor whose
            defining rep this is (ρ(g) is that factor's block of g); for a
            :class:`~constrainnet.groups.Paired` group, 0 (the input's
            action) or 1 (the output's).

    Raises:
        RepError: ``factor`` given for a group that is not a product or paired, or out of range.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> P = SO(3) * S(4)
        >>> (cn.V(P, factor=0) * cn.V(P, factor=1)).size
        12
    """
    G = _check_group(G, "V")
    if factor is None:
        return Vector(G)
    if not isinstance(G, (ProductGroup, Paired)):
        raise RepError(f"V(G, factor={factor!r}): expected a product group (G1 * G2) or a Paired group, got {G!r}")
    try:
        block = G.block(factor)
    except ValueError as exc:
        raise RepError(str(exc)) from exc
    return Vector(G, block, int(factor))


class ScalarRep(Rep):
    """The trivial 1-dimensional rep: ρ(g) = 1. Written ``V**0`` or ``Scalar(G)``."""

    def __init__(self, G: Group) -> None:
        self._set(_G=G)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return 1

    @property
    def tensor_order(self) -> int:
        return 0

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return np.ones((1, 1))

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return np.zeros((1, 1))

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.array(x)

    def _drho_apply(self, a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.zeros_like(x)

    def _key(self) -> tuple:
        return ("Scalar", self._G)

    def _rebind(self, group: Group) -> Rep:
        return ScalarRep(group)

    is_permutation = True  # type: ignore[assignment]
    is_orthogonal = True  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Scalar"


def Scalar(G: Group) -> Rep:
    """The trivial rep of G (ρ(g) = 1), the same as ``V(G)**0``."""
    return ScalarRep(_check_group(G, "Scalar"))


class PseudoScalarRep(Rep):
    """The 1-dimensional rep ρ(g) = det(g) (dρ(A) = tr A): odd scalars such as parity."""

    def __init__(self, G: Group) -> None:
        self._set(_G=G)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return 1

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return np.full((1, 1), np.linalg.det(g))

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return np.full((1, 1), np.trace(a))

    def _key(self) -> tuple:
        return ("PseudoScalar", self._G)

    def _rebind(self, group: Group) -> Rep:
        return PseudoScalarRep(group)

    @property
    def is_permutation(self) -> bool:
        G = self.G
        dets = np.linalg.det(G.discrete_generators) if G.num_discrete_generators else np.ones(0)
        return bool(np.allclose(dets, 1.0)) and all(abs(np.trace(a)) < 1e-12 for a in G.lie_algebra)

    @property
    def is_orthogonal(self) -> bool:
        G = self.G
        dets = np.linalg.det(G.discrete_generators) if G.num_discrete_generators else np.ones(0)
        return bool(np.allclose(np.abs(dets), 1.0)) and all(abs(np.trace(a)) < 1e-12 for a in G.lie_algebra)

    def __repr__(self) -> str:
        return "PseudoScalar"


def PseudoScalar(G: Group) -> Rep:
    """The pseudo-scalar rep ρ(g) = det(g) of G: invariant under rotations, odd under reflections.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import O
        >>> float(cn.PseudoScalar(O(3)).rho(-np.eye(3))[0, 0])
        -1.0
    """
    return PseudoScalarRep(_check_group(G, "PseudoScalar"))


def T(p: int, q: int = 0, G: Group | None = None) -> Rep:
    """The tensor rep V^{⊗p} ⊗ (V*)^{⊗q} of G (p contravariant, q covariant indices).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> cn.T(1, 1, SO(3)).size
        9
    """
    if G is None:
        raise RepError("T(p, q, G): expected a group G, got None")
    for name, val in (("p", p), ("q", q)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 0:
            raise RepError(f"T: expected a non-negative int {name}, got {val!r}")
    vec = V(G)
    return vec**p * vec.T**q if q else vec**p

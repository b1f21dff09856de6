"""Reps on invariant subspaces, and the irreducible reps of a finite group found by the solver."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import RepError
from ..groups import Group
from .base import Rep

__all__ = ["SubRep", "irreducibles"]


class SubRep(Rep):
    """ρ restricted to an invariant subspace with orthonormal columns U: ρ_U(g) = Uᵀ ρ(g) U.

    Attributes:
        parent: the rep ρ.
        columns: the (parent.size, size) orthonormal U.
        irrep: the irreducible type (``constrainnet.solver.IrrepType``) when
            built by :func:`irreducibles`, else None.
    """

    def __init__(self, parent: Rep, columns: np.ndarray, irrep: Any = None, acting: Group | None = None) -> None:
        u = np.array(columns, dtype=float)
        u.setflags(write=False)
        self._set(_parent=parent, _U=u, irrep=irrep, _G=parent.G if acting is None else acting)

    @property
    def G(self) -> Group:
        return self._G

    @property
    def parent(self) -> Rep:
        return self._parent

    @property
    def columns(self) -> np.ndarray:
        return self._U

    @property
    def size(self) -> int:
        return self._U.shape[1]

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return self._U.T @ self._parent._rho(g) @ self._U

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return self._U.T @ self._parent._drho(a) @ self._U

    def _key(self) -> tuple:
        return ("sub", self._parent, self._G, self._U.shape, np.round(self._U, 12).tobytes())

    def _rebind(self, group: Group) -> Rep:
        return SubRep(self._parent, self._U, self.irrep, group)

    @property
    def is_permutation(self) -> bool:
        return False

    @property
    def is_orthogonal(self) -> bool:
        return self._parent.is_orthogonal

    def __repr__(self) -> str:
        label = self.irrep.label if self.irrep is not None else f"{self.size}-dim"
        return f"irrep({label})" if self.irrep is not None else f"SubRep({self._parent!r}, {label})"


def irreducibles(G: Group) -> list[Rep]:
    r"""Every irreducible rep of a finite group G, found by decomposing its regular rep.

    The regular rep holds each irreducible (as many times as its dimension);
    ``cn.regular(G).decompose()`` finds them from the generators alone, with
    canonical matrices π_k. Each rep returned is π_k, on one copy's columns U
    of the change of basis (ρ(g) = Uᵀ ρ_regular(g) U), with ``.irrep`` its
    type (dimension, commutant, character fingerprint). These are the real
    irreducibles: a complex pair (C(n), n ≥ 3) is one 2-dimensional rep of
    ``"complex"`` commutant, so :math:`\sum d^2 / \dim \mathrm{End}_G = |G|`. Ordered as the
    decomposition's components (by dimension, then character fingerprint).

    Args:
        G: a finite group.

    Returns:
        The irreducible reps, one per type.

    Raises:
        TypeError: G is not a constrainnet Group.
        RepError: G is continuous.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import D
        >>> [r.size for r in cn.irreducibles(D(4))]    # 1² + 1² + 1² + 1² + 2² = 8
        [1, 1, 1, 1, 2]
    """
    from .permutation import regular

    R = regular(G)
    D = R.decompose()
    U = np.asarray(D.change_of_basis)
    out: list[Rep] = []
    for c in D.components:
        out.append(SubRep(R, U[:, c.start : c.start + c.dim], c.irrep))
    if not out:  # pragma: no cover - a group has at least the trivial rep
        raise RepError(f"irreducibles: no components found for {G!r}")
    return out

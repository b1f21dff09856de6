r"""Planar groups acting on the (x, y) part of R³ with z fixed: EMLP's ``*eR3`` embeddings.

A group G of 2 × 2 matrices acts on R³ by

.. math::
    g \mapsto \begin{pmatrix} g & 0 \\ 0 & 1 \end{pmatrix},

rotating and mirroring the horizontal coordinates of a 3-vector and leaving
its height alone: the symmetry of a system under gravity along z (EMLP's
double spring pendulum). Each is a :class:`Subgroup` of O(3), so reps of O(3)
restrict to it, and its V is R³ with that action (V = the defining rep of G
plus one invariant scalar).

=====================  ==========================  ========================================
function               planar group (on x, y)      generators in R³
=====================  ==========================  ========================================
:func:`SO2eR3`         SO(2)                       L_z (the rotation generator about z)
:func:`O2eR3`          O(2)                        L_z and the mirror diag(-1, 1, 1)
:func:`DkeR3` ``(k)``  D(k), order 2k              rotation by 2π/k about z, diag(-1, 1, 1)
:func:`D6eR3`          D(6)                        ``DkeR3(6)``
:func:`D2eR3`          D(2)                        ``DkeR3(2)``
=====================  ==========================  ========================================

These are the groups of EMLP's ``emlp.groups`` of the same names (its
``Embed(G, 3, slice(2))``), with the generators of this package's ``SO(2)``,
``O(2)`` and ``D(k)``. ``O2eR3()`` is the same group as
``o2_in_o3("cone")`` (another mirror, the same subgroup of O(3)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GroupError
from .base import Group
from .families import D, O, SO
from .subgroup import Subgroup

__all__ = ["planar_in_3d", "SO2eR3", "O2eR3", "DkeR3", "D6eR3", "D2eR3"]


def _embed(m: np.ndarray) -> np.ndarray:
    """A stack of (2, 2) matrices in the top-left corner of zero (3, 3) ones (the caller sets the z entry)."""
    out = np.zeros(m.shape[:-2] + (3, 3))
    out[..., :2, :2] = m
    return out


def planar_in_3d(group: Group, name: str | None = None) -> Subgroup:
    """A group of 2 × 2 matrices acting on the (x, y) coordinates of R³, z fixed.

    Args:
        group: a group whose defining rep is R² (``group.d == 2``), e.g.
            ``SO(2)``, ``O(2)``, ``C(k)``, ``D(k)``.
        name: the name shown by ``repr`` (default ``"<group>eR3"``).

    Returns:
        A :class:`Subgroup` of O(3) (d = 3) with the embedded generators:
        each discrete generator h becomes blockdiag(h, 1), each Lie algebra
        generator A becomes blockdiag(A, 0). Its samples are the planar
        group's samples embedded (uniform for SO(2), O(2) and finite groups).

    Raises:
        TypeError: ``group`` is not a :class:`Group`.
        GroupError: ``group.d`` is not 2 (a ValueError), or the group is not
            orthogonal (not inside O(3) once embedded).

    Example:
        >>> from constrainnet.groups import C, planar_in_3d
        >>> G = planar_in_3d(C(4))
        >>> G, G.d, G.order
        (C(4)eR3, 3, 4)
    """
    if not isinstance(group, Group):
        raise TypeError(f"planar_in_3d: expected a Group acting on R^2, got {type(group).__name__}")
    if group.d != 2:
        raise GroupError(f"planar_in_3d: expected a group acting on R^2 (d == 2), got {group!r} with d == {group.d}")
    gens = _embed(group.discrete_generators)
    gens[:, 2, 2] = 1.0
    lie = _embed(group.lie_algebra)
    return _PlanarIn3D(O(3), group, discrete_generators=gens, lie_algebra=lie, name=name or f"{group!r}eR3")


class _PlanarIn3D(Subgroup):
    """A planar group embedded in O(3), sampled as the planar group's own samples embedded."""

    def __init__(self, parent: Group, planar: Group, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._planar = planar

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        g = _embed(self._planar._sample_one(rng))
        g[2, 2] = 1.0
        return g


def SO2eR3() -> Subgroup:
    """SO(2) acting on R³ by rotations about the z axis (EMLP's ``SO2eR3``).

    Returns:
        The :class:`Subgroup` of O(3) named ``SO2eR3``: one Lie algebra
        generator, no discrete generators.

    Example:
        >>> from constrainnet.groups import SO2eR3
        >>> G = SO2eR3()
        >>> G.lie_algebra[0].tolist()
        [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    return planar_in_3d(SO(2), name="SO2eR3")


def O2eR3() -> Subgroup:
    """O(2) acting on the (x, y) coordinates of R³: rotations about z and vertical mirrors (EMLP's ``O2eR3``).

    Returns:
        The :class:`Subgroup` of O(3) named ``O2eR3``: the rotation generator
        about z and the mirror diag(-1, 1, 1).

    Example:
        >>> from constrainnet.groups import O2eR3
        >>> O2eR3().discrete_generators[0].tolist()
        [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return planar_in_3d(O(2), name="O2eR3")


def DkeR3(k: int) -> Subgroup:
    """The dihedral group D(k) (order 2k) acting on the (x, y) coordinates of R³ (EMLP's ``DkeR3(k)``).

    Args:
        k: the number of rotations (by 2π/k about z); a positive int.

    Returns:
        The :class:`Subgroup` of O(3) named ``D<k>eR3``.

    Raises:
        TypeError, ValueError: ``k`` is not a positive int (from ``D(k)``).

    Example:
        >>> from constrainnet.groups import DkeR3
        >>> DkeR3(3).order
        6
    """
    return planar_in_3d(D(k), name=f"D{k}eR3")


def D6eR3() -> Subgroup:
    """D(6), the 12 symmetries of a hexagon, acting on the (x, y) coordinates of R³ (``DkeR3(6)``).

    Example:
        >>> from constrainnet.groups import D6eR3
        >>> D6eR3().order
        12
    """
    return DkeR3(6)


def D2eR3() -> Subgroup:
    """D(2), rotation by π about z and the mirror x -> -x, acting on R³ (``DkeR3(2)``).

    Example:
        >>> from constrainnet.groups import D2eR3
        >>> D2eR3().order
        4
    """
    return DkeR3(2)

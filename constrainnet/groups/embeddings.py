"""Embeddings of one named group in another, as :class:`Subgroup` objects."""

from __future__ import annotations

import numpy as np

from ..errors import GroupError
from .families import O
from .subgroup import Subgroup

__all__ = ["o2_in_o3", "O2_IN_O3_KINDS"]

# The two conjugacy classes of O(2) inside O(3), by the name of the solid
# that each one is the symmetry group of (a cone, a dihedral double cone).
O2_IN_O3_KINDS = ("cone", "dihedral")


def o2_in_o3(kind: str) -> Subgroup:
    r"""One of the two embeddings of O(2) in O(3), as a :class:`Subgroup` of O(3).

    Both contain the rotations about the z axis (Lie algebra
    :math:`L_z = e_y e_x^\top - e_x e_y^\top`) and differ in what the
    "flip" of O(2) becomes in space:

    - ``"cone"``: the mirror through the vertical xz plane, diag(1, -1, 1),
      det -1. The group is C∞v, the symmetry of a cone; z is fixed, so a
      vector's z component is invariant and its (x, y) part is the defining
      rep of O(2), while a pseudo-scalar changes sign under the flip.
    - ``"dihedral"``: the π rotation about the x axis, diag(1, -1, -1),
      det +1. The group is D∞, inside SO(3); z changes sign under the flip,
      and a pseudo-scalar (det) is invariant.

    Args:
        kind: ``"cone"`` or ``"dihedral"``.

    Returns:
        The subgroup, named ``O(2)cone`` or ``O(2)dihedral``; its samples
        are uniform over both components (rotation angle uniform, flipped
        with probability 1/2).

    Raises:
        GroupError: an unknown kind (a ValueError).

    Example:
        >>> import numpy as np
        >>> cone, dihedral = o2_in_o3("cone"), o2_in_o3("dihedral")
        >>> [round(float(np.linalg.det(g)), 6) for g in (cone.discrete_generators[0], dihedral.discrete_generators[0])]
        [-1.0, 1.0]
    """
    if not isinstance(kind, str) or kind not in O2_IN_O3_KINDS:
        raise GroupError(f"o2_in_o3: expected kind 'cone' or 'dihedral', got {kind!r}")
    rotation_z = np.zeros((3, 3))
    rotation_z[1, 0], rotation_z[0, 1] = 1.0, -1.0
    flip = np.diag([1.0, -1.0, 1.0]) if kind == "cone" else np.diag([1.0, -1.0, -1.0])
    return _EmbeddedO2(O(3), discrete_generators=[flip], lie_algebra=[rotation_z], name=f"O(2){kind}")


class _EmbeddedO2(Subgroup):
    """An O(2) in O(3) sampled uniformly: a rotation about z by a uniform angle, flipped with probability 1/2.

    (A random word of fixed length in the single involution would always
    have the same parity and never reach the flipped component.)
    """

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        c, s = np.cos(angle), np.sin(angle)
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return rotation @ self.discrete_generators[0] if rng.integers(2) else rotation

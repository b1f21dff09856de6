"""Finite permutation groups of images and cubes: Rot90, Cube and RubiksCube.

Each is given by permutations σ of its coordinates, acting as x ↦ x[σ]
(the matrix I[σ], the convention of every permutation group here). The
cube's faces are ordered U, F, R, B, L, D (up, front, right, back, left,
down) with outward normals

=====  ====  ====  ====  ====  ====
U      F     R     B     L     D
+z     -y    +x    +y    -x    -z
=====  ====  ====  ====  ====  ====

and a turn or rotation "about a face" is a clockwise quarter turn seen from
outside that face (a rotation by -90° about its outward normal).
"""

from __future__ import annotations

import numpy as np

from .base import Group
from .limits import MAX_DIMENSION, MAX_IMAGE_SIZE, check_family_size

__all__ = ["Rot90", "Cube", "RubiksCube", "CUBE_FACES"]

#: The order of the faces of :class:`Cube` and :class:`RubiksCube`.
CUBE_FACES = ("U", "F", "R", "B", "L", "D")

# Outward normals of the faces, in CUBE_FACES order.
_NORMALS = np.array([[0, 0, 1], [0, -1, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, 0, -1]])

# The directions of a face's columns ("right") and rows ("down") seen from
# outside it, for the 3×3 sticker grid of RubiksCube: the side faces have U
# above them, U has B above it and D has F above it (the usual net).
_RIGHT = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [1, 0, 0]])
_DOWN = np.array([[0, -1, 0], [0, 0, -1], [0, 0, -1], [0, 0, -1], [0, 0, -1], [0, 1, 0]])

_IMAGE_WHY = f"Rot90(n) acts on n² pixels and n² is capped at MAX_DIMENSION = {MAX_DIMENSION}"


def _quarter_turn(axis: np.ndarray) -> np.ndarray:
    """The integer rotation by -90° about the unit axis (clockwise seen from the tip of the axis)."""
    # Rodrigues at θ = -90°: R v = (n·v) n - n × v.
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.outer(axis, axis) - cross


def _content_permutation(keys: list[tuple[int, ...]], moved: list[tuple[int, ...]]) -> np.ndarray:
    """σ with σ[where key i went] = i: the content at slot i moves to its image, x ↦ x[σ]."""
    index = {k: i for i, k in enumerate(keys)}
    sigma = np.empty(len(keys), dtype=np.int64)
    for i, m in enumerate(moved):
        sigma[index[m]] = i
    return sigma


class Rot90(Group):
    """The rotations by multiples of 90° of a flattened n×n image, as a permutation group of order 4.

    Pixel (r, c) has index r*n + c, and the generator is σ =
    ``np.rot90(np.arange(n * n).reshape(n, n)).reshape(-1)``: an image x
    (flattened) becomes ``x[σ]``, which is ``np.rot90`` of the image (a
    counter-clockwise quarter turn about the image's centre, not a periodic
    one as in :class:`~constrainnet.groups.P4M`). Rot90(1) is trivial.

    Args:
        n: the side of the image, 1 ≤ n ≤ :data:`~constrainnet.groups.limits.MAX_IMAGE_SIZE`.

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import Rot90
        >>> G = Rot90(3)
        >>> G.order, G.d
        (4, 9)
        >>> image = np.arange(9.0).reshape(3, 3)
        >>> bool(np.array_equal(G.discrete_generators[0] @ image.reshape(-1), np.rot90(image).reshape(-1)))
        True
    """

    def __init__(self, n: int) -> None:
        n = check_family_size(n, "Rot90(n)", MAX_IMAGE_SIZE, _IMAGE_WHY)
        perms = [np.rot90(np.arange(n * n).reshape(n, n)).reshape(-1)] if n > 1 else []
        self._init_from_permutations(perms, n * n, f"Rot90({n})")
        self._n = n

    @property
    def image_size(self) -> int:
        """n, the side of the image."""
        return self._n


class Cube(Group):
    """The 24 rotations of a cube, as permutations of its 6 faces (EMLP's ``Cube``).

    Faces are ordered U, F, R, B, L, D (see :data:`CUBE_FACES`); a feature
    vector has one entry per face. The generators are the clockwise quarter
    turns of the whole cube about F and about L, seen from outside those
    faces: σ_F = [4, 1, 0, 3, 5, 2] (U takes L's value, R takes U's, ...) and
    σ_L = [3, 0, 2, 5, 4, 1], as in EMLP.

    Example:
        >>> from constrainnet.groups import Cube
        >>> G = Cube()
        >>> G.order, G.d, G.permutations.tolist()
        (24, 6, [[4, 1, 0, 3, 5, 2], [3, 0, 2, 5, 4, 1]])
    """

    def __init__(self) -> None:
        faces = [tuple(v) for v in _NORMALS.tolist()]
        perms = []
        for face in ("F", "L"):
            rot = _quarter_turn(_NORMALS[CUBE_FACES.index(face)])
            perms.append(_content_permutation(faces, [tuple(rot @ v) for v in _NORMALS]))
        self._init_from_permutations(perms, 6, "Cube()")


class RubiksCube(Group):
    r"""The group of the 3×3×3 Rubik's cube acting on its 48 moving stickers.

    Face f (in U, F, R, B, L, D order) holds stickers 8f … 8f+7: its 3×3 grid
    seen from outside, read row by row with the centre left out (centres
    never move). The rows run down from the edge shared with U for the side
    faces, from B for U and from F for D. The six generators are the
    clockwise quarter turns of the faces U, F, R, B, L, D seen from outside;
    a state x (one value per sticker) becomes x[σ]. The group has
    43,252,003,274,489,856,000 elements (its :attr:`order`, by Schreier–Sims).

    Example:
        >>> from constrainnet.groups import RubiksCube
        >>> G = RubiksCube()
        >>> G.d, G.num_discrete_generators, G.order
        (48, 6, 43252003274489856000)
    """

    def __init__(self) -> None:
        keys = []  # (cubie position, sticker normal) of each sticker, in index order
        for normal, right, down in zip(_NORMALS, _RIGHT, _DOWN):
            for row in range(3):
                for col in range(3):
                    if (row, col) != (1, 1):
                        keys.append(tuple(normal + (col - 1) * right + (row - 1) * down) + tuple(normal))
        stickers = np.array(keys)
        perms = []
        for normal in _NORMALS:
            rot = _quarter_turn(normal)
            on_face = stickers[:, :3] @ normal == 1
            moved = np.where(on_face[:, None], np.concatenate([stickers[:, :3] @ rot.T, stickers[:, 3:] @ rot.T], 1), stickers)
            perms.append(_content_permutation(keys, [tuple(m) for m in moved.tolist()]))
        self._init_from_permutations(perms, 48, "RubiksCube()")

"""Point sets with known point groups, shared by the symmetry tests."""

from __future__ import annotations

import itertools

import numpy as np

SQUARE = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [-1.0, -1.0, 0.0], [1.0, -1.0, 0.0]])
RECTANGLE = SQUARE * np.array([1.5, 0.5, 1.0])
TETRAHEDRON = np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
CUBE = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))
_PHI = (1 + 5**0.5) / 2
ICOSAHEDRON = np.array(
    [p for a in (-1.0, 1.0) for b in (-_PHI, _PHI) for p in ([0.0, a, b], [a, b, 0.0], [b, 0.0, a])]
)


def regular_polygon(n: int) -> np.ndarray:
    """The n vertices of a regular n-gon on the unit circle, in the plane (n, 2)."""
    t = 2 * np.pi * np.arange(n) / n
    return np.column_stack([np.cos(t), np.sin(t)])


def signed_permutations(d: int) -> np.ndarray:
    """All d×d signed permutation matrices: the hyperoctahedral group, independently of the library."""
    out = []
    for perm in itertools.permutations(range(d)):
        for signs in itertools.product((-1.0, 1.0), repeat=d):
            m = np.zeros((d, d))
            m[np.arange(d), perm] = signs
            out.append(m)
    return np.array(out)


def as_set(elements: np.ndarray) -> set:
    """Matrices as a set of rounded tuples, for set comparisons."""
    return {tuple(np.round(e, 6).ravel() + 0.0) for e in elements}

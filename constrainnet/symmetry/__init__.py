"""Symmetry in practice: point groups, stabilizers, symmetry breaking and learnability.

- :func:`point_group`: the finite group of orthogonal maps permuting a point set;
  :func:`induced_permutation` pairs such a map with the permutation of the points.
- :func:`stabilizer`, :func:`stabilizer_subgroup`: the elements of a finite group
  fixing a vector of a rep.
- :func:`breaking_directions`: the vectors fixed by a subgroup H but not by G,
  the inputs that break a symmetry G down to H.
- :func:`check_learnable`: whether an equivariant map can reach a target, and
  the loss it is stuck at when it cannot.

Example:
    >>> import numpy as np
    >>> from constrainnet.symmetry import point_group
    >>> cube = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])
    >>> point_group(cube).order
    48
"""

from .breaking import breaking_directions, fixed_space
from .learnable import Learnability, check_learnable
from .point_group import induced_permutation, point_group
from .stabilizer import stabilizer, stabilizer_subgroup

__all__ = [
    "point_group",
    "induced_permutation",
    "stabilizer",
    "stabilizer_subgroup",
    "fixed_space",
    "breaking_directions",
    "check_learnable",
    "Learnability",
]

"""Groups given by generators in their defining representation.

A :class:`Group` is its discrete generators and a basis of its Lie algebra;
the named families build those for the usual groups of physics, chemistry and
vision. ``G1 * G2`` is a direct product, :class:`Subgroup` a checked subgroup
and :class:`Paired` one group acting on input and output through two images.
Finite permutation groups have exact orders and uniform samples from their
stabiliser chain (:class:`StabilizerChain`, Schreier–Sims).
"""

from .base import Group
from .classical import GL, SL, SU, Sp, U, realify, symplectic_form
from .embeddings import o2_in_o3
from .families import LORENTZ_METRIC, C, D, Lorentz, O, P4M, S, SO, Trivial, Z
from .lorentz import O13, SO13, SO13p
from .planar_in_3d import D2eR3, D6eR3, DkeR3, O2eR3, SO2eR3, planar_in_3d
from .limits import MAX_DIMENSION, MAX_GENERATOR_ENTRIES, MAX_IMAGE_SIZE, MAX_ORTHOGONAL_N
from .paired import Paired
from .product import ProductGroup
from .puzzles import CUBE_FACES, Cube, Rot90, RubiksCube
from .schreier_sims import StabilizerChain
from .subgroup import Subgroup

__all__ = [
    "Group",
    "ProductGroup",
    "Paired",
    "Subgroup",
    "Trivial",
    "Z",
    "C",
    "D",
    "S",
    "P4M",
    "SO",
    "O",
    "Lorentz",
    "LORENTZ_METRIC",
    "SO13p",
    "SO13",
    "O13",
    "GL",
    "SL",
    "Sp",
    "U",
    "SU",
    "realify",
    "symplectic_form",
    "Rot90",
    "Cube",
    "CUBE_FACES",
    "RubiksCube",
    "StabilizerChain",
    "o2_in_o3",
    "planar_in_3d",
    "SO2eR3",
    "O2eR3",
    "DkeR3",
    "D6eR3",
    "D2eR3",
    "MAX_DIMENSION",
    "MAX_ORTHOGONAL_N",
    "MAX_IMAGE_SIZE",
    "MAX_GENERATOR_ENTRIES",
]

"""Representations as immutable values, with the algebra + * ** .T >> and restriction."""

from .atoms import PseudoScalar, PseudoScalarRep, Scalar, ScalarRep, T, V, Vector
from .base import Rep
from .composite import DualRep, HomRep, SumRep, TensorRep, direct_sum, dual, hom, repeat, tensor
from .limits import MAX_REP_SIZE, MAX_TENSOR_ORDER
from .subspace import SubRep, irreducibles
from .permutation import LatticeRep, PermutationRep, QuotientRep, RegularRep, lattice_points, quotient, regular

__all__ = [
    "Rep",
    "V",
    "Vector",
    "Scalar",
    "ScalarRep",
    "PseudoScalar",
    "PseudoScalarRep",
    "T",
    "SumRep",
    "TensorRep",
    "HomRep",
    "DualRep",
    "direct_sum",
    "repeat",
    "tensor",
    "hom",
    "dual",
    "MAX_TENSOR_ORDER",
    "MAX_REP_SIZE",
    "PermutationRep",
    "RegularRep",
    "QuotientRep",
    "LatticeRep",
    "regular",
    "quotient",
    "lattice_points",
    "SubRep",
    "irreducibles",
]

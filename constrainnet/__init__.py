"""constrainnet: neural networks equivariant to a matrix group by constraint.

Give a group by its generators, declare reps with an algebra, and the solver
finds the equivariant subspace as the nullspace of the generators' constraints.

Example:
    >>> import constrainnet as cn
    >>> from constrainnet.groups import SO
    >>> V = cn.V(SO(3))
    >>> (V**2 >> V).equivariant_basis().dim
    1
"""

from . import datasets, groups, nn, reps, solver, symmetry, testing, train
from .errors import (
    ConstrainnetError,
    DeviceError,
    DtypeError,
    GroupError,
    ParseError,
    RepError,
    RepMismatchError,
    SolverError,
)
from .reps import PseudoScalar, Rep, Scalar, T, V
from .solver import cache_clear, equivariant_basis, equivariant_projector

__version__ = "0.1.0"

__all__ = [
    "groups",
    "nn",
    "testing",
    "datasets",
    "train",
    "reps",
    "solver",
    "symmetry",
    "Rep",
    "V",
    "T",
    "Scalar",
    "PseudoScalar",
    "equivariant_basis",
    "equivariant_projector",
    "cache_clear",
    "ConstrainnetError",
    "DeviceError",
    "DtypeError",
    "GroupError",
    "ParseError",
    "RepError",
    "RepMismatchError",
    "SolverError",
    "__version__",
]

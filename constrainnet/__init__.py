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

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the names below are imported on first use (see __getattr__)
    from . import datasets, groups, nn, reps, solver, symmetry, testing, train
    from .reps import PseudoScalar, Rep, Scalar, T, V, irreducibles, lattice_points, quotient, regular
    from .solver import cache_clear, equivariant_basis, equivariant_projector

# Submodules and names imported on first access (PEP 562), so that
# ``import constrainnet`` (and the command's ``--version`` and ``--help``)
# does not pay for numpy, scipy and torch until something needs them.
_SUBMODULES = ("datasets", "groups", "nn", "reps", "solver", "symmetry", "testing", "train")
_NAMES = {
    "Rep": "reps",
    "V": "reps",
    "T": "reps",
    "Scalar": "reps",
    "PseudoScalar": "reps",
    "regular": "reps",
    "quotient": "reps",
    "lattice_points": "reps",
    "irreducibles": "reps",
    "equivariant_basis": "solver",
    "equivariant_projector": "solver",
    "cache_clear": "solver",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES) | set(_NAMES))


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
    "regular",
    "quotient",
    "lattice_points",
    "irreducibles",
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

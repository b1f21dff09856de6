"""Synthetic equivariant regression tasks, generated in memory from a seed (never downloaded).

Each dataset is a ``torch.utils.data.Dataset`` of ``(x, y)`` pairs with
attributes ``rep_in``, ``rep_out``, ``group``, tensors ``X`` (n, rep_in.size)
and ``Y`` (n, rep_out.size), and ``stats``: standardisation statistics that
keep equivariance, applied by wrapping a model in :class:`Standardize`.

============================  =======  ===================  ========
dataset                       group    rep_in               rep_out
============================  =======  ===================  ========
:class:`Dipole`               SO(3)    ``5*V**0 + 5*V``     ``V``
:class:`O5Synthetic`          O(5)     ``2*V``              ``V**0``
:class:`Inertia`              O(3)     ``5*V**0 + 5*V``     ``V**2``
:class:`ParticleInteraction`  O(1,3)   ``4*V``              ``V**0``
============================  =======  ===================  ========

The last three are the regression tasks of the EMLP paper (Finzi, Welling,
Wilson 2021), defined as there.

Example:
    >>> import torch
    >>> from constrainnet.datasets import Dipole, Standardize
    >>> train = Dipole(32, seed=0)
    >>> model = Standardize(torch.nn.Linear(20, 3), train.stats)
    >>> model(train.X).shape
    torch.Size([32, 3])
"""

from .base import EquivariantDataset
from .dipole import Dipole
from .inertia import Inertia
from .o5 import O5Synthetic
from .particles import ParticleInteraction
from .pendulum import DoubleSpringPendulum, rollout_error, spring_pendulum_dynamics, spring_pendulum_hamiltonian
from .standardize import Standardize, Stats, standardization_stats

__all__ = [
    "EquivariantDataset",
    "Dipole",
    "O5Synthetic",
    "Inertia",
    "ParticleInteraction",
    "DoubleSpringPendulum",
    "rollout_error",
    "spring_pendulum_hamiltonian",
    "spring_pendulum_dynamics",
    "Stats",
    "Standardize",
    "standardization_stats",
]

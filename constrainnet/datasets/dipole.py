r"""The dipole moment of point charges: an SO(3)-equivariant vector target.

The example of the dmol.pub chapter on equivariant networks: n point charges
q_i at positions r_i ∈ R³ have the dipole moment

.. math::
    \mathbf{y} = \sum_i q_i \, \mathbf{r}_i ,

a vector: rotating every position by R rotates the dipole by R.
"""

from __future__ import annotations

import numpy as np
import torch

from ..groups import SO
from ..reps import V
from .base import EquivariantDataset, check_positive_int

__all__ = ["Dipole"]


class Dipole(EquivariantDataset):
    r"""Charges and positions of ``n_points`` points → their dipole moment Σ q_i r_i.

    Inputs are the ``n_points`` charges q_i ~ N(0, 1) followed by the
    ``n_points`` positions r_i ~ N(0, I₃) (point by point, xyz each); the
    target is the dipole moment. Group SO(3), rep_in ``n_points*V**0 +
    n_points*V``, rep_out ``V``. Inputs and outputs are standardised
    (see :class:`~constrainnet.datasets.Stats`).

    Args:
        n: number of samples.
        n_points: number of point charges.
        seed: seed of the data (``numpy.random.default_rng(seed)``).
        dtype: dtype of ``X``, ``Y`` and ``stats``.

    Raises:
        TypeError: if n, n_points or seed is not an int, or dtype not a float dtype.
        ValueError: if n or n_points < 1 or seed < 0.

    Shape:
        - X: (n, 4 * n_points)
        - Y: (n, 3)

    Example:
        >>> import torch
        >>> data = Dipole(4, n_points=2, seed=0)
        >>> data.X.shape, data.Y.shape, data.rep_in
        (torch.Size([4, 8]), torch.Size([4, 3]), 2*Scalar + 2*V)
        >>> q, r = data.X[:, :2], data.X[:, 2:].reshape(4, 2, 3)
        >>> torch.allclose(data.Y, (q[:, :, None] * r).sum(1))
        True
    """

    def __init__(self, n: int, n_points: int = 5, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.n_points = check_positive_int(n_points, "Dipole: n_points")
        self.group = SO(3)
        vec = V(self.group)
        self.rep_in = self.n_points * vec**0 + self.n_points * vec
        self.rep_out = vec
        super().__init__(n, seed, dtype)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        k = self.n_points
        charges = rng.standard_normal((n, k))
        positions = rng.standard_normal((n, k, 3))
        return np.concatenate([charges, positions.reshape(n, 3 * k)], axis=1)

    def _target(self, x: np.ndarray) -> np.ndarray:
        k = self.n_points
        charges, positions = x[:, :k], x[:, k:].reshape(-1, k, 3)
        return np.einsum("ni,nij->nj", charges, positions)

    def _extra_args(self) -> str:
        return f", n_points={self.n_points}"

r"""The O(5)-invariant synthetic regression task of the EMLP paper (Finzi, Welling, Wilson 2021).

Two vectors x₁, x₂ ∈ R⁵ map to the scalar

.. math::
    y = \sin\lVert x_1\rVert - \tfrac12 \lVert x_2\rVert^3
        + \frac{\langle x_1, x_2\rangle}{\lVert x_1\rVert \, \lVert x_2\rVert},

made of norms and an inner product, hence invariant under O(5).
"""

from __future__ import annotations

import numpy as np
import torch

from ..groups import O
from ..reps import V
from .base import EquivariantDataset

__all__ = ["O5Synthetic"]


class O5Synthetic(EquivariantDataset):
    r"""x₁, x₂ ~ N(0, I₅) → sin‖x₁‖ − ½‖x₂‖³ + ⟨x₁, x₂⟩/(‖x₁‖‖x₂‖), O(5)-invariant.

    Group O(5), rep_in ``2*V`` (x₁ then x₂), rep_out ``V**0``. Inputs are
    scaled per vector (their invariant mean is 0); the output is centred and
    scaled (see :class:`~constrainnet.datasets.Stats`).

    Args:
        n: number of samples.
        seed: seed of the data (``numpy.random.default_rng(seed)``).
        dtype: dtype of ``X``, ``Y`` and ``stats``.

    Raises:
        TypeError: if n or seed is not an int, or dtype not a float dtype.
        ValueError: if n < 1 or seed < 0.

    Shape:
        - X: (n, 10)
        - Y: (n, 1)

    Example:
        >>> data = O5Synthetic(3, seed=0)
        >>> data.X.shape, data.Y.shape, data.rep_in, data.group
        (torch.Size([3, 10]), torch.Size([3, 1]), 2*V, O(5))
    """

    def __init__(self, n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.group = O(5)
        vec = V(self.group)
        self.rep_in = 2 * vec
        self.rep_out = vec**0
        super().__init__(n, seed, dtype)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, 10))

    def _target(self, x: np.ndarray) -> np.ndarray:
        x1, x2 = x[:, :5], x[:, 5:]
        n1, n2 = np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1)
        y = np.sin(n1) - 0.5 * n2**3 + np.sum(x1 * x2, axis=1) / (n1 * n2)
        return y[:, None]

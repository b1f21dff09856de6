r"""The electron–muon scattering matrix element: a Lorentz-invariant scalar (EMLP paper).

Four 4-momenta p₁, p₂, p₃, p₄ (time first), metric η = diag(1, −1, −1, −1) and
a·b = aᵀ η b. With

.. math::
    L_e^{\mu\nu} = p_1^\mu p_3^\nu - (p_1\cdot p_3 - p_1\cdot p_1)\,\eta^{\mu\nu}, \qquad
    L^{(\mu)}_{\mu\nu} = (\eta p_2)_\mu (\eta p_4)_\nu - (p_2\cdot p_4 - p_2\cdot p_2)\,\eta_{\mu\nu},

the target is the full contraction y = 4 Σ_{μν} L_e^{μν} L^{(μ)}_{μν}: an upper-index
tensor against a lower-index one, invariant under the Lorentz group O(1, 3).
"""

from __future__ import annotations

import numpy as np
import torch

from ..groups import Lorentz
from ..groups.families import LORENTZ_METRIC
from ..reps import V
from .base import EquivariantDataset

__all__ = ["ParticleInteraction"]

# Momenta entries are N(0, 1) divided by this, as in the EMLP paper.
_MOMENTUM_SCALE = 4.0


class ParticleInteraction(EquivariantDataset):
    r"""Four 4-momenta → the e–μ scattering term 4 Σ L_e^{μν} L^{(μ)}_{μν}, Lorentz-invariant.

    Momenta p₁..p₄ have entries N(0, 1)/4 (time first, p₁ then p₂, p₃, p₄).
    Group ``Lorentz()``, rep_in ``4*V``, rep_out ``V**0``. Each 4-vector is
    scaled by one number; the output is centred and scaled
    (see :class:`~constrainnet.datasets.Stats`).

    Args:
        n: number of samples.
        seed: seed of the data (``numpy.random.default_rng(seed)``).
        dtype: dtype of ``X``, ``Y`` and ``stats``.

    Raises:
        TypeError: if n or seed is not an int, or dtype not a float dtype.
        ValueError: if n < 1 or seed < 0.

    Shape:
        - X: (n, 16)
        - Y: (n, 1)

    Example:
        >>> data = ParticleInteraction(3, seed=0)
        >>> data.X.shape, data.Y.shape, data.rep_in
        (torch.Size([3, 16]), torch.Size([3, 1]), 4*V)
    """

    def __init__(self, n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.group = Lorentz()
        vec = V(self.group)
        self.rep_in = 4 * vec
        self.rep_out = vec**0
        super().__init__(n, seed, dtype)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.standard_normal((n, 16)) / _MOMENTUM_SCALE

    def _target(self, x: np.ndarray) -> np.ndarray:
        eta = LORENTZ_METRIC
        p1, p2, p3, p4 = (x[:, 4 * i : 4 * i + 4] for i in range(4))

        def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.sum((a @ eta) * b, axis=-1)

        l_e = p1[:, :, None] * p3[:, None, :] - (dot(p1, p3) - dot(p1, p1))[:, None, None] * eta
        l_mu = (p2 @ eta)[:, :, None] * (p4 @ eta)[:, None, :] - (dot(p2, p4) - dot(p2, p2))[:, None, None] * eta
        return 4.0 * np.sum(l_e * l_mu, axis=(1, 2))[:, None]

r"""The moment of inertia tensor of point masses: an O(3)-equivariant matrix target (EMLP paper).

Masses m_i at positions r_i ∈ R³ have the inertia tensor

.. math::
    \mathcal{I} = \sum_i m_i \big(\lVert r_i\rVert^2 I_3 - r_i r_i^\top\big),

a rank-2 tensor: for g ∈ O(3), moving every r_i to g r_i maps 𝓘 to g 𝓘 gᵀ,
which is ρ_{V⊗V}(g) acting on 𝓘 flattened row-major.
"""

from __future__ import annotations

import numpy as np
import torch

from ..groups import O
from ..reps import V
from .base import EquivariantDataset

__all__ = ["Inertia"]

_N_MASSES = 5  # as in the EMLP paper


class Inertia(EquivariantDataset):
    r"""5 masses and positions → their inertia tensor Σ m_i (‖r_i‖² I₃ − r_i r_iᵀ), flattened.

    Masses m_i = softplus(z_i) = log(1 + e^{z_i}) with z_i ~ N(0, 1), positions
    r_i ~ N(0, I₃). Group O(3), rep_in ``5*V**0 + 5*V`` (the 5 masses, then
    the 5 positions, xyz each), rep_out ``V**2`` (row-major 3 × 3). As in the
    EMLP paper the outputs are not standardised: ``stats`` has output mean 0
    and scale 1 (the inputs are standardised as usual).

    Args:
        n: number of samples.
        seed: seed of the data (``numpy.random.default_rng(seed)``).
        dtype: dtype of ``X``, ``Y`` and ``stats``.

    Raises:
        TypeError: if n or seed is not an int, or dtype not a float dtype.
        ValueError: if n < 1 or seed < 0.

    Shape:
        - X: (n, 20)
        - Y: (n, 9)

    Example:
        >>> import torch
        >>> data = Inertia(2, seed=0)
        >>> data.X.shape, data.Y.shape, data.rep_out
        (torch.Size([2, 20]), torch.Size([2, 9]), V**2)
        >>> I = data.Y.reshape(2, 3, 3)
        >>> torch.allclose(I, I.transpose(1, 2)), data.stats.scale_out.tolist() == [1.0] * 9
        (True, True)
    """

    standardize_outputs = False

    def __init__(self, n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        self.group = O(3)
        vec = V(self.group)
        self.rep_in = _N_MASSES * vec**0 + _N_MASSES * vec
        self.rep_out = vec**2
        super().__init__(n, seed, dtype)

    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.standard_normal((n, _N_MASSES))
        masses = np.logaddexp(0.0, z)  # softplus, stable for large |z|
        positions = rng.standard_normal((n, 3 * _N_MASSES))
        return np.concatenate([masses, positions], axis=1)

    def _target(self, x: np.ndarray) -> np.ndarray:
        k = _N_MASSES
        m, r = x[:, :k], x[:, k:].reshape(-1, k, 3)
        r2 = np.sum(r**2, axis=-1)
        inertia = np.einsum("ni,ni,jk->njk", m, r2, np.eye(3)) - np.einsum("ni,nij,nik->njk", m, r, r)
        return inertia.reshape(-1, 9)

"""Sparse evaluation (rho_sparse, drho_sparse) equals the dense matrices, built independently with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import constrainnet as cn
from constrainnet.groups import D, Lorentz, O, S, SO


def dense_reference(G, g):
    """ρ(g) of (V + V**0) ⊗ V.T ⊕ 2·V**2 from np.kron/block_diag of the defining matrix."""
    v = g
    vt = np.linalg.inv(g).T
    first = np.kron(scipy.linalg.block_diag(v, np.eye(1)), vt)
    return scipy.linalg.block_diag(first, np.kron(v, v), np.kron(v, v))


@pytest.mark.parametrize("G", [SO(3), O(2), Lorentz(), D(4), S(3)], ids=["SO3", "O2", "Lorentz", "D4", "S3"])
def test_rho_sparse_matches_numpy_reference(G):
    V = cn.V(G)
    rep = (V + V**0) * V.T + 2 * V**2
    for g in G.samples(3, rng=1):
        np.testing.assert_allclose(rep.rho_sparse(g).toarray(), dense_reference(G, g), atol=1e-10 * max(1, np.abs(g).max() ** 3))


@pytest.mark.parametrize("G", [SO(3), Lorentz()], ids=["SO3", "Lorentz"])
def test_drho_sparse_is_the_derivative(G):
    V = cn.V(G)
    rep = (V + V**0) * V.T + 2 * V**2
    for a in G.lie_algebra:
        t = 1e-6
        fd = (dense_reference(G, scipy.linalg.expm(t * a)) - dense_reference(G, scipy.linalg.expm(-t * a))) / (2 * t)
        np.testing.assert_allclose(rep.drho_sparse(a).toarray(), fd, atol=1e-6)

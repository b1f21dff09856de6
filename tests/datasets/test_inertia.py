"""Inertia: the tensor by an explicit loop, O(3) equivariance, masses = softplus(N(0, 1))."""

import numpy as np
import torch

from constrainnet.datasets import Inertia
from constrainnet.groups import O


def direct_inertia(row: np.ndarray) -> np.ndarray:
    """I_jk = Σ_i m_i (δ_jk ‖r_i‖² − r_ij r_ik), entry by entry."""
    out = np.zeros((3, 3))
    for i in range(5):
        m = row[i]
        r = row[5 + 3 * i : 8 + 3 * i]
        for j in range(3):
            for k in range(3):
                out[j, k] += m * ((j == k) * (r[0] ** 2 + r[1] ** 2 + r[2] ** 2) - r[j] * r[k])
    return out.reshape(9)


def test_targets_match_an_explicit_loop():
    data = Inertia(25, seed=5, dtype=torch.float64)
    expected = np.stack([direct_inertia(r) for r in data.X.numpy()])
    np.testing.assert_allclose(data.Y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_reps_group_and_output_stats():
    data = Inertia(8)
    assert data.group == O(3)
    assert data.rep_in.size == 20 and data.rep_out.size == 9
    assert [(r.size, m) for r, m in data.rep_in.components] == [(1, 5), (3, 5)]
    assert torch.equal(data.stats.mean_out, torch.zeros(9)) and torch.equal(data.stats.scale_out, torch.ones(9))


def test_equivariant_under_o3():
    data = Inertia(16, seed=6, dtype=torch.float64)
    X, Y = data.X.numpy(), data.Y.numpy()
    gs = data.group.samples(8, rng=13)
    assert any(np.linalg.det(g) < 0 for g in gs), "expected the samples to include reflections"
    for g in gs:
        gx = X @ data.rep_in.rho(g).T
        np.testing.assert_allclose(data.target(gx), Y @ data.rep_out.rho(g).T, rtol=1e-12, atol=1e-12)
        # and the same in matrix form: I(g r) = g I(r) gᵀ
        np.testing.assert_allclose(
            data.target(gx).reshape(-1, 3, 3), g @ Y.reshape(-1, 3, 3) @ g.T, rtol=1e-12, atol=1e-12
        )


def test_masses_are_softplus_of_standard_normals():
    x = Inertia(4000, seed=0, dtype=torch.float64).X.numpy()
    m, r = x[:, :5], x[:, 5:]
    assert np.all(m > 0)
    z = np.log(np.expm1(m))  # the inverse of softplus
    assert np.all(np.abs(z.mean(0)) < 5 / np.sqrt(4000))
    assert np.all(np.abs(z.var(0) - 1) < 5 * np.sqrt(2 / 4000))
    assert np.all(np.abs(r.var(0) - 1) < 5 * np.sqrt(2 / 4000))

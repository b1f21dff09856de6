"""Dipole: targets by a direct loop, SO(3) equivariance, the input distribution."""

import numpy as np
import pytest
import torch

from constrainnet.datasets import Dipole
from constrainnet.groups import SO


def direct_dipole(x: np.ndarray, k: int) -> np.ndarray:
    """Σ q_i r_i by an explicit loop over samples and points."""
    out = np.zeros((len(x), 3))
    for s, row in enumerate(x):
        for i in range(k):
            q = row[i]
            r = row[k + 3 * i : k + 3 * i + 3]
            out[s] += q * r
    return out


@pytest.mark.parametrize("k", [1, 5, 7])
def test_targets_match_a_direct_loop(k):
    data = Dipole(40, n_points=k, seed=3, dtype=torch.float64)
    assert data.X.shape == (40, 4 * k) and data.Y.shape == (40, 3)
    np.testing.assert_allclose(data.Y.numpy(), direct_dipole(data.X.numpy(), k), rtol=1e-12, atol=1e-12)


def test_reps_and_group():
    data = Dipole(2, n_points=3)
    assert data.group == SO(3)
    assert data.rep_in.size == 12 and data.rep_out.size == 3
    assert [(r.size, m) for r, m in data.rep_in.components] == [(1, 3), (3, 3)]


def test_equivariant_under_rotations():
    data = Dipole(16, seed=1, dtype=torch.float64)
    X, Y = data.X.numpy(), data.Y.numpy()
    for g in data.group.samples(6, rng=11):
        gx = X @ data.rep_in.rho(g).T
        np.testing.assert_allclose(data.target(gx), Y @ data.rep_out.rho(g).T, rtol=1e-12, atol=1e-12)


def test_a_non_equivariant_target_would_be_caught():
    # the check above is not vacuous: rotating only the output differs from the target of the input
    data = Dipole(16, seed=1, dtype=torch.float64)
    g = data.group.sample(rng=5)
    assert not np.allclose(data.target(data.X.numpy()), data.Y.numpy() @ data.rep_out.rho(g).T)


def test_inputs_are_standard_normal():
    x = Dipole(4000, seed=0, dtype=torch.float64).X.numpy()
    # 5-sigma bounds on the mean (sd 1/sqrt(n)) and on the variance (sd ~ sqrt(2/n))
    assert np.all(np.abs(x.mean(0)) < 5 / np.sqrt(4000))
    assert np.all(np.abs(x.var(0) - 1) < 5 * np.sqrt(2 / 4000))


def test_bad_n_points():
    with pytest.raises(ValueError, match="n_points"):
        Dipole(4, n_points=0)
    with pytest.raises(TypeError, match="n_points"):
        Dipole(4, n_points=2.0)

"""O5Synthetic: targets by scalar maths, O(5) invariance (reflections included)."""

import math

import numpy as np
import torch

from constrainnet.datasets import O5Synthetic
from constrainnet.groups import O


def direct_o5(row: np.ndarray) -> float:
    x1, x2 = [float(v) for v in row[:5]], [float(v) for v in row[5:]]
    n1 = math.sqrt(sum(v * v for v in x1))
    n2 = math.sqrt(sum(v * v for v in x2))
    dot = sum(a * b for a, b in zip(x1, x2))
    return math.sin(n1) - 0.5 * n2**3 + dot / (n1 * n2)


def test_targets_match_scalar_maths():
    data = O5Synthetic(30, seed=2, dtype=torch.float64)
    expected = np.array([[direct_o5(r)] for r in data.X.numpy()])
    np.testing.assert_allclose(data.Y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_reps_and_group():
    data = O5Synthetic(2)
    assert data.group == O(5)
    assert data.rep_in.size == 10 and data.rep_out.size == 1


def test_invariant_under_o5():
    data = O5Synthetic(16, seed=4, dtype=torch.float64)
    X, Y = data.X.numpy(), data.Y.numpy()
    gs = data.group.samples(8, rng=12)
    assert any(np.linalg.det(g) < 0 for g in gs), "expected the samples to include reflections"
    for g in gs:
        gx = X @ data.rep_in.rho(g).T
        np.testing.assert_allclose(data.target(gx), Y @ data.rep_out.rho(g).T, rtol=1e-10, atol=1e-10)


def test_inputs_are_standard_normal():
    x = O5Synthetic(4000, seed=0, dtype=torch.float64).X.numpy()
    assert np.all(np.abs(x.mean(0)) < 5 / np.sqrt(4000))
    assert np.all(np.abs(x.var(0) - 1) < 5 * np.sqrt(2 / 4000))

"""ParticleInteraction: the scalar by einsum with η and by a closed form, Lorentz invariance."""

import numpy as np
import torch

from constrainnet.datasets import ParticleInteraction
from constrainnet.groups import Lorentz

ETA = np.diag([1.0, -1.0, -1.0, -1.0])


def by_einsum(row: np.ndarray) -> float:
    p1, p2, p3, p4 = row.reshape(4, 4)
    dot = lambda a, b: np.einsum("m,mn,n->", a, ETA, b)  # noqa: E731
    l_e = np.einsum("m,n->mn", p1, p3) - (dot(p1, p3) - dot(p1, p1)) * ETA  # upper indices
    low2, low4 = np.einsum("mn,n->m", ETA, p2), np.einsum("mn,n->m", ETA, p4)
    l_mu = np.einsum("m,n->mn", low2, low4) - (dot(p2, p4) - dot(p2, p2)) * ETA  # lower indices
    return 4 * np.einsum("mn,mn->", l_e, l_mu)


def closed_form(row: np.ndarray) -> float:
    # Contracting by hand (η^{μν} η_{μν} = 4, η η η = η):
    # y = 4 [(p1·p2)(p3·p4) − b (p1·p3) − a (p2·p4) + 4 a b],
    # a = p1·p3 − p1·p1, b = p2·p4 − p2·p2.
    p1, p2, p3, p4 = row.reshape(4, 4)
    d = lambda u, v: u[0] * v[0] - u[1] * v[1] - u[2] * v[2] - u[3] * v[3]  # noqa: E731
    a, b = d(p1, p3) - d(p1, p1), d(p2, p4) - d(p2, p2)
    return 4 * (d(p1, p2) * d(p3, p4) - b * d(p1, p3) - a * d(p2, p4) + 4 * a * b)


def test_targets_match_einsum_and_closed_form():
    data = ParticleInteraction(30, seed=7, dtype=torch.float64)
    X, Y = data.X.numpy(), data.Y.numpy()
    np.testing.assert_allclose(Y[:, 0], [by_einsum(r) for r in X], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(Y[:, 0], [closed_form(r) for r in X], rtol=1e-10, atol=1e-14)


def test_reps_and_group():
    data = ParticleInteraction(2)
    assert data.group == Lorentz()
    assert data.rep_in.size == 16 and data.rep_out.size == 1


def test_invariant_under_lorentz():
    data = ParticleInteraction(16, seed=8, dtype=torch.float64)
    X, Y = data.X.numpy(), data.Y.numpy()
    scale = np.abs(Y).max()
    for g in data.group.samples(8, rng=14):
        assert np.allclose(g.T @ ETA @ g, ETA)
        gx = X @ data.rep_in.rho(g).T
        # boosts amplify rounding by up to γ⁴, hence the looser tolerance
        np.testing.assert_allclose(data.target(gx), Y @ data.rep_out.rho(g).T, rtol=1e-8, atol=1e-8 * scale)


def test_momenta_entries_have_sd_one_quarter():
    x = ParticleInteraction(4000, seed=0, dtype=torch.float64).X.numpy()
    assert np.all(np.abs(x.mean(0)) < 5 * 0.25 / np.sqrt(4000))
    assert np.all(np.abs(x.var(0) / 0.0625 - 1) < 5 * np.sqrt(2 / 4000))

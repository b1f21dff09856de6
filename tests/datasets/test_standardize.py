"""Equivariant standardisation: the statistics, and Standardize(f) staying equivariant."""

import io

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.datasets import Dipole, Inertia, O5Synthetic, ParticleInteraction, Standardize, Stats
from constrainnet.datasets import standardization_stats
from constrainnet.errors import RepMismatchError
from constrainnet.groups import SO, Lorentz
from constrainnet.testing import assert_equivariant

ETA = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))


# -- hand-written equivariant functions ------------------------------------------------
class DipoleLike(torch.nn.Module):
    """SO(3): Σ_i tanh(q_i) (1 + ‖r_i‖²) r_i, an equivariant map 5*V**0 + 5*V -> V."""

    def __init__(self, rep_in=None, rep_out=None):
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out

    def forward(self, x):
        q, r = x[:, :5], x[:, 5:].reshape(-1, 5, 3)
        return (torch.tanh(q)[..., None] * (1 + (r**2).sum(-1, keepdim=True)) * r).sum(1)


class MinkowskiInvariant(torch.nn.Module):
    """Lorentz: Σ_{i<j} sin(p_i·p_j) + Σ_i (p_i·p_i)², an invariant of 4*V."""

    def forward(self, x):
        p = x.reshape(-1, 4, 4)
        gram = torch.einsum("bim,mn,bjn->bij", p, ETA.to(x.dtype), p)
        iu = torch.triu_indices(4, 4, 1)
        return (torch.sin(gram[:, iu[0], iu[1]]).sum(-1) + (torch.diagonal(gram, dim1=1, dim2=2) ** 2).sum(-1))[:, None]


class O5Invariant(torch.nn.Module):
    def forward(self, x):
        x1, x2 = x[:, :5], x[:, 5:]
        return ((x1 * x2).sum(-1) + torch.cos((x1**2).sum(-1)))[:, None]


def copies(rep):
    """The (start, stop) of each copy of each component, by walking the components."""
    out, start = [], 0
    for comp, mult in rep.components:
        for _ in range(mult):
            out.append((start, start + comp.size))
            start += comp.size
    return out


# -- the statistics ------------------------------------------------------------------
def test_dipole_stats_by_hand():
    data = Dipole(300, seed=0, dtype=torch.float64)
    X = data.X.numpy()
    mean, scale = standardization_stats(X, data.rep_in)
    # scalars keep their empirical means; vectors of SO(3) have no invariant part
    np.testing.assert_allclose(mean[:5], X[:, :5].mean(0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(mean[5:], 0, atol=1e-15)
    for a, b in copies(data.rep_in):
        expected = np.sqrt(((X[:, a:b] - mean[a:b]) ** 2).mean())
        np.testing.assert_allclose(scale[a:b], expected, rtol=1e-12)
    np.testing.assert_allclose(data.stats.mean_in.numpy(), mean, atol=1e-15)
    np.testing.assert_allclose(data.stats.scale_in.numpy(), scale, rtol=1e-12)
    # after standardising, every copy has RMS 1
    Z = (X - mean) / scale
    for a, b in copies(data.rep_in):
        assert abs(np.sqrt((Z[:, a:b] ** 2).mean()) - 1) < 1e-12


def test_scalar_output_stats_are_mean_and_std():
    for cls in (O5Synthetic, ParticleInteraction):
        data = cls(200, seed=1, dtype=torch.float64)
        Y = data.Y.numpy()[:, 0]
        assert abs(data.stats.mean_out.item() - Y.mean()) < 1e-12 * max(1, abs(Y.mean()))
        assert abs(data.stats.scale_out.item() - Y.std()) < 1e-12 * Y.std()


def test_mean_is_projected_when_the_rep_has_an_invariant_part():
    V = cn.V(SO(3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 9)) + np.eye(3).reshape(9) * 2.0 + np.arange(9.0)
    mean, scale = standardization_stats(x, V**2)
    # the invariant subspace of V⊗V is spanned by the identity: the mean is (trace/3) I
    np.testing.assert_allclose(mean, np.trace(x.mean(0).reshape(3, 3)) / 3 * np.eye(3).reshape(9), atol=1e-12)
    assert np.ptp(scale) == 0  # one copy, one scale


@pytest.mark.parametrize("cls", [Dipole, O5Synthetic, Inertia, ParticleInteraction])
def test_stats_commute_with_the_group(cls):
    data = cls(100, seed=2, dtype=torch.float64)
    s = data.stats
    for g in data.group.samples(4, rng=3):
        for rep, mean, scale in ((data.rep_in, s.mean_in, s.scale_in), (data.rep_out, s.mean_out, s.scale_out)):
            rho = rep.rho(g)
            np.testing.assert_allclose(rho @ mean.numpy(), mean.numpy(), atol=1e-10)
            np.testing.assert_allclose(rho @ np.diag(scale.numpy()), np.diag(scale.numpy()) @ rho, atol=1e-10)


def test_constant_copy_gets_scale_one():
    V = cn.V(SO(3))
    x = np.zeros((4, 4))
    x[:, 0] = 3.0
    mean, scale = standardization_stats(x, V**0 + V)
    assert mean.tolist() == [3.0, 0.0, 0.0, 0.0] and scale.tolist() == [1.0] * 4


def test_stats_arguments_are_checked():
    V = cn.V(SO(3))
    with pytest.raises(RepMismatchError, match=r"\(n >= 1, 3\)"):
        standardization_stats(np.zeros((2, 4)), V)
    with pytest.raises(TypeError, match="Rep"):
        standardization_stats(np.zeros((2, 3)), 3)
    with pytest.raises(RepMismatchError, match=r"shape \(3,\)"):
        Stats(V, V, torch.zeros(4), torch.ones(3), torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="positive"):
        Stats(V, V, torch.zeros(3), torch.tensor([1.0, 0.0, 1.0]), torch.zeros(3), torch.ones(3))


# -- Standardize -------------------------------------------------------------------
def shifted_dipole_stats():
    """Dipole stats from data with charges shifted by 2 and outputs shifted by an invariant amount."""
    data = Dipole(200, seed=4, dtype=torch.float64)
    X = data.X.numpy().copy()
    X[:, :5] += 2.0
    X[:, 5:] *= np.linspace(0.5, 3.0, 5).repeat(3)  # unequal scales per point
    return data, Stats.from_data(X, data.Y.numpy() * 4.0, data.rep_in, data.rep_out, dtype=torch.float64)


def test_standardize_computes_the_formula():
    data, stats = shifted_dipole_stats()
    f = DipoleLike()
    model = Standardize(f, stats)
    x = data.X[:7]
    expected = f((x - stats.mean_in) / stats.scale_in) * stats.scale_out + stats.mean_out
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert model.rep_in == data.rep_in and model.rep_out == data.rep_out
    assert abs(stats.mean_in[0].item() - 2.0) < 0.3 and len(set(stats.scale_in[5:].tolist())) == 5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_standardize_keeps_dipole_equivariant(dtype):
    data, stats = shifted_dipole_stats()
    f = DipoleLike(data.rep_in, data.rep_out).to(dtype)
    assert_equivariant(f, dtype=dtype)  # the function itself
    assert_equivariant(Standardize(f, stats.to(dtype)), dtype=dtype)


def test_standardize_keeps_invariants_invariant():
    o5 = O5Synthetic(200, seed=5, dtype=torch.float64)
    assert abs(o5.stats.mean_out.item()) > 0.1  # a non-trivial output shift
    assert_equivariant(Standardize(O5Invariant(), o5.stats), dtype=torch.float64)
    particles = ParticleInteraction(200, seed=6, dtype=torch.float64)
    assert_equivariant(Standardize(MinkowskiInvariant(), particles.stats), dtype=torch.float64, rtol=1e-8)


def test_naive_standardisation_is_caught():
    # the checks above are not vacuous: an unprojected mean or per-coordinate scales break equivariance
    data, stats = shifted_dipole_stats()
    f = DipoleLike()
    shifted = stats.mean_in.clone()
    shifted[5:] = 0.5
    bad_mean = Stats(stats.rep_in, stats.rep_out, shifted, stats.scale_in, stats.mean_out, stats.scale_out)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(Standardize(f, bad_mean), dtype=torch.float64)
    per_coordinate = stats.scale_in.clone()
    per_coordinate[5:] = torch.linspace(0.5, 2.0, 15, dtype=torch.float64)
    bad_scale = Stats(stats.rep_in, stats.rep_out, stats.mean_in, per_coordinate, stats.mean_out, stats.scale_out)
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(Standardize(f, bad_scale), dtype=torch.float64)


def test_standardize_state_dict_round_trip():
    data, stats = shifted_dipole_stats()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    model = Standardize(net, stats.to(torch.float32))
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = Standardize(
        torch.nn.Sequential(torch.nn.Linear(20, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)),
        Stats.identity(data.rep_in, data.rep_out),
    )
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    x = data.X[:5].float()
    assert torch.equal(fresh(x), model(x))
    assert set(model.state_dict()) >= {"mean_in", "scale_in", "mean_out", "scale_out"}
    torch.testing.assert_close(fresh.stats.scale_in, stats.scale_in.float())


def test_standardize_follows_the_model_dtype():
    data = Dipole(20)  # float32 statistics
    model = Standardize(torch.nn.Linear(20, 3, dtype=torch.float64), data.stats)
    assert model.mean_in.dtype == torch.float64
    assert model(data.X.double()).dtype == torch.float64
    assert Standardize(DipoleLike(), data.stats).mean_in.dtype == torch.float32  # no parameters: keep


def test_standardize_checks_its_arguments():
    data = Dipole(10)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        Standardize(lambda x: x, data.stats)
    with pytest.raises(TypeError, match="Stats"):
        Standardize(torch.nn.Linear(20, 3), (0, 1, 0, 1))
    other = cn.V(Lorentz())
    with pytest.raises(RepMismatchError, match="rep_out"):
        Standardize(DipoleLike(data.rep_in, 2 * other), data.stats)
    model = Standardize(torch.nn.Linear(20, 3), data.stats)
    with pytest.raises(RepMismatchError, match="width 20"):
        model(torch.zeros(2, 19))

"""RPP and SoftLinear: two pathways summed, the prior penalty, the fit hook, and bad input refused."""

import pytest
import torch

import constrainnet as cn
from constrainnet.groups import SO
from constrainnet.nn.rpp import DEFAULT_BASIC_WD, DEFAULT_EQUIVARIANT_WD
from constrainnet.testing import equivariance_error
from constrainnet.train import fit

G = SO(3)
V = cn.V(G)


@pytest.fixture(scope="module")
def rpp():
    torch.manual_seed(0)
    return cn.nn.RPP(2 * V, V**0 + V, group=G, ch=16, num_layers=1)


def test_rpp_is_the_sum_of_its_two_paths(rpp):
    x = torch.randn(6, 6)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in rpp.basic.parameters():
            p.add_(0.1 * torch.randn_like(p))
    torch.testing.assert_close(rpp(x), rpp.equivariant(x) + rpp.basic(x))
    assert isinstance(rpp.equivariant, cn.nn.EMLP) and isinstance(rpp.basic, cn.nn.MLP)
    assert rpp.equivariant_wd == DEFAULT_EQUIVARIANT_WD and rpp.basic_wd == DEFAULT_BASIC_WD
    assert rpp.basic_wd > 100 * rpp.equivariant_wd  # the basic path's prior is the narrow one


def test_an_untrained_rpp_is_its_emlp_and_equivariant():
    torch.manual_seed(0)
    model = cn.nn.RPP(2 * V, V, group=G, ch=16, num_layers=1, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    assert torch.equal(model(x), model.equivariant(x))
    assert equivariance_error(model, group=G, n_samples=4) < 1e-10
    torch.manual_seed(0)
    scaled = cn.nn.RPP(2 * V, V, group=G, ch=16, num_layers=1, dtype=torch.float64, basic_init_scale=1.0)
    assert equivariance_error(scaled, group=G, n_samples=4) > 1e-3


def test_prior_penalty_is_the_weighted_squared_norms(rpp):
    equivariant = sum(p.pow(2).sum() for p in rpp.equivariant.parameters())
    basic = sum(p.pow(2).sum() for p in rpp.basic.parameters())
    expected = rpp.equivariant_wd * equivariant + rpp.basic_wd * basic
    penalty = rpp.prior_penalty()
    assert penalty.dim() == 0 and penalty.requires_grad
    torch.testing.assert_close(penalty, expected)
    groups = rpp.param_groups()
    assert [g["weight_decay"] for g in groups] == [2 * rpp.equivariant_wd, 2 * rpp.basic_wd]
    assert sum(len(g["params"]) for g in groups) == len(list(rpp.parameters()))


def test_soft_linear_starts_equivariant_and_penalises_its_free_weight():
    torch.manual_seed(0)
    layer = cn.nn.SoftLinear(V, V**0 + V, equivariant_wd=0.0, basic_wd=2.0, dtype=torch.float64)
    x = torch.randn(3, 3, dtype=torch.float64)
    assert torch.equal(layer(x), layer.equivariant(x))
    assert layer.prior_penalty().item() == 0.0
    with torch.no_grad():
        layer.basic.weight.fill_(0.5)
    torch.testing.assert_close(layer(x), layer.equivariant(x) + 0.5 * x.sum(1, keepdim=True).expand(3, 4))
    torch.testing.assert_close(layer.weight(), layer.equivariant.weight() + 0.5)
    assert layer.prior_penalty().item() == pytest.approx(2.0 * 12 * 0.25)
    assert equivariance_error(layer, group=G, n_samples=4) > 1e-2


def test_fit_adds_the_penalty_and_keeps_the_data_loss_in_the_history():
    # one parameter c, loss mean((c - y)^2) + lam c^2: the minimiser is mean(y) / (1 + lam)
    data = torch.utils.data.TensorDataset(torch.zeros(8, 1), torch.full((8, 1), 2.0))

    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return self.c.expand(len(x), 1)

    model = Constant()
    history = fit(model, data, epochs=300, lr=0.05, batch_size=8, progress=False, penalty=lambda: model.c.pow(2).sum())
    assert model.c.item() == pytest.approx(1.0, abs=1e-3)
    assert history["train_loss"][-1] == pytest.approx(1.0, abs=1e-2)  # (1 - 2)^2: the MSE alone


def test_fit_refuses_bad_penalties():
    data = torch.utils.data.TensorDataset(torch.zeros(4, 2), torch.zeros(4, 1))
    model = torch.nn.Linear(2, 1)
    with pytest.raises(TypeError, match="penalty: expected None or a callable, got float"):
        fit(model, data, epochs=1, progress=False, penalty=0.1)
    with pytest.raises(ValueError, match=r"penalty: expected a callable returning a 0-d tensor, got a tensor of shape \(2,\)"):
        fit(model, data, epochs=1, progress=False, penalty=lambda: torch.zeros(2))
    with pytest.raises(ValueError, match="got float"):
        fit(model, data, epochs=1, progress=False, penalty=lambda: 0.0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"basic_wd": "big"}, TypeError, "basic_wd: expected a non-negative float, got str 'big'"),
        ({"basic_wd": True}, TypeError, "basic_wd: expected a non-negative float, got bool"),
        ({"equivariant_wd": -1.0}, ValueError, r"equivariant_wd: expected a finite non-negative float, got -1.0"),
        ({"basic_init_scale": float("nan")}, ValueError, "basic_init_scale: expected a finite non-negative float"),
        ({"group": "SO(3)"}, TypeError, "RPP: expected group to be a Group, got str"),
    ],
)
def test_rpp_refuses_bad_arguments(kwargs, error, match):
    args = {"group": G, "ch": 8, "num_layers": 1, **kwargs}
    with pytest.raises(error, match=match):
        cn.nn.RPP(V, V, **args)


def test_soft_linear_refuses_bad_arguments():
    with pytest.raises(ValueError, match="SoftLinear: basic_wd: expected a finite non-negative float, got inf"):
        cn.nn.SoftLinear(V, V, basic_wd=float("inf"))
    with pytest.raises(TypeError, match="Linear: expected rep_in to be a Rep, got int"):
        cn.nn.SoftLinear(3, V)
    with pytest.raises(cn.errors.RepMismatchError):
        cn.nn.SoftLinear(V, V)(torch.randn(2, 4))

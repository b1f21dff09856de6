"""fit and evaluate: learning happens, runs are reproducible, the MSE is the MSE, bad input is refused."""

import copy
import re

import numpy as np
import pytest
import torch

from constrainnet.datasets import Dipole, O5Synthetic, Standardize
from constrainnet.train import evaluate, fit


def small_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.SiLU(), torch.nn.Linear(32, 3))


@pytest.fixture(scope="module")
def dipole():
    return Dipole(256, seed=0), Dipole(128, seed=1)


class Constant(torch.nn.Module):
    """Predicts the same vector c for every input (one parameter)."""

    def __init__(self, c):
        super().__init__()
        self.c = torch.nn.Parameter(torch.as_tensor(c, dtype=torch.float64))

    def forward(self, x):
        return self.c.expand(x.shape[0], -1)


# -- learning ----------------------------------------------------------------------
def test_fit_lowers_the_loss_of_a_plain_mlp(dipole):
    train, val = dipole
    model = Standardize(small_mlp(), train.stats)
    before = evaluate(model, val)
    history = fit(model, train, val, epochs=30, batch_size=16, progress=False)
    assert sorted(history) == ["train_loss", "val_mse"]
    assert len(history["train_loss"]) == len(history["val_mse"]) == 30
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    # a plain MLP generalises slowly on 256 samples (the point of EMLP), but it does improve
    assert history["val_mse"][-1] < 0.9 * before
    assert history["val_mse"][-1] == evaluate(model, val)


def test_fit_is_reproducible_from_the_seed(dipole):
    train, _ = dipole
    a, b, c = (Standardize(small_mlp(seed=0), train.stats) for _ in range(3))
    ha = fit(a, train, epochs=2, batch_size=50, seed=3, progress=False)
    hb = fit(b, train, epochs=2, batch_size=50, seed=3, progress=False)
    hc = fit(c, train, epochs=2, batch_size=50, seed=4, progress=False)
    assert ha == hb
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert ha != hc


def test_generic_datasets_give_the_same_run(dipole):
    # a Subset (items collated one by one) in the original order is the same data as the X/Y fast path
    train, _ = dipole
    a, b = (Standardize(small_mlp(seed=0), train.stats) for _ in range(2))
    ha = fit(a, train, epochs=2, batch_size=40, progress=False)
    hb = fit(b, torch.utils.data.Subset(train, range(len(train))), epochs=2, batch_size=40, progress=False)
    np.testing.assert_allclose(ha["train_loss"], hb["train_loss"], rtol=1e-6)
    tensors = torch.utils.data.TensorDataset(train.X, train.Y)
    assert evaluate(a, tensors) == pytest.approx(evaluate(a, train), rel=1e-12)


def test_fit_restores_the_mode_and_shows_progress(dipole, capsys):
    train, _ = dipole
    model = Standardize(small_mlp(), train.stats).eval()
    fit(model, train, epochs=1, batch_size=128, progress=True)
    assert not model.training
    # stderr captured (not a terminal): plain lines, the last epoch's always
    assert re.search(r"^fit: epoch 1/1, loss [0-9.e+-]+, [0-9.]+ s$", capsys.readouterr().err, re.MULTILINE)
    model.train()
    fit(model, train, epochs=1, batch_size=128, progress=False, device="cpu", weight_decay=1e-4)
    assert model.training
    assert capsys.readouterr().err == ""


def test_a_standardized_model_can_be_deep_copied(dipole):
    train, _ = dipole
    model = Standardize(small_mlp(), train.stats)
    hash(model.rep_in)
    clone = copy.deepcopy(model)
    assert torch.equal(clone(train.X[:3]), model(train.X[:3]))


def test_fit_refuses_a_diverging_loss(dipole):
    train, _ = dipole

    class Blowup(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.w * torch.full((x.shape[0], 3), float("inf"))

    with pytest.raises(FloatingPointError, match="epoch 1"):
        fit(Blowup(), train, epochs=2, progress=False)


# -- evaluate ----------------------------------------------------------------------
def test_evaluate_is_the_hand_computed_mse():
    data = Dipole(37, seed=2, dtype=torch.float64)
    c = np.array([0.5, -1.0, 2.0])
    expected = np.mean((data.Y.numpy() - c) ** 2)  # over samples and the 3 entries
    assert evaluate(Constant(c), data, batch_size=8) == pytest.approx(expected, rel=1e-13)
    by_hand = sum(float(((data.Y[i].numpy() - c) ** 2).sum()) for i in range(37)) / (37 * 3)
    assert evaluate(Constant(c), data, batch_size=37) == pytest.approx(by_hand, rel=1e-13)


def test_evaluate_of_a_trained_float32_model_matches_a_direct_mean(dipole):
    _, val = dipole
    model = Standardize(small_mlp(1), val.stats)
    with torch.no_grad():
        direct = torch.mean((model(val.X).double() - val.Y.double()) ** 2).item()
    assert evaluate(model, val, batch_size=30) == pytest.approx(direct, rel=1e-6)


def test_evaluate_runs_in_eval_mode_without_grad_and_restores_the_mode():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(20, 3)

        def forward(self, x):
            seen.append((self.training, torch.is_grad_enabled()))
            return self.lin(x)

    data = Dipole(10)
    spy = Spy().train()
    evaluate(spy, data, batch_size=4)
    assert seen == [(False, False)] * 3 and spy.training
    spy.eval()
    evaluate(spy, data)
    assert not spy.training


# -- compile -----------------------------------------------------------------------
def equivariant_model(seed=0):
    import constrainnet as cn

    data = Dipole(8)
    torch.manual_seed(seed)
    return Standardize(cn.nn.EMLP(data.rep_in, data.rep_out, group=data.group, ch=16, num_layers=1), data.stats)


def fit_compiled_and_eager(train, val, backend=None, monkeypatch=None):
    """The same EMLP fitted eagerly and through torch.compile: (histories, models, number of torch.compile calls)."""
    calls = []
    real = torch.compile

    def spy(model, **kwargs):
        calls.append(model)
        return real(model, **kwargs) if backend is None else real(model, backend=backend, **kwargs)

    monkeypatch.setattr(torch, "compile", spy)
    eager, compiled = equivariant_model(), equivariant_model()
    # 40 samples in batches of 16: a last batch of 8 (another shape: a second compilation)
    runs = [fit(m, train, val, epochs=1, batch_size=16, progress=False, compile=c) for m, c in ((eager, False), (compiled, True))]
    return runs, (eager, compiled), calls


def test_fit_compile_trains_through_torch_compile_as_eager(monkeypatch):
    """Traced by Dynamo and AOT autograd (no code generation, fast): the history and parameters of eager training."""
    train, val = Dipole(40, seed=2), Dipole(16, seed=3)
    (eager_run, compiled_run), (eager, compiled), calls = fit_compiled_and_eager(train, val, "aot_eager", monkeypatch)
    assert len(calls) == 1 and calls[0] is compiled
    for key in ("train_loss", "val_mse"):
        np.testing.assert_allclose(compiled_run[key], eager_run[key], rtol=1e-5)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_fit_compile_with_the_default_backend_equals_eager(monkeypatch):
    train, val = Dipole(40, seed=2), Dipole(16, seed=3)
    (eager_run, compiled_run), (eager, compiled), _ = fit_compiled_and_eager(train, val, None, monkeypatch)
    np.testing.assert_allclose(compiled_run["train_loss"], eager_run["train_loss"], rtol=1e-4)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4)


# -- argument checks ---------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        ({"epochs": 0}, ValueError, "epochs: expected a positive int, got 0"),
        ({"epochs": 1.5}, TypeError, "epochs: expected a positive int"),
        ({"epochs": True}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr: expected a finite positive float"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"weight_decay": -1e-3}, ValueError, "weight_decay"),
        ({"seed": -1}, TypeError, "seed"),
        ({"progress": 1}, TypeError, "progress"),
        ({"compile": "yes"}, TypeError, "compile: expected a bool"),
    ],
)
def test_fit_checks_its_arguments(kwargs, exc, text):
    data = Dipole(8)
    with pytest.raises(exc, match=text):
        fit(torch.nn.Linear(20, 3), data, **{"epochs": 1, "progress": False, **kwargs})


def test_fit_and_evaluate_check_model_data_and_shapes():
    data = Dipole(8)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fit(lambda x: x, data, progress=False)
    with pytest.raises(TypeError, match="dataset"):
        evaluate(torch.nn.Linear(20, 3), 5)
    with pytest.raises(ValueError, match="non-empty"):
        fit(torch.nn.Linear(20, 3), torch.utils.data.Subset(data, []), progress=False)
    with pytest.raises(TypeError, match=r"\(x, y\) pairs"):
        evaluate(torch.nn.Linear(20, 3), torch.utils.data.TensorDataset(data.X))
    with pytest.raises(ValueError, match=r"targets' shape \(8, 1\), got \(8, 3\)"):
        evaluate(torch.nn.Linear(10, 3), O5Synthetic(8))
    with pytest.raises(ValueError, match="targets' shape"):
        fit(torch.nn.Linear(20, 2), data, progress=False)
    with pytest.raises(ValueError, match="trainable parameters"):
        fit(torch.nn.Identity(), data, progress=False)


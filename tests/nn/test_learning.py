"""The constraint pays off: EMLP generalises far better than the MLP baseline from few samples.

Seeded and small (a few seconds each on 2 cores); the margins are wide so
that the outcome does not hinge on the seed or the machine's arithmetic.
"""

from __future__ import annotations

import pytest
import torch

import constrainnet as cn
from constrainnet.datasets import Dipole, Inertia, Standardize
from constrainnet.train import evaluate, fit


def _test_mse(kind, train, test, ch, epochs):
    torch.manual_seed(0)
    model = getattr(cn.nn, kind)(train.rep_in, train.rep_out, group=train.group, ch=ch, num_layers=2)
    model = Standardize(model, train.stats)
    fit(model, train, epochs=epochs, lr=3e-3, batch_size=32, seed=0, progress=False)
    return evaluate(model, test)


@pytest.mark.parametrize(
    "dataset,n_train,ch,epochs,margin",
    [(Dipole, 200, 64, 40, 0.3), (Inertia, 300, 128, 100, 0.6)],
    ids=["Dipole", "Inertia"],
)
def test_emlp_beats_mlp_on_a_small_training_set(dataset, n_train, ch, epochs, margin):
    torch.set_num_threads(2)
    train, test = dataset(n_train, seed=0), dataset(400, seed=1)
    emlp = _test_mse("EMLP", train, test, ch, epochs)
    mlp = _test_mse("MLP", train, test, ch, epochs)
    baseline = float((test.Y**2).mean())  # predicting zero
    assert emlp < margin * mlp, f"EMLP {emlp:.4g} vs MLP {mlp:.4g}"
    assert emlp < 0.5 * baseline, f"EMLP {emlp:.4g} vs predicting zero {baseline:.4g}"

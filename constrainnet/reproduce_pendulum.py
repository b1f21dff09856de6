"""The EMLP paper's pendulum table (3b), one cell at a time: HNN or neural ODE over an EMLP or an MLP.

A cell trains a model on :class:`~constrainnet.datasets.DoubleSpringPendulum`
chunks (full-batch Adam on the MSE of the integrated chunk, as the paper) and
scores its rollouts from the test chunks' first states by
:func:`~constrainnet.datasets.pendulum.rollout_error` (the geometric mean over
time and systems of the relative state error). :func:`constrainnet.reproduce.reproduce`
prints these beside the paper's rows.

Example:
    >>> r = run_pendulum_cell("HNN", "EMLP-O(2)", n_train=4, n_test=2, epochs=2, ch=8, num_layers=1, rollout_steps=4)
    >>> r.kind, r.method, r.rollout_error > 0
    ('HNN', 'EMLP-O(2)', True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PendulumResult", "PENDULUM_METHODS", "PENDULUM_SETTINGS", "PENDULUM_QUICK", "run_pendulum_cell"]

#: The paper's columns and the groups of the EMLPs (acting on the (x, y) coordinates of each 3-vector).
PENDULUM_METHODS = {
    "EMLP-O(2)": "O2eR3", "EMLP-SO(2)": "SO2eR3", "EMLP-D6": "D6eR3", "EMLP-D2": "D2eR3", "MLP": "O2eR3",
}  # fmt: skip
#: The paper's setup of table 3b.
PENDULUM_SETTINGS = {"n_train": 500, "n_test": 500, "epochs": 2000, "ch": 128, "num_layers": 3, "rollout_steps": 150}
#: A run of seconds (too short for the symmetry to pay off: a smoke test of the table, not a result).
PENDULUM_QUICK = {"n_train": 60, "n_test": 20, "epochs": 40, "ch": 32, "num_layers": 2, "rollout_steps": 50}


@dataclass(frozen=True)
class PendulumResult:
    """One pendulum cell: the model kind ("HNN" or "NODE"), the paper's method name, the rollout error, seconds."""

    kind: str
    method: str
    rollout_error: float
    train_mse: float
    seconds: float


def run_pendulum_cell(
    kind: str, method: str, *, n_train: int = 500, n_test: int = 500, epochs: int = 2000, ch: int = 128,
    num_layers: int = 3, rollout_steps: int = 150, lr: float = 3e-3, seed: int = 0,
) -> PendulumResult:  # fmt: skip
    """Train one model of the pendulum table and score its rollouts.

    Args:
        kind: ``"HNN"`` (a learned scalar energy, Hamilton's equations) or
            ``"NODE"`` (a learned vector field).
        method: a column of the table: ``"EMLP-O(2)"``, ``"EMLP-SO(2)"``,
            ``"EMLP-D6"``, ``"EMLP-D2"`` or ``"MLP"``.
        n_train, n_test: systems (one 5-state chunk each) to train on and to roll out.
        epochs: full-batch Adam steps. ch, num_layers: the network's width and depth.
        rollout_steps: states of each test rollout (150: 30 s at dt 0.2).
        lr: Adam's learning rate. seed: seed of the data and the parameters.

    Returns:
        A :class:`PendulumResult` (the rollout error is NaN if a rollout diverged).

    Raises:
        ValueError: an unknown kind or method, or a size below 1.
    """
    import constrainnet as cn
    from constrainnet import groups
    from constrainnet.datasets import DoubleSpringPendulum
    from constrainnet.datasets.pendulum import rollout_error

    if kind not in ("HNN", "NODE"):
        raise ValueError(f"run_pendulum_cell: expected kind 'HNN' or 'NODE', got {kind!r}")
    if method not in PENDULUM_METHODS:
        raise ValueError(f"run_pendulum_cell: expected method in {sorted(PENDULUM_METHODS)}, got {method!r}")
    for name, value in (("n_train", n_train), ("n_test", n_test), ("epochs", epochs), ("ch", ch),
                        ("num_layers", num_layers), ("rollout_steps", rollout_steps)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"run_pendulum_cell: expected {name} a positive int, got {value!r}")
    torch.manual_seed(seed)
    group = getattr(groups, PENDULUM_METHODS[method])()
    train = DoubleSpringPendulum(n_train, seed=seed, group=group)
    test = DoubleSpringPendulum(n_test, seed=seed + 10_000, group=group)
    V = cn.V(group)
    state = 4 * V
    net = cn.nn.EMLP if method.startswith("EMLP") else cn.nn.MLP
    out = V**0 if kind == "HNN" else state
    wrapper = cn.nn.HNN if kind == "HNN" else cn.nn.NeuralODE
    model = wrapper(net(state, out, group=group, ch=ch, num_layers=num_layers))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    loss = torch.tensor(math.nan)
    for _ in range(epochs):
        loss = torch.mean((model.rollout(train.Z0, train.ts) - train.Zs) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    truth = test.rollout(test.Z0, n_steps=rollout_steps)
    times = torch.arange(rollout_steps, dtype=torch.float64) * test.dt
    with torch.no_grad():
        pred = model.rollout(test.Z0, times).double().numpy()
    error = rollout_error(pred, truth) if np.isfinite(pred).all() else math.nan
    return PendulumResult(kind, method, float(error), float(loss.detach()), seconds)

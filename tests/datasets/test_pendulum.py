"""The double spring pendulum dataset (EMLP's HNN/NODE task) and the rollout metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from constrainnet.datasets import DoubleSpringPendulum, rollout_error, spring_pendulum_dynamics, spring_pendulum_hamiltonian
from constrainnet.errors import GroupError, RepMismatchError
from constrainnet.groups import SO, D6eR3, SO2eR3


@pytest.fixture(scope="module")
def data():
    return DoubleSpringPendulum(16, seed=3, dtype=torch.float64)


def test_shapes_times_and_chunks(data):
    assert data.n_steps == 150 and len(data) == 16
    assert data.trajectories.shape == (16, 150, 12) and data.Zs.shape == (16, 5, 12) and data.Z0.shape == (16, 12)
    torch.testing.assert_close(data.ts, torch.arange(5, dtype=torch.float64) * 0.2)
    assert torch.equal(data.Zs[:, 0], data.Z0)
    assert set(np.unique(data.chunk_start % 5)) == {0} and data.chunk_start.max() <= 145
    for i, s in enumerate(data.chunk_start):
        assert torch.equal(data.Zs[i], data.trajectories[i, s : s + 5])
    z0, zs = data[2]
    assert z0.shape == (12,) and zs.shape == (5, 12)
    assert data.rep_in.size == 12 and data.rep_out.size == 1


def test_initial_conditions_as_emlp_and_seeded(data):
    expect = DoubleSpringPendulum.sample_initial_conditions(np.random.default_rng(3), 16)
    np.testing.assert_array_equal(data.trajectories[:, 0].numpy(), expect)
    again = DoubleSpringPendulum(16, seed=3, dtype=torch.float64)
    assert torch.equal(again.Zs, data.Zs) and torch.equal(again.trajectories, data.trajectories)
    assert not torch.equal(DoubleSpringPendulum(16, seed=4, dtype=torch.float64).Z0, data.Z0)
    big = DoubleSpringPendulum.sample_initial_conditions(np.random.default_rng(0), 20000)
    np.testing.assert_allclose(big[:, :6].mean(0), [0, 0, -1.5, 0, 0, -3.0], atol=0.01)
    np.testing.assert_allclose(big.std(0), [0.2] * 6 + [0.4] * 6, rtol=0.03)


def test_energy_is_conserved(data):
    H = spring_pendulum_hamiltonian(data.trajectories.numpy())
    assert np.abs(H - H[:, :1]).max() / np.abs(H).min() < 1e-6


def test_dynamics_are_hamiltons_equations():
    z = torch.as_tensor(DoubleSpringPendulum.sample_initial_conditions(np.random.default_rng(1), 5)).requires_grad_()
    (grad,) = torch.autograd.grad(spring_pendulum_hamiltonian(z).sum(), z)
    expect = torch.cat([grad[:, 6:], -grad[:, :6]], dim=1)
    np.testing.assert_allclose(spring_pendulum_dynamics(z.detach().numpy()), expect.numpy(), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_flow_is_equivariant(data, seed):
    # rotating/mirroring the initial (x, y) coordinates rotates/mirrors the whole trajectory
    g = data.group.sample(np.random.default_rng(seed))
    R = np.kron(np.eye(4), g)
    z0 = data.Z0[:4].numpy()
    moved = data.rollout(z0 @ R.T, n_steps=100)
    np.testing.assert_allclose(moved, data.rollout(z0, n_steps=100) @ R.T, atol=1e-7)
    mirror = np.kron(np.eye(4), np.diag([1.0, -1.0, 1.0]))
    np.testing.assert_allclose(data.rollout(z0[0] @ mirror, n_steps=60), data.rollout(z0[0], n_steps=60) @ mirror, atol=1e-7)


def test_rollout_reproduces_the_trajectories(data):
    np.testing.assert_allclose(data.rollout(data.trajectories[:3, 0]), data.trajectories[:3].numpy(), atol=1e-7)


def test_rollout_error_by_hand():
    true = np.array([[[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]])
    pred = np.array([[[3.0, 4.0], [0.0, 1.0], [0.0, 1.0]]])
    # steps: 0 (floored to 1e-7), sqrt(2)/(1 + 1), 1/(1 + 2)
    expect = math.exp((math.log(1e-7) + math.log(math.sqrt(2) / 2) + math.log(1 / 3)) / 3)
    assert rollout_error(pred, true) == pytest.approx(expect, rel=1e-12)
    assert rollout_error(torch.as_tensor(pred), torch.as_tensor(true), floor=0.01) == pytest.approx(
        math.exp((math.log(0.01) + math.log(math.sqrt(2) / 2) + math.log(1 / 3)) / 3), rel=1e-12
    )
    # geometric mean over trajectories too: two copies change nothing
    assert rollout_error(np.concatenate([pred, pred]), np.concatenate([true, true])) == pytest.approx(expect, rel=1e-12)


def test_subgroups_accepted_and_non_symmetries_refused():
    assert repr(DoubleSpringPendulum(1, group=D6eR3()).group) == "D6eR3"
    assert DoubleSpringPendulum(1, group=SO2eR3()).rep_in.size == 12
    with pytest.raises(GroupError, match="expected a symmetry of the pendulum.*got SO\\(3\\)"):
        DoubleSpringPendulum(1, group=SO(3))
    with pytest.raises(TypeError, match="expected a Group, got str"):
        DoubleSpringPendulum(1, group="O2eR3")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n": 0}, ValueError, "n: expected a positive int, got 0"),
        ({"n": 2.5}, TypeError, "n: expected a positive int, got float"),
        ({"n": 1, "seed": -1}, ValueError, "seed: expected a non-negative int"),
        ({"n": 1, "dt": -0.2}, ValueError, "dt: expected a positive number, got -0.2"),
        ({"n": 1, "dt": "0.2"}, TypeError, "dt: expected a positive number, got str"),
        ({"n": 1, "chunk_len": 200}, ValueError, "chunk_len: expected at most the 150 states"),
        ({"n": 1, "dtype": torch.int64}, TypeError, "dtype: expected a floating-point torch.dtype"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DoubleSpringPendulum(**kwargs)


def test_bad_states_and_metric_inputs(data):
    with pytest.raises(RepMismatchError, match="expected states of width 12.*got shape \\(2, 9\\)"):
        data.rollout(np.zeros((2, 9)))
    with pytest.raises(RepMismatchError, match="expected states of width 12"):
        spring_pendulum_hamiltonian(np.zeros(3))
    with pytest.raises(ValueError, match="n_steps: expected a positive int, got 0"):
        data.rollout(data.Z0[:1], n_steps=0)
    with pytest.raises(ValueError, match="expected pred and true of one shape, got \\(1, 3, 2\\) and \\(1, 2, 2\\)"):
        rollout_error(np.ones((1, 3, 2)), np.ones((1, 2, 2)))
    with pytest.raises(ValueError, match="floor: expected a positive number, got 0"):
        rollout_error(np.ones((1, 3, 2)), np.ones((1, 3, 2)), floor=0)
    with pytest.raises(TypeError, match="pred: expected a float array or tensor, got str"):
        rollout_error("abc", np.ones((1, 3, 2)))

"""HNN and NeuralODE: the fields, the RK4 rollout, conservation, equivariance, gradients, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import O2eR3
from constrainnet.nn import HNN, NeuralODE, rk4_rollout

F64 = torch.float64


class Oscillator(torch.nn.Module):
    """H = ½|z|²: q(t) = q0 cos t + p0 sin t, p(t) = p0 cos t − q0 sin t."""

    def forward(self, z):
        return 0.5 * (z**2).sum(-1, keepdim=True)


def random_energy(seed=0, width=12):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(width, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)).to(F64)


def test_oscillator_field_and_rk4_order():
    hnn = HNN(Oscillator())
    z0 = torch.tensor([[1.0, 0.5]], dtype=F64)
    torch.testing.assert_close(hnn(z0), torch.tensor([[0.5, -1.0]], dtype=F64))
    ts = torch.linspace(0.0, 2.0, 5, dtype=F64)
    exact = torch.stack([torch.cos(ts) + 0.5 * torch.sin(ts), 0.5 * torch.cos(ts) - torch.sin(ts)], -1)
    errors = [float((hnn.rollout(z0, ts, substeps=s)[0].detach() - exact).abs().max()) for s in (2, 4)]
    assert errors[0] < 1e-4 and 12 < errors[0] / errors[1] < 20  # global error O(h^4): halving h gives ~16x


def test_hnn_conserves_its_learned_energy_to_integrator_accuracy():
    hnn = HNN(random_energy())
    z0 = torch.randn(8, 12, dtype=F64)
    ts = torch.arange(6, dtype=F64) * 0.2
    drift = []
    for substeps in (2, 4):
        with torch.no_grad():
            zs = hnn.rollout(z0, ts, substeps=substeps)
        H = hnn.hamiltonian(zs.reshape(-1, 12)).reshape(8, 6).detach()
        drift.append(float((H - H[:, :1]).abs().max()))
    assert drift[0] < 1e-4 and drift[0] / drift[1] > 8  # the exact flow conserves H; RK4 to O(h^4)


@pytest.fixture(scope="module")
def group():
    return O2eR3()


def test_hnn_with_emlp_is_equivariant(group):
    V = cn.V(group)
    torch.manual_seed(1)
    hnn = HNN(cn.nn.EMLP(4 * V, V**0, group=group, ch=16, num_layers=1, dtype=F64))
    z = torch.randn(5, 12, dtype=F64)
    ts = [0.0, 0.2, 0.4]
    for g in group.samples(3, rng=2):
        R = torch.as_tensor(np.kron(np.eye(4), g))
        torch.testing.assert_close(hnn(z @ R.T), hnn(z) @ R.T, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(hnn.rollout(z @ R.T, ts), hnn.rollout(z, ts) @ R.T, rtol=1e-10, atol=1e-10)
        H = hnn.hamiltonian(z)
        torch.testing.assert_close(hnn.hamiltonian(z @ R.T), H, rtol=1e-10, atol=1e-10)


def test_neural_ode_with_emlp_is_equivariant(group):
    V = cn.V(group)
    torch.manual_seed(2)
    ode = NeuralODE(cn.nn.EMLP(4 * V, 4 * V, group=group, ch=16, num_layers=1, dtype=F64))
    z = torch.randn(5, 12, dtype=F64)
    for g in group.samples(3, rng=3):
        R = torch.as_tensor(np.kron(np.eye(4), g))
        torch.testing.assert_close(ode.rollout(z @ R.T, [0.0, 0.2, 0.4]), ode.rollout(z, [0.0, 0.2, 0.4]) @ R.T, rtol=1e-10, atol=1e-10)


def test_rollout_gradients_match_differentiating_through_z():
    # HNN takes ∇H at a detached copy of z and grafts it back; the gradients must be
    # those of the plain construction (autograd.grad with respect to z itself)
    model = random_energy(3)
    hnn = HNN(model)

    def plain(z):
        (g,) = torch.autograd.grad(model(z).sum(), z, create_graph=True)
        return torch.cat([g[:, 6:], -g[:, :6]], 1)

    z0 = torch.randn(4, 12, dtype=F64)
    target = torch.randn(4, 4, 12, dtype=F64)

    def grads(field):
        start = z0.clone().requires_grad_()
        loss = ((rk4_rollout(field, start, [0.0, 0.2, 0.4, 0.6], 2) - target) ** 2).mean()
        inputs = [start, *model.parameters()]
        found = torch.autograd.grad(loss, inputs, allow_unused=True)  # the last bias does not move ∇H
        return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, found)]

    ours, reference = grads(hnn), grads(plain)
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert all(float(b.abs().max()) > 0 for b in reference[:-1])


def test_no_graph_under_no_grad():
    hnn = HNN(random_energy())
    with torch.no_grad():
        out = hnn.rollout(torch.randn(2, 12, dtype=F64), [0.0, 0.1])
    assert out.grad_fn is None and not out.requires_grad


def test_neural_ode_of_a_linear_field():
    ode = NeuralODE(torch.nn.Linear(1, 1, bias=False).to(F64))
    with torch.no_grad():
        ode.model.weight.fill_(-1.0)
    out = ode.rollout(torch.ones(1, 1, dtype=F64), [0.0, 1.0], substeps=20)
    assert abs(float(out[0, 1, 0].detach()) - math.exp(-1.0)) < 1e-7  # RK4, h = 0.05: error ~h^4/120


class BadShape(torch.nn.Module):
    def forward(self, z):
        return z[:, :3]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: HNN(lambda z: z), TypeError, "HNN: expected a torch.nn.Module, got function"),
        (lambda: NeuralODE("mlp"), TypeError, "NeuralODE: expected a torch.nn.Module, got str"),
        (lambda: HNN(Oscillator())(np.zeros((1, 2))), TypeError, "expected a torch.Tensor of states \\(batch, d\\), got ndarray"),
        (lambda: HNN(Oscillator())(torch.zeros(1, 2, dtype=torch.int64)), TypeError, "expected floating-point states, got dtype torch.int64"),
        (lambda: HNN(Oscillator())(torch.zeros(2)), ValueError, "expected states of shape \\(batch, d\\), got shape \\(2,\\)"),
        (lambda: HNN(Oscillator())(torch.zeros(1, 3)), ValueError, "expected states \\(q, p\\) of even width, got width 3"),
        (lambda: HNN(BadShape())(torch.zeros(2, 4)), ValueError, "expected the model to return one energy per state, \\(2, 1\\), got \\(2, 3\\)"),
        (lambda: NeuralODE(BadShape())(torch.zeros(2, 4)), ValueError, "expected the model to return dz/dt of shape \\(2, 4\\), got \\(2, 3\\)"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), [0.0, 0.0]), ValueError, "ts: expected strictly increasing times, got \\[0.0, 0.0\\]"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), []), ValueError, "ts: expected at least one time, got none"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), 0.2), TypeError, "ts: expected a 1-D sequence of times, got float"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), torch.zeros(2, 2)), ValueError, "ts: expected a 1-D sequence of times, got shape \\(2, 2\\)"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), [0.0, 1.0], substeps=0), ValueError, "substeps: expected a positive int, got 0"),
        (lambda: HNN(Oscillator()).rollout(torch.zeros(1, 2), [0.0, 1.0], substeps=1.5), TypeError, "substeps: expected a positive int, got float"),
        (lambda: rk4_rollout(lambda z: z[:, :1], torch.zeros(1, 2), [0.0, 1.0]), ValueError, "expected the field to return dz/dt of shape \\(1, 2\\), got \\(1, 1\\)"),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()

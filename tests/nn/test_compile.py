"""torch.compile(fullgraph=True) of Linear (every plan) and EMLP: no graph breaks, the eager outputs and gradients.

``backend="aot_eager"`` traces exactly what the default backend traces (Dynamo,
then AOT autograd: a graph break fails here as it would there) without
generating code, so those cases are fast; the inductor cases generate and
compile C++ code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import O, P4M, S, SO
from constrainnet.nn.linear_plans import plan_names

TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32


@pytest.fixture(autouse=True)
def fresh_dynamo():
    """Each test compiles from scratch (and stays below Dynamo's recompilation limit)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def linear(plan):
    torch.manual_seed(0)
    if plan in ("assembled", "isotypic"):
        if plan not in plan_names():
            pytest.skip(f"no plan {plan!r} registered")
        V = cn.V(SO(3))
        return cn.nn.Linear(5 * V**0 + 3 * V + V**2, 2 * V**0 + V + V**2, plan=plan)
    if plan == "orbit-gathers":
        V = cn.V(S(5))
        return cn.nn.Linear(2 * V + V**0, V**2 + V, plan="orbit")
    V = cn.V(P4M(6))  # a convolution, the gathers of the scalar blocks, a local window
    return cn.nn.Linear(2 * V + V**0, V + V**0, support=3)


def emlp():
    torch.manual_seed(0)
    G = O(3)
    V = cn.V(G)
    return cn.nn.EMLP(5 * V**0 + 5 * V, V**2, group=G, ch=48, num_layers=2)


def check_training_and_eval(model, backend, leading=()):
    """The compiled training forward, its input and parameter gradients, and the eval forward, against eager."""
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    x = torch.randn(*leading, 6, model.rep_in.size, requires_grad=True)
    params = [p for p in model.parameters()]
    y, want = compiled(x), model(x)
    torch.testing.assert_close(y, want, **TOL)
    grad = torch.randn_like(want)
    got_grads = torch.autograd.grad(y, [x] + params, grad)
    for got, expected in zip(got_grads, torch.autograd.grad(want, [x] + params, grad)):
        torch.testing.assert_close(got, expected, **TOL)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), **TOL)
    model.train()


@pytest.mark.parametrize("plan", ["assembled", "orbit-gathers", "orbit-conv", "isotypic"])
def test_linear_of_every_plan_traces_as_one_graph(plan):
    layer = linear(plan)
    assert layer.plan.name == plan.split("-")[0]
    check_training_and_eval(layer, "aot_eager", leading=(2,))


def test_emlp_traces_as_one_graph():
    check_training_and_eval(emlp(), "aot_eager")


def test_compiled_linear_without_bias_under_no_grad_in_training_mode():
    V = cn.V(SO(3))
    layer = cn.nn.Linear(3 * V, 2 * V + V**2, bias=False)
    x = torch.randn(4, 9)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(layer, fullgraph=True, backend="aot_eager")(x), layer(x), **TOL)


def test_linear_compiled_by_inductor_equals_eager():
    check_training_and_eval(linear("assembled"), "inductor")


@pytest.mark.slow
@pytest.mark.parametrize("plan", ["orbit-gathers", "orbit-conv"])
def test_orbit_linear_compiled_by_inductor_equals_eager(plan):
    check_training_and_eval(linear(plan), "inductor")


@pytest.mark.slow
def test_emlp_compiled_by_inductor_equals_eager_and_trains():
    model = emlp()
    check_training_and_eval(model, "inductor")
    compiled = torch.compile(model, fullgraph=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(32, model.rep_in.size), torch.randn(32, model.rep_out.size)
    losses = []
    for _ in range(5):
        loss = torch.mean((compiled(x) - y) ** 2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]

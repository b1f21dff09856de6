"""torch.compile(fullgraph=True) of the typed (isotypic) EMLP: no graph breaks, the eager outputs and gradients.

``backend="aot_eager"`` traces what the default backend traces (Dynamo, then
AOT autograd; a graph break fails here as it would there) without generating
code; the inductor case generates C++ and is slow.
"""

from __future__ import annotations

import pytest
import torch

import constrainnet as cn
from constrainnet.groups import O, SO

TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def typed_emlp(G, ch=48):
    torch.manual_seed(0)
    V = cn.V(G)
    return cn.nn.EMLP(5 * V**0 + 5 * V, V**2 + V, group=G, ch=ch, num_layers=2, plan="isotypic")


def check(model, backend):
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    x = torch.randn(8, model.rep_in.size, requires_grad=True)
    params = list(model.parameters())
    y, want = compiled(x), model(x)
    torch.testing.assert_close(y, want, **TOL)
    grad = torch.randn_like(want)
    for got, expected in zip(torch.autograd.grad(y, [x] + params, grad), torch.autograd.grad(want, [x] + params, grad)):
        torch.testing.assert_close(got, expected, **TOL)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), **TOL)


@pytest.mark.parametrize("G", [O(3), SO(2)], ids=["O3", "SO2"])
def test_typed_emlp_traces_whole(G):
    check(typed_emlp(G), "aot_eager")


@pytest.mark.slow
def test_typed_emlp_compiles_with_inductor():
    check(typed_emlp(SO(3)), "inductor")

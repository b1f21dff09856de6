"""Linear's plans: one class, the registry, the cost model's choices, and every plan against the solver's basis."""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.errors import RepMismatchError
from constrainnet.groups import P4M, S, SO, Z
from constrainnet.nn import linear_plans
from constrainnet.nn.linear_plans import DENSE_PAIR_MAX_ENTRIES, LinearPlanBase, choose_plan, plan_names, register_plan

# one in-component and one out-component each: vec(W) = Q c with Q the solver's canonical basis
SINGLE_PAIRS = {
    "S4-V2>>V2": (S(4), lambda V: V**2, lambda V: V**2),
    "Z6-V>>V": (Z(6), lambda V: V, lambda V: V),
    "SO3-V2>>V": (SO(3), lambda V: V**2, lambda V: V),
    "P4M4-V>>V": (P4M(4), lambda V: V, lambda V: V),
}
# both plans apply without a support: sums with copies and several blocks
SHARED = {
    "S4-sum": (S(4), lambda V: 2 * V + V**0, lambda V: V**2 + 2 * V**0),
    "Z6-regular": (Z(6), lambda V: 3 * V, lambda V: 2 * V + V**0),
    "SO3-hidden": (SO(3), lambda V: 2 * V**0 + 2 * V + V**2, lambda V: V**0 + 3 * V),
}


def build(G, fin, fout, plan, seed=0, **kw):
    V = cn.V(G)
    torch.manual_seed(seed)
    return cn.nn.Linear(fin(V), fout(V), dtype=torch.float64, plan=plan, **kw)


@pytest.mark.parametrize("plan", ["assembled", "orbit"])
@pytest.mark.parametrize("case", sorted(SINGLE_PAIRS))
def test_weight_is_the_solver_basis_times_the_coefficients(case, plan):
    G, fin, fout = SINGLE_PAIRS[case]
    layer = build(G, fin, fout, plan)
    Q = np.asarray((layer.rep_in >> layer.rep_out).equivariant_basis())
    c = layer.coefficients.detach().numpy()
    assert layer.plan.name == plan and Q.shape[1] == c.size
    np.testing.assert_allclose(layer.weight().detach().numpy().reshape(-1), Q @ c, rtol=0, atol=1e-12)
    x = torch.randn(5, layer.in_features, dtype=torch.float64)
    want = x.numpy() @ (Q @ c).reshape(layer.out_features, -1).T + layer.bias().detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), want, rtol=0, atol=1e-11)


@pytest.mark.parametrize("case", sorted(SHARED))
def test_plans_that_share_a_basis_share_state_dicts_and_give_the_same_map(case):
    G, fin, fout = SHARED[case]
    assembled, orbit = build(G, fin, fout, "assembled", seed=0), build(G, fin, fout, "orbit", seed=1)
    buffer = io.BytesIO()
    torch.save(assembled.state_dict(), buffer)
    buffer.seek(0)
    orbit.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(orbit.coefficients, assembled.coefficients)
    x = torch.randn(4, assembled.in_features, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(orbit.weight(), assembled.weight(), rtol=0, atol=1e-12)
    y_a, y_o = assembled(x), orbit(x)
    torch.testing.assert_close(y_o, y_a, rtol=0, atol=1e-12)
    grad = torch.randn_like(y_a)
    for a, o in zip(torch.autograd.grad(y_a, (x, assembled.coefficients), grad), torch.autograd.grad(y_o, (x, orbit.coefficients), grad)):
        torch.testing.assert_close(o, a, rtol=0, atol=1e-12)


def test_a_support_is_another_basis_and_its_state_dict_is_refused():
    V = cn.V(P4M(6))
    restricted = cn.nn.Linear(V, V, support=3, plan="orbit")
    full = cn.nn.Linear(V, V, plan="assembled")
    with pytest.raises(RepMismatchError, match="another basis"):
        full.load_state_dict(restricted.state_dict())


def test_linear_is_one_class_whatever_the_plan():
    V = cn.V(P4M(4))
    layers = [cn.nn.Linear(V, V, support=3), cn.nn.Linear(V, V, plan="assembled"), cn.nn.Linear(cn.V(S(3)), cn.V(S(3)))]
    assert "__new__" not in vars(cn.nn.Linear)
    assert [type(layer) for layer in layers] == [cn.nn.Linear] * 3
    assert [layer.plan.name for layer in layers] == ["orbit", "assembled", "assembled"]
    assert "plan=orbit, support=3" in repr(layers[0]) and "plan=assembled" in repr(layers[1])


@pytest.mark.parametrize(
    "G, fin, fout, support, expected",
    [
        (SO(3), lambda V: 5 * V**0 + 5 * V, lambda V: V**2, None, "assembled"),
        (S(4), lambda V: V**2, lambda V: V**2, None, "assembled"),
        (S(4), lambda V: V, lambda V: V, np.eye(4, dtype=bool), "orbit"),  # a support
        (P4M(4), lambda V: 2 * V, lambda V: V, None, "orbit"),  # image reps: a convolution
        (P4M(4), lambda V: V**0, lambda V: V, None, "assembled"),  # no image pair
        (S(10), lambda V: V**3, lambda V: V**2, None, "orbit"),  # a large orbit basis
        (S(10), lambda V: V**2, lambda V: V**2, None, "assembled"),
    ],
)
def test_auto_chooses_the_orbit_plan_for_supports_images_and_large_orbit_bases(G, fin, fout, support, expected):
    V = cn.V(G)
    rep_in, rep_out = fin(V), fout(V)
    hom = rep_in >> rep_out
    large = hom.size * hom.equivariant_basis().dim > DENSE_PAIR_MAX_ENTRIES
    assert large == (G == S(10) and rep_in == V**3)  # the criterion, from the basis dimension
    assert choose_plan(rep_in, rep_out, support) == expected
    assert linear_plans.AssembledPlan.cost(rep_in, rep_out, support) is None if expected == "orbit" else True
    if G != S(10):  # (building S(10) V**3 >> V**2 densely is what the orbit plan avoids)
        assert cn.nn.Linear(rep_in, rep_out, support=support).plan.name == expected


def test_cost_counts_flops_and_kernels():
    V = cn.V(SO(3))
    rep_in, rep_out = 5 * V**0 + 5 * V, V
    flops = 6.0 * 256 * 20 * 3 + 4.0 * 5 * 9  # three products; gathers over 5 copies of the r·3·3 = 9 basis entries of V >> V
    assert linear_plans.AssembledPlan.cost(rep_in, rep_out) == flops + 5 * linear_plans.KERNEL_FLOPS
    assert linear_plans.AssembledPlan.cost(rep_in, rep_out, batch=1) < linear_plans.AssembledPlan.cost(rep_in, rep_out)


def test_unknown_plans_and_supports_of_the_assembled_plan_are_refused():
    V = cn.V(S(4))
    with pytest.raises(ValueError, match=r"unknown plan 'no-such-plan', expected one of \('auto', 'assembled', 'orbit'"):
        cn.nn.Linear(V, V, plan="no-such-plan")
    if "isotypic" not in plan_names():
        with pytest.raises(ValueError, match="unknown plan 'isotypic'"):
            cn.nn.Linear(V, V, plan="isotypic")
    with pytest.raises(ValueError, match="plan='assembled' takes no support"):
        cn.nn.Linear(V, V, support=np.eye(4, dtype=bool), plan="assembled")


class _Scaled(linear_plans.AssembledPlan):
    """A plan another module might register: the assembled plan, declared cheapest."""

    @classmethod
    def cost(cls, rep_in, rep_out, support=None, batch=linear_plans.REFERENCE_BATCH):
        return None if support is not None else 0.0


def test_register_plan_makes_a_plan_available_and_auto_picks_the_cheapest(monkeypatch):
    monkeypatch.setattr(linear_plans, "_PLANS", dict(linear_plans._PLANS))
    monkeypatch.setattr(_Scaled, "name", "")
    register_plan("scaled", _Scaled)
    V = cn.V(S(4))
    assert plan_names()[-1] == "scaled" and choose_plan(V, V) == "scaled"
    assert cn.nn.Linear(V, V).plan.name == "scaled"
    assert choose_plan(V, V, support=np.eye(4, dtype=bool)) == "orbit"
    with pytest.raises(ValueError, match="taken"):
        register_plan("orbit", _Scaled)
    with pytest.raises(ValueError, match="other than"):
        register_plan("auto", _Scaled)
    with pytest.raises(TypeError, match="LinearPlanBase"):
        register_plan("dense", dict)
    assert issubclass(_Scaled, LinearPlanBase)


@pytest.mark.parametrize("plan, support", [("assembled", None), ("orbit", None), ("orbit", 3)])
def test_copies_pickles_casts_and_eval_caches_of_every_plan(plan, support):
    V = cn.V(P4M(6))
    torch.manual_seed(0)
    layer = cn.nn.Linear(2 * V + V**0, V + V**0, plan=plan, support=support)
    x = torch.randn(3, layer.in_features)
    want = layer(x).detach()
    torch.testing.assert_close(layer.export()(x), want, rtol=1e-5, atol=1e-5)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert other.plan.name == plan and other.plan is not layer.plan
        torch.testing.assert_close(other(x), want, rtol=0, atol=0)
    double = copy.deepcopy(layer).double()
    torch.testing.assert_close(double(x.double()), layer.export().double()(x.double()), rtol=1e-6, atol=1e-6)
    layer.eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), want, rtol=1e-6, atol=1e-6)
        layer.coefficients.mul_(2.0)  # an in-place update: the cache is rebuilt
        scaled = layer(x)
    layer.train()
    torch.testing.assert_close(scaled, layer(x).detach(), rtol=1e-6, atol=1e-6)

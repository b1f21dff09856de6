"""``Linear(..., plan="isotypic")`` against the dense projected weight, the group, finite differences and the assembled plan.

The isotypic plan shares the assembled plan's coefficients (the canonical
basis), so the independent reference for its output is x Wᵀ + b with W the
dense weight assembled from the same coefficients, and equivariance is
checked on group elements drawn independently of the decomposition.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import RepError, SolverError
from constrainnet.groups import C, D, Lorentz, O, SO, Z
from constrainnet.nn.isotypic import TYPED_DENSE_MAX_SIZE
from constrainnet.nn.linear_plans import choose_plan
from constrainnet.testing import assert_equivariant, assert_gradients
from constrainnet.testing.strategies import reps

GROUPS = {"SO2": SO(2), "O2": O(2), "SO3": SO(3), "O3": O(3), "C4": C(4), "D4": D(4), "Z5": Z(5), "SO2xC4": SO(2) * C(4)}


def _pair(G, draw, max_size=24):
    return draw(reps(G, max_size=max_size)), draw(reps(G, max_size=max_size))


def _twins(rep_in, rep_out, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    assembled = cn.nn.Linear(rep_in, rep_out, plan="assembled", dtype=dtype)
    isotypic = cn.nn.Linear(rep_in, rep_out, plan="isotypic", dtype=dtype)
    isotypic.load_state_dict(assembled.state_dict())
    return assembled, isotypic


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(GROUPS)), data=st.data())
def test_isotypic_plan_is_the_dense_projected_map(name, data):
    G = GROUPS[name]
    rep_in, rep_out = _pair(G, data.draw)
    assembled, isotypic = _twins(rep_in, rep_out)
    x = torch.randn(6, rep_in.size, dtype=torch.float64)
    with torch.no_grad():
        weight, bias = assembled.weight(), assembled.bias()
        reference = x @ weight.T + (0 if bias is None else bias)
        assert torch.allclose(isotypic(x), reference, atol=1e-10, rtol=0)
        assert torch.equal(isotypic.weight(), weight)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(GROUPS)), data=st.data())
def test_isotypic_plan_is_equivariant_in_both_precisions(name, data):
    G = GROUPS[name]
    rep_in, rep_out = _pair(G, data.draw)
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(1)
        layer = cn.nn.Linear(rep_in, rep_out, plan="isotypic", dtype=dtype)
        assert_equivariant(layer, rep_in, rep_out, dtype=dtype)


@pytest.mark.parametrize("name", ["SO3", "O2", "Z5"])
def test_gradients_match_finite_differences_and_the_assembled_plan(name):
    G = GROUPS[name]
    V = cn.V(G)
    rep_in, rep_out = 2 * V**0 + V + V**2, V**0 + 2 * V
    assembled, isotypic = _twins(rep_in, rep_out)
    x = torch.randn(5, rep_in.size, dtype=torch.float64, requires_grad=True)
    assert_gradients(isotypic, x)
    grads = []
    for layer in (assembled, isotypic):
        out = layer(x).tanh().sum()
        grads.append(torch.autograd.grad(out, [layer.coefficients, layer.bias_coefficients, x]))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10, rtol=0)


def test_state_dicts_are_shared_with_the_assembled_plan_and_round_trip_bit_identically():
    V = cn.V(SO(3))
    rep_in, rep_out = 3 * V**0 + 2 * V + V**2, V + V**2
    assembled, isotypic = _twins(rep_in, rep_out, dtype=torch.float32)
    x = torch.randn(7, rep_in.size)
    buffer = io.BytesIO()
    torch.save(isotypic.state_dict(), buffer)
    buffer.seek(0)
    again = cn.nn.Linear(rep_in, rep_out, plan="isotypic")
    again.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(again(x), isotypic(x))
    back = cn.nn.Linear(rep_in, rep_out, plan="assembled")
    back.load_state_dict(isotypic.state_dict())
    assert torch.allclose(back(x), isotypic(x), atol=1e-5, rtol=0)
    clone = pickle.loads(pickle.dumps(isotypic))
    assert clone.plan.name == "isotypic" and torch.equal(clone(x), isotypic(x))


def test_eval_cache_follows_the_parameters():
    V = cn.V(O(3))
    layer = cn.nn.Linear(2 * V**0 + V**2, V**2 + V**0, plan="isotypic", dtype=torch.float64)
    x = torch.randn(4, layer.in_features, dtype=torch.float64)
    train = layer(x).detach()
    layer.eval()
    with torch.no_grad():
        assert torch.allclose(layer(x), train, atol=1e-12, rtol=0)
        layer.coefficients.mul_(2.0)
        assert not torch.allclose(layer(x), train, atol=1e-6, rtol=0)


def test_typed_forward_is_the_forward_in_typed_coordinates():
    V = cn.V(SO(2))
    rep_in, rep_out = V**0 + 2 * V + V**2, 2 * V + V**3
    layer = cn.nn.Linear(rep_in, rep_out, plan="isotypic", dtype=torch.float64)
    x = torch.randn(3, rep_in.size, dtype=torch.float64)
    plan = layer.plan
    typed = plan.forward_typed(layer, plan.change_in.to_typed(layer, x))
    assert torch.allclose(plan.change_out.from_typed(layer, typed), layer(x), atol=1e-12, rtol=0)
    expected = plan.change_out.to_typed(layer, layer(x))
    for a, b in zip(typed, expected):
        assert torch.allclose(a, b, atol=1e-12, rtol=0)


def test_meta_device_and_casts():
    V = cn.V(SO(3))
    layer = cn.nn.Linear(V**0 + V + V**2, V + V**0, plan="isotypic", device="meta")
    assert all(t.device.type == "meta" for t in (*layer.parameters(), *layer.buffers()))
    layer = cn.nn.Linear(V**0 + V + V**2, V + V**0, plan="isotypic")
    x = torch.randn(2, layer.in_features, dtype=torch.float64)
    reference = cn.nn.Linear(V**0 + V + V**2, V + V**0, plan="assembled", dtype=torch.float64)
    layer.double()
    reference.load_state_dict(layer.state_dict())
    assert torch.allclose(layer(x), reference(x), atol=1e-12, rtol=0)


def test_auto_keeps_the_assembled_plan_for_plain_features():
    # changing plain features in and out densely costs at least the dense product itself
    V = cn.V(SO(3))
    for rep in (cn.nn.uniform_rep(64, SO(3)), cn.nn.uniform_rep(384, SO(3)), 5 * V**0 + 5 * V):
        assert choose_plan(rep, rep) == "assembled"


def test_refusals_name_the_cause():
    V = cn.V(SO(3))
    with pytest.raises(ValueError, match="takes no support"):
        cn.nn.Linear(V, V, plan="isotypic", support=np.ones((3, 3), dtype=bool))
    with pytest.raises((RepError, SolverError), match="orthogonal|Lorentz|O\\(1,3\\)"):
        cn.nn.Linear(cn.V(Lorentz()), cn.V(Lorentz()), plan="isotypic")
    big = (TYPED_DENSE_MAX_SIZE // 3 + 1) * V
    with pytest.raises(RepError, match="TYPED_DENSE_MAX_SIZE|at most"):
        cn.nn.Linear(big, V, plan="isotypic")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(GROUPS)), data=st.data())
def test_merged_real_types_give_the_same_map(name, data):
    """TypedLayout(merge_real=True) (real types of one dimension in one tensor, as the typed EMLP holds them):
    the per-group products still give the dense projected map."""
    from constrainnet.nn.isotypic import TypedLayout, TypedMaps, joint_sums, typed_product
    from constrainnet.nn.plan import LinearPlan

    G = GROUPS[name]
    rep_in, rep_out = _pair(G, data.draw)
    lin, lout = TypedLayout(rep_in, merge_real=True), TypedLayout(rep_out, merge_real=True)
    assert len(lin.types) <= len(TypedLayout(rep_in).types)
    assert sum(d * m for d, m in zip(lin.dims, lin.mults)) == rep_in.size
    torch.manual_seed(2)
    layer = cn.nn.Linear(rep_in, rep_out, plan="assembled", bias=False, dtype=torch.float64)
    maps = TypedMaps(lin, [(LinearPlan(rep_in, rep_out), lout)])
    forward = joint_sums([maps])[0]
    arrays = [torch.as_tensor(np.array(a)) for a in forward.arrays]
    ops = maps.split(forward.apply(layer.coefficients.detach(), *arrays))
    x = torch.randn(4, rep_in.size, dtype=torch.float64)
    p_in, p_out = torch.as_tensor(lin.change_matrix()), torch.as_tensor(lout.change_matrix())
    typed_x = x @ p_in
    out = torch.zeros(4, rep_out.size, dtype=torch.float64)
    for k, (t, op) in enumerate(zip(lin.types, ops)):
        if op is None:
            continue
        xk = typed_x[:, lin.offsets[k] : lin.offsets[k] + lin.dims[k] * lin.mults[k]].reshape(4, lin.dims[k], lin.mults[k])
        units = torch.as_tensor(np.array(t.units[1:])) if len(t.units) > 1 else None
        y = typed_product(xk, units, op)
        j = lout.types.index(t)
        out[:, lout.offsets[j] : lout.offsets[j] + lout.dims[j] * lout.mults[j]] = y.reshape(4, -1)
    assert torch.allclose(out @ p_out.T, x @ layer.weight().detach().T, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name, ch", [("O3", 384), ("SO2", 64), ("O2", 96)])
def test_typed_emlp_product_routes_match_the_assembled_model(name, ch):
    """Every route of the bilinear products (changed to typed coordinates densely or component by component, or mapped
    from plain coordinates) gives the assembled function."""
    G = GROUPS[name]
    V = cn.V(G)
    torch.manual_seed(3)
    typed = cn.nn.EMLP(5 * V**0 + 5 * V, V**2 + V, group=G, ch=ch, num_layers=2, plan="isotypic", dtype=torch.float64)
    routes = {block.typed_products for block in typed._typed.blocks}
    kinds = {block.product_route for block in typed._typed.blocks}
    assert kinds == ({"dense"} if name == "O3" else {"plain", "block"})  # the three routes of the products
    assembled = cn.nn.EMLP(5 * V**0 + 5 * V, V**2 + V, group=G, ch=ch, num_layers=2, plan="assembled", dtype=torch.float64)
    assembled.load_state_dict(typed.state_dict())
    x = torch.randn(9, typed.rep_in.size, dtype=torch.float64)
    assert torch.allclose(typed(x), assembled(x), atol=1e-10, rtol=0)
    if name != "O3":  # O(3) at ch 384 maps its 48 products per type in both blocks; the others take two routes
        assert routes == {True, False}
    else:
        assert routes == {True}

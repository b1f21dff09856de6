"""EMLP with hidden features held per irreducible type (plan="isotypic") against the assembled plan.

Both plans hold the same parameters, so a state_dict of one loads into the
other, and they must compute the same function: the assembled plan (one dense
projected weight per layer) is the reference. Also: equivariance in float32 and
float64, one optimiser step, the eval-mode operand cache and its invalidation,
save/load, copies, dtype casts, the meta device, and the choice of the plan.
"""

from __future__ import annotations

import copy
import io
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import RepError
from constrainnet.groups import C, D, O, S, SO, Z
from constrainnet.nn.plan import components
from constrainnet.testing import assert_gradients
from constrainnet.testing.strategies import reps

GROUPS = {
    "SO2": lambda: SO(2),
    "O2": lambda: O(2),
    "SO3": lambda: SO(3),
    "O3": lambda: O(3),
    "C4": lambda: C(4),
    "D4": lambda: D(4),
    "SO2xC4": lambda: SO(2) * C(4),
    "O2xD4": lambda: O(2) * D(4),
}
# groups whose reps the strategies draw (Z5: regular input and output reps, complex types)
DRAWN = {"SO2": SO(2), "O2": O(2), "SO3": SO(3), "O3": O(3), "C4": C(4), "D4": D(4), "Z5": Z(5)}
CH, LAYERS, BATCH = 16, 2, 7


def build(name: str, plan: str = "isotypic", dtype=torch.float64, seed: int = 0, **kwargs) -> cn.nn.EMLP:
    """A small EMLP of the named group: scalars and vectors in, a scalar and a vector out."""
    G = GROUPS[name]()
    V = cn.V(G)
    torch.manual_seed(seed)
    model = cn.nn.EMLP(V**0 + 2 * V, V**0 + V, group=G, ch=CH, num_layers=LAYERS, dtype=dtype, plan=plan, **kwargs)
    assert model.plan == plan
    return model


def twins(name: str, dtype=torch.float64) -> tuple[cn.nn.EMLP, cn.nn.EMLP]:
    """(isotypic, assembled) models of the same parameters."""
    iso = build(name, "isotypic", dtype)
    asm = build(name, "assembled", dtype, seed=1)
    asm.load_state_dict(iso.state_dict(), strict=True)
    return iso, asm


def inputs(model: cn.nn.EMLP, batch: int = BATCH, seed: int = 2) -> torch.Tensor:
    dtype = next(model.parameters()).dtype
    return torch.randn(batch, model.rep_in.size, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / max(b.abs().max().item(), 1e-30))


def equivariance(model: cn.nn.EMLP, x: torch.Tensor, n: int = 4) -> float:
    """max over sampled g of ‖f(ρ_in(g) x) − ρ_out(g) f(x)‖ / ‖ρ_out(g) f(x)‖, with ρ from the reps."""
    worst = 0.0
    with torch.no_grad():
        y = model(x)
        for g in model.group.samples(n, np.random.default_rng(3)):
            rho_in = torch.as_tensor(model.rep_in.rho(g), dtype=x.dtype)
            rho_out = torch.as_tensor(model.rep_out.rho(g), dtype=x.dtype)
            a, b = model(x @ rho_in.T), y @ rho_out.T
            worst = max(worst, float((a - b).norm() / b.norm()))
    return worst


# -- the two plans compute the same function -------------------------------------------
@pytest.mark.parametrize("name", sorted(GROUPS))
def test_plans_agree_on_outputs_and_gradients(name):
    iso, asm = twins(name)
    assert set(iso.state_dict()) == set(asm.state_dict())
    x = inputs(iso)
    y_iso, y_asm = iso(x), asm(x)
    assert y_iso.shape == (BATCH, iso.rep_out.size)
    assert relative(y_iso, y_asm) < 1e-10
    probe = torch.randn(y_asm.shape, generator=torch.Generator().manual_seed(4), dtype=x.dtype)
    (y_iso * probe).sum().backward()
    (y_asm * probe).sum().backward()
    params_iso, params_asm = dict(iso.named_parameters()), dict(asm.named_parameters())
    assert set(params_iso) == set(params_asm)
    for key, p in params_iso.items():
        q = params_asm[key]
        assert p.grad is not None and q.grad is not None, key
        assert relative(p.grad, q.grad) < 1e-9, key


@pytest.mark.parametrize("G", [SO(3), O(3), D(4)], ids=["SO3", "O3", "D4"])
def test_plans_agree_with_rank_two_input_and_output(G):
    # the invariants of V**2 (and the trivial type) are met inside a tensor rep, not a scalar one
    V = cn.V(G)
    torch.manual_seed(0)
    iso = cn.nn.EMLP(V**2, V**0 + V**2, group=G, ch=CH, num_layers=1, dtype=torch.float64, plan="isotypic")
    asm = cn.nn.EMLP(V**2, V**0 + V**2, group=G, ch=CH, num_layers=1, dtype=torch.float64, plan="assembled")
    asm.load_state_dict(iso.state_dict(), strict=True)
    x = inputs(iso)
    assert relative(iso(x), asm(x)) < 1e-10
    assert equivariance(iso, x) < 1e-10


def self_gated(rep) -> bool:
    """No component but the scalar rep is a permutation rep (those are gated elementwise, not per type)."""
    return all(isinstance(c.rep, cn.reps.ScalarRep) or not c.rep.is_permutation for c in components(rep))


@given(data=st.data())
@settings(max_examples=10)
def test_plans_agree_on_drawn_reps(data):
    name = data.draw(st.sampled_from(sorted(DRAWN)), label="group")
    G = DRAWN[name]
    rep_in = data.draw(reps(G, max_size=12), label="rep_in")
    rep_out = data.draw(reps(G, max_size=12), label="rep_out")
    hidden = [2 * cn.Scalar(G) + data.draw(reps(G, max_size=14), label=f"hidden {i}") for i in range(2)]
    if not all(self_gated(h) for h in hidden) or not all(r.is_orthogonal for r in [rep_in, rep_out, *hidden]):
        return
    torch.manual_seed(0)
    iso = cn.nn.EMLP(rep_in, rep_out, group=G, ch=hidden, num_layers=2, dtype=torch.float64, plan="isotypic")
    asm = cn.nn.EMLP(rep_in, rep_out, group=G, ch=hidden, num_layers=2, dtype=torch.float64, plan="assembled")
    asm.load_state_dict(iso.state_dict(), strict=True)
    x = inputs(iso, batch=4)
    assert relative(iso(x), asm(x)) < 1e-10
    assert equivariance(iso, x, n=2) < 1e-10


@pytest.mark.slow
@pytest.mark.parametrize("name, second_order", [("SO3", True), ("C4", False)])
def test_isotypic_gradients_match_finite_differences(name, second_order):
    G = GROUPS[name]()
    V = cn.V(G)
    torch.manual_seed(0)
    model = cn.nn.EMLP(V**0 + 2 * V, V**0 + V, group=G, ch=12, num_layers=1, dtype=torch.float64, plan="isotypic")
    assert_gradients(model, inputs(model, batch=2), second_order=second_order)


@pytest.mark.parametrize("name", sorted(GROUPS))
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4), (torch.float64, 1e-10)], ids=["float32", "float64"])
def test_isotypic_model_is_equivariant(name, dtype, tol):
    model = build(name, "isotypic", dtype)
    assert equivariance(model, inputs(model)) < tol


@pytest.mark.parametrize("name", ["SO3", "O2", "C4", "SO2xC4"])
def test_one_adam_step_gives_the_same_parameters(name):
    iso, asm = twins(name)
    x = inputs(iso)
    target = torch.randn(BATCH, iso.rep_out.size, generator=torch.Generator().manual_seed(5), dtype=x.dtype)
    for model in (iso, asm):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        opt.zero_grad()
        ((model(x) - target) ** 2).mean().backward()
        opt.step()
    after_asm = dict(asm.named_parameters())
    for key, value in iso.named_parameters():
        assert (value - after_asm[key]).abs().max().item() < 1e-9, key
    assert relative(iso(x), asm(x)) < 1e-10


# -- the operand cache of eval mode -------------------------------------------------------
@pytest.mark.parametrize("name", ["SO3", "D4"])
def test_eval_cache_equals_training_output_and_follows_updates(name):
    model = build(name)
    x = inputs(model)
    model.train()
    y_train = model(x).detach()
    model.eval()
    with torch.no_grad():
        y_eval = model(x)
        y_again = model(x)  # from the cached operands
    assert relative(y_eval, y_train) < 1e-12
    assert torch.equal(y_eval, y_again)
    # an optimiser step changes the parameters in place: the eval output follows
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    (model(x) ** 2).sum().backward()
    opt.step()
    model.eval()
    with torch.no_grad():
        y_stepped = model(x)
    assert relative(y_stepped, y_eval) > 1e-6
    model.train()
    assert relative(y_stepped, model(x).detach()) < 1e-12
    # so does loading another model's state
    other = build(name, seed=7)
    model.eval()
    with torch.no_grad():
        model(x)
        model.load_state_dict(other.state_dict())
        assert relative(model(x), other(x)) < 1e-12


# -- state dicts, copies, casts, devices --------------------------------------------------
@pytest.mark.parametrize("name", ["SO3", "O3", "C4", "O2xD4"])
def test_state_dict_loads_across_plans_and_round_trips_bit_identical(name):
    iso, asm = twins(name)
    x = inputs(iso)
    # assembled → isotypic
    fresh_iso = build(name, "isotypic", seed=9)
    fresh_iso.load_state_dict(asm.state_dict(), strict=True)
    assert relative(fresh_iso(x), asm(x)) < 1e-10
    # save/load through bytes
    buffer = io.BytesIO()
    torch.save(iso.state_dict(), buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    again = build(name, "isotypic", seed=11)
    again.load_state_dict(loaded, strict=True)
    assert set(again.state_dict()) == set(loaded)
    for key, value in again.state_dict().items():
        # tensors bit for bit; the basis fingerprints (extra state) equal
        assert torch.equal(value, loaded[key]) if isinstance(value, torch.Tensor) else value == loaded[key], key
    assert torch.equal(again(x), iso(x))


@pytest.mark.parametrize("name", ["SO3", "C4"])
def test_deepcopy_and_pickle_give_identical_outputs(name):
    model = build(name)
    x = inputs(model)
    y = model(x)
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert twin.plan == "isotypic"
        assert torch.equal(twin(x), y)
        # the twin owns its parameters: changing them leaves the original alone
        with torch.no_grad():
            for p in twin.parameters():
                p.add_(1.0)
        assert torch.equal(model(x), y)
        assert not torch.equal(twin(x), y)


@pytest.mark.parametrize("name", ["SO3", "SO2", "D4"])
def test_double_after_float32_construction_has_float64_accuracy(name):
    model = build(name, "isotypic", torch.float32)
    model.double()
    reference = build(name, "isotypic", torch.float64)
    reference.load_state_dict(model.state_dict())
    for buffer in model.buffers():
        if buffer.is_floating_point():
            assert buffer.dtype == torch.float64
    x = inputs(reference)
    assert relative(model(x), reference(x)) < 1e-12
    assert equivariance(model, x) < 1e-10


@pytest.mark.parametrize("plan", ["isotypic", "assembled"])
@pytest.mark.parametrize("name", ["SO3", "C4"])
def test_meta_device_puts_every_tensor_on_meta(name, plan):
    model = build(name, plan, torch.float32, device="meta")
    for key, p in model.named_parameters():
        assert p.device.type == "meta", key
    buffers = list(model.named_buffers())
    assert buffers
    for key, b in buffers:
        assert b.device.type == "meta", key


@pytest.mark.parametrize("name", ["SO3", "O2xD4"])
def test_extra_leading_dimensions(name):
    model = build(name)
    x = torch.randn(2, 3, model.rep_in.size, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    y = model(x)
    assert y.shape == (2, 3, model.rep_out.size)
    flat = model(x.reshape(6, -1)).reshape(2, 3, -1)
    assert relative(y, flat) < 1e-12
    one = model(x[0, 0])
    assert one.shape == (model.rep_out.size,)
    assert relative(one, flat[0, 0]) < 1e-12


# -- the choice of the plan -------------------------------------------------------------
def test_auto_plan_is_isotypic_for_so3():
    G = SO(3)
    V = cn.V(G)
    model = cn.nn.EMLP(V**0 + 2 * V, V, group=G, ch=384, num_layers=LAYERS, plan="auto")
    assert model.plan == "isotypic"
    assert model.plan == cn.nn.EMLP(V**0 + 2 * V, V, group=G, ch=384, num_layers=LAYERS).plan
    # where the cost model would never run the typed forward (small widths), auto keeps the assembled plan alone
    assert cn.nn.EMLP(V**0 + 2 * V, V, group=G, ch=CH, num_layers=LAYERS).plan == "assembled"


def test_auto_plan_computes_the_assembled_function_at_every_batch():
    # "auto" may run either forward per call (its cost model weighs kernels against
    # multiply-adds, so small batches run assembled and large ones typed): both are the same function
    G = SO(3)
    V = cn.V(G)
    torch.manual_seed(0)
    auto = cn.nn.EMLP(V**0 + 2 * V, V**0 + V, group=G, ch=64, num_layers=2, dtype=torch.float64, plan="auto")
    asm = cn.nn.EMLP(V**0 + 2 * V, V**0 + V, group=G, ch=64, num_layers=2, dtype=torch.float64, plan="assembled")
    asm.load_state_dict(auto.state_dict(), strict=True)
    for batch in (1, 4096):
        x = inputs(auto, batch=batch)
        assert relative(auto(x), asm(x)) < 1e-10


@pytest.mark.parametrize("G", [S(4), Z(5)], ids=["S4", "Z5"])
def test_permutation_hidden_reps_take_the_assembled_plan(G):
    V = cn.V(G)
    hidden = cn.nn.uniform_rep(CH, G)
    assert any(c.rep.is_permutation and c.rep.size > 1 for c in cn.nn.plan.components(hidden))
    model = cn.nn.EMLP(V, V**0, group=G, ch=CH, num_layers=LAYERS, plan="auto")
    assert model.plan == "assembled"
    with pytest.raises(RepError, match="permutation"):
        cn.nn.EMLP(V, V**0, group=G, ch=CH, num_layers=LAYERS, plan="isotypic")


def test_empty_batches():
    G = SO(3)
    V = cn.V(G)
    model = cn.nn.EMLP(V**0 + 2 * V, V**0 + V, group=G, ch=CH, num_layers=LAYERS, plan="isotypic")
    assert model(torch.randn(0, 7)).shape == (0, 4)
    assert model(torch.randn(2, 0, 7)).shape == (2, 0, 4)
    layer = cn.nn.Linear(2 * V**0 + V + V**2, V**0 + V**2, plan="isotypic")
    assert layer(torch.randn(0, 14)).shape == (0, 10)


def test_pseudoscalar_of_a_rotation_group_is_a_scalar():
    # det = 1 on C(4): a 1-dimensional permutation rep, gated by SiLU like a scalar, in both plans
    G = C(4)
    V = cn.V(G)
    hidden = 8 * V**0 + 2 * cn.PseudoScalar(G) + 4 * V
    torch.manual_seed(0)
    typed = cn.nn.EMLP(V**0 + V, V, group=G, ch=hidden, num_layers=1, plan="isotypic", dtype=torch.float64)
    assembled = cn.nn.EMLP(V**0 + V, V, group=G, ch=hidden, num_layers=1, plan="assembled", dtype=torch.float64)
    assembled.load_state_dict(typed.state_dict())
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.allclose(typed(x), assembled(x), atol=1e-10, rtol=0)


@pytest.mark.parametrize("plan", ["dense", "Isotypic", "", None, 3])
def test_bad_plan_name_is_refused(plan):
    G = SO(3)
    V = cn.V(G)
    with pytest.raises(ValueError, match="plan"):
        cn.nn.EMLP(V, V, group=G, ch=CH, num_layers=1, plan=plan)

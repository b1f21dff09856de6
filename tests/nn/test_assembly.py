"""Weight assembly by gathers: equal to the reference Σ_k C_k ⊗ B_k, gradients, strategies, determinism, save/load."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import constrainnet as cn
import constrainnet.nn.assembly as assembly
from constrainnet.groups import C, D, Lorentz, O, S, SO, Z
from constrainnet.nn.assembly import SparseSum
from constrainnet.nn.plan import components
from constrainnet.testing import assert_gradients, equivariance_error

CASES = {
    "SO3-hidden": (SO(3), lambda V: 4 * V**0 + 3 * V + 2 * V**2 + V**3, lambda V: 3 * V**0 + 2 * V + V**2 + V**3),
    "O3-uniform": (O(3), lambda V: cn.nn.uniform_rep(48, V.G), lambda V: cn.nn.gated(cn.nn.uniform_rep(40, V.G))),
    "D4-sum": (D(4), lambda V: 2 * V + V**2, lambda V: V**2 + 3 * V**0),
    "S4-V2": (S(4), lambda V: V**2, lambda V: V + V**0),
    "Z6-regular": (Z(6), lambda V: 3 * V, lambda V: 2 * V),
    "Lorentz-dual": (Lorentz(), lambda V: 2 * V + V**0, lambda V: V.T + V**2),
    "C4xS3": (C(4) * S(3), lambda V: V + V**0, lambda V: V**2),
}
STRATEGIES = ["split", "bags"]


def build(case, dtype=torch.float64, bias=True, seed=0):
    G, fin, fout = CASES[case]
    V = cn.V(G)
    torch.manual_seed(seed)
    return cn.nn.Linear(fin(V), fout(V), bias=bias, dtype=dtype)


def reference_weight(layer):
    """Σ_k C_k ⊗ B_k block by block with einsum, in float64, from the plan's own bases."""
    plan = layer._plan
    W = torch.zeros(layer.out_features, layer.in_features, dtype=torch.float64)
    for p, c in zip(plan.pairs, layer.pair_coefficients()):
        inp, out = plan.inputs[p.i], plan.outputs[p.j]
        basis = torch.as_tensor(p.basis, dtype=torch.float64)
        block = torch.einsum("kpq,koi->poqi", c.detach().double(), basis)
        W[out.offset : out.offset + out.size, inp.offset : inp.offset + inp.size] += block.reshape(out.size, inp.size)
    return W


@pytest.fixture(params=STRATEGIES)
def strategy(request, monkeypatch):
    """Every map built with one strategy, whatever sum_strategy would choose."""
    monkeypatch.setattr(assembly, "sum_strategy", lambda size, counts: request.param)
    return request.param


@pytest.mark.parametrize("case", sorted(CASES))
def test_weight_equals_reference_einsum(case, strategy):
    layer = build(case)
    assert all(s.strategy == strategy for s in layer.plan.assembly.sums)
    torch.testing.assert_close(layer.weight(), reference_weight(layer), rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ["SO3-hidden", "O3-uniform", "Lorentz-dual"])
def test_weight_float32_close_to_reference(case):
    layer = build(case, dtype=torch.float32)
    torch.testing.assert_close(layer.weight().double(), reference_weight(layer), rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", ["SO3-hidden", "O3-uniform", "D4-sum"])
def test_assembly_gradients_pass_gradcheck(case, strategy):
    layer = build(case)
    c = layer.coefficients.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda c: layer.plan.assembly(layer, (c,)), (c,))


@pytest.mark.parametrize("case", ["SO3-hidden", "Lorentz-dual"])
def test_forward_gradients_pass_gradcheck(case):
    """Weight and bias from one autograd node: gradients for coefficients, bias coefficients and input."""
    layer = build(case)
    params = (layer.coefficients.detach().clone().requires_grad_(), layer.bias_coefficients.detach().clone().requires_grad_())
    x = torch.randn(3, layer.in_features, dtype=torch.float64, requires_grad=True)

    def f(c, b, x):
        return torch.func.functional_call(layer, {"coefficients": c, "bias_coefficients": b}, (x,))

    assert torch.autograd.gradcheck(f, (*params, x))


def test_backward_map_is_the_transpose_of_the_forward_map():
    layer = build("SO3-hidden")
    forward, backward = layer.plan.assembly.sums
    tensors = [[getattr(layer, name) for name in names] for names in layer.plan.assembly.buffers]
    n = layer.num_coefficients
    A = torch.stack([forward.apply(e, *tensors[0]) for e in torch.eye(n, dtype=torch.float64)], dim=1)
    At = torch.stack([backward.apply(e, *tensors[1]) for e in torch.eye(forward.size, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(At, A.T, rtol=0, atol=1e-14)


def test_assembly_and_gradients_are_deterministic():
    layer = build("O3-uniform", dtype=torch.float32)
    x = torch.randn(8, layer.in_features)
    runs = []
    for _ in range(2):
        layer.zero_grad()
        layer(x).square().sum().backward()
        runs.append((layer.weight().detach(), layer.coefficients.grad.clone(), layer.bias_coefficients.grad.clone()))
    assert all(torch.equal(a, b) for a, b in zip(*runs))


@pytest.mark.parametrize("strategy_name", STRATEGIES)
def test_sparse_sum_matches_dense_matrix(strategy_name):
    rng = np.random.default_rng(0)
    size, n_src = 300, 40
    # destinations with 0, 1 or many terms (up to 40), some sources repeated
    counts = rng.choice([0, 0, 1, 2, 3, 5, 17, 40], size=size)
    dest = np.repeat(np.arange(size), counts)
    src = rng.integers(0, n_src, size=len(dest))
    value = rng.standard_normal(len(dest))
    M = np.zeros((size, n_src))
    np.add.at(M, (dest, src), value)
    smap = SparseSum.build(size, dest, src, value, strategy=strategy_name)
    tensors = [torch.as_tensor(a) for a in smap.arrays]
    x = torch.randn(n_src, dtype=torch.float64)
    y = smap.apply(x, *tensors)
    torch.testing.assert_close(y, torch.as_tensor(M) @ x, rtol=0, atol=1e-12)
    assert torch.equal(y, smap.apply(x, *tensors))


def test_sparse_sum_rejects_unknown_strategy():
    with pytest.raises(ValueError, match="expected strategy"):
        SparseSum.build(3, np.array([0]), np.array([0]), np.array([1.0]), strategy="dense")


def test_column_order_permutes_the_columns():
    layer = build("SO3-hidden")
    order = np.random.default_rng(1).permutation(layer.in_features)
    shape = (layer.out_features, layer.in_features)
    bases = [p.basis for p in layer._plan.pairs]
    fwd, _ = assembly.joint_weight_sums([assembly.WeightPart(shape, layer._layout, bases, column_order=order)])
    W = fwd.apply(layer.coefficients, *[torch.as_tensor(a) for a in fwd.arrays]).view(shape)
    torch.testing.assert_close(W[:, order], layer.weight().detach(), rtol=0, atol=0)


def test_value_buffers_are_rebuilt_in_float64():
    layer = build("SO3-hidden", dtype=torch.float32).double()
    for name, array in layer._float64_buffers.items():
        assert torch.equal(getattr(layer, name), torch.as_tensor(array))
    torch.testing.assert_close(layer.weight(), reference_weight(layer), rtol=0, atol=1e-12)


def test_per_pair_state_dict_of_basis_format_1_is_refused():
    # Version-1 state dicts held one parameter per block pair and were written with basis
    # format 1 (block bases in another column order): refused, never silently loaded.
    a, b = build("SO3-hidden", seed=0), build("SO3-hidden", seed=1)
    state = {f"coefficients.{t}": c.detach().clone() for t, c in enumerate(a.pair_coefficients())}
    state["bias_coefficients"] = a.bias_coefficients.detach().clone()
    state["_extra_state"] = dict(a.get_extra_state(), basis_format=1)
    with pytest.raises((RuntimeError, cn.RepMismatchError)):
        b.load_state_dict(state)
    with pytest.raises(RuntimeError, match="Missing key"):
        b.load_state_dict({k: v for k, v in state.items() if k != "_extra_state"})


def test_saved_state_dict_round_trip_keeps_the_flat_layout():
    a = build("SO3-hidden")
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert set(state) == {"coefficients", "bias_coefficients", "_extra_state"}
    b = build("SO3-hidden", seed=5)
    b.load_state_dict(state)
    assert torch.equal(a.coefficients, b.coefficients)


def test_pair_coefficients_are_views_in_plan_order():
    layer = build("SO3-hidden")
    views = layer.pair_coefficients()
    assert [tuple(v.shape) for v in views] == [(p.r, layer._plan.outputs[p.j].mult, layer._plan.inputs[p.i].mult) for p in layer._plan.pairs]
    assert torch.equal(torch.cat([v.reshape(-1) for v in views]), layer.coefficients.detach())
    assert all(v.data_ptr() >= layer.coefficients.data_ptr() for v in views)


# -- BiLinear ------------------------------------------------------------------


def reference_bilinear(layer, x):
    """y = W_out(products), the products written out copy pair by copy pair from the definition of the pairing.

    "copywise": group k holds copy k of each component with more than k
    copies; "all": one group of every copy. Within a group every (copy, copy)
    pair in order, u-copy ⊗ v-copy flattened: rep_product's coordinate order.
    """
    u, v = layer.left(x), layer.right(x)
    lead = x.shape[:-1]
    comps = components(layer.rep_mid)
    if layer.pairing == "all":
        groups = [[(c, k) for c in comps for k in range(c.mult)]]
    else:
        groups = [[(c, k) for c in comps if c.mult > k] for k in range(max(c.mult for c in comps))]
    parts = []
    for group in groups:
        for c1, k1 in group:
            for c2, k2 in group:
                a = u[..., c1.offset + k1 * c1.rep.size : c1.offset + (k1 + 1) * c1.rep.size]
                b = v[..., c2.offset + k2 * c2.rep.size : c2.offset + (k2 + 1) * c2.rep.size]
                parts.append((a.unsqueeze(-1) * b.unsqueeze(-2)).reshape(*lead, -1))
    return layer.out(torch.cat(parts, dim=-1))


BILINEAR_CASES = {
    "SO3": (SO(3), lambda V: 3 * V**0 + 2 * V + V**2, lambda V: V**0 + V + V**2, None),
    "O3-uniform": (O(3), lambda V: cn.nn.gated(cn.nn.uniform_rep(48, V.G)), lambda V: cn.nn.gated(cn.nn.uniform_rep(48, V.G)), None),
    "Lorentz": (Lorentz(), lambda V: 2 * V + V**0, lambda V: V + V.T, None),
    "SO3-scalar-mid": (SO(3), lambda V: 2 * V, lambda V: V**0, lambda V: V**0),
    "SO3-scalars-mid": (SO(3), lambda V: 2 * V, lambda V: V, lambda V: 3 * V**0),
    "SO3-uneven-copies": (SO(3), lambda V: 2 * V**0 + V + V**2, lambda V: V**0 + V**2, lambda V: V**0 + 2 * V + V**0),
    "SO3xS3-mid": (SO(3) * S(3), lambda V: cn.V(V.G, 0) * cn.V(V.G, 1) + V**0, lambda V: cn.nn.uniform_rep(30, V.G), None),
}


@pytest.mark.parametrize("pairing", ["copywise", "all"])
@pytest.mark.parametrize("case", sorted(BILINEAR_CASES))
def test_bilinear_equals_pairwise_reference(case, pairing):
    G, fin, fout, fmid = BILINEAR_CASES[case]
    V = cn.V(G)
    torch.manual_seed(0)
    layer = cn.nn.BiLinear(fin(V), fout(V), None if fmid is None else fmid(V), dtype=torch.float64, pairing=pairing)
    x = torch.randn(2, 3, layer.rep_in.size, dtype=torch.float64)
    torch.testing.assert_close(layer(x), reference_bilinear(layer, x), rtol=0, atol=1e-13)
    layer.eval()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference_bilinear(layer, x), rtol=0, atol=1e-13)


def test_bilinear_product_space_sizes():
    """Copywise: Σ_k s_k² over the copy groups; all: |mid|²."""
    V = cn.V(SO(3))
    x = 2 * V**0 + 2 * V
    assert cn.nn.BiLinear(x, V).rep_product.size == 3 * (1 + 3) ** 2  # rep_mid 3*Scalar + 3*V: three groups of 4
    assert cn.nn.BiLinear(x, V, pairing="all").rep_product.size == 12**2
    assert cn.nn.BiLinear(x, V, V**0 + 2 * V).rep_product.size == 4**2 + 3**2
    with pytest.raises(ValueError, match="pairing"):
        cn.nn.BiLinear(x, V, pairing="diagonal")


def test_bilinear_parameters_are_those_of_its_three_linears():
    V = cn.V(SO(3))
    layer = cn.nn.BiLinear(2 * V**0 + 2 * V, V)
    names = [name for name, _ in layer.named_parameters()]
    assert names == ["left.coefficients", "left.bias_coefficients", "right.coefficients", "right.bias_coefficients", "out.coefficients"]
    assert cn.nn.BiLinear(2 * V, V**0, V**0).left.bias_coefficients is None


def test_bilinear_gradients_pass_gradcheck():
    V = cn.V(SO(3))
    torch.manual_seed(0)
    layer = cn.nn.BiLinear(2 * V**0 + V + V**2, V**0 + V, dtype=torch.float64)
    assert_gradients(layer, torch.randn(3, layer.rep_in.size, dtype=torch.float64))


def test_bilinear_eval_cache_follows_parameter_changes():
    V = cn.V(SO(3))
    torch.manual_seed(0)
    layer = cn.nn.BiLinear(2 * V**0 + 2 * V, V + V**0, dtype=torch.float64).eval()
    x = torch.randn(4, 8, dtype=torch.float64)
    with torch.no_grad():
        y1 = layer(x)
        for p in (layer.left.bias_coefficients, layer.right.coefficients, layer.out.coefficients):
            p.add_(0.5)
            y2 = layer(x)
            assert not torch.allclose(y1, y2)
            torch.testing.assert_close(y2, reference_bilinear(layer, x))
            y1 = y2


def test_bilinear_cast_to_float64_rebuilds_its_bases():
    V = cn.V(SO(3))
    torch.manual_seed(0)
    layer = cn.nn.BiLinear(3 * V**0 + 2 * V + V**2, V**0 + V + V**2).double()
    assert equivariance_error(layer) < 1e-10


# -- GatedNonlinearity ---------------------------------------------------------


def reference_gate(rep, x):
    """σ(gate) · x per copy by an explicit index of each coordinate's gate (self for scalars/permutations)."""
    index = list(range(rep.size))
    gate = rep.size
    for c in components(rep):
        if isinstance(c.rep, cn.reps.ScalarRep) or c.rep.is_permutation:
            continue
        for copy in range(c.mult):
            start = c.offset + copy * c.rep.size
            index[start : start + c.rep.size] = [gate] * c.rep.size
            gate += 1
    return torch.sigmoid(x[..., index]) * x[..., : rep.size]


@pytest.mark.parametrize(
    "G,rep",
    [
        (SO(3), lambda V: 3 * V**0 + 2 * V + V**2 + V**3),
        (SO(3), lambda V: V + V**0 + V**2 + 2 * V**0),
        (S(4), lambda V: V + V**0 + 2 * V**2),
        (Lorentz(), lambda V: V**0 + V + V.T),
        (O(3), lambda V: V**2),
    ],
    ids=["SO3-uniform", "SO3-interleaved", "S4-permutation", "Lorentz", "O3-only-gated"],
)
def test_gate_equals_indexed_reference_and_passes_gradcheck(G, rep):
    rep = rep(cn.V(G))
    act = cn.nn.GatedNonlinearity(rep)
    x = torch.randn(2, 3, act.rep_in.size, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(act(x), reference_gate(rep, x), rtol=0, atol=1e-15)
    assert torch.autograd.gradcheck(act, (x,))
    assert torch.autograd.gradgradcheck(act, (x,))


# -- second order --------------------------------------------------------------


def test_linear_second_derivatives_pass_gradgradcheck():
    """The backward of the assembly is itself differentiable (gradients built with create_graph=True)."""
    layer = build("SO3-hidden")
    params = (layer.coefficients.detach().clone().requires_grad_(), layer.bias_coefficients.detach().clone().requires_grad_())
    x = torch.randn(2, layer.in_features, dtype=torch.float64, requires_grad=True)

    def f(c, b, x):
        return torch.func.functional_call(layer, {"coefficients": c, "bias_coefficients": b}, (x,)).tanh()

    assert torch.autograd.gradgradcheck(f, (*params, x))


def test_emlp_input_gradient_trains_like_a_hamiltonian_net():
    """Loss on ∂f/∂x, differentiated again with respect to the parameters: matches finite differences."""
    G = SO(3)
    V = cn.V(G)
    torch.manual_seed(0)
    model = cn.nn.EMLP(2 * V, V**0, group=G, ch=16, num_layers=1, dtype=torch.float64)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)

    def loss():
        (dx,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
        return dx.square().sum()

    c = model.layers[0].coefficients
    (g,) = torch.autograd.grad(loss(), c)
    direction = torch.randn_like(c)
    eps = 1e-6
    with torch.no_grad():
        c.add_(eps * direction)
    up = loss().item()
    with torch.no_grad():
        c.sub_(2 * eps * direction)
    down = loss().item()
    with torch.no_grad():
        c.add_(eps * direction)
    assert abs((up - down) / (2 * eps) - float(g @ direction)) < 1e-6 * max(1.0, abs(float(g @ direction)))


@pytest.mark.parametrize("case", ["O3-uniform", "SO3-hidden"])
def test_assembly_runs_under_torch_deterministic_mode(case, strategy):
    """No operation torch's deterministic mode rejects, and the same numbers as without it."""
    layer = build(case, dtype=torch.float32)
    x = torch.randn(5, layer.in_features)

    def run():
        layer.zero_grad()
        y = layer(x)
        y.square().sum().backward()
        return y.detach(), layer.coefficients.grad.clone()

    expected = run()
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        got = run()
    finally:
        torch.use_deterministic_algorithms(previous)
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_emlp_step_under_torch_deterministic_mode():
    G = O(3)
    V = cn.V(G)
    torch.manual_seed(0)
    model = cn.nn.EMLP(5 * V**0 + 5 * V, V**2, group=G, ch=96, num_layers=2)
    x = torch.randn(6, 20)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        model(x).square().sum().backward()
    finally:
        torch.use_deterministic_algorithms(previous)
    assert all(p.grad is not None for p in model.parameters())


def test_layers_copy_and_pickle_after_a_forward():
    """A used model (caches filled) deep-copies and pickles, and the copies compute the same."""
    import copy
    import pickle

    V = cn.V(SO(3))
    model = cn.nn.EMLP(5 * V**0 + 5 * V, V, group=SO(3), ch=32, num_layers=1)
    x = torch.randn(4, 20)
    model(x).sum().backward()
    for twin in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert torch.equal(twin(x), model(x))
        twin(x).sum().backward()

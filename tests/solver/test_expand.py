"""``basis.expand(c)``: per-sample equivariant elements through the structured basis, never the dense Q."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import RepMismatchError
from constrainnet.groups import P4M, S, SO
from constrainnet.nn import uniform_rep
from constrainnet.solver.basis import Basis

from zoo import ZOO, Spec, build_case, params, rep_cases


@pytest.mark.parametrize("entry", params(ZOO))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_expanded_elements_are_fixed_by_the_reference_rho(entry, data):
    spec, on_sub = data.draw(rep_cases(entry, max_size=48))
    rep, G = build_case(entry, spec, on_sub)
    Q = rep.equivariant_basis()
    c = torch.randn(3, Q.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    v = Q.expand(c).reshape(3, -1).numpy()
    assert v.shape == (3, rep.size)
    if Q.dim == 0:
        assert not v.any()
        return
    for g in G.samples(3, rng=1):
        rho = spec.rho(entry.G, g)  # the reference ρ, from numpy (H's elements lie in G's space)
        assert np.abs(v @ rho.T - v).max() <= 1e-10 * max(1.0, np.abs(v).max())
    # the coefficients are recovered by Qᵀ (Q has orthonormal columns)
    assert np.abs(Q.coefficients(v.T).T - c.numpy()).max() < 1e-10


def _maps_reps():
    V3, S5 = cn.V(SO(3)), cn.V(S(5))
    return {
        "SO3-dense": V3**2 >> V3**2,
        "S5-orbit": S5**2 >> S5**2,
        "SO3-blocks": uniform_rep(64, SO(3)) >> uniform_rep(32, SO(3)),
        "P4M3-orbit": cn.V(P4M(3)) >> cn.V(P4M(3)),
    }


@pytest.mark.parametrize("name", list(_maps_reps()))
def test_maps_equal_q_times_c_and_are_equivariant(name):
    rep = _maps_reps()[name]
    Q = rep.equivariant_basis()
    c = torch.randn(4, Q.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    W = Q.expand(c)
    assert W.shape == (4, rep.rep_out.size, rep.rep_in.size)
    expected = (Q @ c.numpy().T).T.reshape(4, rep.rep_out.size, rep.rep_in.size)
    assert np.abs(W.numpy() - expected).max() < 1e-12
    G = rep.G
    for g in G.samples(2, rng=0):
        a, b = rep.rep_in.rho(g), rep.rep_out.rho(g)
        for w in W.numpy():
            assert np.abs(b @ w - w @ a).max() < 1e-10


def test_single_vector_and_float32():
    Q = (cn.V(SO(3)) ** 2).equivariant_basis()
    c = torch.tensor([np.sqrt(3.0)], dtype=torch.float32)
    v = Q.expand(c)
    assert v.shape == (9,) and v.dtype == torch.float32
    assert torch.allclose(v, torch.eye(3).reshape(-1), atol=1e-6)


def test_gradients_flow_to_the_coefficients():
    Q = (uniform_rep(16, SO(3)) >> uniform_rep(16, SO(3))).equivariant_basis()
    c = torch.randn(2, Q.dim, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(Q.expand, (c,))


def test_wide_reps_never_build_the_dense_basis(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dense Q was built")

    monkeypatch.setattr(Basis, "__array__", refuse)
    W30 = cn.V(S(30))
    hidden = uniform_rep(384, SO(3))
    for rep in (W30**2 >> W30**2, hidden >> hidden):
        Q = rep.equivariant_basis()
        c = torch.randn(2, Q.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        W = Q.expand(c).numpy()
        assert W.shape == (2, rep.rep_out.size, rep.rep_in.size)
        # equivariant under every generator, from ρ of the two sides alone (no Q involved)
        G = rep.G
        for h in G.discrete_generators:
            a, b = rep.rep_in.rho(h), rep.rep_out.rho(h)
            assert np.abs(b @ W - W @ a).max() < 1e-10 * max(1.0, np.abs(W).max())
        for A in G.lie_algebra:
            a, b = rep.rep_in.drho(A), rep.rep_out.drho(A)
            assert np.abs(b @ W - W @ a).max() < 1e-10 * max(1.0, np.abs(W).max())
        # and nonzero: the coefficients are read back by Qᵀ (block by block, no dense Q either)
        assert np.abs(Q.coefficients(W.reshape(2, -1).T).T - c.numpy()).max() < 1e-10


def test_meta_device_and_the_cache_per_device_and_dtype():
    Q = (cn.V(SO(3)) ** 2 >> cn.V(SO(3))).equivariant_basis()
    out = Q.expand(torch.empty(5, Q.dim, device="meta"))
    assert out.device.type == "meta" and out.shape == (5, 3, 9)
    Q.expand(torch.zeros(1, Q.dim, dtype=torch.float64))
    assert {(k[0].type, k[1]) for k in Q._expansions} == {("meta", torch.float32), ("cpu", torch.float64)}


def test_empty_basis_gives_zeros():
    Q = (cn.V(SO(3)) >> cn.V(SO(3)) ** 0).equivariant_basis()
    assert Q.dim == 0
    assert torch.equal(Q.expand(torch.zeros(2, 0)), torch.zeros(2, 1, 3))


def test_refusals():
    Q = (cn.V(SO(3)) ** 2).equivariant_basis()
    with pytest.raises(TypeError, match="torch.Tensor"):
        Q.expand(np.ones((1, 1)))
    with pytest.raises(TypeError, match="real floating"):
        Q.expand(torch.ones(1, 1, dtype=torch.int64))
    with pytest.raises(RepMismatchError, match=r"\(batch, 1\)"):
        Q.expand(torch.ones(2, 3))
    with pytest.raises(RepMismatchError):
        Q.expand(torch.ones(2, 1, 1))


def test_maps_are_laid_out_out_by_in():
    # V >> V**2: a (9, 3) map W with (g ⊗ g) W = W g, from np.kron (not the library's ρ)
    rep = Spec.V() >> Spec.V() ** 2
    G = SO(3)
    built = rep.build(G)
    Q = built.equivariant_basis()
    W = Q.expand(torch.randn(Q.dim, dtype=torch.float64)).numpy()
    g = G.sample(0)
    assert np.abs(np.kron(g, g) @ W - W @ g).max() < 1e-10

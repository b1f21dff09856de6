"""Every basis vector is equivariant; Q is orthonormal; P is the orthogonal projector onto span(Q).

Equivariance is checked with the plain-numpy reference ρ of :class:`zoo.Spec`
at random group elements; dimensions against independent counts (characters
for finite groups, the reference constraints' nullity for Lie groups).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import constrainnet as cn
from zoo import (
    TOL,
    ZOO,
    Spec,
    assert_close,
    build_case,
    character_count,
    constraint_nullity,
    params,
    rep_cases,
)

V, V0, PS = Spec.V(), Spec.scalar(), Spec.pseudo()

HOMS = {
    "V>>V": (V, V),
    "(V+V**0)>>(V**2+2*V)": (V + V0, V**2 + 2 * V),
    "V**2>>V": (V**2, V),
    "(V.T+PS)>>(V+V**0)": (V.T + PS, V + V0),
}
PLAIN = {
    "V**2": V**2,
    "V**3+V": V**3 + V,
    "PS*V**2": PS * V**2,
    "V.T*V+2*V**0": V.T * V + 2 * V0,
}


def _cases(specs: dict) -> list:
    """(entry, name) parameters for every zoo group where the rep is small enough for a quick dense check."""
    return [
        pytest.param(entry, name, id=f"{entry.id}-{name}")
        for entry in ZOO
        for name, spec in specs.items()
        if (spec if isinstance(spec, Spec) else spec[0] >> spec[1]).size(entry.G) <= 800
    ]


def _check_equivariant_columns(q: np.ndarray, spec: Spec, G, group) -> None:
    for g in group.samples(3, rng=0):
        rho = spec.rho(G, g)
        assert_close(rho @ q, q, scale=np.abs(rho).max(), what="rho(g) q = q")


@pytest.mark.parametrize("entry, name", _cases(HOMS))
def test_hom_basis_columns_are_equivariant_maps(entry, name):
    G = entry.G
    a, b = HOMS[name]
    rep = a.build(G) >> b.build(G)
    Q = np.asarray(rep.equivariant_basis())
    n_in, n_out = a.size(G), b.size(G)
    assert Q.shape[0] == n_in * n_out
    for g in G.samples(3, rng=1):
        rho_in, rho_out = a.rho(G, g), b.rho(G, g)
        scale = np.abs(rho_in).max() * np.abs(rho_out).max()
        for k in range(Q.shape[1]):
            W = Q[:, k].reshape(n_out, n_in)  # row-major (out, in)
            assert_close(rho_out @ W, W @ rho_in, scale=scale, what=f"column {k}: rho_out W = W rho_in")


@pytest.mark.parametrize("entry, name", _cases(PLAIN))
def test_invariant_basis_columns_are_fixed(entry, name):
    G = entry.G
    spec = PLAIN[name]
    Q = np.asarray(spec.build(G).equivariant_basis())
    _check_equivariant_columns(Q, spec, G, G)


@pytest.mark.parametrize("entry, name", _cases({**PLAIN, **HOMS}))
def test_q_is_orthonormal_and_p_is_its_projector(entry, name):
    G = entry.G
    spec = PLAIN[name] if name in PLAIN else HOMS[name][0] >> HOMS[name][1]
    rep = spec.build(G)
    basis = rep.equivariant_basis()
    Q = np.asarray(basis)
    n, r = Q.shape
    assert (n, r) == basis.shape == (rep.size, basis.dim) and len(basis) == r
    assert_close(Q.T @ Q, np.eye(r), what="QᵀQ = I")
    projector = rep.equivariant_projector()
    P = np.asarray(projector)
    assert P.shape == projector.shape == (n, n)
    assert_close(P @ P, P, what="P² = P")
    assert_close(P, P.T, what="P = Pᵀ")
    assert_close(P @ Q, Q, what="P Q = Q")
    assert_close(P, Q @ Q.T, what="P = Q Qᵀ")
    rng = np.random.default_rng(0)
    w = rng.standard_normal(n)
    batch = rng.standard_normal((n, 3))
    assert_close(projector @ w, P @ w, what="P @ vector")
    assert_close(projector @ batch, P @ batch, what="P @ (size, batch)")
    assert_close(projector @ Q, Q, what="P @ Q")
    c = rng.standard_normal(r)
    assert_close(basis @ c, Q @ c, what="Q @ c")
    assert_close(basis.T @ w, Q.T @ w, what="Q.T @ w")
    assert_close(basis.T @ batch, Q.T @ batch, what="Q.T @ (size, batch)")


@pytest.mark.parametrize("entry", params(ZOO))
def test_projection_of_any_vector_is_equivariant(entry):
    G = entry.G
    spec = (V + V0) >> (V**2 + V) if G.d <= 4 else (V + V0) >> (2 * V)
    rep = spec.build(G)
    w = np.random.default_rng(2).standard_normal(rep.size)
    pw = rep.equivariant_projector() @ w
    _check_equivariant_columns(pw[:, None], spec, G, G)
    # and P removes nothing equivariant: w − Pw is orthogonal to the basis
    assert_close(rep.equivariant_basis().T @ (w - pw), np.zeros(rep.equivariant_basis().dim))


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_random_reps_have_the_independent_dimension_and_equivariant_columns(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    rep, group = build_case(entry, spec, on_sub)
    G = entry.G
    Q = np.asarray(rep.equivariant_basis())
    if group.is_finite:
        expected = character_count(spec, G, group.elements())
    else:
        expected = constraint_nullity(spec, G, group)
    assert Q.shape == (rep.size, expected)
    assert_close(Q.T @ Q, np.eye(expected), what="QᵀQ = I")
    _check_equivariant_columns(Q, spec, G, group)


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_random_projections_are_idempotent_and_equivariant(entry, data):
    spec, on_sub = data.draw(rep_cases(entry, max_size=48), label="spec, on_sub")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rep, group = build_case(entry, spec, on_sub)
    P = rep.equivariant_projector()
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rep.size, 2))
    pw = P @ w
    assert_close(P @ pw, pw, what="P² w = P w")
    g = group.sample(rng)
    rho = spec.rho(entry.G, g)
    assert_close(rho @ pw, pw, scale=np.abs(rho).max() * max(1.0, np.abs(pw).max()), what="rho(g) P w = P w")


def test_basis_of_a_rep_without_invariants_is_empty():
    from constrainnet.groups import SO

    basis = cn.V(SO(3)).equivariant_basis()
    assert basis.shape == (3, 0) and basis.dim == 0
    assert np.asarray(basis).shape == (3, 0)
    P = cn.V(SO(3)).equivariant_projector()
    assert_close(P @ np.ones(3), np.zeros(3))
    assert_close(np.asarray(P), np.zeros((3, 3)), tol=TOL)

"""The rep algebra on concrete cases, against formulas written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import constrainnet as cn
from constrainnet.groups import LORENTZ_METRIC, D, Lorentz, O, S, SO, Subgroup
from zoo import TOL, ZOO, assert_close, params, so_generator


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize("entry", params(ZOO))
def test_defining_rep_and_scalar(entry):
    G = entry.G
    V = cn.V(G)
    g = G.sample(rng=0)
    assert V.size == G.d and V.G == G
    np.testing.assert_array_equal(V.rho(g), g)
    assert (V**0).size == 1 and V**0 == cn.Scalar(G)
    np.testing.assert_array_equal((V**0).rho(g), np.ones((1, 1)))
    assert V**1 == V


@pytest.mark.parametrize("entry", params(ZOO))
def test_pseudoscalar_is_the_determinant(entry):
    G = entry.G
    ps = cn.PseudoScalar(G)
    g = G.sample(rng=1)
    assert ps.size == 1
    assert_close(ps.rho(g), [[np.linalg.det(g)]])
    if len(G.lie_algebra):
        a = G.lie_algebra[0] + 0.5 * np.eye(G.d)
        assert_close(ps.drho(a), [[np.trace(a)]])


def test_pseudoscalar_is_odd_under_reflections():
    ps = cn.PseudoScalar(O(3))
    assert ps.rho(-np.eye(3))[0, 0] == pytest.approx(-1.0)
    assert ps.rho(np.diag([-1.0, 1.0, 1.0]))[0, 0] == pytest.approx(-1.0)
    assert ps.rho(SO(3).sample(rng=0))[0, 0] == pytest.approx(1.0)


def test_direct_sum_is_block_diagonal_in_order(rng):
    G = SO(3)
    V = cn.V(G)
    rep = V**2 + V + 2 * V**0
    g = G.sample(rng)
    assert rep.size == 9 + 3 + 2
    expected = scipy.linalg.block_diag(np.kron(g, g), g, 1.0, 1.0)
    assert_close(rep.rho(g), expected)


def test_tensor_product_is_the_row_major_kronecker_product(rng):
    G = O(3)
    V = cn.V(G)
    g = G.sample(rng)
    x = rng.standard_normal(3)
    y = rng.standard_normal(3)
    # (g x) ⊗ (g y) = ρ(g) (x ⊗ y), with x ⊗ y = np.outer(x, y).ravel()
    assert_close((V * V).rho(g) @ np.outer(x, y).ravel(), np.outer(g @ x, g @ y).ravel())
    assert_close((V**3).rho(g), np.kron(np.kron(g, g), g))


@pytest.mark.parametrize("G", [SO(3), Lorentz(), D(4), S(4)], ids=repr)
def test_hom_acts_on_row_major_matrices(G, rng):
    V = cn.V(G)
    rep_in, rep_out = V + V**0, V**2
    hom = rep_in >> rep_out
    assert hom.size == rep_in.size * rep_out.size
    g = G.sample(rng)
    W = rng.standard_normal((rep_out.size, rep_in.size))
    # g acts on a map W by W ↦ ρ_out(g) W ρ_in(g)⁻¹, on W.reshape(-1)
    expected = rep_out.rho(g) @ W @ np.linalg.inv(rep_in.rho(g))
    assert_close(hom.rho(g) @ W.reshape(-1), expected.reshape(-1), scale=np.abs(expected).max())
    assert hom.rep_in == rep_in and hom.rep_out == rep_out


def test_dual_is_the_inverse_transpose(rng):
    G = Lorentz()
    V = cn.V(G)
    g = G.sample(rng)
    assert_close(V.T.rho(g), np.linalg.inv(g).T, scale=np.abs(g).max() ** 2)
    # for the Lorentz group, g⁻ᵀ = η g η
    assert_close(V.T.rho(g), LORENTZ_METRIC @ g @ LORENTZ_METRIC, scale=np.abs(g).max())
    a = G.lie_algebra[4]
    assert_close(V.T.drho(a), -a.T)
    assert V.T != V and V.T.T == V
    x = rng.standard_normal(4)
    y = rng.standard_normal(4)
    # the pairing of V.T with V is invariant
    assert (V.T.rho(g) @ x) @ (V.rho(g) @ y) == pytest.approx(x @ y, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("G", [SO(3), O(3), D(4), S(4)], ids=repr)
def test_dual_of_an_orthogonal_rep_is_itself(G):
    V = cn.V(G)
    assert V.T == V
    assert (V**2 + V).T == V**2 + V


def test_tensor_powers_and_T(rng):
    G = Lorentz()
    V = cn.V(G)
    assert (V**3).size == 64
    assert cn.T(2, 0, G) == V**2
    assert cn.T(1, 1, G) == V * V.T
    assert cn.T(0, 0, G) == V**0
    assert cn.T(1, 2, G).size == 64
    g = G.sample(rng)
    assert_close(cn.T(1, 1, G).rho(g), np.kron(g, np.linalg.inv(g).T), scale=np.abs(g).max() ** 2)


def test_algebra_identities_are_value_equalities():
    V = cn.V(SO(3))
    assert (V + V**0) + V == V + (V**0 + V)
    assert V + V == 2 * V == V * 2
    assert 2 * (3 * V) == 6 * V
    assert (V * V) * V == V * (V * V) == V**3
    assert V**0 * V == V == V * V**0
    assert V**2 * V**3 == V**5
    assert sum([V, V, V**0]) == 2 * V + V**0
    assert V + V**0 != V**0 + V  # a direct sum is ordered: coordinates differ


@pytest.mark.parametrize("multiplicity", [2, np.int64(3)])
def test_numpy_integer_multiplicity(multiplicity):
    V = cn.V(SO(3))
    assert (multiplicity * V).size == 3 * int(multiplicity)
    assert multiplicity * V == V * multiplicity == int(multiplicity) * V


def test_drho_of_tensor_products_follows_the_leibniz_rule(rng):
    G = SO(3)
    V = cn.V(G)
    a = np.tensordot(rng.standard_normal(3), G.lie_algebra, axes=1)
    eye = np.eye(3)
    expected = np.kron(np.kron(a, eye), eye) + np.kron(np.kron(eye, a), eye) + np.kron(np.kron(eye, eye), a)
    assert_close((V**3).drho(a), expected)
    assert_close((V >> V).drho(a), np.kron(a, eye) - np.kron(eye, a.T))


def test_restrict_gives_the_same_matrices_on_the_subgroup(rng):
    H = Subgroup(O(3), discrete_generators=[np.diag([1.0, 1.0, -1.0])], lie_algebra=[so_generator(3, 0, 1)])
    V = cn.V(O(3))
    rep = (V**2 + V.T) >> V
    restricted = rep.restrict(H)
    assert restricted.G == H and restricted.size == rep.size
    assert restricted == (cn.V(H) ** 2 + cn.V(H).T) >> cn.V(H)
    for h in H.samples(3, rng):
        np.testing.assert_array_equal(restricted.rho(h), rep.rho(h))


def test_restricting_the_lorentz_dual_to_rotations_is_the_vector():
    K = Subgroup(Lorentz(), lie_algebra=Lorentz().lie_algebra[:3], name="SO(3)<Lorentz")
    V = cn.V(Lorentz())
    h = K.sample(rng=0)
    assert_close(V.T.restrict(K).rho(h), V.restrict(K).rho(h), tol=TOL)


def test_factor_reps_of_a_product(rng):
    P = SO(3) * S(4)
    V0, V1 = cn.V(P, factor=0), cn.V(P, factor=1)
    g = P.sample(rng)
    rep = V0**2 * V1 + cn.PseudoScalar(P)
    assert rep.size == 37
    expected = scipy.linalg.block_diag(np.kron(np.kron(g[:3, :3], g[:3, :3]), g[3:, 3:]), np.linalg.det(g))
    assert_close(rep.rho(g), expected)


def test_multiplicity_of_a_sum_repeats_the_whole_sum(rng):
    # n * rep is n copies of rep, one after the other: 2*(V**0 + V) has
    # coordinates (s, v, s, v), as e3nn's 2 * Irreps("0e + 1o") does.
    G = SO(3)
    V = cn.V(G)
    g = G.sample(rng)
    rep = 2 * (V**0 + V)
    assert rep.size == 8
    assert_close(rep.rho(g), scipy.linalg.block_diag(1.0, g, 1.0, g))
    assert rep == (V**0 + V) + (V**0 + V)

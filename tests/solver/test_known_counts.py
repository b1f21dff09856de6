"""Known invariant counts of Lie groups and symmetric groups, and the invariants themselves."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import LORENTZ_METRIC, Lorentz, O, S, SO
from zoo import TOL, assert_close, riordan

# dim of the SO(3) invariants of V**n (Riordan numbers, OEIS A005043)
RIORDAN = [1, 0, 1, 1, 3, 6, 15, 36, 91]


def test_riordan_table_matches_its_closed_form():
    assert [riordan(n) for n in range(9)] == RIORDAN


@pytest.mark.parametrize(
    "n", [*range(7), pytest.param(7, marks=pytest.mark.slow), pytest.param(8, marks=pytest.mark.slow)]
)
def test_so3_invariants_of_tensor_powers_are_riordan_numbers(n):
    assert (cn.V(SO(3)) ** n).equivariant_basis().dim == RIORDAN[n]


@pytest.mark.parametrize("n", range(7))
def test_o3_invariants_are_riordan_for_even_and_zero_for_odd_powers(n):
    expected = RIORDAN[n] if n % 2 == 0 else 0
    assert (cn.V(O(3)) ** n).equivariant_basis().dim == expected


@pytest.mark.parametrize("n", range(9))
def test_so2_invariants_are_central_binomials(n):
    expected = math.comb(n, n // 2) if n % 2 == 0 else 0
    assert (cn.V(SO(2)) ** n).equivariant_basis().dim == expected


@pytest.mark.parametrize("n", range(9))
def test_o2_invariants_are_half_the_central_binomials(n):
    expected = 1 if n == 0 else (math.comb(n, n // 2) // 2 if n % 2 == 0 else 0)
    assert (cn.V(O(2)) ** n).equivariant_basis().dim == expected


@pytest.mark.parametrize("n", [4, 5, 6])
def test_sn_maps_of_matrices_have_15_parameters(n):
    V = cn.V(S(n))
    assert (V**2 >> V**2).equivariant_basis().dim == 15


@pytest.mark.parametrize("k, bell", [(0, 1), (1, 1), (2, 2), (3, 5), (4, 15)])
def test_sn_invariants_of_v_k_are_bell_numbers(k, bell):
    # for n >= k, the S(n) invariants of V**k are indexed by set partitions of k indices
    assert (cn.V(S(5)) ** k).equivariant_basis().dim == bell


def test_lorentz_metric_spans_the_invariants_of_v2():
    Q = np.asarray((cn.V(Lorentz()) ** 2).equivariant_basis())
    assert Q.shape == (16, 1)
    eta = LORENTZ_METRIC.reshape(-1) / 2.0  # unit norm
    assert abs(Q[:, 0] @ eta) == pytest.approx(1.0, abs=TOL)
    # canonical: positive at the first non-zero coordinate
    assert_close(Q[:, 0], eta)


def test_lorentz_identity_spans_the_maps_v_to_v_and_the_dual_pairing():
    V = cn.V(Lorentz())
    Q = np.asarray((V >> V).equivariant_basis())
    assert Q.shape == (16, 1)
    assert_close(Q[:, 0], np.eye(4).reshape(-1) / 2.0)
    Q = np.asarray((V.T * V).equivariant_basis())
    assert_close(Q[:, 0], np.eye(4).reshape(-1) / 2.0)


@pytest.mark.parametrize("n, expected", [(1, 0), (2, 1), (3, 0), (4, 3)])
def test_lorentz_invariants_are_metric_contractions(n, expected):
    # O(1,3) with parity and time reversal: the Levi-Civita tensor is not invariant
    assert (cn.V(Lorentz()) ** n).equivariant_basis().dim == expected


def _levi_civita() -> np.ndarray:
    eps = np.zeros((3, 3, 3))
    for p in itertools.permutations(range(3)):
        eps[p] = np.linalg.det(np.eye(3)[list(p)])
    return eps


def test_o3_pseudoscalar_times_v3_is_spanned_by_levi_civita():
    G = O(3)
    rep = cn.PseudoScalar(G) * cn.V(G) ** 3
    Q = np.asarray(rep.equivariant_basis())
    assert Q.shape == (27, 1)
    eps = _levi_civita().reshape(-1) / np.sqrt(6.0)
    assert abs(Q[:, 0] @ eps) == pytest.approx(1.0, abs=TOL)
    assert (cn.V(G) ** 3).equivariant_basis().dim == 0


def test_so3_cross_product_and_parity():
    assert (cn.V(SO(3)) ** 2 >> cn.V(SO(3))).equivariant_basis().dim == 1
    assert (cn.V(O(3)) ** 2 >> cn.V(O(3))).equivariant_basis().dim == 0
    G = O(3)
    assert ((cn.V(G) ** 2 >> cn.V(G) * cn.PseudoScalar(G))).equivariant_basis().dim == 1


def test_so3_hidden_layer_dimension_from_multiplicities():
    """(100 V⁰ + 30 V + 10 V² + 3 V³) >> itself: Σ_ab m_a m_b R(a+b), without a dense projector."""
    G = SO(3)
    V = cn.V(G)
    mult = {0: 100, 1: 30, 2: 10, 3: 3}
    rep = sum((m * V**a for a, m in mult.items()), start=0)
    hom = rep >> rep
    expected = sum(mult[a] * mult[b] * RIORDAN[a + b] for a in mult for b in mult)
    Q = hom.equivariant_basis()
    assert hom.size == 361**2
    assert Q.dim == expected == 15435
    rng = np.random.default_rng(0)
    c = rng.standard_normal(Q.dim)
    assert_close(Q.T @ (Q @ c), c)
    P = hom.equivariant_projector()
    w = rng.standard_normal(hom.size)
    pw = P @ w
    assert_close(P @ pw, pw)
    g = G.sample(rng)
    # the projected map is equivariant: ρ_hom(g) Pw = Pw, applied with the structured rho_apply
    assert_close(hom.rho_apply(g, pw), pw, scale=np.abs(pw).max())
    with pytest.raises(cn.SolverError, match="apply it with @ instead"):
        np.asarray(P)


def test_product_group_invariants_multiply_over_the_factors():
    P = SO(3) * S(4)
    V0, V1 = cn.V(P, factor=0), cn.V(P, factor=1)
    positions = V0 * V1  # 4 points in R^3
    assert positions.equivariant_basis().dim == 0
    # Hom_SO(3)(V, V) = 1 (multiples of I), Hom_S(4)(perm, perm) = 2 (I and the all-ones matrix)
    assert (positions >> positions).equivariant_basis().dim == 1 * 2
    assert (V0**2 * V1**2).equivariant_basis().dim == 1 * 2


def test_orbit_bases_of_large_permutation_reps():
    from constrainnet.groups import P4M

    V = cn.V(S(8))
    assert (V**2 >> V**2).equivariant_basis().dim == 15
    G = P4M(8)  # 512 elements acting on 64 pixels
    elems = G.elements()
    traces = np.trace(elems, axis1=1, axis2=2)
    expected = int(round(np.mean(traces**2)))  # dim Hom_G(V, V) = (1/|G|) Σ χ(g)²
    assert (cn.V(G) >> cn.V(G)).equivariant_basis().dim == expected

"""Bad input to reps: the specific error class with a message naming what was expected and given."""

from __future__ import annotations

import re

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import O, S, SO, Subgroup
from constrainnet.reps.limits import MAX_REP_SIZE, MAX_TENSOR_ORDER


@pytest.fixture
def V():
    return cn.V(SO(3))


@pytest.mark.parametrize(
    "op, name",
    [
        (lambda a, b: a + b, "direct sum"),
        (lambda a, b: a * b, "tensor product"),
        (lambda a, b: a >> b, r"Hom \(>>\)"),
    ],
    ids=["sum", "tensor", "hom"],
)
def test_reps_of_different_groups_cannot_be_combined(V, op, name):
    W = cn.V(O(3))
    message = rf"{name}: expected reps of one group, got a rep of SO\(3\) and a rep of O\(3\)"
    with pytest.raises(cn.RepMismatchError, match=message):
        op(V, W)


def test_mismatch_deep_inside_an_expression(V):
    W = cn.V(S(3))
    with pytest.raises(cn.RepMismatchError, match=r"SO\(3\).*S\(3\)"):
        (V**2 + V) >> (V + W**2)


@pytest.mark.parametrize("shape", [(2, 2), (3,), (1, 3, 3), (3, 4)])
def test_rho_of_a_wrongly_shaped_element(V, shape):
    with pytest.raises(cn.RepError, match=re.escape(f"rho: expected a (3, 3) element of SO(3), got shape {shape}")):
        V.rho(np.ones(shape))


def test_drho_of_a_wrongly_shaped_element(V):
    with pytest.raises(cn.RepError, match=r"drho: expected a \(3, 3\) element of SO\(3\), got shape \(4, 4\)"):
        (V**2).drho(np.eye(4))


def test_rho_apply_of_a_wrongly_sized_vector(V):
    with pytest.raises(cn.RepMismatchError, match=r"expected an array whose last axis has size 9, got shape \(2, 8\)"):
        (V**2).rho_apply(np.eye(3), np.ones((2, 8)))


@pytest.mark.parametrize("n", [0, -1, -3])
def test_non_positive_multiplicity(V, n):
    with pytest.raises(cn.RepError, match=rf"multiplicity: expected a positive int, got {n}"):
        n * V
    with pytest.raises(cn.RepError, match="multiplicity: expected a positive int"):
        V * n


@pytest.mark.parametrize("n", [2.0, 1.5, True], ids=["2.0", "1.5", "True"])
def test_non_integer_multiplicity(V, n):
    with pytest.raises(cn.RepError, match=rf"multiplicity: expected a positive int, got {n!r}"):
        n * V
    with pytest.raises(cn.RepError, match="multiplicity: expected a positive int"):
        V * n


@pytest.mark.parametrize("n", [-1, 1.5, True], ids=["-1", "1.5", "True"])
def test_bad_tensor_power(V, n):
    with pytest.raises(cn.RepError, match=rf"tensor power: expected a non-negative int, got {n!r}"):
        V**n


def test_unsupported_operand_names_both_types(V):
    with pytest.raises(TypeError, match=r"'Vector' and 'str'|'str' and 'Vector'|Vector.*str"):
        V + "V"
    with pytest.raises(TypeError):
        V >> 3


def test_restrict_to_a_group_that_is_not_a_subgroup(V):
    with pytest.raises(cn.RepMismatchError, match=r"restrict: expected a Subgroup of SO\(3\), got SO\(2\)"):
        V.restrict(SO(2))


def test_restrict_to_a_subgroup_of_another_group():
    H = Subgroup(O(3), discrete_generators=[np.diag([-1.0, 1.0, 1.0])], name="Z2<O(3)")
    with pytest.raises(cn.RepMismatchError, match=r"expected a Subgroup of SO\(3\), got Z2<O\(3\)"):
        cn.V(SO(3)).restrict(H)


def test_restrict_to_a_non_group(V):
    with pytest.raises(TypeError, match="restrict: expected a Group, got str"):
        V.restrict("SO(2)")


def test_factor_of_a_group_that_is_not_a_product():
    with pytest.raises(cn.RepError, match=r"V\(G, factor=0\): expected a product group \(G1 \* G2\) or a Paired group, got SO\(3\)"):
        cn.V(SO(3), factor=0)


def test_factor_out_of_range():
    with pytest.raises(cn.RepError, match=r"factor: expected an int in \[0, 2\), got 2"):
        cn.V(SO(3) * S(3), factor=2)


def test_v_of_a_non_group():
    with pytest.raises(TypeError, match="V: expected a constrainnet Group, got str"):
        cn.V("SO(3)")


def test_t_without_a_group():
    with pytest.raises(cn.RepError, match=r"T\(p, q, G\): expected a group G, got None"):
        cn.T(1, 1)


def test_t_with_negative_indices():
    with pytest.raises(cn.RepError, match="T: expected a non-negative int p, got -1"):
        cn.T(-1, 0, SO(3))


# -- group elements: real and finite --------------------------------------------------
EVALUATIONS = {
    "rho": lambda rep, g: rep.rho(g),
    "drho": lambda rep, g: rep.drho(g),
    "rho_sparse": lambda rep, g: rep.rho_sparse(g),
    "drho_sparse": lambda rep, g: rep.drho_sparse(g),
    "rho_apply": lambda rep, g: rep.rho_apply(g, np.ones(rep.size)),
    "drho_apply": lambda rep, g: rep.drho_apply(g, np.ones(rep.size)),
}


@pytest.mark.parametrize("what", sorted(EVALUATIONS))
def test_complex_element_is_refused(V, what):
    g = np.diag([np.exp(0.3j), 1.0, 1.0])
    with pytest.raises(cn.RepError, match=rf"{what}: expected real float matrices, got complex dtype complex128"):
        EVALUATIONS[what](V**2 + V, g)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("what", sorted(EVALUATIONS))
def test_non_finite_element_is_refused(V, what, bad):
    g = np.eye(3)
    g[1, 2] = bad
    with pytest.raises(cn.RepError, match=rf"{what}: expected finite entries, got NaN or inf"):
        EVALUATIONS[what](V**2 + V, g)


def test_complex_dtype_with_zero_imaginary_part_is_its_real_part(V):
    g = SO(3).sample(rng=0)
    np.testing.assert_array_equal((V**2).rho(g + 0j), np.kron(g, g))


def test_rho_apply_refuses_a_complex_vector(V):
    with pytest.raises(cn.RepError, match=r"expected a real array, got complex dtype complex128"):
        V.rho_apply(np.eye(3), np.array([1.0, 1j, 0.0]))
    np.testing.assert_array_equal(V.rho_apply(np.eye(3), np.array([1.0, 2.0, 0.0]) + 0j), [1.0, 2.0, 0.0])


# -- tensor order and size: one bound however the rep is built ------------------------
def _chain(rep, n):
    out = rep
    for _ in range(n - 1):
        out = out * rep
    return out


def test_product_chain_has_the_bound_of_the_power():
    # V of O(1) is 1-dimensional: only the tensor order can stop V*V*…*V
    V1 = cn.V(O(1))
    assert _chain(V1, MAX_TENSOR_ORDER).tensor_order == MAX_TENSOR_ORDER
    message = rf"tensor product: expected a tensor order of at most {MAX_TENSOR_ORDER}, got {MAX_TENSOR_ORDER + 1}"
    with pytest.raises(cn.RepError, match=message):
        _chain(V1, MAX_TENSOR_ORDER + 1)
    with pytest.raises(cn.RepError, match=rf"tensor power: expected a tensor order of at most {MAX_TENSOR_ORDER}, got 40"):
        V1**40


@pytest.mark.parametrize(
    "build, order",
    [
        (lambda V: (V**20 + V) * V**13, 33),  # a sum counts as its largest component
        (lambda V: V**17 >> V**16, 33),  # a Hom adds input and output
        (lambda V: (V**16 >> V**8) * V**9, 33),
        (lambda V: (V**8).T ** 5, 40),
        (lambda V: (V + cn.PseudoScalar(V.G)) ** 33, 33),
    ],
    ids=["sum-in-product", "hom", "hom-in-product", "power-of-dual-power", "power-of-sum"],
)
def test_tensor_order_is_bounded_through_sums_and_homs(build, order):
    with pytest.raises(cn.RepError, match=rf"expected a tensor order of at most {MAX_TENSOR_ORDER}, got {order}"):
        build(cn.V(O(1)))


def test_tensor_order_counts():
    V = cn.V(SO(3))
    assert (V**0).tensor_order == 0 and V.tensor_order == 1 and (V**3).tensor_order == 3
    assert (V**2 + V).tensor_order == 2 and (V**2 >> V).tensor_order == 3 and (3 * V**0).tensor_order == 1


@pytest.mark.parametrize(
    "build, what, size",
    [
        (lambda V: _chain(V, 40), "tensor product", 3**20),  # stopped at the first factor past the bound
        (lambda V: V**20, "tensor product", 3**20),
        (lambda V: V**10 >> V**10, r"Hom \(>>\)", 3**20),
        (lambda V: 10**12 * V, "multiplicity", 3 * 10**12),
        (lambda V: 10**9 * (V + V**0), "multiplicity", 4 * 10**9),
        (lambda V: V**19 + V**19, "direct sum", 2 * 3**19),
    ],
    ids=["chain", "power", "hom", "multiplicity", "multiplicity-of-sum", "sum"],
)
def test_size_is_bounded(build, what, size):
    with pytest.raises(cn.RepError, match=rf"{what}: expected a rep of size at most {MAX_REP_SIZE} \(2\*\*31\), got size {size}"):
        build(cn.V(SO(3)))


def test_size_is_exact_beyond_int64():
    # 10⁴ ** 4 = 10¹⁶ fits in int64 but 10⁴ ** 5 would wrap around in np.prod; both are refused exactly
    V = cn.V(S(10_000))
    with pytest.raises(cn.RepError, match=r"got size 1000000000000"):
        V**3
    with pytest.raises(cn.RepError, match=r"got size ≥ 2\*\*"):
        10**40 * V


def test_huge_exponent_is_refused_before_its_factors_are_listed(V):
    with pytest.raises(cn.RepError, match=r"tensor power: expected a tensor order of at most 32, got 1000000000000"):
        V ** (10**12)
    assert cn.Scalar(SO(3)) ** (10**12) == cn.Scalar(SO(3))


def test_largest_allowed_reps_are_built(V):
    assert (V**19).size == 3**19 and (V**19).tensor_order == 19
    W = cn.V(O(1))
    assert (W**MAX_TENSOR_ORDER).size == 1

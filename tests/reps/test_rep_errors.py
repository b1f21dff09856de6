"""Bad input to reps: the specific error class with a message naming what was expected and given."""

from __future__ import annotations

import re

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import O, S, SO, Subgroup


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
    with pytest.raises(cn.RepError, match=r"V\(G, factor=0\): expected a product group \(G1 \* G2\), got SO\(3\)"):
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

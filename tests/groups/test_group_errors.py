"""Bad input to groups: each case raises the specific error with a message saying what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import C, D, Group, Lorentz, O, P4M, S, SO, Subgroup, Z
from zoo import so_generator


def test_errors_belong_to_the_family_and_refine_builtins():
    assert issubclass(cn.GroupError, cn.ConstrainnetError) and issubclass(cn.GroupError, ValueError)
    assert issubclass(cn.RepError, ValueError) and issubclass(cn.RepMismatchError, ValueError)
    assert issubclass(cn.SolverError, cn.ConstrainnetError) and issubclass(cn.SolverError, RuntimeError)


def test_non_square_generators():
    with pytest.raises(cn.GroupError, match=r"expected square \(d, d\) matrices, got shape \(2, 3\)"):
        Group(discrete_generators=np.ones((1, 2, 3)))


def test_non_square_lie_algebra():
    with pytest.raises(cn.GroupError, match=r"lie_algebra: expected square"):
        Group(lie_algebra=np.zeros((1, 3, 2)))


def test_generators_of_mismatched_sizes():
    with pytest.raises(cn.GroupError, match=r"expected matrices of size \(2, 2\).*got \(3, 3\)"):
        Group(discrete_generators=[np.eye(2)], lie_algebra=np.zeros((1, 3, 3)))


def test_ragged_generator_list():
    with pytest.raises(cn.GroupError, match=r"discrete_generators: expected a numeric \(k, d, d\) array"):
        Group(discrete_generators=[np.eye(2), np.eye(3)])


def test_generators_of_the_wrong_rank():
    with pytest.raises(cn.GroupError, match=r"expected a \(k, d, d\) array, got shape"):
        Group(discrete_generators=np.ones((1, 1, 2, 2)))


def test_non_invertible_generator():
    with pytest.raises(cn.GroupError, match=r"discrete_generators\[0\]: expected an invertible matrix"):
        Group(discrete_generators=[[[1.0, 0.0], [0.0, 0.0]]])


def test_numerically_singular_generator():
    with pytest.raises(cn.GroupError, match=r"discrete_generators\[1\]: expected an invertible matrix"):
        Group(discrete_generators=[np.eye(2), [[1.0, 1.0], [1.0, 1.0 + 1e-15]]])


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_generator(bad):
    with pytest.raises(cn.GroupError, match="expected finite entries"):
        Group(discrete_generators=[[[bad, 0.0], [0.0, 1.0]]])


def test_no_generators_and_no_dimension():
    with pytest.raises(cn.GroupError, match="expected non-empty generators or a dimension d"):
        Group()


@pytest.mark.parametrize("family", [Z, C, D, S, P4M, SO, O])
@pytest.mark.parametrize("n", [0, -2, 2.0, "3"], ids=["zero", "negative", "float", "str"])
def test_family_size_must_be_a_positive_int(family, n):
    with pytest.raises(cn.GroupError, match=r"expected an int >= 1, got"):
        family(n)


def test_elements_of_a_continuous_group():
    with pytest.raises(cn.GroupError, match=r"SO\(3\) is continuous.*expected a finite group"):
        SO(3).elements()


def test_order_of_a_continuous_group():
    with pytest.raises(cn.GroupError, match=r"continuous"):
        Lorentz().order


def test_elements_past_the_size_bound():
    with pytest.raises(cn.GroupError, match=r"Z\(10\) has more than 5 elements"):
        Z(10).elements(max_order=5)


def test_generator_of_infinite_order_hits_the_bound():
    G = Group(discrete_generators=[np.diag([2.0, 1.0])], name="scaling")
    with pytest.raises(cn.GroupError, match=r"scaling has more than 50 elements"):
        G.elements(max_order=50)


def test_cayley_table_of_a_large_group():
    with pytest.raises(cn.GroupError, match=r"more than 100 elements"):
        S(6).cayley_table(max_order=100)


def test_subgroup_generator_not_in_the_parent():
    with pytest.raises(cn.GroupError, match=r"discrete_generators\[0\]: expected an element of SO\(3\)"):
        Subgroup(SO(3), discrete_generators=[np.diag([-1.0, 1.0, 1.0])])


def test_subgroup_generator_not_in_a_finite_parent():
    with pytest.raises(cn.GroupError, match=r"expected an element of D\(4\)"):
        Subgroup(D(4), discrete_generators=[np.array([[np.cos(0.1), -np.sin(0.1)], [np.sin(0.1), np.cos(0.1)]])])


def test_subgroup_lie_generator_not_in_the_parent_algebra():
    with pytest.raises(cn.GroupError, match=r"lie_algebra\[0\]: expected an element of the Lie algebra of SO\(3\)"):
        Subgroup(SO(3), lie_algebra=[np.diag([1.0, 0.0, 0.0])])


def test_subgroup_lie_generator_of_a_finite_parent():
    with pytest.raises(cn.GroupError, match=r"expected an element of the Lie algebra of D\(4\)"):
        Subgroup(D(4), lie_algebra=[so_generator(2, 0, 1)])


def test_subgroup_of_the_wrong_size():
    with pytest.raises(cn.GroupError, match=r"expected matrices of size \(3, 3\)"):
        Subgroup(SO(3), discrete_generators=[np.eye(2)])


def test_subgroup_of_a_non_group():
    with pytest.raises(TypeError, match="parent: expected a Group, got str"):
        Subgroup("SO(3)", lie_algebra=[so_generator(3, 0, 1)])


def test_product_with_a_non_group():
    with pytest.raises(TypeError):
        SO(3) * 3


def test_sample_with_a_bad_rng():
    with pytest.raises(TypeError, match=r"rng: expected None, an int seed or a numpy.random.Generator, got str"):
        SO(3).sample(rng="seed")


@pytest.mark.parametrize("n", [-1, 1.5])
def test_samples_with_a_bad_count(n):
    with pytest.raises(TypeError, match="n: expected a non-negative int"):
        SO(3).samples(n)

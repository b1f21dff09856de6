"""Bad input to groups: each case raises the specific error with a message saying what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import MAX_DIMENSION, MAX_IMAGE_SIZE, MAX_ORTHOGONAL_N, C, D, Group, Lorentz, O, P4M, ProductGroup, S, SO, Subgroup, Trivial, Z
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


# -- complex input: a real matrix group never takes a complex matrix silently -------------
COMPLEX_DIAG = np.diag([np.exp(0.3j), 1 + 1j])


@pytest.mark.parametrize(
    "build",
    [
        lambda: Group(discrete_generators=[COMPLEX_DIAG]),
        lambda: Group(lie_algebra=[np.array([[0.0, 1j], [-1j, 0.0]])]),
        lambda: Group(discrete_generators=[np.eye(2)], lie_algebra=[1j * so_generator(2, 0, 1)]),
        lambda: Subgroup(SO(2), discrete_generators=[COMPLEX_DIAG]),
        lambda: Subgroup(SO(3), lie_algebra=[1j * so_generator(3, 0, 1)]),
    ],
    ids=["generator", "lie", "lie-with-generators", "subgroup-generator", "subgroup-lie"],
)
def test_complex_generators_are_refused(build):
    with pytest.raises(cn.GroupError, match=r"expected real float matrices, got complex dtype complex128"):
        build()


def test_complex_dtype_with_zero_imaginary_part_is_its_real_part():
    swap = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert Group(discrete_generators=[swap + 0j]) == Group(discrete_generators=[swap])


@pytest.mark.parametrize("group", [SO(3), O(3), S(3), Lorentz(), SO(2) * S(2), Group(discrete_generators=[np.eye(3)])], ids=repr)
def test_contains_refuses_a_complex_element(group):
    g = np.eye(group.d) * np.exp(0.1j)
    with pytest.raises(cn.GroupError, match=r"contains: group element: expected real float matrices"):
        group.contains(g)
    assert group.contains(np.eye(group.d) + 0j)


def test_lie_contains_refuses_complex_and_non_finite_elements():
    with pytest.raises(cn.GroupError, match=r"lie_contains: group element: expected real float matrices"):
        SO(3).lie_contains(1j * so_generator(3, 0, 1))
    with pytest.raises(cn.GroupError, match=r"expected finite entries, got NaN or inf"):
        SO(3).lie_contains(np.full((3, 3), np.nan))


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_lie_algebra_and_elements(bad):
    with pytest.raises(cn.GroupError, match="lie_algebra: expected finite entries"):
        Group(lie_algebra=[[[0.0, bad], [0.0, 0.0]]])
    with pytest.raises(cn.GroupError, match="contains: group element: expected finite entries"):
        SO(2).contains(np.array([[bad, 0.0], [0.0, 1.0]]))


# -- resource limits: refused before anything is built ----------------------------------
@pytest.mark.parametrize(
    "build, fragment",
    [
        (lambda: Z(10**9), r"Z\(n\): expected n ≤ 10000, got 1000000000"),
        (lambda: S(10**9), r"S\(n\): expected n ≤ 10000, got 1000000000"),
        (lambda: Trivial(10**9), r"Trivial\(n\): expected n ≤ 10000, got"),
        (lambda: SO(2000), r"SO\(n\): expected n ≤ 64, got 2000 \(so\(n\) has n\(n-1\)/2 generators"),
        (lambda: O(65), r"O\(n\): expected n ≤ 64, got 65"),
        (lambda: P4M(10**5), r"P4M\(n\): expected n ≤ 100, got 100000 \(P4M\(n\) acts on n² pixels"),
        (lambda: Group(d=10**6), r"Group\(d\): expected a defining dimension d ≤ 10000, got d = 1000000"),
    ],
    ids=["Z", "S", "Trivial", "SO", "O", "P4M", "Group-d"],
)
def test_sizes_beyond_the_caps_are_refused(build, fragment):
    with pytest.raises(cn.GroupError, match=fragment):
        build()


def test_the_caps_themselves_are_allowed():
    assert SO(MAX_ORTHOGONAL_N).d == 64 and O(2).d == 2
    assert Z(MAX_DIMENSION).d == MAX_DIMENSION and P4M(MAX_IMAGE_SIZE).d == MAX_DIMENSION


def test_custom_group_larger_than_the_cap_is_refused_before_any_work(monkeypatch):
    import constrainnet.groups.base as base

    def no_svd(gens, what):
        raise AssertionError("check_invertible ran before the dimension cap")

    monkeypatch.setattr(base, "check_invertible", no_svd)
    huge = np.broadcast_to(np.float64(1.0), (1, MAX_DIMENSION + 1, MAX_DIMENSION + 1))  # a view: no memory
    with pytest.raises(cn.GroupError, match=r"discrete_generators: expected a defining dimension d ≤ 10000, got d = 10001"):
        Group(discrete_generators=huge)


def test_product_beyond_the_dimension_cap():
    with pytest.raises(cn.GroupError, match=r"ProductGroup of 2 factors: expected a defining dimension d ≤ 10000, got d = 10003"):
        S(3) * Z(MAX_DIMENSION)


def test_product_with_too_large_dense_generators():
    # 300 rotations of R², each embedded as a 600×600 block matrix: 1.08·10⁸ entries
    with pytest.raises(cn.GroupError, match=r"expected at most 100000000 entries in the generator stacks, got 300 generators of 600×600"):
        ProductGroup(*[C(3)] * 300)


@pytest.mark.parametrize("d", [0, -1, 2.0, True], ids=["zero", "negative", "float", "bool"])
def test_group_dimension_must_be_a_positive_int(d):
    with pytest.raises(cn.GroupError, match=r"Group\(d\): expected an int d >= 1, got"):
        Group(d=d)

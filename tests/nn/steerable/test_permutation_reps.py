"""regular, quotient and lattice_points: homomorphisms, characters and errors, against brute-force counts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import C, D, SO, S

from steerable_refs import one_torch_thread  # noqa: F401  (tests/nn/steerable/steerable_refs.py; an autouse fixture)

HEX_BASIS = np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]])


def index_of(elements, g):
    """Position of g among the elements, by a tolerance search (not the library's keys)."""
    hits = np.flatnonzero(np.abs(np.asarray(elements) - g).max(axis=(1, 2)) < 1e-9)
    assert len(hits) == 1, "an element should appear exactly once"
    return int(hits[0])


def lattice_map(g, basis):
    m = np.linalg.inv(basis) @ g @ basis
    assert np.allclose(m, np.rint(m), atol=1e-9)
    return np.rint(m).astype(int)


def square_window(r):
    return np.array(list(itertools.product(range(-r, r + 1), repeat=2)))


def hex_window(r):
    return np.array([(a, b) for a, b in itertools.product(range(-r, r + 1), repeat=2) if abs(a) + abs(b) + abs(a + b) <= 2 * r])


def rep_cases():
    """(id, G, rep builder) for every kind of permutation rep, over D(4), C(6) and D(6)."""
    cases = []
    for name, G in (("D4", D(4)), ("C6", C(6)), ("D6", D(6))):
        cases.append((f"regular-{name}", G, lambda G=G: cn.regular(G)))
    cases += [
        ("quotient-D4/C4", D(4), lambda: cn.quotient(D(4), C(4))),
        ("quotient-D4/C2", D(4), lambda: cn.quotient(D(4), C(2))),
        ("quotient-D4/D1", D(4), lambda: cn.quotient(D(4), D(1))),
        ("quotient-C6/C2", C(6), lambda: cn.quotient(C(6), C(2))),
        ("quotient-C6/C3", C(6), lambda: cn.quotient(C(6), C(3))),
        ("quotient-D6/D1", D(6), lambda: cn.quotient(D(6), D(1))),
        ("quotient-D6/D3", D(6), lambda: cn.quotient(D(6), D(3))),
        ("lattice-D4-5x5", D(4), lambda: cn.lattice_points(D(4), square_window(2))),
        ("lattice-C6-hex2", C(6), lambda: cn.lattice_points(C(6), hex_window(2), HEX_BASIS)),
        ("lattice-D6-hex2", D(6), lambda: cn.lattice_points(D(6), hex_window(2), HEX_BASIS)),
    ]
    return cases


CASES = rep_cases()


@pytest.mark.parametrize("G, build", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rho_is_a_homomorphism_of_permutation_matrices(G, build):
    rep = build()
    elements = G.elements()
    rhos = [rep.rho(g) for g in elements]
    for P in rhos:
        assert set(np.unique(P)) <= {0.0, 1.0}
        np.testing.assert_array_equal(P.sum(0), 1)
        np.testing.assert_array_equal(P.sum(1), 1)
    for (i, a), (j, b) in itertools.product(enumerate(elements), repeat=2):
        np.testing.assert_allclose(rep.rho(a @ b), rhos[i] @ rhos[j], atol=0)
    np.testing.assert_array_equal(rep.rho(np.eye(2)), np.eye(rep.size))


@pytest.mark.parametrize("G", [D(4), C(6), D(6)], ids=["D4", "C6", "D6"])
def test_regular_rep_is_left_multiplication_with_the_regular_character(G):
    R = cn.regular(G)
    elements = G.elements()
    assert R.size == len(elements) == G.order
    for g in elements:
        P = R.rho(g)
        is_identity = np.allclose(g, np.eye(2))
        assert np.trace(P) == (len(elements) if is_identity else 0)
        for j, h in enumerate(elements):  # ρ(g) e_h = e_{gh}
            assert P[index_of(elements, g @ h), j] == 1
    assert (R >> R).equivariant_basis().dim == len(elements)
    assert (cn.Scalar(G) >> R).equivariant_basis().dim == 1  # one orbit


def brute_force_cosets(G, H):
    """The left cosets xH as sorted tuples of element indices."""
    elements = G.elements()
    cosets = {tuple(sorted(index_of(elements, x @ h) for h in H.elements())) for x in elements}
    return elements, sorted(cosets)


QUOTIENTS = [
    (D(4), C(4)), (D(4), C(2)), (D(4), D(2)), (D(4), D(1)), (D(4), C(1)), (D(4), D(4)),
    (C(6), C(3)), (C(6), C(2)), (D(6), D(3)), (D(6), D(1)), (D(6), C(6)),
]


@pytest.mark.parametrize("G, H", QUOTIENTS, ids=[f"{G!r}/{H!r}" for G, H in QUOTIENTS])
def test_quotient_size_and_character_count_fixed_cosets(G, H):
    Q = cn.quotient(G, H)
    elements, cosets = brute_force_cosets(G, H)
    assert Q.size == len(cosets) == len(elements) // len(H.elements())
    for g in elements:
        # g fixes the coset xH when g x H = x H
        fixed = sum(1 for coset in cosets if tuple(sorted(index_of(elements, g @ elements[i]) for i in coset)) == coset)
        assert np.trace(Q.rho(g)) == fixed
    # Burnside: dim Hom_G(Q, Q) is the number of double cosets H\G/H
    double = {frozenset(index_of(elements, h1 @ x @ h2) for h1 in H.elements() for h2 in H.elements()) for x in elements}
    assert (Q >> Q).equivariant_basis().dim == len(double)


def test_quotient_by_the_whole_group_is_trivial_and_by_the_identity_is_regular_sized():
    G = D(4)
    assert cn.quotient(G, G).size == 1
    np.testing.assert_array_equal(cn.quotient(G, G).rho(G.discrete_generators[0]), [[1.0]])
    Q = cn.quotient(G, C(1))
    assert Q.size == 8
    for g in G.elements():
        assert np.trace(Q.rho(g)) == np.trace(cn.regular(G).rho(g))


LATTICES = [
    ("D4-square-r1", D(4), square_window(1), None),
    ("D4-square-r2", D(4), square_window(2), None),
    ("C4-square-r2", C(4), square_window(2), None),
    ("D2-square-r2", D(2), square_window(2), None),
    ("C6-hex-r2", C(6), hex_window(2), HEX_BASIS),
    ("D6-hex-r2", D(6), hex_window(2), HEX_BASIS),
    ("D3-hex-r1", D(3), hex_window(1), HEX_BASIS),
]


@pytest.mark.parametrize("G, points, basis", [c[1:] for c in LATTICES], ids=[c[0] for c in LATTICES])
def test_lattice_points_move_by_the_integer_lattice_matrices(G, points, basis):
    W = cn.lattice_points(G, points, basis)
    B = np.eye(2) if basis is None else basis
    assert W.size == len(points)
    lookup = {tuple(p): i for i, p in enumerate(points.tolist())}
    for g in G.elements():
        L = lattice_map(g, B)
        P = W.rho(g)
        moved = points @ L.T
        for i, q in enumerate(moved.tolist()):
            assert P[lookup[tuple(q)], i] == 1  # ρ(g) e_x = e_{L(g) x}
        assert np.trace(P) == sum(1 for p, q in zip(points.tolist(), moved.tolist()) if p == q)
    # invariant vectors: one per orbit, counted by brute force
    orbits = {frozenset(tuple(L @ p) for L in (lattice_map(g, B) for g in G.elements())) for p in points}
    assert (cn.Scalar(G) >> W).equivariant_basis().dim == len(orbits)


def test_lattice_points_of_the_documented_3x3_window():
    W = cn.lattice_points(D(4), square_window(1))
    assert (W.size, (cn.Scalar(D(4)) >> W).equivariant_basis().dim) == (9, 3)


def test_reps_are_recognised_as_permutation_reps():
    for rep in (cn.regular(D(4)), cn.quotient(D(6), C(3)), cn.lattice_points(D(6), hex_window(1), HEX_BASIS)):
        assert rep.is_permutation


# -- errors --------------------------------------------------------------------------


def test_continuous_groups_are_rejected():
    with pytest.raises(cn.RepError, match="finite"):
        cn.regular(SO(2))
    with pytest.raises(cn.RepError, match="finite"):
        cn.quotient(SO(2), C(4))
    with pytest.raises(cn.RepError, match="finite"):
        cn.quotient(D(4), SO(2))
    with pytest.raises(cn.RepError, match="finite"):
        cn.lattice_points(SO(2), square_window(1))


@pytest.mark.parametrize("bad", ["D4", None, 4, np.eye(2)], ids=["str", "None", "int", "array"])
def test_non_groups_are_type_errors(bad):
    with pytest.raises(TypeError, match="Group"):
        cn.regular(bad)
    with pytest.raises(TypeError, match="Group"):
        cn.quotient(bad, C(2))
    with pytest.raises(TypeError, match="Group"):
        cn.quotient(D(4), bad)
    with pytest.raises(TypeError, match="Group"):
        cn.lattice_points(bad, square_window(1))


@pytest.mark.parametrize(
    "G, H",
    [(D(4), C(3)), (C(4), D(1)), (D(4), C(8)), (C(6), C(4)), (C(4), S(2))],
    ids=["D4/C3", "C4/D1", "D4/C8", "C6/C4", "C4/S2"],  # S(2) swaps the axes: a mirror of D(4), not in C(4)
)
def test_quotient_by_a_non_subgroup_raises(G, H):
    with pytest.raises(cn.RepError, match="subgroup"):
        cn.quotient(G, H)


def test_quotient_by_a_group_of_another_dimension_raises():
    with pytest.raises(cn.RepError, match="subgroup"):
        cn.quotient(D(4), S(3))


def test_lattice_points_not_closed_raise():
    with pytest.raises(cn.RepError, match="closed"):
        cn.lattice_points(D(4), np.array([[0, 0], [1, 0]]))
    with pytest.raises(cn.RepError, match="closed"):  # the mirror is missing its images
        cn.lattice_points(D(1), np.array([[1, 2]]))
    with pytest.raises(cn.RepError, match="closed"):  # a square window is not closed under 60°
        cn.lattice_points(C(6), square_window(1), HEX_BASIS)


def test_lattice_points_non_integer_or_repeated_or_misshapen_raise():
    with pytest.raises(cn.RepError, match="integer"):
        cn.lattice_points(C(2), np.array([[0.5, 0.0], [-0.5, 0.0]]))
    with pytest.raises(cn.RepError, match="integer"):
        cn.lattice_points(C(2), np.array([["a", "b"]]))
    with pytest.raises(cn.RepError, match="distinct"):
        cn.lattice_points(C(2), np.array([[0, 0], [0, 0]]))
    with pytest.raises(cn.RepError, match="shape"):
        cn.lattice_points(C(2), np.array([0, 0]))
    with pytest.raises(cn.RepError, match="shape"):
        cn.lattice_points(C(2), np.zeros((2, 3)))
    with pytest.raises(cn.RepError, match="basis"):
        cn.lattice_points(C(2), np.zeros((1, 2), dtype=int), np.zeros((2, 2)))


@pytest.mark.parametrize(
    "G, basis",
    [(C(8), None), (C(6), None), (D(3), None), (D(4), HEX_BASIS), (C(4), HEX_BASIS)],
    ids=["C8-square", "C6-square", "D3-square", "D4-hex", "C4-hex"],
)
def test_groups_that_do_not_preserve_the_lattice_raise(G, basis):
    with pytest.raises(cn.RepError, match="lattice"):
        cn.lattice_points(G, np.zeros((1, 2), dtype=int), basis)


def test_permutation_of_a_foreign_element_raises():
    R = cn.regular(C(4))
    with pytest.raises(cn.RepError):
        R.permutation(C(8).discrete_generators[0])
    with pytest.raises(cn.RepError):
        R.permutation(np.eye(3))

"""Schreier–Sims orders against brute-force closure; Rot90, Cube and RubiksCube against geometry and Burnside."""

from __future__ import annotations

import itertools
import math
import pickle

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import CUBE_FACES, Cube, Group, P4M, Rot90, RubiksCube, S, StabilizerChain, Z
from zoo import perm_matrix

RUBIK_ORDER = 43_252_003_274_489_856_000


def brute_force_closure(perms, d: int) -> set[tuple[int, ...]]:
    """Every product of the generators, by breadth-first search over tuples (no library code)."""
    identity = tuple(range(d))
    seen, frontier = {identity}, [identity]
    while frontier:
        new = []
        for p in frontier:
            for s in perms:
                q = tuple(int(s[i]) for i in p)
                if q not in seen:
                    seen.add(q)
                    new.append(q)
        frontier = new
    return seen


def _square_d4() -> Group:
    """D(4) as permutations of the 4 corners of a square: the quarter turn and a mirror."""
    return Group(discrete_generators=[perm_matrix([1, 2, 3, 0]), perm_matrix([1, 0, 3, 2])], name="D4corners")


SMALL = [
    pytest.param(lambda: S(4), 24, id="S4"),
    pytest.param(Cube, 24, id="Cube"),
    pytest.param(_square_d4, 8, id="D4corners"),
    pytest.param(lambda: Rot90(2), 4, id="Rot90-2"),
    pytest.param(lambda: Rot90(3), 4, id="Rot90-3"),
    pytest.param(lambda: Rot90(1), 1, id="Rot90-1"),
    pytest.param(lambda: P4M(3), 72, id="P4M3"),
    pytest.param(lambda: Z(3) * Z(4), 12, id="Z3xZ4"),
]


@pytest.mark.parametrize("make, expected", SMALL)
def test_schreier_sims_order_matches_brute_force(make, expected):
    G = make()
    perms = G.permutations if G.permutations is not None else np.zeros((0, G.d), dtype=int)
    closure = brute_force_closure(perms, G.d)
    assert len(closure) == expected
    chain = StabilizerChain(perms, G.d)
    assert chain.order == expected and type(chain.order) is int
    assert Group.order.fget(G) == expected  # the stabiliser chain, not a family's formula
    assert math.prod(chain.orbit_sizes) == expected


@pytest.mark.parametrize("seed", range(12))
def test_schreier_sims_on_random_permutation_groups(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 7))
    k = int(rng.integers(1, 4))
    if seed % 2:  # random transpositions: intransitive groups, products of symmetric groups
        perms = []
        for _ in range(k):
            p = np.arange(d)
            i, j = rng.choice(d, 2, replace=False)
            p[[i, j]] = p[[j, i]]
            perms.append(p)
    else:
        perms = [rng.permutation(d) for _ in range(k)]
    closure = brute_force_closure(perms, d)
    chain = StabilizerChain(np.array(perms), d)
    assert chain.order == len(closure)
    for p in itertools.permutations(range(d)):
        assert chain.contains(np.array(p)) == (p in closure)
    assert {tuple(p) for p in chain.random_elements(50, rng).tolist()} <= closure


def test_random_elements_are_uniform_over_the_cube_group():
    chain = Cube().stabilizer_chain()
    draws = chain.random_elements(24_000, np.random.default_rng(0))
    _, counts = np.unique(draws, axis=0, return_counts=True)
    assert len(counts) == 24
    # each count is Binomial(24000, 1/24): mean 1000, sd ≈ 31; 6 sd is far from flaky
    assert np.all(np.abs(counts - 1000) < 6 * 31)


def test_stabilizer_chain_refuses_a_non_permutation():
    with pytest.raises(cn.GroupError, match="expected permutations"):
        StabilizerChain(np.array([[0, 0, 1]]), 3)
    with pytest.raises(cn.GroupError, match="permutation"):
        cn.groups.SO(3).stabilizer_chain()


# -- Rubik's cube ----------------------------------------------------------------
def test_rubiks_cube_order_is_exact():
    G = RubiksCube()
    assert G.order == RUBIK_ORDER and type(G.order) is int
    # the classical count: corner and edge permutations of equal parity, 3^7 corner twists, 2^11 edge flips
    assert RUBIK_ORDER == math.factorial(8) * math.factorial(12) // 2 * 3**7 * 2**11


def test_rubiks_cube_generators_are_face_quarter_turns():
    G = RubiksCube()
    assert G.d == 48 and G.is_permutation
    for f, p in enumerate(G.permutations):
        moved = np.flatnonzero(p != np.arange(48))
        assert len(moved) == 20  # 8 on the face itself, 3 on each of its 4 neighbours
        assert set(range(8 * f, 8 * f + 8)) <= set(moved.tolist())
        opposite = {0: 5, 1: 3, 2: 4, 3: 1, 4: 2, 5: 0}[f]  # U-D, F-B, R-L
        assert not set(moved.tolist()) & set(range(8 * opposite, 8 * opposite + 8))
        q, k = p.copy(), 1
        while not np.array_equal(q, np.arange(48)):
            q, k = p[q], k + 1
        assert k == 4


def test_rubiks_cube_membership_and_samples():
    G = RubiksCube()
    corner_twist = np.arange(48)
    # the three stickers of the U-F-R corner: U's bottom-right (7), F's top-right (8 + 2), R's top-left (16 + 0)
    corner_twist[[7, 10, 16]] = [10, 16, 7]
    swap = np.arange(48)
    swap[[1, 9]] = [9, 1]
    for bad in (corner_twist, swap):
        assert not G.contains(perm_matrix(bad))
    for g in G.samples(3, rng=0):
        assert G.contains(g)
    for p in G.permutations:
        assert G.contains(perm_matrix(p))
    # stickers never leave their kind: corner stickers (grid corners) and edge stickers
    orbits_of_v = (cn.V(G) ** 1).equivariant_basis().dim
    assert orbits_of_v == 2


def test_group_pickles_without_its_chain():
    G = RubiksCube()
    assert G.order == RUBIK_ORDER
    again = pickle.loads(pickle.dumps(G))
    assert again == G and again._chain is None and again.order == RUBIK_ORDER


# -- the cube's rotations ----------------------------------------------------------
NORMALS = {"U": (0, 0, 1), "F": (0, -1, 0), "R": (1, 0, 0), "B": (0, 1, 0), "L": (-1, 0, 0), "D": (0, 0, -1)}


def cube_rotations_as_face_permutations() -> set[tuple[int, ...]]:
    """The 24 signed permutation matrices of determinant 1, acting on the 6 face normals."""
    normals = [np.array(NORMALS[f]) for f in CUBE_FACES]
    out = set()
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            r = np.zeros((3, 3), dtype=int)
            r[range(3), perm] = signs
            if round(np.linalg.det(r)) != 1:
                continue
            image = [tuple(r @ n) for n in normals]
            out.add(tuple(image.index(tuple(n)) for n in normals))
    return out


def test_cube_is_the_rotation_group_of_the_cube():
    rotations = cube_rotations_as_face_permutations()
    assert len(rotations) == 24
    elems = {tuple(np.argmax(e, axis=1)) for e in Cube().elements()}
    assert elems == rotations
    # EMLP's generators: quarter turns about F and about L
    assert Cube().permutations.tolist() == [[4, 1, 0, 3, 5, 2], [3, 0, 2, 5, 4, 1]]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_cube_invariant_counts_by_burnside(k):
    rotations = cube_rotations_as_face_permutations()
    fixed = [sum(p[i] == i for i in range(6)) for p in rotations]
    burnside = sum(f**k for f in fixed) // 24  # invariants of V^k: the average of χ(g)^k
    assert burnside == {1: 1, 2: 3, 3: 12}[k]
    assert (cn.V(Cube()) ** k).equivariant_basis().dim == burnside


@pytest.mark.parametrize("n", [2, 3, 4])
def test_rot90_rotates_images_and_burnside_counts(n):
    G = Rot90(n)
    image = np.arange(n * n, dtype=float).reshape(n, n)
    (h,) = G.discrete_generators
    np.testing.assert_array_equal(h @ image.reshape(-1), np.rot90(image).reshape(-1))
    powers = [np.rot90(np.arange(n * n).reshape(n, n), k).reshape(-1) for k in range(4)]
    for k in (1, 2):
        burnside = sum(int(np.sum(p == np.arange(n * n))) ** k for p in powers) // 4
        assert (cn.V(G) ** k).equivariant_basis().dim == burnside


def test_products_of_cyclic_groups():
    n, m = 3, 4
    P = Z(n) * Z(m)
    assert P.order == n * m and len(P.elements()) == n * m and P.d == n + m
    a, b = cn.V(P, factor=0), cn.V(P, factor=1)
    assert (a * b).equivariant_basis().dim == 1  # the regular rep of Z3 x Z4 has one invariant
    assert (a >> b).equivariant_basis().dim == 1  # the all-ones map
    # V ⊗ V on the n + m points: n diagonal orbits in block 0, m in block 1, one per cross block
    assert (cn.V(P) ** 2).equivariant_basis().dim == n + m + 2

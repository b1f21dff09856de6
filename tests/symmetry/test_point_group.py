"""point_group: orders of known shapes, exact element sets, closure, invariance under moves, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.spatial.transform
from hypothesis import given
from hypothesis import strategies as st

from constrainnet.errors import GroupError
from constrainnet.groups import O, Subgroup
from constrainnet.symmetry import induced_permutation, point_group
from shapes import CUBE, ICOSAHEDRON, RECTANGLE, SQUARE, TETRAHEDRON, as_set, regular_polygon, signed_permutations

GENERIC = np.random.default_rng(7).standard_normal((9, 3))

KNOWN_ORDERS = {
    "square-D4h": (SQUARE, 16),
    "rectangle-D2h": (RECTANGLE, 8),
    "tetrahedron-Td": (TETRAHEDRON, 24),
    "cube-Oh": (CUBE, 48),
    "icosahedron-Ih": (ICOSAHEDRON, 120),
    "generic-C1": (GENERIC, 1),
    "square-2d-D4": (SQUARE[:, :2], 8),
    "hexagon-2d-D6": (regular_polygon(6), 12),
    "pentagon-3d-D5h": (np.column_stack([regular_polygon(5), np.zeros(5)]), 20),
    "pyramid-C4v": (np.vstack([SQUARE, [[0.0, 0.0, 1.0]]]), 8),
    "segment-2d": (np.array([[-1.0, 0.0], [1.0, 0.0]]), 4),
    "uneven-collinear-2d": (np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]), 2),
}


def _maps_set_to_itself(g: np.ndarray, points: np.ndarray) -> bool:
    x = points - points.mean(axis=0)
    dist = np.linalg.norm((x @ g.T)[:, None, :] - x[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)
    return bool(dist.min(axis=1).max() < 1e-9 and len(set(nearest.tolist())) == len(x))


@pytest.mark.parametrize("name", list(KNOWN_ORDERS))
def test_known_orders(name):
    points, order = KNOWN_ORDERS[name]
    G = point_group(points)
    assert isinstance(G, Subgroup) and G.parent == O(points.shape[1])
    assert G.order == order


@pytest.mark.parametrize("name", list(KNOWN_ORDERS))
def test_elements_are_orthogonal_symmetries_closed_under_products(name):
    points, _ = KNOWN_ORDERS[name]
    elements = point_group(points).elements()
    d = points.shape[1]
    for g in elements:
        np.testing.assert_allclose(g @ g.T, np.eye(d), atol=1e-12)
        assert _maps_set_to_itself(g, points)
    keys = as_set(elements)
    assert len(keys) == len(elements)
    assert as_set(np.einsum("aij,bjk->abik", elements, elements).reshape(-1, d, d)) == keys


def test_cube_is_every_signed_permutation():
    # Oh is the hyperoctahedral group: all 48 signed permutation matrices
    assert as_set(point_group(CUBE).elements()) == as_set(signed_permutations(3))


def test_square_is_planar_signed_permutations_times_the_z_mirror():
    # D4h: a signed permutation of (x, y), and z -> ±z
    expected = [np.block([[p, np.zeros((2, 1))], [np.zeros((1, 2)), np.array([[s]])]]) for p in signed_permutations(2) for s in (-1.0, 1.0)]
    assert as_set(point_group(SQUARE).elements()) == as_set(np.array(expected))


def test_tetrahedron_is_the_even_sign_signed_permutations():
    # Td in these coordinates: signed permutations whose signs multiply to +1
    expected = [m for m in signed_permutations(3) if np.prod(m.sum(axis=1)) > 0]
    assert as_set(point_group(TETRAHEDRON).elements()) == as_set(np.array(expected))


@given(st.integers(0, 2**32 - 1), st.sampled_from(["square-D4h", "tetrahedron-Td", "cube-Oh", "pyramid-C4v"]))
def test_moved_shape_has_the_conjugate_group(seed, name):
    points, order = KNOWN_ORDERS[name]
    rng = np.random.default_rng(seed)
    r = scipy.spatial.transform.Rotation.random(random_state=rng).as_matrix()
    moved = points @ r.T + rng.normal(size=3)
    elements = point_group(moved).elements()
    assert len(elements) == order
    conjugated = np.einsum("ji,ajk,kl->ail", r, elements, r)  # rᵀ g r
    assert as_set(conjugated) == as_set(point_group(points).elements())


def test_generators_do_not_depend_on_the_order_of_the_points():
    rng = np.random.default_rng(3)
    a = point_group(CUBE).discrete_generators
    b = point_group(CUBE[rng.permutation(len(CUBE))]).discrete_generators
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_slightly_noisy_square_keeps_its_symmetry_within_tol():
    noisy = SQUARE + np.random.default_rng(0).normal(scale=1e-9, size=SQUARE.shape)
    assert point_group(noisy, tol=1e-6).order == 16
    assert point_group(SQUARE + [[0.01, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], tol=1e-6).order < 16


@pytest.mark.parametrize(
    "points, match",
    [
        (np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]), "collinear"),
        (np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), "coincide"),
        (np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "distinct"),
        (np.zeros((3, 4)), "shape"),
        (np.array([[np.nan, 0.0, 0.0]]), "finite"),
    ],
    ids=["collinear", "one-place", "repeated", "4d", "nan"],
)
def test_degenerate_input_raises(points, match):
    with pytest.raises(GroupError, match=match):
        point_group(points)
    with pytest.raises(ValueError):
        point_group(points)


def test_induced_permutation_pairs_each_map_with_its_relabelling():
    G = point_group(SQUARE)
    for g in G.elements():
        sigma = induced_permutation(g, SQUARE)
        np.testing.assert_allclose(SQUARE[sigma] @ g.T, SQUARE, atol=1e-12)
    with pytest.raises(GroupError, match="onto themselves"):
        induced_permutation(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), RECTANGLE)

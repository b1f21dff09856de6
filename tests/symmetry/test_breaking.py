"""breaking_directions: the x² − y² case exactly, and dimensions equal to character counts."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import GroupError
from constrainnet.groups import O, Subgroup
from constrainnet.symmetry import breaking_directions, fixed_space, point_group, stabilizer_subgroup
from shapes import CUBE, RECTANGLE, SQUARE, TETRAHEDRON

V = cn.V(O(3))


def _character_count(rep, K) -> int:
    """dim Fix(K) = (1/|K|) Σ_k tr ρ(k), from traces only."""
    value = np.mean([np.trace(rep.rho(k)) for k in K.elements()])
    assert abs(value - round(value)) < 1e-9
    return int(round(value))


def test_square_to_rectangle_is_x2_minus_y2():
    square, rectangle = point_group(SQUARE), point_group(RECTANGLE)
    b = breaking_directions(V**2, square, rectangle)
    expected = np.diag([1.0, -1.0, 0.0]).ravel() / np.sqrt(2)
    assert b.shape == (9, 1)
    np.testing.assert_allclose(b[:, 0], expected, atol=1e-12)  # the sign too: positive at its first coordinate
    np.testing.assert_allclose(fixed_space(V**2, square).T @ b, 0, atol=1e-12)
    for h in rectangle.elements():
        np.testing.assert_allclose((V**2).rho(h) @ b[:, 0], b[:, 0], atol=1e-12)
    moved = [np.linalg.norm((V**2).rho(g) @ b[:, 0] - b[:, 0]) for g in square.elements()]
    assert max(moved) > 1  # a quarter turn maps x² − y² to its negative


def _pairs():
    Oh, D4h, D2h, Td = (point_group(p) for p in (CUBE, SQUARE, RECTANGLE, TETRAHEDRON))
    C4v = stabilizer_subgroup(Oh, np.array([0.0, 0.0, 1.0]), V)
    C3v = stabilizer_subgroup(Td, np.array([1.0, 1.0, 1.0]), V)
    return {"Oh>D4h": (Oh, D4h), "D4h>D2h": (D4h, D2h), "Oh>Td": (Oh, Td), "Oh>C4v": (Oh, C4v), "Td>C3v": (Td, C3v)}


PAIRS = _pairs()
REPS = {"V": V, "V**2": V**2, "V**3": V**3, "PS": cn.PseudoScalar(O(3)), "PS*V": cn.PseudoScalar(O(3)) * V, "V**2+V": V**2 + V}


@pytest.mark.parametrize("pair", list(PAIRS))
@pytest.mark.parametrize("rep_name", list(REPS))
def test_dimension_is_the_difference_of_character_counts(pair, rep_name):
    G, H = PAIRS[pair]
    rep = REPS[rep_name]
    b = breaking_directions(rep, G, H)
    assert b.shape[1] == _character_count(rep, H) - _character_count(rep, G)
    np.testing.assert_allclose(b.T @ b, np.eye(b.shape[1]), atol=1e-10)
    np.testing.assert_allclose(fixed_space(rep, G).T @ b, 0, atol=1e-10)


def test_basis_does_not_depend_on_how_the_subgroup_is_generated():
    G, H = PAIRS["Oh>C4v"]
    reordered = Subgroup(O(3), discrete_generators=H.discrete_generators[::-1])
    np.testing.assert_allclose(breaking_directions(V**3, G, H), breaking_directions(V**3, G, reordered), atol=1e-12)


def test_h_must_lie_in_g():
    G, H = PAIRS["D4h>D2h"]
    with pytest.raises(GroupError, match="subgroup"):
        breaking_directions(V**2, H, G)
    with pytest.raises(ValueError):
        breaking_directions(V**2, point_group(TETRAHEDRON), G)

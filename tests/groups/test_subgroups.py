"""Subgroup: checked to lie in the parent; finite subgroups are subsets whose order divides the parent's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import O, S, SO, Subgroup
from zoo import ZOO, element_key, params, perm_matrix, so_generator



@pytest.mark.parametrize("entry", params(ZOO))
def test_zoo_subgroups_lie_in_their_parent(entry):
    G, H = entry.G, entry.H
    assert isinstance(H, Subgroup)
    assert H.parent == G and H.d == G.d
    assert H.is_subgroup_of(G)
    for h in H.discrete_generators:
        assert G.contains(h)
    for a in H.lie_algebra:
        assert G.lie_contains(a)
    for h in H.samples(5, rng=0):
        assert G.contains(h)


@pytest.mark.parametrize("entry", params([e for e in ZOO if e.finite]))
def test_finite_subgroups_are_subsets_and_lagrange_holds(entry):
    G, H = entry.G, entry.H
    parent = {element_key(e) for e in G.elements()}
    elems = H.elements()
    assert {element_key(e) for e in elems} <= parent
    assert G.order % H.order == 0


def test_known_subgroup_orders():
    four_cycle = Subgroup(S(4), discrete_generators=[perm_matrix([1, 2, 3, 0])])
    assert four_cycle.order == 4
    quarter_turn_z = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    c4_in_so3 = Subgroup(SO(3), discrete_generators=[quarter_turn_z], name="C4z")
    assert c4_in_so3.order == 4 and repr(c4_in_so3) == "C4z"
    d4_in_o3 = Subgroup(O(3), discrete_generators=[quarter_turn_z, np.diag([1.0, -1.0, 1.0])])
    assert d4_in_o3.order == 8


def test_subgroup_of_a_subgroup_restricts_from_the_top():
    H = Subgroup(O(3), discrete_generators=[np.diag([1.0, 1.0, -1.0])], lie_algebra=[so_generator(3, 0, 1)])
    K = Subgroup(H, discrete_generators=[np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])])
    assert K.is_subgroup_of(H) and K.is_subgroup_of(O(3))
    assert not K.is_subgroup_of(SO(3))
    rep = cn.V(O(3)) ** 2
    assert rep.restrict(K) == rep.restrict(H).restrict(K)
    assert K.order == 4


def test_restricting_to_the_group_itself_is_the_identity():
    rep = cn.V(SO(3)) ** 2 + cn.V(SO(3))
    assert rep.restrict(SO(3)) == rep


def test_subgroup_repr_names_the_parent_by_default():
    H = Subgroup(SO(3), lie_algebra=[so_generator(3, 0, 1)])
    assert "SO(3)" in repr(H)


def test_lie_subgroup_of_o3_contains_the_rotation_angles():
    H = Subgroup(O(3), lie_algebra=[so_generator(3, 0, 1)])
    angle = 0.7
    rz = np.array([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]])
    assert H.contains(rz)
    assert not H.is_finite

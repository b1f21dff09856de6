"""o2_in_o3: the cone and dihedral embeddings of O(2) in O(3) differ on pseudo-scalars and on z."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import GroupError
from constrainnet.groups import O, Subgroup, o2_in_o3


@pytest.mark.parametrize("kind, det", [("cone", -1.0), ("dihedral", 1.0)])
def test_generators(kind, det):
    H = o2_in_o3(kind)
    assert isinstance(H, Subgroup) and H.parent == O(3)
    (flip,) = H.discrete_generators
    assert np.linalg.det(flip) == pytest.approx(det)
    np.testing.assert_allclose(flip @ flip, np.eye(3))
    (lz,) = H.lie_algebra
    np.testing.assert_allclose(lz @ np.array([0.0, 0.0, 1.0]), 0)  # rotations about z
    np.testing.assert_allclose(lz @ np.array([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("kind, pseudo_dim, z_dim", [("cone", 0, 1), ("dihedral", 1, 0)])
def test_pseudoscalar_and_vector_invariants(kind, pseudo_dim, z_dim):
    H = o2_in_o3(kind)
    assert cn.PseudoScalar(O(3)).restrict(H).equivariant_basis().dim == pseudo_dim
    assert cn.V(O(3)).restrict(H).equivariant_basis().dim == z_dim
    # both see the same rotations: V**2 has the invariants I and z zᵀ (and, on the dihedral, no more)
    assert (cn.V(O(3)) ** 2).restrict(H).equivariant_basis().dim == 2


def test_samples_lie_in_o3_with_both_determinants_only_on_the_cone():
    dets = {kind: {round(float(np.linalg.det(g))) for g in o2_in_o3(kind).samples(20, rng=0)} for kind in ("cone", "dihedral")}
    assert dets == {"cone": {-1, 1}, "dihedral": {1}}


def test_unknown_kind_names_the_two_kinds():
    with pytest.raises(GroupError, match="'cone' or 'dihedral'"):
        o2_in_o3("mirror")

"""The planar groups acting on (x, y) of R³ with z fixed: EMLP's SO2eR3, O2eR3, DkeR3."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import GroupError
from constrainnet.groups import SO, D2eR3, D6eR3, DkeR3, O2eR3, SO2eR3, o2_in_o3, planar_in_3d

GROUPS = {"SO2eR3": SO2eR3, "O2eR3": O2eR3, "D6eR3": D6eR3, "D2eR3": D2eR3}


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_samples_fix_z_and_are_orthogonal(name):
    G = GROUPS[name]()
    assert repr(G) == name and G.d == 3
    gs = G.samples(20, rng=0)
    np.testing.assert_allclose(gs[:, 2], np.tile([0.0, 0.0, 1.0], (20, 1)), atol=1e-14)
    np.testing.assert_allclose(gs[:, :, 2], np.tile([0.0, 0.0, 1.0], (20, 1)), atol=1e-14)
    np.testing.assert_allclose(gs @ gs.transpose(0, 2, 1), np.broadcast_to(np.eye(3), gs.shape), atol=1e-12)
    assert all(G.contains(g) for g in gs)


def test_orders_and_both_components_sampled():
    assert D6eR3().order == 12 and D2eR3().order == 4 and DkeR3(5).order == 10
    dets = np.round(np.linalg.det(O2eR3().samples(40, rng=1)))
    assert set(dets.tolist()) == {-1.0, 1.0}
    assert set(np.round(np.linalg.det(SO2eR3().samples(10, rng=1))).tolist()) == {1.0}


# Invariants of V⊗V, V = R²(x, y) ⊕ R(z): z⊗z, plus those of the planar rep's 2⊗2:
# SO(2): identity and the rotation generator (2); O(2), D6: the identity (1);
# D2 = {±1} × {±1} on x and y separately: x⊗x and y⊗y (2).
@pytest.mark.parametrize("name, count", [("SO2eR3", 3), ("O2eR3", 2), ("D6eR3", 2), ("D2eR3", 3)])
def test_invariant_counts_of_v_tensor_v(name, count):
    V = cn.V(GROUPS[name]())
    assert np.asarray(V.equivariant_basis()).shape[1] == 1  # e_z, the height
    assert np.asarray((V**2).equivariant_basis()).shape[1] == count


def test_o2er3_is_the_cone_embedding():
    # the same subgroup of O(3) with another mirror: the same equivariant subspaces
    P1 = np.asarray((cn.V(O2eR3()) ** 2).equivariant_projector())
    P2 = np.asarray((cn.V(o2_in_o3("cone")) ** 2).equivariant_projector())
    np.testing.assert_allclose(P1, P2, atol=1e-12)


def test_bad_inputs():
    with pytest.raises(GroupError, match="expected a group acting on R\\^2"):
        planar_in_3d(SO(3))
    with pytest.raises(TypeError, match="expected a Group acting on R\\^2, got str"):
        planar_in_3d("O(2)")
    with pytest.raises((TypeError, ValueError)):
        DkeR3(0)

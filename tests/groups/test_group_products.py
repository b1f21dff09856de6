"""Direct products G1 * G2: factors, block-diagonal elements and samples, V(P, factor=i)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

import constrainnet as cn
from constrainnet.groups import C, D, O, P4M, S, SO, Z
from zoo import element_key, rot2



def test_factors_and_dimension():
    P = SO(3) * S(4)
    assert P.factors == (SO(3), S(4))
    assert P.d == 7
    assert repr(P) == "SO(3)*S(4)"


def test_products_flatten():
    assert ((C(4) * S(3)) * Z(2)).factors == (C(4), S(3), Z(2))
    assert (C(4) * (S(3) * Z(2))).factors == (C(4), S(3), Z(2))
    assert (C(4) * S(3)) * Z(2) == C(4) * (S(3) * Z(2))


def test_generators_are_embedded_block_diagonally():
    P = SO(3) * O(2)
    assert P.lie_algebra.shape == (4, 5, 5)
    for a in P.lie_algebra[:3]:
        assert np.all(a[3:, :] == 0) and np.all(a[:, 3:] == 0)
    np.testing.assert_array_equal(P.lie_algebra[3, 3:, 3:], O(2).lie_algebra[0])
    (h,) = P.discrete_generators
    np.testing.assert_array_equal(h, scipy.linalg.block_diag(np.eye(3), O(2).discrete_generators[0]))


@pytest.mark.parametrize("A, B", [(C(4), S(3)), (D(3), Z(4)), (S(3), P4M(3))], ids=["C4xS3", "D3xZ4", "S3xP4M3"])
def test_elements_are_the_block_diagonal_pairs(A, B):
    P = A * B
    elems = P.elements()
    assert len(elems) == P.order == len(A.elements()) * len(B.elements())
    a_keys = {element_key(e) for e in A.elements()}
    b_keys = {element_key(e) for e in B.elements()}
    pairs = set()
    for g in elems:
        top, bottom = g[: A.d, : A.d], g[A.d :, A.d :]
        assert np.all(g[: A.d, A.d :] == 0) and np.all(g[A.d :, : A.d] == 0)
        assert element_key(top) in a_keys and element_key(bottom) in b_keys
        pairs.add((element_key(top), element_key(bottom)))
    assert len(pairs) == len(elems)


def test_samples_are_block_diagonal_with_blocks_in_the_factors():
    P = SO(3) * S(4)
    for g in P.samples(10, rng=0):
        np.testing.assert_array_equal(g[:3, 3:], 0)
        np.testing.assert_array_equal(g[3:, :3], 0)
        assert SO(3).contains(g[:3, :3]) and S(4).contains(g[3:, 3:])
        assert P.contains(g)


def test_contains_rejects_off_block_entries_and_foreign_blocks():
    P = C(4) * S(3)
    g = scipy.linalg.block_diag(rot2(math.pi / 2), np.eye(3)[[1, 2, 0]])
    assert P.contains(g)
    bad = g.copy()
    bad[0, 3] = 1.0
    assert not P.contains(bad)
    assert not P.contains(scipy.linalg.block_diag(rot2(0.3), np.eye(3)))


def test_v_of_a_factor_is_that_factors_block():
    P = SO(3) * S(4)
    V0, V1 = cn.V(P, factor=0), cn.V(P, factor=1)
    assert (V0.size, V1.size, cn.V(P).size) == (3, 4, 7)
    g = P.sample(rng=1)
    np.testing.assert_array_equal(V0.rho(g), g[:3, :3])
    np.testing.assert_array_equal(V1.rho(g), g[3:, 3:])
    np.testing.assert_array_equal(cn.V(P).rho(g), g)
    positions = V0 * V1
    assert positions.size == 12
    np.testing.assert_allclose(positions.rho(g), np.kron(g[:3, :3], g[3:, 3:]), atol=1e-12)
    assert V0 != V1 and V0 != cn.V(P)


def test_product_orders_and_continuous_factors():
    assert (C(4) * S(3)).order == 24
    assert not (SO(3) * S(3)).is_finite
    with pytest.raises(cn.GroupError, match="continuous"):
        (SO(3) * S(3)).elements()

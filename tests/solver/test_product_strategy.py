"""The product strategy: reps of G₁ × G₂ whose tensor factors each see one factor, solved without a joint solve."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import SolverError
from constrainnet.groups import C, D, O, S, SO, Z
from constrainnet.solver import equivariant_basis, select_strategy
from constrainnet.solver.product import factor_split


def _cases():
    out = []
    for P in (SO(3) * S(4), O(3) * Z(5), S(4) * SO(2), C(4) * SO(3), D(3) * O(2)):
        a, b = cn.V(P, factor=0), cn.V(P, factor=1)
        out += [
            (P, a * b >> a * b),
            (P, a * b),
            (P, a**2 * b),
            (P, (a**2 * b) >> b),
            (P, b * a * b >> a),
            (P, (a * b) >> (b * cn.Scalar(P) * a)),
        ]
    return out


CASES = _cases()


@pytest.mark.parametrize("P,rep", CASES, ids=[f"{P!r}:{rep!r}" for P, rep in CASES])
def test_product_agrees_with_dense(P, rep):
    assert select_strategy(rep) == "product"
    q = np.asarray(equivariant_basis(rep))
    dense = np.asarray(equivariant_basis(rep, strategy="dense"))
    # canonical bases: the same columns, not only the same span
    assert q.shape == dense.shape
    np.testing.assert_allclose(q, dense, atol=1e-10)
    np.testing.assert_allclose(q.T @ q, np.eye(q.shape[1]), atol=1e-12)
    for g in P.samples(3, rng=0):
        np.testing.assert_allclose(rep.rho(g) @ q, q, atol=1e-9)


def test_dimension_is_the_product_of_the_parts():
    # SO(3) on V⊗V has one invariant (δ); S(n) on V⊗V has two (diagonal, off-diagonal)
    P = SO(3) * S(6)
    a, b = cn.V(P, factor=0), cn.V(P, factor=1)
    assert equivariant_basis(a * b >> a * b).dim == 1 * 2
    # SO(3) on V**4: 3 invariants (Riordan); S(3) on V**4: set partitions of 4 indices
    # into at most 3 blocks, Bell(4) - 1 = 14
    Q = SO(3) * S(3)
    a, b = cn.V(Q, factor=0), cn.V(Q, factor=1)
    assert equivariant_basis(a**2 * b**2 >> a**2 * b**2).dim == 3 * 14


def test_sums_split_into_product_leaves():
    P = SO(3) * S(4)
    a, b = cn.V(P, factor=0), cn.V(P, factor=1)
    rep = (a * b + b + cn.Scalar(P)) >> (a * b + 2 * b)
    assert select_strategy(rep) == "block"
    # block bases order their columns leaf by leaf: compare the projectors
    np.testing.assert_allclose(
        np.asarray(cn.equivariant_projector(rep)), np.asarray(cn.equivariant_projector(rep, strategy="dense")), atol=1e-10
    )
    assert {blk.strategy for blk in equivariant_basis(rep).blocks} >= {"product"}


def test_not_split_when_a_factor_sees_the_whole_group():
    P = SO(3) * S(4)
    assert factor_split(cn.V(P) ** 2) is None  # V of the product acts on all 7 coordinates
    assert factor_split(cn.PseudoScalar(O(3) * S(4)) * cn.V(O(3) * S(4), factor=1)) is None
    assert factor_split(cn.V(SO(3)) ** 2) is None  # not a product group
    assert select_strategy(cn.V(P) >> cn.V(P)) == "dense"
    with pytest.raises(SolverError, match="each see one group factor"):
        equivariant_basis(cn.V(P) >> cn.V(P), strategy="product")


def test_large_product_without_joint_solve():
    # 13,824 coordinates, too many for a joint dense solve; the parts are V**3 of SO(3)
    # (1 invariant, ε) and V**3 of S(8) (Bell(3) = 5 invariants)
    P = SO(3) * S(8)
    a, b = cn.V(P, factor=0), cn.V(P, factor=1)
    rep = a**2 * b**2 >> a * b
    assert rep.size == 13824
    q = equivariant_basis(rep)
    assert q.dim == 1 * 5
    Q = np.asarray(q)
    for g in P.samples(2, rng=1):
        np.testing.assert_allclose(rep.rho_apply(g, Q.T), Q.T, atol=1e-9)  # columns as rows

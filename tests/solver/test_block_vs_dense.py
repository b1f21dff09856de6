"""Every strategy agrees with the dense reference: same projector, same canonical columns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import P4M, S, SO, Z
from constrainnet.solver import select_strategy
from zoo import ZOO, Spec, assert_close, build_case, params, rep_cases

V, V0, PS = Spec.V(), Spec.scalar(), Spec.pseudo()

SUMS = {
    "(V+V**0)>>(V**2+2*V)": (V + V0) >> (V**2 + 2 * V),
    "3*V+V**0": 3 * V + V0,
    "(V+V.T)*(V**0+V)": (V + V.T) * (V0 + V),
    "(2*V**0+V)>>(V+PS)": (2 * V0 + V) >> (V + PS),
    "V**2+V.T*V+V**0": V**2 + V.T * V + V0,
}


def _compare(rep: cn.Rep) -> None:
    block = rep.equivariant_basis()
    dense = cn.equivariant_basis(rep, strategy="dense")
    assert block.strategy == select_strategy(rep) and dense.strategy == "dense"
    qb, qd = np.asarray(block), np.asarray(dense)
    assert qb.shape == qd.shape
    assert_close(np.asarray(rep.equivariant_projector()), np.asarray(cn.equivariant_projector(rep, strategy="dense")),
                 what="block vs dense projector")
    assert_close(qb, qd, what="canonical columns: same order and signs as dense")


# (group, rep) pairs small enough for a quick dense reference solve
CASES = [
    pytest.param(entry, name, id=f"{entry.id}-{name}")
    for entry in ZOO
    for name, spec in SUMS.items()
    if spec.size(entry.G) <= 300
]


@pytest.mark.parametrize("entry, name", CASES)
def test_block_equals_dense_on_reps_with_sums(entry, name):
    G = entry.G
    spec = SUMS[name]
    rep = spec.build(G)
    assert select_strategy(rep) == "block"
    _compare(rep)


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_the_chosen_strategy_equals_dense_on_random_reps(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    rep, _ = build_case(entry, spec, on_sub)
    _compare(rep)


PERMUTATION_REPS = {
    "S4 V**2>>V**2": lambda: cn.V(S(4)) ** 2 >> cn.V(S(4)) ** 2,
    "S5 V**3": lambda: cn.V(S(5)) ** 3,
    "Z6 V**3": lambda: cn.V(Z(6)) ** 3,
    "P4M3 V**2": lambda: cn.V(P4M(3)) ** 2,
    "P4M3 V>>V": lambda: cn.V(P4M(3)) >> cn.V(P4M(3)),
    "S3xZ4 V0*V1": lambda: cn.V(S(3) * Z(4), factor=0) * cn.V(S(3) * Z(4), factor=1),
    "SO3xS3 V1**2": lambda: cn.V(SO(3) * S(3), factor=1) ** 2,
    "Z5 PS*V**2": lambda: cn.PseudoScalar(Z(5)) * cn.V(Z(5)) ** 2,
}


@pytest.mark.parametrize("name", list(PERMUTATION_REPS))
def test_orbit_strategy_equals_dense_on_permutation_reps(name):
    rep = PERMUTATION_REPS[name]()
    assert select_strategy(rep) == "orbit"
    _compare(rep)
    # orbit bases are exact: entries are 1/sqrt(orbit size), each coordinate in one orbit
    Q = np.asarray(rep.equivariant_basis())
    assert np.all((np.abs(Q) > 0).sum(axis=1) <= 1)
    sizes = (np.abs(Q) > 0).sum(axis=0)
    assert_close(Q.max(axis=0), 1 / np.sqrt(sizes), tol=1e-15)


def test_repeated_blocks_share_one_leaf_solve():
    V = cn.V(SO(3))
    rep = (5 * V**0 + 4 * V) >> (3 * V + 2 * V**2)
    basis = rep.equivariant_basis()
    leaves = [b.leaf for b in basis.blocks]
    assert len(leaves) == len(set(leaves)), "a distinct leaf appears in two blocks"
    # every coordinate of the rep belongs to exactly one copy of one leaf
    coords = np.concatenate([b.index.reshape(-1) for b in cn.solver.block_structure(rep)])
    assert sorted(coords.tolist()) == list(range(rep.size))
    # the dimension is the sum over block pairs of m·n·dim Hom(a, b)
    assert basis.dim == 5 * 3 * 0 + 5 * 2 * 1 + 4 * 3 * 1 + 4 * 2 * 1


def test_dense_strategy_on_a_leaf_is_the_default():
    rep = cn.V(SO(3)) ** 2 >> cn.V(SO(3)) ** 2
    assert select_strategy(rep) == "dense"
    assert np.array_equal(np.asarray(rep.equivariant_basis()), np.asarray(cn.equivariant_basis(rep, strategy="dense")))

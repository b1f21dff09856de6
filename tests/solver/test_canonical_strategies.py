"""Every strategy that can solve a rep gives the same columns: same order, same signs, to 1e-10.

Saved coefficients are read in the basis, so the canonical form must not depend
on which strategy solved it: dense, block (leaf bases placed and sorted by
pivot), orbit (orbit indicators), product (Kronecker of factor bases) and
iterative are each called directly and compared column by column.

The big sweep (2,000 reps over the zoo) is marked slow:
``python -m pytest -p no:cacheprovider -m slow tests/solver/test_canonical_strategies.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import C, D, Group, SO
from constrainnet.nn import uniform_rep
from constrainnet.solver import dense as dense_module
from constrainnet.solver.blocks import has_block_structure
from constrainnet.solver.dense import dense_basis
from constrainnet.solver.iterative import iterative_basis, supports_iterative
from constrainnet.solver.orbit import orbit_basis, supports_orbits
from constrainnet.solver.product import factor_split, product_basis
from zoo import BY_ID, ZOO, assert_close, build_case, rep_cases

TOL = 1e-10


def _dense(q) -> np.ndarray:
    return q.toarray() if hasattr(q, "toarray") else np.asarray(q)


def strategy_bases(rep: cn.Rep) -> dict[str, np.ndarray]:
    """The basis of ``rep`` from every strategy that applies to it, each called directly."""
    out = {"dense": dense_basis(rep), "selected": np.asarray(cn.equivariant_basis(rep))}
    if has_block_structure(rep):
        out["block"] = np.asarray(cn.equivariant_basis(rep, strategy="block"))
    else:
        if supports_orbits(rep):
            out["orbit"] = _dense(orbit_basis(rep))
        if factor_split(rep) is not None:
            out["product"] = product_basis(rep, lambda part: _dense(cn.solver.leaf_basis(part)[0]))
        if supports_iterative(rep) and len(rep.G.lie_algebra):
            out["iterative"] = iterative_basis(rep)
    return out


def assert_identical_columns(rep: cn.Rep) -> None:
    bases = strategy_bases(rep)
    reference = bases.pop("dense")
    for name, q in bases.items():
        assert_close(q, reference, tol=TOL, what=f"{name} vs dense columns of {rep!r}")


_ENTRIES = st.sampled_from([e.id for e in ZOO])


def _check(data) -> None:
    entry = BY_ID[data.draw(_ENTRIES, label="group")]
    spec, on_sub = data.draw(rep_cases(entry, max_size=48), label="spec, on_sub")
    rep, _ = build_case(entry, spec, on_sub)
    cn.solver.cache_clear()
    assert_identical_columns(rep)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_strategy_gives_the_same_columns(data):
    _check(data)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_strategy_gives_the_same_columns_sweep(data):
    _check(data)


@pytest.mark.parametrize(
    "name, make",
    [
        ("SO3 (V+V**0)>>(V**2+2*V)", lambda: (cn.V(SO(3)) + cn.V(SO(3)) ** 0) >> (cn.V(SO(3)) ** 2 + 2 * cn.V(SO(3)))),
        ("SO3xS3 (V0*V1+V1)>>(V0*V1)", lambda: _points(SO(3))),
        ("D4 (2*V+V**0)>>V**2", lambda: (2 * cn.V(D(4)) + cn.V(D(4)) ** 0) >> cn.V(D(4)) ** 2),
    ],
)
def test_block_bases_interleave_leaves_by_pivot(name, make):
    # the leaves' columns are not block after block: they are sorted by their pivot coordinate
    rep = make()
    q = np.asarray(cn.equivariant_basis(rep))
    firsts = [int(np.flatnonzero(np.abs(col) > 1e-9)[0]) for col in q.T]
    assert firsts == sorted(firsts) and all(q[i, k] > 0 for k, i in enumerate(firsts))
    assert_identical_columns(rep)


def _points(G3: Group) -> cn.Rep:
    P = G3 * cn.groups.S(3)
    pts = cn.V(P, factor=0) * cn.V(P, factor=1)
    return (pts + cn.V(P, factor=1)) >> pts


def test_block_basis_applies_in_canonical_order():
    rep = (cn.V(SO(3)) + 2 * cn.V(SO(3)) ** 0) >> (cn.V(SO(3)) ** 2 + cn.V(SO(3)))
    Q = cn.equivariant_basis(rep)
    dense = np.asarray(Q)
    c = np.random.default_rng(0).standard_normal((Q.dim, 3))
    assert_close(Q @ c, dense @ c)
    w = np.random.default_rng(1).standard_normal((rep.size, 2))
    assert_close(Q.T @ w, dense.T @ w)


@pytest.mark.parametrize("G", [C(2), C(3), D(4), Group(discrete_generators=[np.array([[0.0, -1.0], [1.0, 1.0]])], name="Sp2_6")], ids=repr)
def test_group_average_equals_the_constraint_solve(G, monkeypatch):
    # the finite-group fast path (orthogonal and oblique group averages) against the eigensolve of the constraints
    V = cn.V(G)
    rep = V**4 >> V**4 if G.is_orthogonal else V**2 * V.T**2 >> V**2 * V.T**2
    assert dense_module._prefers_average(rep)
    fast = dense_basis(rep)
    monkeypatch.setattr(dense_module, "_prefers_average", lambda rep: False)
    slow = dense_basis(rep)
    assert fast.shape == slow.shape
    assert_close(fast, slow, tol=TOL, what=f"group average vs constraints for {G!r}")


def test_c2_uniform_layer_is_all_or_nothing():
    # C(2) = {±I}: Hom(V**a, V**b) is everything for a + b even, nothing for a + b odd
    u = uniform_rep(64, C(2))
    Q = cn.equivariant_basis(u >> u)
    expected = 0
    for ra, ma in u.components:
        for rb, mb in u.components:
            ka, kb = round(np.log2(ra.size)), round(np.log2(rb.size))
            expected += ma * mb * ra.size * rb.size * ((ka + kb) % 2 == 0)
    assert Q.dim == expected

"""The pivot search and the canonical form against a row-by-row Gram–Schmidt written here."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from constrainnet.solver import pivots
from constrainnet.solver.canonical import PIVOT_ATOL, canonical_basis, canonical_basis_of_projector, column_pivots
from zoo import assert_close


def _reference(q0: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Walk the coordinates in order, keep P e_i when independent of the kept ones, Gram–Schmidt twice."""
    p = q0 @ q0.T
    kept: list[np.ndarray] = []
    piv = []
    for i in range(len(p)):
        v = p[:, i].copy()
        for _ in range(2):
            for b in kept:
                v -= (b @ v) * b
        if np.linalg.norm(v) > PIVOT_ATOL:
            piv.append(i)
            kept.append(v / np.linalg.norm(v))
    q = np.array(kept).T if kept else np.zeros((len(p), 0))
    return q, piv


@st.composite
def _orthonormal_bases(draw):
    n = draw(st.integers(1, 90))
    r = draw(st.integers(0, n))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    m = rng.standard_normal((n, r))
    # coordinates outside the subspace's support, as invariant tensors have
    m[draw(st.lists(st.integers(0, n - 1), max_size=n - r, unique=True))] = 0.0
    return np.linalg.qr(m)[0]


@settings(max_examples=25, deadline=None)
@given(q0=_orthonormal_bases(), leaf=st.integers(1, 9), block=st.integers(1, 40))
def test_canonical_form_equals_row_by_row_gram_schmidt(q0, leaf, block):
    old = pivots.LEAF_ROWS, pivots.ROW_BLOCK
    pivots.LEAF_ROWS, pivots.ROW_BLOCK = leaf, block  # many leaves and blocks: pivots on their borders
    try:
        q, piv = canonical_basis(q0)
        qp, pivp = canonical_basis_of_projector(q0 @ q0.T, q0.shape[1])
    finally:
        pivots.LEAF_ROWS, pivots.ROW_BLOCK = old
    q_ref, piv_ref = _reference(q0)
    assert piv.tolist() == piv_ref and pivp.tolist() == piv_ref
    assert_close(q, q_ref, tol=1e-9, what="canonical form")
    assert_close(qp, q_ref, tol=1e-9, what="canonical form of the projector")
    if piv_ref:
        assert column_pivots(q).tolist() == piv_ref


def test_an_oblique_projector_gives_the_canonical_basis_of_its_range():
    rng = np.random.default_rng(3)
    q0 = np.linalg.qr(rng.standard_normal((12, 4)))[0]
    w = rng.standard_normal((12, 4))
    oblique = q0 @ np.linalg.solve(w.T @ q0, w.T)  # P² = P, range(P) = span(q0), P ≠ Pᵀ
    q, piv = canonical_basis_of_projector(oblique, 4)
    q_ref, piv_ref = _reference(q0)
    assert piv.tolist() == piv_ref
    assert_close(q, q_ref, tol=1e-9)

"""Bad input to the solver, and a solver that cannot certify its answer, raise clear errors."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import Group, SO
from constrainnet.solver.dense import CERTIFY_RTOL, NULL_RTOL


def _uncertifiable_group() -> Group:
    # ρ(h) − I = diag(1, 1e-7): after scaling, a singular value of 1e-7 sits between
    # NULL_RTOL (zero) and CERTIFY_RTOL (non-zero), so the rank cannot be decided
    gap = np.sqrt(NULL_RTOL * CERTIFY_RTOL)
    return Group(discrete_generators=[np.diag([2.0, 1.0 + gap])], name="ambiguous")


def test_uncertifiable_rank_raises_with_residual_and_gap():
    rep = cn.V(_uncertifiable_group())
    with pytest.raises(cn.SolverError, match=r"cannot certify the rank for V of size 2.*residual .*smallest non-zero"):
        rep.equivariant_basis()


def test_uncertifiable_leaf_inside_a_sum_raises_too():
    V = cn.V(_uncertifiable_group())
    with pytest.raises(cn.SolverError, match="cannot certify"):
        (V + V**0).equivariant_basis()


def test_uncertifiable_rank_raises_for_the_projector():
    with pytest.raises(cn.SolverError, match="cannot certify"):
        cn.V(_uncertifiable_group()).equivariant_projector()


def test_a_clear_gap_is_certified():
    # the same shape of group with the second direction clearly non-zero or clearly zero
    for second, dim in ((1.5, 0), (1.0, 1)):
        G = Group(discrete_generators=[np.diag([2.0, second])])
        assert cn.V(G).equivariant_basis().dim == dim


def test_unknown_strategy():
    with pytest.raises(ValueError, match=r"strategy: expected one of \(.*'dense'.*\), got 'fast'"):
        cn.equivariant_basis(cn.V(SO(3)), strategy="fast")


def test_basis_of_a_non_rep():
    with pytest.raises(TypeError, match="expected a Rep, got ndarray"):
        cn.equivariant_basis(np.eye(3))


def test_dense_strategy_refuses_a_huge_rep():
    V = cn.V(SO(3))
    rep = (100 * V**0) >> (100 * V**0)  # size 10⁴ > DENSE_MAX_SIZE
    message = r"dense strategy: expected a rep of size at most \d+, got .* of size 10000"
    with pytest.raises(cn.SolverError, match=message):
        cn.equivariant_basis(rep, strategy="dense")


def test_dense_export_of_a_huge_projector():
    V = cn.V(SO(3))
    rep = 200 * V**0 >> 100 * V**0  # 20000 coordinates: P would have 4·10⁸ entries
    P = rep.equivariant_projector()
    message = r"np.asarray\(P\): expected at most \d+ entries .* apply it with @ instead"
    with pytest.raises(cn.SolverError, match=message):
        np.asarray(P)
    w = np.ones(rep.size)
    np.testing.assert_allclose(P @ w, w)  # every map between scalars is equivariant


def test_projector_of_a_wrongly_sized_vector():
    P = (cn.V(SO(3)) ** 2).equivariant_projector()
    with pytest.raises(cn.RepMismatchError, match=r"expected w of shape \(9,\) or \(9, batch\), got \(8,\)"):
        P @ np.ones(8)


def test_basis_times_wrongly_sized_coefficients():
    Q = (cn.V(SO(3)) ** 2).equivariant_basis()
    with pytest.raises(cn.RepMismatchError, match=r"expected c of shape \(1,\) or \(1, batch\), got \(2,\)"):
        Q @ np.ones(2)

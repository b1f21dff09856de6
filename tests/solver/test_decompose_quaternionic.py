"""Decomposition of a quaternionic-type irreducible: Q8 acting on the quaternions.

The quaternion group Q8 = {±1, ±i, ±j, ±k} acts on R⁴ = span(1, i, j, k) by
left multiplication. Over the reals this rep is irreducible with commutant
the quaternions acting on the right (dimension 4): the one real irreducible
of quaternionic type. Independent truths: the character table of Q8 (four
one-dimensional real characters and the 4-dimensional one, χ = 4, −4, 0, …)
and ⟨χ, χ⟩ = Σ m² c for any rep.
"""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn

# Left multiplication by i and by j in the basis (1, i, j, k).
LEFT_I = np.array([[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, -1], [0, 0, 1, 0]], dtype=float)
LEFT_J = np.array([[0, 0, -1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, -1, 0, 0]], dtype=float)
COMMUTANT_DIM = {"real": 1, "complex": 2, "quaternionic": 4}
TOL = 1e-10


@pytest.fixture(scope="module")
def q8():
    return cn.groups.Group(discrete_generators=[LEFT_I, LEFT_J], name="Q8")


def _character_norm(rep, G) -> float:
    """⟨χ, χ⟩ = (1/|G|) Σ_g tr ρ(g)², from the group's elements."""
    return float(np.mean([np.trace(rep.rho(g)) ** 2 for g in G.elements()]))


@pytest.mark.parametrize("build", ["V", "V+V", "V+V**0", "V*V"])
def test_q8_decomposition_matches_character_theory(q8, build):
    V = cn.V(q8)
    rep = {"V": V, "V+V": V + V, "V+V**0": V + V**0, "V*V": V * V}[build]
    D = rep.decompose()
    assert q8.order == 8
    assert sum(c.dim * c.multiplicity for c in D.components) == rep.size
    assert np.isclose(
        sum(c.multiplicity**2 * COMMUTANT_DIM[c.commutant] for c in D.components), _character_norm(rep, q8)
    )
    U = np.asarray(D.change_of_basis)
    assert np.abs(U.T @ U - np.eye(rep.size)).max() < TOL
    for g in q8.elements():
        assert np.abs(U.T @ rep.rho(g) @ U - D.block_form(g)).max() < TOL


def test_q8_defining_rep_is_one_quaternionic_irreducible(q8):
    V = cn.V(q8)
    (comp,) = V.decompose().components
    assert (comp.dim, comp.multiplicity, comp.commutant) == (4, 1, "quaternionic")
    two = (V + V).decompose().components
    assert [(c.dim, c.multiplicity, c.commutant) for c in two] == [(4, 2, "quaternionic")]
    assert two[0].irrep == comp.irrep
    # Hom(2V, 2V) has m² c = 4 · 4 = 16 equivariant maps, and V*V splits into 4 real lines x 4.
    assert ((V + V) >> (V + V)).equivariant_basis().dim == 16
    counts = sorted((c.dim, c.multiplicity, c.commutant) for c in (V * V).decompose().components)
    assert counts == [(1, 4, "real")] * 4

"""Basis dimensions of finite groups equal the character-theory count (1/|G|) Σ_g χ(g).

The characters come from traces of the defining matrices alone (tr(A⊗B) =
trA·trB, χ*(g) = χ(g⁻¹)), never from the library's Kronecker products.
"""

from __future__ import annotations

import pytest

import constrainnet as cn
from constrainnet.groups import C, D, P4M, S, Z
from zoo import FINITE, Spec, character_count, hom_character_count, params

V, V0, PS = Spec.V(), Spec.scalar(), Spec.pseudo()

REPS = {
    "V**0": V0,
    "V": V,
    "V**2": V**2,
    "V**3": V**3,
    "V.T*V": V.T * V,
    "PS": PS,
    "PS*V**2": PS * V**2,
    "V>>V": V >> V,
    "(V+V**0)>>(V**2+2*V)": (V + V0) >> (V**2 + 2 * V),
    "(V**2+V)>>(V+PS)": (V**2 + V) >> (V + PS),
    "(V**2).T>>V": (V**2).T >> V,
    "3*V+V**0": 3 * V + V0,
}

FAMILIES = (
    [(Z, n, f"Z{n}") for n in (2, 3, 4, 7)]
    + [(C, n, f"C{n}") for n in (2, 3, 5, 6, 8)]
    + [(D, n, f"D{n}") for n in (2, 3, 5, 6)]
    + [(S, n, f"S{n}") for n in (3, 5)]
    + [(P4M, 4, "P4M4")]
)


def _defining_dimension(family, n: int) -> int:
    return {Z: n, S: n, C: 2, D: 2, P4M: n * n}[family]


# reps up to this size are solved densely in well under a second
MAX_SIZE = 800


@pytest.mark.parametrize(
    "entry, name",
    [
        pytest.param(entry, name, id=f"{entry.id}-{name}")
        for entry in FINITE
        for name, spec in REPS.items()
        if spec.size(entry.G) <= MAX_SIZE
    ],
)
def test_zoo_dimension_is_the_character_count(entry, name):
    G = entry.G
    spec = REPS[name]
    rep = spec.build(G)
    assert rep.equivariant_basis().dim == character_count(spec, G)


class _Dim:
    """Stands in for a group in Spec.size: only .d is read."""

    def __init__(self, d: int) -> None:
        self.d = d


@pytest.mark.parametrize(
    "family, n, name",
    [
        pytest.param(family, n, name, id=f"{label}-{name}")
        for family, n, label in FAMILIES
        for name in ("V", "V**2", "V**3", "V>>V", "(V+V**0)>>(V**2+2*V)", "PS*V**2")
        if REPS[name].size(_Dim(_defining_dimension(family, n))) <= MAX_SIZE
    ],
)
def test_family_dimension_is_the_character_count(family, n, name):
    G = family(n)
    spec = REPS[name]
    assert spec.build(G).equivariant_basis().dim == character_count(spec, G)


@pytest.mark.parametrize(
    "a, b",
    [(V, V), (V + V0, V**2 + 2 * V), (V**2, V), (2 * V0 + V, V**2 + V), (PS * V, V)],
    ids=["V>>V", "(V+V**0)>>(V**2+2V)", "V**2>>V", "(2V**0+V)>>(V**2+V)", "PS*V>>V"],
)
@pytest.mark.parametrize("entry", params([e for e in FINITE if e.id in ("D4", "S4", "C4xS3", "Z6", "C3")]))
def test_hom_dimension_is_the_hom_character_count(entry, a, b):
    G = entry.G
    hom = a.build(G) >> b.build(G)
    assert hom.equivariant_basis().dim == hom_character_count(a, b, G)


@pytest.mark.parametrize(
    "spec",
    [
        Spec.factor(0) * Spec.factor(1),
        Spec.factor(0) ** 2 * Spec.factor(1),
        Spec.factor(1) ** 2 + Spec.factor(0),
        (Spec.factor(0) + Spec.factor(1)) >> Spec.factor(1) ** 2,
        PS * Spec.factor(0) * Spec.factor(1),
    ],
    ids=["V0*V1", "V0**2*V1", "V1**2+V0", "(V0+V1)>>V1**2", "PS*V0*V1"],
)
@pytest.mark.parametrize("make", [lambda: C(4) * S(3), lambda: D(3) * Z(3)], ids=["C4xS3", "D3xZ3"])
def test_product_factor_reps_dimension_is_the_character_count(make, spec):
    G = make()
    assert spec.build(G).equivariant_basis().dim == character_count(spec, G)


@pytest.mark.parametrize("entry", params([e for e in FINITE if e.id in ("D4", "S4", "Z6", "P4M3", "C4xS3")]))
def test_restricted_dimension_is_the_subgroup_character_count(entry):
    G, H = entry.G, entry.H
    for spec in (V**2, (V + V0) >> V, V**0 + PS * V):
        rep = spec.build(G).restrict(H)
        assert rep.equivariant_basis().dim == character_count(spec, G, H.elements())


def test_trivial_group_keeps_everything():
    from constrainnet.groups import Trivial

    rep = (cn.V(Trivial(2)) + cn.V(Trivial(2)) ** 0) >> cn.V(Trivial(2)) ** 2
    assert rep.equivariant_basis().dim == rep.size

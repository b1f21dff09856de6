"""rep.decompose() against independent truths: character theory, Clebsch–Gordan series, Young diagrams.

Characters of the reps come from traces of the defining matrices alone
(``zoo.Spec.char``); the irreducibles' characters from traces of the blocks
πₖ(g) over every element of the group. Orthogonality of characters then
checks the multiplicities (⟨χ, χₖ⟩ = mₖ cₖ) and the irreducibility of each
block (⟨χₖ, χₖ⟩ = cₖ, the dimension of its commutant).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import RepError, SolverError
from constrainnet.groups import C, O, S, SO, Lorentz
from zoo import FINITE, TOL, Spec, inverse

V, V0, PS = Spec.V(), Spec.scalar(), Spec.pseudo()
COMMUTANT_DIM = {"real": 1, "complex": 2, "quaternionic": 4}


def _check_block_form(rep: cn.Rep, D, G, seed: int = 0) -> None:
    U = np.asarray(D.change_of_basis)
    assert np.abs(U.T @ U - np.eye(rep.size)).max() < TOL
    for g in list(G.discrete_generators) + list(G.samples(2, rng=np.random.default_rng(seed))):
        assert np.abs(U.T @ rep.rho(g) @ U - D.block_form(g)).max() < TOL
    for a in G.lie_algebra:
        # dρ(A) is block diagonal with the same block on every copy
        m = U.T @ rep.drho(a) @ U
        for comp in D.components:
            d = comp.dim
            first = m[comp.start : comp.start + d, comp.start : comp.start + d]
            expected = np.kron(np.eye(comp.multiplicity), first)
            assert np.abs(m[comp.start : comp.stop, comp.start : comp.stop] - expected).max() < TOL
        off = m.copy()
        for comp in D.components:
            off[comp.start : comp.stop, comp.start : comp.stop] = 0
        assert np.abs(off).max() < TOL


# The commutant of a rep of size n is solved as a rep of size n²: reps above
# SMALL coordinates take seconds each and run with the slow marker.
SMALL = 16


def _cases():
    out = []
    for entry in FINITE:
        for spec, name in ((V, "V"), (V**2, "V**2"), (V >> (V + V0), "V>>(V+V**0)")):
            size = spec.size(entry.G)
            marks = [pytest.mark.slow] if size > SMALL else []
            out.append(pytest.param(entry, spec, id=f"{name}-{entry.id}", marks=marks))
    return out


@pytest.mark.parametrize("entry, spec", _cases())
def test_multiplicities_follow_character_theory(entry, spec):
    G = entry.G
    rep = spec.build(G)
    D = rep.decompose()
    _check_block_form(rep, D, G)
    elems = G.elements()
    chi = np.array([spec.char(G, g, inverse(g)) for g in elems])
    assert np.isclose(chi @ chi / len(elems), sum(c.multiplicity**2 * COMMUTANT_DIM[c.commutant] for c in D.components))
    for k, comp in enumerate(D.components):
        chi_k = np.array([np.trace(D.pi(k, g)) for g in elems])
        c_k = COMMUTANT_DIM[comp.commutant]
        assert np.isclose(chi_k @ chi_k / len(elems), c_k)  # irreducible, of the stated commutant
        assert np.isclose(chi @ chi_k / len(elems), comp.multiplicity * c_k)
    assert sum(c.dim * c.multiplicity for c in D.components) == rep.size


def _so3_counts(n: int) -> dict[int, int]:
    """Multiplicity of each l in V**n of SO(3), by l ⊗ 1 = (l−1) + l + (l+1)."""
    counts = {0: 1}
    for _ in range(n):
        nxt: dict[int, int] = {}
        for l, m in counts.items():
            for l2 in (l - 1, l, l + 1) if l > 0 else (1,):
                nxt[l2] = nxt.get(l2, 0) + m
        counts = nxt
    return counts


@pytest.mark.parametrize("n", [1, 2, pytest.param(3, marks=pytest.mark.slow), pytest.param(4, marks=pytest.mark.slow)])
def test_so3_clebsch_gordan(n):
    G = SO(3)
    rep = cn.V(G) ** n
    D = rep.decompose()
    assert {c.irrep.l: c.multiplicity for c in D.components} == _so3_counts(n)
    assert all(c.dim == 2 * c.irrep.l + 1 and c.commutant == "real" for c in D.components)
    _check_block_form(rep, D, G)


@pytest.mark.parametrize("n", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_o3_parity(n):
    rep = cn.V(O(3)) ** n
    D = rep.decompose()
    assert {(c.irrep.l, c.irrep.parity): c.multiplicity for c in D.components} == {
        (l, (-1) ** n): m for l, m in _so3_counts(n).items()
    }
    pseudo = (cn.PseudoScalar(O(3)) * cn.V(O(3))).decompose()
    assert [(c.irrep.l, c.irrep.parity) for c in pseudo.components] == [(1, 1)]


@pytest.mark.parametrize("n", [1, 2, 3, pytest.param(4, marks=pytest.mark.slow)])
def test_so2_frequencies(n):
    rep = cn.V(SO(2)) ** n
    D = rep.decompose()
    # V = e^{iθ} + e^{-iθ}: frequency f = n − 2j appears C(n, j) times; ±f pair into one real plane
    found = {round(math.sqrt(2 * c.irrep.casimir)): (c.multiplicity, c.commutant) for c in D.components}
    expected = {}
    for f in range(n % 2, n + 1, 2):
        if f == 0:
            expected[0] = (math.comb(n, n // 2), "real")
        else:
            expected[f] = (math.comb(n, (n - f) // 2), "complex")
    assert found == expected
    _check_block_form(rep, D, SO(2))


@pytest.mark.parametrize("n", [4, pytest.param(5, marks=pytest.mark.slow)])
def test_sn_young_diagrams(n):
    D = (cn.V(S(n)) ** 2).decompose()
    got = sorted((c.dim, c.multiplicity) for c in D.components)
    # V⊗V = 2·(n) + 3·(n−1,1) + (n−2,2) + (n−2,1,1), dimensions from the hook length formula
    expected = sorted([(1, 2), (n - 1, 3), (n * (n - 3) // 2, 1), ((n - 1) * (n - 2) // 2, 1)])
    assert got == expected


def test_types_are_shared_across_reps():
    G = SO(3)
    Vg = cn.V(G)
    one = Vg.decompose().components[0].irrep
    cube = (Vg**2).decompose()
    same = [c for c in cube.components if c.irrep is one]
    assert len(same) == 1 and same[0].multiplicity == 1
    g = G.sample(np.random.default_rng(3))
    k = cube.components.index(same[0])
    assert np.abs(cube.pi(k, g) - Vg.decompose().pi(0, g)).max() < 1e-9
    assert one in cn.solver.irreps_seen(G)


def test_sums_keep_u_per_leaf():
    G = SO(3)
    Vg = cn.V(G)
    rep = 5 * Vg**0 + 3 * Vg + 2 * Vg**2 + Vg
    D = rep.decompose()
    U = D.change_of_basis
    assert len(U.blocks) == 3  # scalar, V, V**2: one matrix each
    assert {c.irrep.l: c.multiplicity for c in D.components} == {0: 7, 1: 6, 2: 2}
    _check_block_form(rep, D, G)
    x = np.random.default_rng(0).standard_normal((rep.size, 4))
    dense = np.asarray(U)
    assert np.abs(U @ x - dense @ x).max() < TOL
    assert np.abs(U.T @ x - dense.T @ x).max() < TOL


def test_complex_type_copies_share_the_complex_structure():
    G = SO(2)
    rep = 3 * cn.V(G) + cn.V(G) ** 3
    D = rep.decompose()
    _check_block_form(rep, D, G)
    assert all(c.commutant in ("real", "complex") for c in D.components)


def test_deterministic_and_cached():
    rep = cn.V(S(4)) ** 2
    cn.solver.decomposition_cache_clear()
    first = np.asarray(rep.decompose().change_of_basis)
    assert rep.decompose() is rep.decompose()
    cn.solver.decomposition_cache_clear()
    again = np.asarray(rep.decompose().change_of_basis)
    assert np.array_equal(first, again)
    # another order of meeting the types moves πₖ, and so U, by rounding only
    cn.solver.decomposition_cache_clear()
    cn.V(S(4)).decompose()
    other = np.asarray(rep.decompose().change_of_basis)
    assert np.abs(other - first).max() < 1e-9


def test_lorentz_is_declined():
    with pytest.raises(RepError, match="orthogonal"):
        cn.V(Lorentz()).decompose()


def test_too_large_is_refused_before_solving():
    with pytest.raises(SolverError, match="at most"):
        (cn.V(SO(3)) ** 7).decompose()


def test_uncertifiable_raises(monkeypatch):
    from constrainnet.solver import isotypic

    monkeypatch.setattr(isotypic, "CERTIFY_ATOL", -1.0)
    cn.solver.decomposition_cache_clear()
    with pytest.raises(SolverError, match="certify"):
        (cn.V(S(3)) ** 2).decompose()
    cn.solver.decomposition_cache_clear()


@pytest.mark.parametrize("G", [S(3), C(4), SO(2), O(3)], ids=["S3", "C4", "SO2", "O3"])
def test_hom_dimension_from_multiplicities(G):
    from hypothesis import given, settings

    from constrainnet.testing.strategies import reps

    @settings(max_examples=8)
    @given(reps(G, max_size=9, max_depth=2), reps(G, max_size=9, max_depth=2))
    def check(a, b):
        ma = {c.irrep: c for c in a.decompose().components}
        mb = {c.irrep: c for c in b.decompose().components}
        expected = sum(ma[t].multiplicity * mb[t].multiplicity * COMMUTANT_DIM[ma[t].commutant] for t in ma if t in mb)
        assert (a >> b).equivariant_basis().dim == expected

    check()


def test_disk_cache_is_verified_on_read(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTRAINNET_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CONSTRAINNET_CACHE", "1")
    rep = cn.V(S(4)) ** 4  # 256 coordinates: stored on disk
    cn.solver.decomposition_cache_clear()
    first = np.asarray(rep.decompose().change_of_basis)
    files = list(tmp_path.glob("*decompose.npz"))  # the entry, not its lock file
    assert len(files) == 1
    cn.solver.decomposition_cache_clear()  # a new process: types re-identified, U read and certified
    again = rep.decompose()
    assert np.abs(np.asarray(again.change_of_basis) - first).max() < 1e-9
    files[0].write_bytes(files[0].read_bytes()[:200])  # truncated: ignored and recomputed
    cn.solver.decomposition_cache_clear()
    assert np.abs(np.asarray(rep.decompose().change_of_basis) - first).max() < 1e-9


def test_component_order_does_not_depend_on_the_order_met():
    # P4M(4) has 2-dimensional types whose traces vanish at every fingerprint element:
    # they are ordered by their canonical matrices, not by which rep met them first
    from constrainnet.groups import P4M

    rep = cn.V(P4M(4)) ** 2
    cn.solver.decomposition_cache_clear()
    first = rep.decompose()
    prints = [tuple(np.round(c.irrep.fingerprint, 6) + 0.0) for c in first.components if c.dim == 2]
    assert len(prints) > len(set(prints))  # the tie this test is about
    cn.solver.decomposition_cache_clear()
    (cn.V(P4M(4)) + cn.V(P4M(4)).T * cn.V(P4M(4))).decompose()  # meets the types in another order
    other = rep.decompose()
    key = [(c.dim, c.multiplicity, c.commutant) for c in first.components]
    assert [(c.dim, c.multiplicity, c.commutant) for c in other.components] == key
    assert np.abs(np.asarray(other.change_of_basis) - np.asarray(first.change_of_basis)).max() < 1e-9


def test_permutation_leaves_split_by_orbit():
    from constrainnet.solver.isotypic import _coordinate_blocks, leaf_operators

    gens, alg, _, _ = leaf_operators(cn.V(S(4)) ** 2)
    blocks = _coordinate_blocks(16, gens, alg)
    diagonal = [5 * i for i in range(4)]  # (i, i), row-major
    assert [b.tolist() for b in blocks] == [diagonal, [k for k in range(16) if k not in diagonal]]
    gens, alg, _, _ = leaf_operators(cn.V(SO(3)) ** 2)
    assert [b.tolist() for b in _coordinate_blocks(9, gens, alg)] == [list(range(9))]


def test_commutant_units_from_spanning_elements():
    from constrainnet.solver.irreps import commutant_units

    J = np.array([[0.0, -1.0], [1.0, 0.0]])
    units = commutant_units([J], 2, spanning=np.stack([np.eye(2) + 3 * J]))
    assert np.allclose(units[0], np.eye(2)) and np.allclose(units[1] @ units[1], -np.eye(2))
    assert np.allclose(units[1] @ J, J @ units[1])
    with pytest.raises(SolverError, match="dimension 2"):
        commutant_units([J], 2, spanning=np.stack([np.eye(2)]))  # no imaginary part: not complex
    R = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(SolverError, match="commuting"):
        commutant_units([R], 2, spanning=np.stack([J]))  # J does not commute with the swap

"""The permutation route of rep.decompose() (finite groups) against independent references.

References: the general route (Dixon's method on the commutant solved as the
equivariant basis of ``leaf >> leaf``), character theory from the group's
elements, the graph search of the orbit strategy, and
``isotypic.canonical_copies`` on the whole component.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import P4M, S, Z
from constrainnet.solver import decompose_permutation
from constrainnet.solver.decompose_orbit_copies import batched_canonical_copies
from constrainnet.solver.decompose_orbits import orbit_isomorphism, orbit_labels_of
from constrainnet.solver.isotypic import canonical_copies
from constrainnet.solver.orbit import _graph_labels

COMMUTANT_DIM = {"real": 1, "complex": 2, "quaternionic": 4}
TOL = 1e-10


def _summary(D) -> list[tuple]:
    return [(c.dim, c.multiplicity, c.commutant, tuple(np.round(c.irrep.fingerprint, 6) + 0.0)) for c in D.components]


def _general_route(monkeypatch, rep):
    with monkeypatch.context() as m:
        m.setattr(decompose_permutation, "permutation_route_applies", lambda leaf: False)
        cn.solver.decomposition_cache_clear()
        return rep.decompose()


@pytest.mark.parametrize(
    "build",
    [lambda: cn.V(S(4)) ** 2, lambda: cn.V(S(3)) ** 3, lambda: cn.V(Z(6)) ** 2, lambda: cn.V(P4M(3)) ** 2,
     lambda: cn.V(S(3)) ** 2 + cn.V(S(3))],
    ids=["S4-V2", "S3-V3", "Z6-V2", "P4M3-V2", "S3-V2+V"],
)
def test_same_decomposition_as_the_solved_commutant(monkeypatch, build):
    rep = build()
    reference = _general_route(monkeypatch, rep)
    cn.solver.decomposition_cache_clear()
    fast = rep.decompose()
    assert _summary(fast) == _summary(reference)
    U, Uref = np.asarray(fast.change_of_basis), np.asarray(reference.change_of_basis)
    assert np.abs(U - Uref).max() < 1e-9  # canonical: the same U up to rounding
    assert np.abs(U.T @ U - np.eye(rep.size)).max() < TOL
    for g in rep.G.samples(3, rng=np.random.default_rng(0)):
        assert np.abs(U.T @ rep.rho(g) @ U - fast.block_form(g)).max() < TOL
    # types met first by the general route are found again (registry, not new types)
    again = _general_route(monkeypatch, rep)
    assert [c.irrep for c in rep.decompose().components] == [c.irrep for c in again.components]


def _left_multiplication_q8() -> cn.groups.Group:
    """Q8 acting on its own 8 elements by left multiplication by i and j: its regular permutation rep."""
    # elements as quaternion units ±1, ±i, ±j, ±k in that order
    units = [np.array(v, dtype=float) for v in ([1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1])]
    elements = [s * u for u in units for s in (1.0, -1.0)]

    def mul(p, q):
        a1, b1, c1, d1 = p
        a2, b2, c2, d2 = q
        return np.array([a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2, a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                         a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2, a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2])

    def perm_matrix(x):
        m = np.zeros((8, 8))
        for col, e in enumerate(elements):
            row = next(r for r, f in enumerate(elements) if np.allclose(f, mul(x, e)))
            m[row, col] = 1.0
        return m

    return cn.groups.Group(discrete_generators=[perm_matrix(units[1]), perm_matrix(units[2])], name="Q8reg")


def test_quaternionic_type_in_a_permutation_rep():
    G = _left_multiplication_q8()
    assert G.permutations is not None and G.order == 8
    V = cn.V(G)
    cn.solver.decomposition_cache_clear()
    D = V.decompose()
    # the real regular rep of Q8: four real lines and the quaternionic 4-dimensional type once
    assert sorted((c.dim, c.multiplicity, c.commutant) for c in D.components) == [(1, 1, "real")] * 4 + [(4, 1, "quaternionic")]
    chi_norm = np.mean([np.trace(V.rho(g)) ** 2 for g in G.elements()])  # ⟨χ, χ⟩ = |G| for the regular rep
    assert np.isclose(sum(c.multiplicity**2 * COMMUTANT_DIM[c.commutant] for c in D.components), chi_norm)
    U = np.asarray(D.change_of_basis)
    for g in G.elements():
        assert np.abs(U.T @ V.rho(g) @ U - D.block_form(g)).max() < TOL
    two = (V**2).decompose()  # 64 coordinates: eight regular orbits, decomposed once and moved
    chi2_norm = np.mean([np.trace((V**2).rho(g)) ** 2 for g in G.elements()])
    assert np.isclose(sum(c.multiplicity**2 * COMMUTANT_DIM[c.commutant] for c in two.components), chi2_norm)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_orbit_labels_match_the_graph_search(n, k, seed, fixed):
    rng = np.random.default_rng(seed)
    fixed = min(fixed, n)  # points every generator fixes: orbits of size one
    perms = np.stack([np.concatenate([np.arange(fixed), fixed + rng.permutation(n - fixed)]) for _ in range(k)])
    assert np.array_equal(orbit_labels_of(perms, n), _graph_labels(perms, n))


def test_orbit_isomorphism():
    # a swaps 0, 1 and fixes 2, 3; b swaps 2, 3 and fixes 0, 1: same sizes, different actions
    perms = np.array([[1, 0, 2, 3], [0, 1, 3, 2]])
    assert orbit_isomorphism(perms, np.array([0, 1]), np.array([2, 3])) is None
    # the cyclic group on three orbits of size 4, the second and third relabelled
    sigma = np.array([1, 2, 3, 0, 6, 4, 7, 5, 11, 10, 8, 9])
    perms = sigma[None]
    for other in (np.array([4, 5, 6, 7]), np.array([8, 9, 10, 11])):
        phi = orbit_isomorphism(perms, np.array([0, 1, 2, 3]), other)
        assert phi is not None and sorted(phi.tolist()) == other.tolist()
        assert np.array_equal(sigma[phi], phi[sigma[np.array([0, 1, 2, 3])]])  # φ ∘ σ = σ ∘ φ


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3))
def test_batched_canonical_copies_match_canonical_copies(seed, batch, m, d):
    rng = np.random.default_rng(seed)
    n = m * d + int(rng.integers(0, 6))
    units = np.eye(d)[None]
    copies = np.stack([np.linalg.qr(rng.standard_normal((n, m * d)))[0].reshape(n, m, d).transpose(1, 0, 2) for _ in range(batch)])
    chosen, through = batched_canonical_copies(copies, units)
    for b in range(batch):
        # another basis of the same copies: the canonical choice depends on their span only
        mix = np.linalg.qr(rng.standard_normal((m, m)))[0]
        mixed = list(np.einsum("ij,jnd->ind", mix, copies[b]))
        reference = canonical_copies(mixed, units)
        assert np.abs(chosen[b] - np.stack(reference)).max() < 1e-9
        for j in range(m):
            assert abs(chosen[b, j, through[b, j], 0]) > 0  # each passes through its pivot coordinate


def test_copies_split_over_orbits_match_the_whole_component():
    # the canonical copies of each real type of S(3) V**3, taken from its U and mixed across orbits
    rep = cn.V(S(3)) ** 3
    cn.solver.decomposition_cache_clear()
    D = rep.decompose()
    U = np.asarray(D.change_of_basis)
    rng = np.random.default_rng(3)
    for comp in D.components:
        if comp.commutant != "real":
            continue
        copies = [U[:, comp.start + j * comp.dim : comp.start + (j + 1) * comp.dim] for j in range(comp.multiplicity)]
        mix = np.linalg.qr(rng.standard_normal((comp.multiplicity,) * 2))[0]
        mixed = list(np.einsum("ij,jnd->ind", mix, np.stack(copies)))
        reference = np.concatenate(canonical_copies(mixed, comp.irrep.units), axis=1)
        assert np.abs(reference - U[:, comp.start : comp.stop]).max() < 1e-9


_SCRIPT = """
import json, numpy as np, constrainnet as cn
from constrainnet.groups import S, P4M
out = []
for rep in (cn.V(S(4)) ** 2, cn.V(P4M(3)) ** 2):
    D = rep.decompose()
    out.append([np.asarray(D.change_of_basis).tolist(), [[c.dim, c.multiplicity, c.commutant] for c in D.components]])
print(json.dumps(out))
"""


@pytest.mark.slow
def test_same_result_in_another_process_with_one_thread():
    env = dict(os.environ, PYTHONHASHSEED="4242", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", CONSTRAINNET_CACHE="0")
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, check=True)
    theirs = json.loads(done.stdout)
    cn.solver.decomposition_cache_clear()
    for rep, (u, comps) in zip((cn.V(S(4)) ** 2, cn.V(P4M(3)) ** 2), theirs):
        D = rep.decompose()
        assert [[c.dim, c.multiplicity, c.commutant] for c in D.components] == comps
        assert np.abs(np.asarray(D.change_of_basis) - np.array(u)).max() < 1e-12

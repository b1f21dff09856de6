"""The batched steps of the permutation route against their one-at-a-time definitions.

References: :func:`cyclic_form` applied piece by piece (the rule written for
one piece, here checked on rotated copies of known types), ``identify``
applied piece by piece, :func:`orbit_isomorphism` tried orbit by orbit, and
a certification that must refuse a change of basis that is wrong anywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.errors import SolverError
from constrainnet.groups import P4M, S, Z
from constrainnet.solver import irreps_seen
from constrainnet.solver.cyclic import cyclic_form, cyclic_forms
from constrainnet.solver.decompose_certify import certify_orbit_blocks
from constrainnet.solver.decompose_orbits import orbit_classes, orbit_isomorphism, orbits_of
from constrainnet.solver.decompose_permutation import decompose_permutation_leaf
from constrainnet.solver.identify_batch import identify_many
from constrainnet.solver.irreps import FINGERPRINT_SIZE, _fingerprint_elements, identify
from constrainnet.solver.orbit import coordinate_permutations


def _rotated_types(rep, seed=0):
    """The types met in ``rep`` as (π on the generators in a random orthonormal basis, commutant dimension)."""
    cn.solver.decomposition_cache_clear()
    rep.decompose()
    rng = np.random.default_rng(seed)
    out = []
    for t in irreps_seen(rep.G):
        q = np.linalg.qr(rng.standard_normal((t.dim, t.dim)))[0]
        out.append((q.T @ t.pi_generators @ q, len(t.units)))
    return out


def _traces(pi):
    words, _ = _fingerprint_elements(len(pi), 0)
    out = []
    for word in words:
        x = np.eye(pi.shape[1])
        for j in word:
            x = x @ pi[j]
        out.append(float(np.trace(x)))
    assert len(out) == FINGERPRINT_SIZE
    return out


@pytest.mark.parametrize("build", [lambda: cn.V(S(5)) ** 3, lambda: cn.V(Z(7)) ** 2, lambda: cn.V(P4M(4)) ** 2], ids=["S5", "Z7", "P4M4"])
def test_cyclic_forms_match_the_rule_piece_by_piece(build):
    pieces = _rotated_types(build())
    batch = cyclic_forms([pi for pi, _ in pieces], [c for _, c in pieces])
    for (pi, c), b in zip(pieces, batch):
        one = cyclic_form(list(pi), c)
        assert np.abs(one - b).max() < 1e-12
        assert np.abs(b.T @ b - np.eye(len(b))).max() < 1e-12


@pytest.mark.parametrize("build", [lambda: cn.V(S(4)) ** 3, lambda: cn.V(Z(6)) ** 2, lambda: cn.V(P4M(4)) ** 2], ids=["S4", "Z6", "P4M4"])
def test_identify_many_matches_identify_one_by_one(build):
    rep = build()
    pieces = _rotated_types(rep, seed=1)
    G = rep.G
    prints = [_traces(pi) for pi, _ in pieces]
    cn.solver.decomposition_cache_clear()
    one = [identify(G, pi, np.zeros((0,) + pi.shape[1:]), 0.0, None, c=c, prints=fp) for (pi, c), fp in zip(pieces, prints)]
    first = [t.pi_generators.copy() for t, _ in one]
    cn.solver.decomposition_cache_clear()
    many = identify_many(G, [pi for pi, _ in pieces], [c for _, c in pieces], [None] * len(pieces), prints)
    assert len({id(t) for t, _ in many}) == len(pieces)  # distinct types stay distinct
    for (pi, _), (t, tmat), ref in zip(pieces, many, first):
        assert np.abs(t.pi_generators - ref).max() < 1e-10  # the same canonical π_k
        assert np.abs(pi @ tmat - tmat @ t.pi_generators).max() < 1e-10  # T carries the piece onto π_k
    # met again (in another basis), every piece is found among the known types, with no new one
    again = identify_many(G, [pi[:, ::-1][:, :, ::-1] for pi, _ in pieces], [c for _, c in pieces], [None] * len(pieces), prints)
    assert [t for t, _ in again] == [t for t, _ in many]
    assert len(irreps_seen(G)) == len(pieces)


def test_orbit_classes_match_orbit_by_orbit_search():
    for leaf in (cn.V(P4M(4)) ** 2, cn.V(S(4)) ** 3, cn.V(Z(6)) ** 2 + cn.V(Z(6))):
        perms = coordinate_permutations(leaf)
        orbits = orbits_of(perms, leaf.size)
        rep_of, maps = orbit_classes(perms, orbits)
        reps: list[int] = []
        for i, orbit in enumerate(orbits):
            for r in reps:
                phi = orbit_isomorphism(perms, orbits[r], orbit)
                if phi is not None:
                    assert rep_of[i] == r and np.array_equal(maps[i], phi)
                    break
            else:
                reps.append(i)
                assert rep_of[i] == i and np.array_equal(maps[i], orbit)


def _leaf_parts(rep):
    ld = decompose_permutation_leaf(rep)
    perms = coordinate_permutations(rep)
    orbits = orbits_of(perms, rep.size)
    label = np.empty(rep.size, dtype=np.int64)
    for i, orbit in enumerate(orbits):
        label[orbit] = i
    column_orbit = label[np.argmax(np.abs(ld.u), axis=0)]
    return ld, perms, orbits, column_orbit


def test_certify_orbit_blocks_accepts_the_result_and_refuses_any_defect():
    rep = cn.V(S(4)) ** 2
    ld, perms, orbits, column_orbit = _leaf_parts(rep)
    comps = list(ld.components)
    certify_orbit_blocks(rep, np.array(ld.u), column_orbit, orbits, comps, perms)
    bad = np.array(ld.u)
    bad[3, 5] += 1e-6  # inside an orbit block
    with pytest.raises(SolverError, match="certify"):
        certify_orbit_blocks(rep, bad, column_orbit, orbits, comps, perms)
    bad = np.array(ld.u)
    row = orbits[1][0]
    col = int(np.flatnonzero(column_orbit == 0)[0])
    bad[row, col] = 1e-6  # off the orbit blocks
    with pytest.raises(SolverError, match="certify"):
        certify_orbit_blocks(rep, bad, column_orbit, orbits, comps, perms)
    swapped = np.array(ld.u)[:, ::-1]  # columns no longer in the block form's order
    with pytest.raises(SolverError, match="certify"):
        certify_orbit_blocks(rep, swapped, column_orbit[::-1], orbits, comps, perms)

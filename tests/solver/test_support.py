"""Invariant supports and the displacement fast path of P4M orbits, against generic orbits and hand counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.csgraph

import constrainnet as cn
from constrainnet.groups import P4M, S
from constrainnet.solver.orbit import coordinate_permutations, orbit_basis, orbit_labels, translation_orbit_labels
from constrainnet.solver.support import check_window, orbits_in_support, window_displacements, window_mask


def generic_labels(rep):
    """Orbits as connected components of the generator graph, numbered by first coordinate (no fast path)."""
    perms = coordinate_permutations(rep)
    n = rep.size
    rows = np.tile(np.arange(n), len(perms))
    graph = scipy.sparse.coo_matrix((np.ones(rows.size), (rows, perms.reshape(-1))), shape=(n, n))
    _, raw = scipy.sparse.csgraph.connected_components(graph, directed=True, connection="weak")
    first = {}
    for t, label in enumerate(raw):
        first.setdefault(label, len(first))
    return np.array([first[label] for label in raw])


REPS = {
    "V": lambda V: V,
    "V>>V": lambda V: V >> V,
    "V**2": lambda V: V**2,
    "V*V.T": lambda V: V * V.T,
    "V>>V**2": lambda V: V >> V**2,
}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("name", sorted(REPS))
def test_translation_orbits_equal_the_generic_path(n, name):
    rep = REPS[name](cn.V(P4M(n)))
    fast = translation_orbit_labels(rep)
    assert fast is not None
    np.testing.assert_array_equal(fast, generic_labels(rep))


@pytest.mark.parametrize("n", [3, 4])
def test_orbit_basis_of_v_to_v_is_the_dense_canonical_basis(n):
    V = cn.V(P4M(n))
    sparse = orbit_basis(V >> V).toarray()
    dense = np.asarray((V >> V).equivariant_basis(strategy="dense"))
    np.testing.assert_allclose(sparse, dense, atol=1e-10)


def test_fast_path_declines_other_reps():
    V = cn.V(P4M(3))
    assert translation_orbit_labels(V + V) is None
    assert translation_orbit_labels(cn.V(S(4)) ** 2) is None
    # sums still get their (generic) labels
    assert orbit_labels(V**0 * V).max() == 0


def test_v_to_v_orbit_count_is_the_number_of_d4_displacement_orbits():
    # P4M(n) V >> V: one orbit per D4 orbit of Z_n^2 displacements, counted by hand
    for n in (4, 5, 8):
        seen, count = set(), 0
        for r, c in itertools.product(range(n), repeat=2):
            if (r, c) in seen:
                continue
            count += 1
            seen |= {(a % n, b % n) for a, b in d4_images(r, c)}
        V = cn.V(P4M(n))
        assert (V >> V).equivariant_basis().dim == count


def d4_images(r, c):
    """The 8 images of displacement (r, c) under rotations by 90° and mirrors."""
    out = []
    for a, b in ((r, c), (c, -r), (-r, -c), (-c, r)):
        out += [(a, b), (a, -b)]
    return out


@pytest.mark.parametrize("k, expected", [(1, 1), (3, 3), (5, 6), (7, 10)])
def test_window_holds_the_d4_orbits_of_its_displacements(k, expected):
    h = (k - 1) // 2
    window = set(itertools.product(range(-h, h + 1), repeat=2))
    orbits = {frozenset(d4_images(*d)) for d in window}
    assert len(orbits) == expected
    n = 9
    V = cn.V(P4M(n))
    labels = orbit_labels(V >> V)
    kept = orbits_in_support(labels, window_mask(n, k).ravel())
    assert len(kept) == expected


def test_window_displacements_and_mask_agree():
    n, k = 7, 5
    mask = window_mask(n, k)
    assert mask.sum() == n * n * k * k
    # row 0 of the mask (output pixel 0) is the window itself
    assert set(np.flatnonzero(mask[0])) == set(window_displacements(n, k).ravel())
    # the mask is invariant: a union of orbits of V >> V
    labels = orbit_labels(cn.V(P4M(n)) >> cn.V(P4M(n)))
    orbits_in_support(labels, mask.ravel())


def test_a_mask_that_cuts_an_orbit_is_refused_by_name():
    labels = orbit_labels(cn.V(S(4)) ** 2)  # orbit 0: the diagonal, orbit 1: the rest
    mask = np.zeros(16, dtype=bool)
    mask[0] = True
    with pytest.raises(ValueError, match="cuts orbit 0 .*holds coordinate 0 but not 5"):
        orbits_in_support(labels, mask)
    assert orbits_in_support(labels, np.eye(4, dtype=bool).ravel()).tolist() == [0]
    with pytest.raises(ValueError, match="expected a mask of 16 coordinates, got 4"):
        orbits_in_support(labels, np.ones(4, dtype=bool))


@pytest.mark.parametrize("k, error", [(2, ValueError), (0, ValueError), (9, ValueError), (3.0, TypeError), (True, TypeError)])
def test_bad_window_sizes(k, error):
    with pytest.raises(error, match="expected"):
        check_window(7, k)

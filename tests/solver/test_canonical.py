"""Bases are canonical: they depend on the subspace only, never on generator order, the
choice of generators, the Lie algebra basis, the cache or the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats

import constrainnet as cn
from constrainnet.groups import D, Group, Lorentz, O, P4M, S, SO, Z
from zoo import assert_close, perm_matrix

REPS = {
    "V**2": lambda V: V**2,
    "V**2>>V**2": lambda V: V**2 >> V**2,
    "(V+V**0)>>(V**2+2*V)": lambda V: (V + V**0) >> (V**2 + 2 * V),
    "V.T*V+V**3": lambda V: V.T * V + V**3,
}


def _basis(G: Group, make) -> np.ndarray:
    cn.cache_clear()
    return np.asarray(make(cn.V(G)).equivariant_basis())


def _regenerated(G: Group, rng: np.random.Generator) -> list[Group]:
    """Other generator sets of the same group: reversed, inverted, the Lie algebra basis rotated."""
    gens, lie = np.array(G.discrete_generators), np.array(G.lie_algebra)
    out = []
    if len(gens) > 1 or len(lie) > 1:
        out.append(Group(discrete_generators=gens[::-1], lie_algebra=lie[::-1], d=G.d, name=f"{G!r} reversed"))
    if len(gens):
        inverses = np.linalg.inv(gens).round(15) + 0.0
        out.append(Group(discrete_generators=inverses, lie_algebra=lie, d=G.d, name=f"{G!r} inverted"))
    if len(lie) > 1:
        R = scipy.stats.special_ortho_group.rvs(len(lie), random_state=rng)
        rotated = np.einsum("ij,jab->iab", R, lie)
        out.append(Group(discrete_generators=gens, lie_algebra=rotated, d=G.d, name=f"{G!r} rotated"))
    if len(lie) == 1:
        out.append(Group(discrete_generators=gens, lie_algebra=-2.5 * lie, d=G.d, name=f"{G!r} rescaled"))
    return out


@pytest.mark.parametrize("name", list(REPS))
@pytest.mark.parametrize("G", [SO(2), SO(3), O(3), Lorentz(), D(4), S(4), Z(5)], ids=repr)
def test_basis_does_not_depend_on_generator_order_or_lie_basis(G, name):
    make = REPS[name]
    reference = _basis(G, make)
    for other in _regenerated(G, np.random.default_rng(0)):
        assert_close(_basis(other, make), reference, what=f"basis over {other!r}")


def test_basis_does_not_depend_on_the_choice_of_generators():
    rot, mirror = D(4).discrete_generators
    alternatives = [
        Group(discrete_generators=[rot @ mirror, mirror], name="D4 by two mirrors"),
        Group(discrete_generators=[mirror, rot, rot @ rot], name="D4 redundant"),
    ]
    make = REPS["(V+V**0)>>(V**2+2*V)"]
    reference = _basis(D(4), make)
    for other in alternatives:
        assert other.order == 8
        assert_close(_basis(other, make), reference, what=repr(other))


def test_s4_by_adjacent_transpositions_has_the_same_basis():
    transpositions = [perm_matrix([1, 0, 2, 3]), perm_matrix([0, 2, 1, 3]), perm_matrix([0, 1, 3, 2])]
    other = Group(discrete_generators=transpositions, name="S4 by transpositions")
    assert other.order == 24
    make = REPS["V**2>>V**2"]
    assert_close(_basis(other, make), _basis(S(4), make))


def test_o3_by_the_inversion_has_the_same_basis():
    other = Group(discrete_generators=[-np.eye(3)], lie_algebra=SO(3).lie_algebra, name="SO(3) x {±I}")
    for make in REPS.values():
        assert_close(_basis(other, make), _basis(O(3), make))


@pytest.mark.parametrize("G", [SO(3), Lorentz(), S(5), P4M(3)], ids=repr)
def test_solving_twice_gives_identical_bytes(G):
    V = cn.V(G)
    rep = (V + V**0) >> (V + 2 * V**0) if G.d > 4 else (V + V**0) >> (V**2 + 2 * V)
    cn.cache_clear()
    first = np.asarray(rep.equivariant_basis()).tobytes()
    cn.cache_clear()
    second = np.asarray(rep.equivariant_basis()).tobytes()
    assert first == second
    cn.cache_clear()
    third = np.asarray(cn.equivariant_basis(rep, strategy="dense")).tobytes()
    cn.cache_clear()
    assert third == np.asarray(cn.equivariant_basis(rep, strategy="dense")).tobytes()


def test_canonical_form_is_positive_at_its_pivots():
    # each column is positive at its first non-zero coordinate, and those pivots increase
    V = cn.V(SO(3))
    for rep in (V**2 >> V**2, V**4, (V + V**0) >> (V**2 + 2 * V)):
        Q = np.asarray(rep.equivariant_basis())
        firsts = [int(np.flatnonzero(np.abs(q) > 1e-9)[0]) for q in Q.T]
        assert all(Q[i, k] > 0 for k, i in enumerate(firsts))


def test_canonical_basis_of_a_known_subspace():
    # the SO(3) invariants of V**2: the identity, normalized
    Q = np.asarray((cn.V(SO(3)) ** 2).equivariant_basis())
    assert_close(Q[:, 0], np.eye(3).reshape(-1) / np.sqrt(3))


_REPS_SOURCE = """
out = []
for G in (SO(3), S(4), Lorentz(), D(4)):
    V = cn.V(G)
    for rep in ((V + V**0) >> (V**2 + 2 * V), V**2 >> V**2):
        out.append(np.asarray(rep.equivariant_basis()))
"""


def test_bases_do_not_depend_on_the_process_or_the_thread_count():
    """A fresh process, another hash seed and one BLAS thread give the bases solved here."""
    script = "import json, numpy as np, constrainnet as cn\n"
    script += "from constrainnet.groups import SO, S, Lorentz, D\n" + _REPS_SOURCE
    script += "print(json.dumps([q.tolist() for q in out]))\n"
    env = dict(os.environ, PYTHONHASHSEED="4242", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    theirs = [np.array(q) for q in json.loads(done.stdout)]
    cn.cache_clear()
    namespace = {"cn": cn, "np": np, "SO": SO, "S": S, "Lorentz": Lorentz, "D": D}
    exec(_REPS_SOURCE, namespace)
    ours = namespace["out"]
    assert len(ours) == len(theirs)
    for qa, qb in zip(ours, theirs):
        assert qa.shape == qb.shape
        # canonical form removes the rotation freedom; what is left is rounding
        assert_close(qa, qb, tol=1e-12)

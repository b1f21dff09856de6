"""Reps are immutable values: equality, hashing, digests and repr independent of the process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import O, SO, Lorentz, S
from zoo import BY_ID, build_case, params, rep_cases


def test_equal_reps_hash_equal_and_differ_from_others():
    V = cn.V(SO(3))
    assert V**2 + V == V**2 + V
    assert hash(V**2 + V) == hash(V**2 + V)
    assert cn.V(SO(3)) == cn.V(SO(3))
    assert V != cn.V(O(3))
    assert V**2 != V**2 + V**0
    assert (V >> V) != (V**2 >> V)
    assert len({V**2 + V, V**2 + V, V, cn.V(SO(3))}) == 2


def test_reps_compare_unequal_to_other_types():
    V = cn.V(SO(3))
    assert V != "V"
    assert V != 3
    assert (V == object()) is False


def test_reps_are_immutable():
    rep = cn.V(SO(3)) ** 2 + cn.V(SO(3))
    with pytest.raises(AttributeError):
        rep.size = 3
    with pytest.raises(AttributeError):
        rep.anything = 1


def test_readable_reprs():
    V = cn.V(SO(3))
    assert repr(V) == "V"
    assert repr(V**2) == "V**2"
    assert repr(V + V) == "2*V"
    assert repr(V**2 + V) == "V**2 + V"
    assert repr(V.T) == "V"  # orthogonal: the dual is the rep itself
    assert repr(cn.V(Lorentz()).T) == "V.T"


@pytest.mark.parametrize("entry", params([BY_ID[k] for k in ("S4", "SO3", "Lorentz", "SO3xS3")]))
@given(data=st.data())
def test_repr_re_parses_to_the_same_rep(entry, data):
    """A repr is an expression: evaluated with V, Scalar and PseudoScalar of the group it gives the rep back."""
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    rep, group = build_case(entry, spec, on_sub)
    assume("[" not in repr(rep))  # factor reps V[i] have no expression form
    V = cn.V(group)
    namespace = {"V": V, "Scalar": V**0, "PseudoScalar": cn.PseudoScalar(group)}
    assert eval(repr(rep), namespace) == rep, repr(rep)


@pytest.mark.parametrize(
    "make",
    [
        lambda V: (V + V**0) >> V,
        lambda V: V + (V**0 >> V),
        lambda V: (V >> V) + V**0,
        lambda V: 2 * (V >> V),
    ],
    ids=["sum>>V", "V+hom", "hom+scalar", "2*hom"],
)
def test_repr_of_sums_with_homs_is_unambiguous(make):
    V = cn.V(SO(3))
    rep = make(V)
    namespace = {"V": V, "Scalar": V**0, "PseudoScalar": cn.PseudoScalar(SO(3))}
    assert eval(repr(rep), namespace) == rep, repr(rep)


_REPS_SOURCE = """
V = cn.V(SO(3)); W = cn.V(S(4)); L = cn.V(Lorentz())
reps = [V**2 + V, (V + V**0) >> (V**2 + 2*V), W**2 >> W, L.T * L + L**0, cn.V(SO(3) * S(4), factor=1) ** 2]
out = [[repr(r), r.digest, r.G.digest] for r in reps]
"""


def test_repr_and_digest_do_not_depend_on_the_process():
    """A fresh process with another hash seed prints the same reprs and digests as this one."""
    script = "import json, constrainnet as cn\nfrom constrainnet.groups import SO, S, Lorentz\n"
    script += _REPS_SOURCE + "print(json.dumps(out))\n"
    env = dict(os.environ, PYTHONHASHSEED="4242")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    namespace = {"cn": cn, "SO": SO, "S": S, "Lorentz": Lorentz}
    exec(_REPS_SOURCE, namespace)
    assert json.loads(done.stdout) == json.loads(json.dumps(namespace["out"]))

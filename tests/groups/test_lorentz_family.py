"""SO13p ⊂ SO13 ⊂ O13 = Lorentz: components, membership and invariant counts."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import LORENTZ_METRIC, O13, SO13, Lorentz, SO13p

PARITY = np.diag([1.0, -1.0, -1.0, -1.0])
TIME_REVERSAL = np.diag([-1.0, 1.0, 1.0, 1.0])


def components(samples: np.ndarray) -> set[tuple[int, int]]:
    """(sign det g, sign g₀₀) of each sample: the four components of O(1,3)."""
    return {(int(np.sign(np.linalg.det(g))), int(np.sign(g[0, 0]))) for g in samples}


def test_o13_is_lorentz_by_another_name():
    assert O13() == Lorentz() and hash(O13()) == hash(Lorentz())
    assert repr(O13()) == "O13()" and isinstance(O13(), Lorentz)
    assert (cn.V(O13()) ** 2).equivariant_basis().dim == 1


@pytest.mark.parametrize(
    "group, expected",
    [(SO13p, {(1, 1)}), (SO13, {(1, 1), (1, -1)}), (O13, {(1, 1), (1, -1), (-1, 1), (-1, -1)})],
    ids=["SO13p", "SO13", "O13"],
)
def test_samples_preserve_the_metric_and_cover_the_components(group, expected):
    G = group()
    samples = G.samples(40, rng=0)
    for g in samples:
        np.testing.assert_allclose(g.T @ LORENTZ_METRIC @ g, LORENTZ_METRIC, atol=1e-9)
        assert G.contains(g)
    assert components(samples) == expected
    np.testing.assert_array_equal(G.lie_algebra, Lorentz().lie_algebra)


def test_membership_separates_the_components():
    assert SO13().contains(-np.eye(4)) and not SO13p().contains(-np.eye(4))
    for g in (PARITY, TIME_REVERSAL):
        assert O13().contains(g) and not SO13().contains(g) and not SO13p().contains(g)
    assert not SO13p().contains(np.diag([1.0, 1.0, 1.0, 2.0]))


# V^⊗4 of SO(1,3) has the 3 pairings of η and the Levi-Civita symbol ε (det g = 1);
# parity and time reversal (det -1) change the sign of ε, leaving 3 for O(1,3).
@pytest.mark.parametrize("group, count", [(SO13p, 4), (SO13, 4), (O13, 3)], ids=["SO13p", "SO13", "O13"])
def test_fourth_power_invariants(group, count):
    V = cn.V(group())
    assert (V**4).equivariant_basis().dim == count
    assert (V * V).equivariant_basis().dim == 1  # the metric
    assert (V >> V).equivariant_basis().dim == 1  # the identity

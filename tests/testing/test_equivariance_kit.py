"""The testing kit itself: it passes equivariant functions, fails the others, and its strategies are sound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import O, S, SO, Lorentz
from constrainnet.testing import EQUIVARIANCE_RTOL, assert_equivariant, equivariance_error, tolerance
from constrainnet.testing.strategies import GROUP_ZOO, group_elements, groups, reps


def cross_product(x):
    """SO(3)-equivariant (V + V -> V) but not O(3)-equivariant: the cross product is a pseudo-vector."""
    return np.cross(x[:, :3], x[:, 3:])


def test_equivariant_numpy_function_passes():
    V = cn.V(SO(3))
    assert_equivariant(cross_product, V + V, V)
    assert equivariance_error(cross_product, V + V, V) < 1e-12


def test_parity_is_caught():
    """The same function is not O(3)-equivariant: the kit must notice (reflections are sampled)."""
    V = cn.V(O(3))
    with pytest.raises(AssertionError, match="not equivariant"):
        assert_equivariant(cross_product, V + V, V)
    # and it is equivariant once the output is declared a pseudo-vector
    assert_equivariant(cross_product, V + V, V * cn.PseudoScalar(O(3)))


def test_non_equivariant_module_fails_and_reads_its_reps():
    torch.manual_seed(0)
    V = cn.V(SO(3))
    plain = torch.nn.Linear(6, 3).double()
    plain.rep_in, plain.rep_out = V + V, V
    with pytest.raises(AssertionError, match=r"relative error .* exceeds 1e-10"):
        assert_equivariant(plain)


def test_small_errors_near_the_identity_are_scaled_up():
    """An error proportional to ‖ρ(g) − I‖ is not hidden by elements close to the identity.

    The group's Lie algebra is scaled by 1e-3, so every sample is a rotation by
    ~1e-3 rad: the raw relative error of a function that breaks equivariance by
    eps is then ~1e-3·eps, and the kit must report ~eps.
    """
    a = np.array([[0.0, -1.0], [1.0, 0.0]])
    G = cn.groups.Group(lie_algebra=[1e-3 * a], name="tiny-rotations")
    V = cn.V(G)
    eps = 1e-4

    def almost(x):
        return x + eps * x[:, ::-1]  # not equivariant: swaps the axes

    assert equivariance_error(almost, V, V, n_samples=16) > eps / 10


def test_float32_module_uses_float32_tolerance():
    torch.manual_seed(0)
    V = cn.V(SO(3))
    layer = cn.nn.Linear(2 * V, V)
    assert tolerance(torch.float32) == EQUIVARIANCE_RTOL[torch.float32] == 1e-5
    assert_equivariant(layer)  # float32: 1e-5
    with pytest.raises(AssertionError):
        assert_equivariant(layer, rtol=1e-14)


def test_missing_reps_and_wrong_output_shape():
    V = cn.V(SO(3))
    with pytest.raises(TypeError, match="expected rep_in and rep_out"):
        equivariance_error(lambda x: x)
    with pytest.raises(cn.RepMismatchError, match="expected fn to return shape"):
        equivariance_error(lambda x: x[:, :2], V, V)
    with pytest.raises(cn.RepMismatchError, match="expected reps of"):
        equivariance_error(lambda x: x, V, cn.V(O(3)))
    with pytest.raises(TypeError, match="dtype"):
        tolerance("int8")


def test_lorentz_invariant_passes():
    G = Lorentz()
    V = cn.V(G)
    eta = np.diag([1.0, -1.0, -1.0, -1.0])
    assert_equivariant(lambda x: np.einsum("bi,ij,bj->b", x, eta, x)[:, None], V, V**0)


@given(data=st.data())
@settings(max_examples=20)
def test_strategies_draw_sound_groups_elements_and_reps(data):
    G = data.draw(groups())
    g = data.draw(group_elements(G))
    assert g.shape == (G.d, G.d)
    rep = data.draw(reps(G, max_size=32))
    assert rep.G == G and 1 <= rep.size <= 32
    h = G.sample(1)
    scale = max(1.0, np.abs(g).max() * np.abs(h).max()) ** 3
    np.testing.assert_allclose(rep.rho(g @ h), rep.rho(g) @ rep.rho(h), atol=1e-9 * scale)


def test_group_zoo_ids_and_unknown_ids():
    assert {"SO3", "D4", "P4M3", "Lorentz"} <= set(GROUP_ZOO)
    with pytest.raises(ValueError, match="expected ids from"):
        groups(["SO4"])
    assert S(4) == GROUP_ZOO["S4"]()

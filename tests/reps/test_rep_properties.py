"""Property tests over random zoo groups, elements and reps (hypothesis, derandomized).

Reps are drawn from V, V**0, PseudoScalar, factor reps, +, n*, *, **, .T, >>
and restriction to the zoo subgroup, of size at most 64. Every library matrix
is compared with the plain-numpy reference of :class:`zoo.Spec`.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import assume, given
from hypothesis import strategies as st

import constrainnet as cn
from zoo import CONTINUOUS, ZOO, assert_close, build_case, params, random_lie_element, rep_cases

seeds = st.integers(0, 2**32 - 1)


def _scale(*mats: np.ndarray) -> float:
    return float(np.prod([max(1.0, np.abs(m).max()) for m in mats]))


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_rho_is_a_homomorphism_and_matches_the_reference(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    seed_g, seed_h = data.draw(seeds, label="seed g"), data.draw(seeds, label="seed h")
    rep, group = build_case(entry, spec, on_sub)
    assert rep.G == group and rep.size == spec.size(entry.G)
    g, h = group.sample(seed_g), group.sample(seed_h)
    rg, rh, rgh = rep.rho(g), rep.rho(h), rep.rho(g @ h)
    assert rg.shape == (rep.size, rep.size)
    assert_close(rgh, rg @ rh, scale=_scale(rg, rh), what="rho(gh) vs rho(g) rho(h)")
    assert_close(rg, spec.rho(entry.G, g), what="rho(g) vs reference")
    assert_close(rep.rho(np.eye(group.d)), np.eye(rep.size), what="rho(identity)")


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_rho_apply_is_x_times_rho_transposed(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    seed = data.draw(seeds, label="seed")
    rep, group = build_case(entry, spec, on_sub)
    rng = np.random.default_rng(seed)
    g = group.sample(rng)
    rho = rep.rho(g)
    for shape in [(rep.size,), (5, rep.size), (2, 3, rep.size)]:
        x = rng.standard_normal(shape)
        out = rep.rho_apply(g, x)
        assert out.shape == x.shape
        assert_close(out, x @ rho.T, scale=_scale(rho) * np.abs(x).max(), what=f"rho_apply on {shape}")


@pytest.mark.parametrize("entry", params(CONTINUOUS))
@given(data=st.data())
def test_drho_is_the_derivative_of_rho(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    seed = data.draw(seeds, label="seed")
    rep, group = build_case(entry, spec, on_sub)
    assume(len(group.lie_algebra) > 0)  # C4 < SO(2) and D3 < O(2) are finite
    G = entry.G
    rng = np.random.default_rng(seed)
    a = random_lie_element(group, rng)  # of the group the rep is a rep of: V(H).T == V(H) only on H
    a /= np.linalg.norm(a)
    drho = rep.drho(a)
    assert_close(drho, spec.drho(G, a), what="drho vs reference (Leibniz rule)")

    # Richardson-extrapolated central difference of t ↦ ρ(exp(tA)): error
    # O(t⁴·deg⁵) ≈ 1e-12·6⁵ < 1e-8 for ‖A‖ = 1 and tensor degree ≤ 6, and
    # round-off ≈ 1e-16/t ≈ 1e-13; 1e-6 is far above both.
    def central(t):
        return (rep.rho(scipy.linalg.expm(t * a)) - rep.rho(scipy.linalg.expm(-t * a))) / (2 * t)

    t = 1e-3
    derivative = (4 * central(t / 2) - central(t)) / 3
    assert_close(drho, derivative, tol=1e-6, what="drho vs finite difference")

    x = rng.standard_normal((4, rep.size))
    assert_close(rep.drho_apply(a, x), x @ drho.T, scale=_scale(drho) * np.abs(x).max(), what="drho_apply")


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_dual_is_the_inverse_transpose_and_an_involution(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    seed = data.draw(seeds, label="seed")
    rep, group = build_case(entry, spec, on_sub)
    g = group.sample(seed)
    rho = rep.rho(g)
    dual = rep.T
    assert dual.size == rep.size and dual.G == group
    assert_close(dual.rho(g), np.linalg.inv(rho).T, scale=_scale(rho) ** 2, what="dual rho")
    assert_close(dual.T.rho(g), rho, scale=_scale(rho) ** 2, what="double dual rho")


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_reps_built_twice_are_equal_values(entry, data):
    spec, on_sub = data.draw(rep_cases(entry), label="spec, on_sub")
    a, _ = build_case(entry, spec, on_sub)
    b, _ = build_case(entry, spec, on_sub)
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert repr(a) == repr(b) and str(a) == repr(a)
    assert a.digest == b.digest
    assert {a: 1}[b] == 1


@pytest.mark.parametrize("entry", params(ZOO))
@given(data=st.data())
def test_hom_of_drawn_reps_conjugates_maps(entry, data):
    """(a >> V)(g) W = g W ρ_a(g)⁻¹ and (V >> a)(g) W = ρ_a(g) W g⁻¹ on row-major W."""
    spec, on_sub = data.draw(rep_cases(entry, max_size=16), label="spec, on_sub")
    seed = data.draw(seeds, label="seed")
    rep, group = build_case(entry, spec, on_sub)
    V = cn.V(group)
    rng = np.random.default_rng(seed)
    g = group.sample(rng)
    rho = spec.rho(entry.G, g)  # reference ρ_a
    scale = _scale(g, rho, np.linalg.inv(g), np.linalg.inv(rho))
    W = rng.standard_normal((group.d, rep.size))
    expected = g @ W @ np.linalg.inv(rho)
    assert_close((rep >> V).rho(g) @ W.reshape(-1), expected.reshape(-1), scale=scale, what="a >> V")
    W = rng.standard_normal((rep.size, group.d))
    expected = rho @ W @ np.linalg.inv(g)
    assert_close((V >> rep).rho(g) @ W.reshape(-1), expected.reshape(-1), scale=scale, what="V >> a")

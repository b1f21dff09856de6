"""examples/p4m_image.py: a P4M layer commutes with a rotation + mirror + shift; a plain Conv2d only with the shift."""

from __future__ import annotations

import numpy as np
import pytest
from constrainnet.groups import P4M


# (support, free coefficients): 9 channel pairs times the D4-orbits of kernel offsets. A 3x3 window
# has 3 (centre, edge, corner); the full 8x8 torus has 15 (Burnside: (64+4+4+16+16+8+8)/8).
CASES = [(3, 27), (0, 135)]


@pytest.fixture(scope="module", params=CASES, ids=["support3", "full"])
def outcome(request, example, tmp_path_factory):
    out = tmp_path_factory.mktemp("p4m")
    support, count = request.param
    result = example("p4m_image").main(["--out", str(out), "--seed", "2", "--size", "8", "--support", str(support)])
    return dict(result, support=support, expected_coefficients=count)


def test_number_of_coefficients(outcome):
    assert outcome["num_coefficients"] == outcome["expected_coefficients"]


def test_kernels_are_d4_symmetric_and_local(outcome):
    n = outcome["size"]
    response = outcome["impulse_response"]  # (c_in, c_out, n, n), impulse at the centre pixel
    kernels = np.roll(response, (-(n // 2), -(n // 2)), axis=(-2, -1))  # impulse moved to pixel (0, 0)
    neg = (-np.arange(n)) % n
    np.testing.assert_allclose(kernels[..., neg, :], kernels, atol=1e-12)  # mirror r -> -r
    np.testing.assert_allclose(kernels.swapaxes(-1, -2), kernels, atol=1e-12)  # mirror r <-> c
    assert np.abs(kernels).max() > 1e-3
    if outcome["support"]:
        half = outcome["support"] // 2
        distance = np.minimum(np.arange(n), n - np.arange(n))
        outside = np.maximum.outer(distance, distance) > half
        assert np.abs(kernels[..., outside]).max() == 0.0


def test_transformation_is_a_rotation_mirror_and_shift_of_p4m(outcome):
    quarter_turns, mirror, shift = outcome["transformation"]
    assert quarter_turns in (1, 2, 3) and mirror and all(1 <= s < outcome["size"] for s in shift)
    assert outcome["in_group"]


def test_layer_commutes_with_the_transformation(outcome):
    assert outcome["error_float32"] < 1e-5
    assert outcome["error_float64"] < 1e-12
    np.testing.assert_allclose(outcome["psi_Tf"], outcome["T_psi_f"], rtol=0, atol=1e-5 * np.abs(outcome["T_psi_f"]).max())


def test_plain_conv2d_commutes_with_shifts_only(outcome):
    # a circular convolution commutes with every shift, but a random kernel has no D4 symmetry
    assert outcome["conv2d_shift_error"] < 1e-12
    assert outcome["conv2d_error"] > 0.05


def test_image_is_generated_in_range_and_not_symmetric(example):
    mod = example("p4m_image")
    f = mod.procedural_image(8, np.random.default_rng(0))
    assert f.shape == (3, 8, 8) and f.min() >= 0.0 and f.max() == 1.0
    for quarter_turns, mirror in [(1, False), (2, False), (0, True), (1, True)]:
        assert not np.allclose(mod.transformation(quarter_turns, mirror, (0, 0))(f), f)


def test_permutation_matrix_membership_has_teeth(example):
    mod = example("p4m_image")
    G = P4M(6)
    assert G.contains(mod.permutation_matrix(mod.transformation(1, False, (0, 0)), 6))
    assert G.contains(mod.permutation_matrix(mod.transformation(3, True, (2, 5)), 6))
    swap = np.eye(36)[[1, 0] + list(range(2, 36))]  # exchanging two pixels is no symmetry of the square grid
    assert not G.contains(swap)

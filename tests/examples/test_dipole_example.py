"""examples/dipole.py: the projector, the projection and the bias against closed forms; EMLP equivariance."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def outcome(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("dipole")
    return example("dipole").main(["--out", str(out), "--seed", "3", "--ch", "16", "--num-layers", "1"])


def test_projector_is_60_by_60_of_rank_5(outcome):
    # 3 outputs x (5 scalars + 5 vectors) = 60 entries; one free multiple of the identity per input vector
    assert outcome["projector_shape"] == (60, 60)
    assert outcome["projector_rank"] == 5
    assert outcome["basis_dim"] == 5
    P = outcome["projector"]
    np.testing.assert_allclose(P, P.T, atol=1e-14)  # an orthogonal projector: symmetric and idempotent
    np.testing.assert_allclose(P @ P, P, atol=1e-14)
    np.testing.assert_allclose(np.trace(P), 5.0, atol=1e-12)


def test_projection_matches_the_closed_form(outcome):
    # Hom(V, V) of SO(3) is spanned by the identity: the orthogonal projection of a 3x3
    # block B is trace(B)/3 * I; Hom(Scalar, V) is zero (no invariant vector)
    W, PW = outcome["W"], outcome["PW"]
    assert W.shape == PW.shape == (3, 20)
    np.testing.assert_allclose(PW[:, :5], 0.0, atol=1e-12)
    for k in range(5):
        block = W[:, 5 + 3 * k : 8 + 3 * k]
        np.testing.assert_allclose(PW[:, 5 + 3 * k : 8 + 3 * k], np.trace(block) / 3 * np.eye(3), atol=1e-12)
    assert outcome["scalar_block_max"] < 1e-12


def test_projected_weights_commute_and_random_ones_do_not(outcome):
    assert outcome["projected_error"] < 1e-12
    assert outcome["random_error"] > 0.1


def test_bias_is_zero(outcome):
    assert outcome["bias_basis_dim"] == 0
    assert outcome["projected_bias_norm"] == 0.0
    assert outcome["layer_bias_norm"] == 0.0


def test_emlp_is_equivariant(outcome):
    assert outcome["emlp_error_float32"] < 1e-5
    assert outcome["emlp_error_float64"] < 1e-10


def test_picture_is_written(outcome):
    with open(outcome["picture"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

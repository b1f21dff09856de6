"""examples/o2_frames.py: equivariant frames under the cone O(2), the two O(2)s, and Schur's lemma."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def outcome(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("o2_frames")
    return example("o2_frames").main(["--out", str(out), "--seed", "0", "--samples", "256", "--steps", "200", "--elements", "8"])


def test_frame_and_embedding_transform_correctly_flips_included(outcome):
    assert outcome["flips_tested"] > 0
    assert outcome["frame_error"] < 1e-10
    assert outcome["embedding_error"] < 1e-10
    assert outcome["flip_reverses_det"]


def _haar_invariant_count(flip_trace: float) -> float:
    """dim Fix of V + V**2 + V**3 on an O(2) in O(3): the average of χ = t + t² + t³ (t = tr g).

    Rotations about z have t = 1 + 2 cos θ (averaged exactly by 16 equally spaced angles,
    χ being a trigonometric polynomial of degree 3); every flipped element has the trace of the flip.
    """
    t = 1 + 2 * np.cos(2 * np.pi * np.arange(16) / 16)
    rotations = np.mean(t + t**2 + t**3)
    flips = flip_trace + flip_trace**2 + flip_trace**3
    return (rotations + flips) / 2


def test_the_two_embeddings_differ(outcome):
    assert outcome["pseudo_invariant_dim"] == {"O(2)cone": 0, "O(2)dihedral": 1}
    # cone flip diag(1, -1, 1) has trace 1, dihedral flip diag(1, -1, -1) trace -1
    assert outcome["shape_invariant_dim"] == {"O(2)cone": _haar_invariant_count(1.0), "O(2)dihedral": _haar_invariant_count(-1.0)}
    assert outcome["shape_invariant_dim"] == {"O(2)cone": 7, "O(2)dihedral": 5}


def test_linear_map_to_scalars_reads_only_the_invariant_channel(outcome):
    basis = outcome["linear_basis_SO(2)"]
    np.testing.assert_allclose(np.abs(basis.ravel()), [0, 0, 0, 0, 1], atol=1e-12)
    assert outcome["bilinear_products_dim_SO(2)"] == 2 and outcome["bilinear_products_dim_O(2)"] == 1


def test_bilinear_learns_the_signed_area_under_so2_only(outcome):
    mse = outcome["relative_mse"]
    assert mse["linear_SO(2)"] > 0.9 and mse["linear_O(2)"] > 0.9
    assert mse["bilinear_SO(2)"] < 1e-2
    assert mse["bilinear_SO(2)"] < 0.01 * mse["linear_SO(2)"]
    assert mse["bilinear_O(2)"] > 0.9


def test_pictures_are_written(outcome):
    for path in outcome["pictures"]:
        assert path.is_file() and path.stat().st_size > 1000

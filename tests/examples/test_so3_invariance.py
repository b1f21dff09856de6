"""examples/so3_invariance.py: the EMLP is invariant to rotations in float32 and float64, the MLP is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

SMALL = ["--points", "3", "--ch", "16", "--num-layers", "1", "--samples", "128"]


@pytest.fixture(scope="module", params=[0, 10], ids=["untrained", "trained"])
def outcome(request, example, tmp_path_factory):
    out = tmp_path_factory.mktemp("so3")
    return example("so3_invariance").main(["--out", str(out), "--seed", "1", "--steps", str(request.param), *SMALL])


def test_emlp_is_invariant(outcome):
    assert outcome["emlp_error_float32"] < 1e-5
    assert outcome["emlp_error_float64"] < 1e-10
    assert outcome["emlp_kit_error_float32"] < 1e-5
    assert outcome["emlp_kit_error_float64"] < 1e-10


def test_mlp_is_not_invariant(outcome):
    assert outcome["mlp_error"] > 1e-3


def test_turning_cloud_curves(outcome):
    curves = outcome["curves"]
    assert {k: len(v) for k, v in curves.items()} == {"target": 73, "EMLP": 73, "MLP": 73}
    # the target is a closed-form invariant, the EMLP flat to float32 round-off, the MLP moves
    assert np.ptp(curves["target"]) < 1e-12
    assert np.ptp(curves["EMLP"]) < 1e-5 * max(np.abs(curves["EMLP"]).max(), 1e-3)
    assert np.ptp(curves["MLP"]) > 1e-4


def test_target_is_the_closed_form_invariant(example):
    mod = example("so3_invariance")
    # two opposite points sum to 0; three equal points give |3x|^2 / 3 = 3
    x = np.array([[0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0] * 3])
    np.testing.assert_allclose(mod.target(x)[:, 0], [1.0 / 3.0, 3.0], rtol=1e-14)
    R = Rotation.from_rotvec([0.3, -1.1, 0.7]).as_matrix()
    np.testing.assert_allclose(mod.target(mod.rotate(x, R)), mod.target(x), rtol=1e-13)

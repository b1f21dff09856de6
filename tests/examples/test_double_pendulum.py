"""examples/double_pendulum.py: a tiny run trains every model, reports finite errors and draws the curve."""

from __future__ import annotations

import math

import pytest


@pytest.fixture(scope="module")
def outcome(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("double_pendulum")
    argv = ["--n-train", "12", "--n-test", "4", "--epochs", "2", "--ch", "8", "--num-layers", "1"]
    argv += ["--rollout-steps", "8", "--ode", "--out", str(out)]
    return example("double_pendulum").main(argv), out


def test_every_model_is_trained_and_scored(outcome):
    result, _ = outcome
    assert set(result["errors"]) == {"EMLP-HNN (O2eR3)", "MLP-HNN", "EMLP-NODE (O2eR3)", "MLP-NODE"}
    for name, error in result["errors"].items():
        assert 1e-7 <= error <= 1.0, name
        assert math.isfinite(result["losses"][name])
        assert result["curves"][name].shape == (8,)


def test_picture_is_drawn(outcome):
    _, out = outcome
    assert (out / "double_pendulum_rollout.png").stat().st_size > 0


def test_quick_defaults(example):
    args = example("double_pendulum").parse_args(["--quick", "--epochs", "7"])
    assert args.epochs == 7 and args.n_train < 300 and args.rollout_steps < 150

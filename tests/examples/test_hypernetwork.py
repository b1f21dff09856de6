"""examples/hypernetwork.py: per-sample equivariant maps from Basis.expand beat free hypernetworks, exactly equivariant."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def outcome(example):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small models: faster on one thread
    try:
        return example("hypernetwork").main(["--quick", "--seed", "0"])
    finally:
        torch.set_num_threads(threads)


def test_the_equivariant_hypernetwork_wins_with_margin(outcome):
    eq, plain, mlp = (outcome[k]["mse"] for k in ("equivariant", "plain", "mlp"))
    assert eq < 0.5 * plain, (eq, plain)  # measured 0.0067 vs 0.021
    assert eq < 0.2 * mlp, (eq, mlp)  # measured 0.0067 vs 0.11
    assert eq < 0.01 * outcome["zero_mse"]


def test_every_predicted_map_is_equivariant(outcome):
    assert outcome["equivariant"]["rotation_error"] < 1e-12
    assert outcome["plain"]["rotation_error"] > 1e-3
    assert outcome["mlp"]["rotation_error"] > 1e-3


def test_the_picture(example, tmp_path):
    out = example("hypernetwork").main(["--quick", "--epochs", "1", "--n-test", "16", "--models", "equivariant", "--out", str(tmp_path)])
    assert (tmp_path / "hypernetwork.png").is_file() and out["picture"].endswith("hypernetwork.png")

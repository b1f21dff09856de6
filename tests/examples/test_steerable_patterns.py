"""examples/steerable_patterns.py: a D4 steerable CNN keeps its accuracy on turned shapes; a plain CNN does not."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def outcome(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("steerable")
    return example("steerable_patterns").main(["--quick", "--seed", "0", "--out", str(out)])


def test_the_steerable_cnn_is_accurate_and_blind_to_orientation(outcome):
    ours = outcome["steerable D4"]
    assert ours["upright"] > 0.6, ours  # chance is 0.2
    # exactly D4-invariant: turned test images are classified as well as upright ones
    # (the two test sets are different samples, so allow their sampling difference)
    assert abs(ours["turned"] - ours["upright"]) < 0.08, ours


def test_the_plain_cnn_drops_on_turned_shapes(outcome):
    plain, ours = outcome["plain CNN"], outcome["steerable D4"]
    assert plain["upright"] > 0.6, plain
    assert plain["turned"] < plain["upright"] - 0.2, plain
    assert ours["turned"] > plain["turned"] + 0.1, (ours, plain)


def test_fewer_parameters_and_the_pictures(outcome):
    assert outcome["steerable D4"]["params"] < outcome["plain CNN"]["params"] / 4
    assert len(outcome["pictures"]) == 2

"""The command line table and the picture of a decomposition."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.cli import main
from constrainnet.groups import SO


def test_cli_prints_the_components(capsys):
    assert main(["basis", "--group", "SO(3)", "--decompose", "V**3"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    # type, d, m for V**3 of SO(3): l=0 once, l=1 three times, l=2 twice, l=3 once
    assert [(r[1], int(r[2]), int(r[3]), r[4]) for r in rows] == [
        ("l=0", 1, 1, "real"), ("l=1", 3, 3, "real"), ("l=2", 5, 2, "real"), ("l=3", 7, 1, "real")
    ]


def test_cli_declines_lorentz(capsys):
    assert main(["basis", "--group", "Lorentz()", "--decompose", "V"]) == 1
    assert "orthogonal" in capsys.readouterr().err


def test_plot_shows_the_block_form(tmp_path):
    pytest.importorskip("matplotlib")
    from constrainnet import plot

    G = SO(3)
    fig = plot.decomposition(cn.V(G) ** 2, G.sample(np.random.default_rng(0)), file=tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 0
    after = fig.axes[1].images[0].get_array()
    assert np.abs(np.asarray(after)[0, 1:]).max() < 1e-10  # the scalar block is alone in its rows

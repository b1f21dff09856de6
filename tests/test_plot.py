"""Pictures: random vs projected weights, basis elements and Cayley tables (headless PNGs)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import constrainnet as cn
from constrainnet import plot
from constrainnet.errors import GroupError
from constrainnet.groups import D, O, S, SO, Lorentz, Z

pytest.importorskip("matplotlib", reason="constrainnet.plot needs matplotlib (pip install 'constrainnet[plot]')")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# (id, group, rep_in, rep_out) as expressions over the group's V
CASES = [
    ("SO3-dipole", SO(3), lambda V: 5 * V**0 + 5 * V, lambda V: V),
    ("O3-V2-V", O(3), lambda V: V**2, lambda V: V),
    ("SO3-V2-V", SO(3), lambda V: V**2, lambda V: V),
    ("S4-V-V2", S(4), lambda V: V, lambda V: V**2),
    ("D4-sum", D(4), lambda V: V + V**0, lambda V: V**2 + V),
    ("Lorentz-V-V", Lorentz(), lambda V: V, lambda V: V),
    ("Z5-V-V", Z(5), lambda V: V, lambda V: V),
]


def _assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_projected_weights_are_equivariant(case):
    _, G, make_in, make_out = case
    V = cn.V(G)
    rep_in, rep_out = make_in(V), make_out(V)
    W, PW = plot.projected_weights(rep_in, rep_out, seed=3)
    assert W.shape == PW.shape == (rep_out.size, rep_in.size)
    for g in G.samples(4, rng=7):
        lhs, rhs = rep_out.rho(g) @ PW, PW @ rep_in.rho(g)
        assert np.allclose(lhs, rhs, atol=1e-9 * max(1.0, np.abs(lhs).max()))
    # P W is the orthogonal projection: idempotent, and W - P W is orthogonal to it
    P = (rep_in >> rep_out).equivariant_projector()
    assert np.allclose(P @ PW.reshape(-1), PW.reshape(-1), atol=1e-10)
    assert abs(float(np.sum((W - PW) * PW))) < 1e-9 * max(1.0, float(np.sum(W * W)))


def test_projected_weights_are_seeded():
    V = cn.V(SO(3))
    a, b, c = (plot.projected_weights(V, V**2, seed=s)[0] for s in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_distinct_values():
    assert plot.distinct_values([[1.0, 0.0], [0.0, 1.0 + 1e-12]]) == 1
    assert plot.distinct_values([2.0, -2.0, 0.0]) == 2
    assert plot.distinct_values(np.zeros((3, 3))) == 0
    assert plot.distinct_values([]) == 0
    # entries that the constraint ties (c_k I on each vector copy) count once
    V = cn.V(SO(3))
    _, PW = plot.projected_weights(5 * V**0 + 5 * V, V)
    assert plot.distinct_values(PW) == 5


def test_weights_writes_png_with_title(tmp_path):
    V = cn.V(SO(3))
    path = tmp_path / "weights.png"
    fig = plot.weights(5 * V**0 + 5 * V, V, seed=0, file=path)
    _assert_png(path)
    title = fig.get_suptitle()
    assert "(5*Scalar + 5*V) >> V" in title
    assert "basis dim 5" in title and "5 distinct non-zero values in P W" in title
    assert [a.get_title() for a in fig.axes[:2]] == ["random W", "projected P W"]
    # each heatmap on its own colour scale, symmetric about zero, spanning its own entries
    W, PW = plot.projected_weights(5 * V**0 + 5 * V, V, 0)
    for a, mat in zip(fig.axes[:2], (W, PW)):
        low, high = a.images[0].get_clim()
        assert low == -high == pytest.approx(-np.abs(mat).max())


def test_weights_title_counts_parameters_and_values_apart():
    # r free parameters and the distinct values of P W are different counts: SO(3) maps
    # V**2 -> V**2 are a I + b (swap) + c (trace), 3 parameters, and the diagonal entries
    # x_ii -> x_ii take a + b + c: 4 distinct values (a, b, c, a + b + c)
    V = cn.V(SO(3))
    fig = plot.weights(V**2, V**2, seed=0)
    title = fig.get_suptitle()
    assert "basis dim 3 (free parameters), 4 distinct non-zero values in P W" in title


def test_weights_into_given_axes(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, 2)
    V = cn.V(S(4))
    assert plot.weights(V, V, ax=axes) is fig
    assert axes[1].get_title() == "projected P W"
    with pytest.raises(ValueError, match="expected two Axes"):
        plot.weights(V, V, ax=[axes[0]])


@pytest.mark.parametrize(
    "G, make, expected_dim",
    [(SO(3), lambda V: V**2 >> V**2, 3), (SO(3), lambda V: V**3, 1), (S(4), lambda V: V >> V, 2), (SO(3), lambda V: V, 0)],
    ids=["SO3-hom", "SO3-V3", "S4-hom", "SO3-V-empty"],
)
def test_basis_writes_png(tmp_path, G, make, expected_dim):
    rep = make(cn.V(G))
    path = tmp_path / "basis.png"
    fig = plot.basis(rep, n=2, file=path)
    _assert_png(path)
    assert f"basis dim {expected_dim}, showing {min(2, expected_dim)}" in fig.get_suptitle()


def test_basis_panels_are_basis_columns():
    V = cn.V(SO(3))
    rep = V**2 >> V**2
    fig = plot.basis(rep, n=3)
    Q = np.asarray(rep.equivariant_basis())
    for k in range(3):
        shown = fig.axes[k].images[0].get_array()
        assert np.allclose(shown, Q[:, k].reshape(9, 9))


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_basis_rejects_bad_n(n):
    with pytest.raises(ValueError, match="expected a positive int n"):
        plot.basis(cn.V(SO(3)) ** 2, n=n)


def test_cayley(tmp_path):
    path = tmp_path / "cayley.png"
    fig = plot.cayley(D(4), file=path)
    _assert_png(path)
    assert fig.get_suptitle() == "Cayley table of D(4) (order 8)"
    table = fig.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(table), D(4).cayley_table())
    with pytest.raises(GroupError, match="continuous"):
        plot.cayley(SO(3))


def test_figures_do_not_touch_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot.weights(cn.V(SO(3)), cn.V(SO(3)))
    plot.basis(cn.V(SO(3)) ** 2)
    assert plt.get_fignums() == before


def test_import_does_not_load_matplotlib():
    code = "import sys, constrainnet.plot; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_png_without_a_display(tmp_path):
    """Saving needs no display even when an interactive backend is configured: pyplot is never loaded."""
    path = tmp_path / "w.png"
    code = (
        "import sys, constrainnet as cn; from constrainnet import plot; from constrainnet.groups import SO; "
        f"plot.weights(cn.V(SO(3)), cn.V(SO(3)) ** 2, file={str(path)!r}); "
        "sys.exit('matplotlib.pyplot' in sys.modules)"
    )
    env = {**os.environ, "MPLBACKEND": "TkAgg", "DISPLAY": ""}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
    _assert_png(path)

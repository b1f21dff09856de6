"""Nonlinearities, BiLinear, uniform_rep, EMLP and MLP: equivariance, errors, determinism, save/load."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import C, D, Lorentz, O, S, SO, Z
from constrainnet.testing import assert_equivariant, equivariance_error
from constrainnet.testing.strategies import reps

DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])


class Chain(torch.nn.Module):
    def __init__(self, *mods, rep_in, rep_out):
        super().__init__()
        self.mods = torch.nn.Sequential(*mods)
        self.rep_in, self.rep_out = rep_in, rep_out

    def forward(self, x):
        return self.mods(x)


@DTYPES
@pytest.mark.parametrize("G", [SO(3), O(3), Lorentz(), D(4), S(4)], ids=["SO3", "O3", "Lorentz", "D4", "S4"])
def test_gated_nonlinearity_equivariant(G, dtype):
    V = cn.V(G)
    rep = 3 * V**0 + 2 * V + V**2
    act = cn.nn.GatedNonlinearity(rep)
    assert act.rep_in == cn.nn.gated(rep)
    assert_equivariant(act, dtype=dtype)


def test_gated_counts_gates_per_copy_and_skips_permutation_reps():
    V = cn.V(SO(3))
    assert cn.nn.gated(2 * V**0 + 3 * V + V**2).size == 2 + 9 + 9 + 4
    W = cn.V(S(4))
    assert cn.nn.gated(W + W**2) == W + W**2  # permutation reps are gated pointwise


def test_gating_breaks_without_gates():
    """Pointwise SiLU on vectors is not equivariant: the kit must see it."""
    V = cn.V(SO(3))
    f = torch.nn.SiLU()
    assert equivariance_error(f, V, V, dtype=torch.float64) > 1e-2
    with pytest.raises(cn.RepError, match="breaks equivariance on V"):
        cn.nn.PointwiseNonlinearity(2 * V**0 + V)


@DTYPES
def test_pointwise_on_permutation_reps_is_equivariant(dtype):
    W = cn.V(S(5))
    assert_equivariant(cn.nn.PointwiseNonlinearity(W**2 + W**0), dtype=dtype)


@DTYPES
@pytest.mark.parametrize("G", [SO(3), O(2)], ids=["SO3", "O2"])
def test_norm_nonlinearity_equivariant(G, dtype):
    V = cn.V(G)
    act = cn.nn.NormNonlinearity(2 * V**0 + 2 * V + V**2, dtype=dtype)
    with torch.no_grad():
        act.bias.normal_()
    assert_equivariant(act, dtype=dtype)


def test_norm_nonlinearity_rejects_non_orthogonal_reps():
    with pytest.raises(cn.RepError, match="orthogonal"):
        cn.nn.NormNonlinearity(cn.V(Lorentz()) + cn.V(Lorentz()) ** 0)


@DTYPES
@pytest.mark.parametrize("G", [SO(3), O(3), Lorentz(), O(5), C(4) * S(3)], ids=["SO3", "O3", "Lorentz", "O5", "C4xS3"])
def test_bilinear_equivariant(G, dtype):
    torch.manual_seed(0)
    V = cn.V(G)
    layer = cn.nn.BiLinear(3 * V**0 + 2 * V + V**2, V**0 + V + V**2, dtype=dtype)
    assert_equivariant(layer)


def test_bilinear_is_genuinely_bilinear_and_deterministic():
    V = cn.V(SO(3))
    rep = 2 * V**0 + 2 * V

    def make():
        torch.manual_seed(3)
        return cn.nn.BiLinear(rep, V, dtype=torch.float64)

    a, b = make(), make()
    x = torch.randn(4, rep.size, dtype=torch.float64)
    assert torch.equal(a(x), b(x))
    # not linear: f(2x) differs from 2 f(x)
    assert not torch.allclose(a(2 * x), 2 * a(x))
    # the vector-vector product reaches the output: a cross product is learnable
    assert cn.V(SO(3)) * cn.V(SO(3)) in [c for c, _ in a.rep_product.components]


@given(data=st.data())
@settings(max_examples=12)
def test_linear_equivariant_on_random_reps(data):
    G = data.draw(st.sampled_from([SO(3), O(2), D(3), S(3), Lorentz(), Z(4)]))
    rep_in = data.draw(reps(G, max_size=24))
    rep_out = data.draw(reps(G, max_size=24))
    torch.manual_seed(0)
    layer = cn.nn.Linear(rep_in, rep_out, dtype=torch.float64)
    assert_equivariant(layer, n_samples=4)
    assert_equivariant(layer.float(), n_samples=4)


def test_uniform_rep_sizes_and_determinism():
    for G in [SO(3), O(5), Lorentz(), S(6), SO(2)]:
        for ch in [1, 17, 64, 256, 384]:
            rep = cn.nn.uniform_rep(ch, G)
            assert rep.size == ch
            assert rep == cn.nn.uniform_rep(ch, G)
    assert repr(cn.nn.uniform_rep(384, SO(3))) == "102*Scalar + 34*V + 11*V**2 + 3*V**3"
    with pytest.raises(cn.RepError, match="positive int"):
        cn.nn.uniform_rep(0, SO(3))


@DTYPES
@pytest.mark.parametrize(
    "G,rin,rout",
    [
        (SO(3), lambda V: 5 * V**0 + 5 * V, lambda V: V),
        (O(3), lambda V: 5 * V**0 + 5 * V, lambda V: V**2),
        (O(5), lambda V: 2 * V, lambda V: V**0),
        (Lorentz(), lambda V: 4 * V, lambda V: V**0),
        (D(4), lambda V: 2 * V, lambda V: V + V**0),
    ],
    ids=["SO3-dipole", "O3-inertia", "O5", "Lorentz", "D4"],
)
def test_emlp_equivariant(G, rin, rout, dtype):
    torch.manual_seed(0)
    V = cn.V(G)
    model = cn.nn.EMLP(rin(V), rout(V), group=G, ch=48, num_layers=2, dtype=dtype)
    assert_equivariant(model, n_samples=6)


def test_emlp_output_depends_on_input_for_invariant_targets():
    """An invariant head must still see the input (through products), not only biases."""
    torch.manual_seed(0)
    G = O(5)
    V = cn.V(G)
    model = cn.nn.EMLP(2 * V, V**0, group=G, ch=48, num_layers=2)
    x = torch.randn(16, 10)
    assert model(x).std() > 1e-4


def test_mlp_is_not_equivariant():
    torch.manual_seed(0)
    G = SO(3)
    V = cn.V(G)
    assert equivariance_error(cn.nn.MLP(5 * V**0 + 5 * V, V, group=G, ch=32, num_layers=2)) > 1e-3


def test_emlp_hidden_spec_and_errors():
    G = SO(3)
    V = cn.V(G)
    model = cn.nn.EMLP(V, V, group=G, ch=[32, 4 * V**0 + 2 * V], num_layers=2)
    assert model.hidden == (cn.nn.uniform_rep(32, G), 4 * V**0 + 2 * V)
    with pytest.raises(cn.RepError, match="expected 3 hidden sizes"):
        cn.nn.EMLP(V, V, group=G, ch=[32, 32], num_layers=3)
    with pytest.raises(cn.RepMismatchError, match=r"rep of O\(3\), got a rep of SO\(3\)"):
        cn.nn.EMLP(V, V, group=O(3), ch=16, num_layers=1)
    with pytest.raises(cn.RepMismatchError, match="expected input width 3"):
        model(torch.randn(2, 4))


def _state_bytes(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def test_emlp_same_seed_same_parameters_and_round_trip():
    G = SO(3)
    V = cn.V(G)

    def make(seed):
        torch.manual_seed(seed)
        return cn.nn.EMLP(5 * V**0 + 5 * V, V, group=G, ch=32, num_layers=2)

    a, b = make(0), make(0)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = make(1)
    c.load_state_dict(torch.load(io.BytesIO(_state_bytes(a)), weights_only=True))
    x = torch.randn(5, 20)
    assert torch.equal(a(x), c(x))


def test_emlp_round_trip_across_processes(tmp_path):
    """Saved in this process, loaded in a fresh one (new hash seed): bit-identical outputs."""
    G = SO(3)
    V = cn.V(G)
    torch.manual_seed(0)
    model = cn.nn.EMLP(5 * V**0 + 5 * V, V, group=G, ch=32, num_layers=2)
    x = torch.randn(6, 20)
    torch.save({"state": model.state_dict(), "x": x, "y": model(x).detach()}, tmp_path / "m.pt")
    script = textwrap.dedent(
        f"""
        import torch, constrainnet as cn
        from constrainnet.groups import SO
        G = SO(3); V = cn.V(G)
        torch.manual_seed(99)
        model = cn.nn.EMLP(5 * V**0 + 5 * V, V, group=G, ch=32, num_layers=2)
        saved = torch.load({str(tmp_path / "m.pt")!r}, weights_only=True)
        model.load_state_dict(saved["state"])
        assert torch.equal(model(saved["x"]), saved["y"]), "outputs differ"
        print("identical")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONHASHSEED": "12345", "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert "identical" in out.stdout

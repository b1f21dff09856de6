"""Equivariant Linear: weights in the equivariant subspace, initialisation, caching, export, save/load."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import C, D, Lorentz, O, S, SO, Z
from constrainnet.testing import assert_equivariant, equivariance_error

CASES = {
    "SO3-scalars+vectors->V": (SO(3), lambda V: 5 * V**0 + 5 * V, lambda V: V),
    "SO3-hidden": (SO(3), lambda V: 4 * V**0 + 3 * V + 2 * V**2 + V**3, lambda V: 3 * V**0 + 2 * V + V**2 + V**3),
    "O3-V2->V+pseudo": (O(3), lambda V: V**2 + V, lambda V: V + cn.PseudoScalar(V.G) + V**0),
    "D4-sum": (D(4), lambda V: 2 * V + V**2, lambda V: V**2 + 3 * V**0),
    "S4-V2": (S(4), lambda V: V**2, lambda V: V + V**0),
    "Z6-regular": (Z(6), lambda V: 3 * V, lambda V: 2 * V),
    "Lorentz-dual": (Lorentz(), lambda V: 2 * V + V**0, lambda V: V.T + V**2),
    "C4xS3": (C(4) * S(3), lambda V: V + V**0, lambda V: V**2),
}


def build(case, dtype=torch.float64, bias=True):
    G, fin, fout = CASES[case]
    V = cn.V(G)
    return G, cn.nn.Linear(fin(V), fout(V), bias=bias, dtype=dtype)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_linear_equivariant(case, dtype):
    torch.manual_seed(0)
    G, layer = build(case, dtype)
    assert_equivariant(layer, n_samples=6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_weight_commutes_with_group(case):
    """ρ_out(g) W = W ρ_in(g) for random g, checked on the assembled dense W and the bias."""
    torch.manual_seed(1)
    G, layer = build(case)
    W = layer.weight().detach().numpy()
    b = layer.bias().detach().numpy() if layer.bias() is not None else np.zeros(layer.out_features)
    for g in G.samples(4, rng=3):
        rin, rout = layer.rep_in.rho(g), layer.rep_out.rho(g)
        scale = max(1.0, np.abs(rin).max() * np.abs(rout).max())
        np.testing.assert_allclose(rout @ W, W @ rin, atol=1e-10 * scale)
        np.testing.assert_allclose(rout @ b, b, atol=1e-10 * scale)


@pytest.mark.parametrize("case", sorted(CASES))
def test_coefficients_match_basis_dimension(case):
    """One free parameter per dimension of the equivariant subspace, solved densely."""
    _, layer = build(case)
    hom = layer.rep_in >> layer.rep_out
    assert layer.num_coefficients == hom.equivariant_basis(strategy="dense").dim
    assert layer.coefficients.shape == (layer.num_coefficients,)
    assert sum(c.numel() for c in layer.pair_coefficients()) == layer.num_coefficients


def test_counts_against_character_theory_for_d4():
    """Free weights of D(4): (1/|G|) Σ χ_in(g⁻¹) χ_out(g) from plain traces."""
    G = D(4)
    V = cn.V(G)
    layer = cn.nn.Linear(2 * V + V**0, V**2 + V)
    total = 0.0
    for g in G.elements():
        ginv = np.linalg.inv(g)
        chi_in = 2 * np.trace(ginv) + 1
        chi_out = np.trace(g) ** 2 + np.trace(g)
        total += chi_in * chi_out
    assert layer.num_coefficients == round(total / G.order)


def test_random_weight_is_not_equivariant_but_projection_is():
    """The check can fail: a plain torch.nn.Linear of the same shape is far from equivariant."""
    G = SO(3)
    V = cn.V(G)
    plain = torch.nn.Linear(20, 3).double()
    plain.rep_in, plain.rep_out = 5 * V**0 + 5 * V, V
    assert equivariance_error(plain) > 1e-2


def test_initial_output_scale_matches_torch_linear():
    torch.manual_seed(0)
    V = cn.V(SO(3))
    rep = 40 * V**0 + 15 * V + 5 * V**2 + V**3
    ours = cn.nn.Linear(rep, rep, bias=False)
    plain = torch.nn.Linear(rep.size, rep.size, bias=False)
    x = torch.randn(4000, rep.size)
    with torch.no_grad():
        ratio = ours(x).var() / plain(x).var()
    assert 0.8 < float(ratio) < 1.25


def test_eval_cache_rebuilt_after_parameter_change():
    torch.manual_seed(0)
    _, layer = build("SO3-hidden")
    x = torch.randn(5, layer.in_features, dtype=torch.float64)
    layer.eval()
    with torch.no_grad():
        y1 = layer(x)
        layer.pair_coefficients()[0].add_(1.0)
        y2 = layer(x)
        expected = torch.nn.functional.linear(x, layer.weight(), layer.bias())
    assert not torch.allclose(y1, y2)
    torch.testing.assert_close(y2, expected)


def test_train_and_eval_modes_agree_and_export_matches():
    torch.manual_seed(0)
    _, layer = build("O3-V2->V+pseudo")
    x = torch.randn(7, layer.in_features, dtype=torch.float64)
    y_train = layer(x)
    layer.eval()
    with torch.no_grad():
        y_eval = layer(x)
    plain = layer.export()
    assert isinstance(plain, torch.nn.Linear) and not isinstance(plain, cn.nn.Linear)
    torch.testing.assert_close(y_train.detach(), y_eval)
    torch.testing.assert_close(plain(x).detach(), y_eval)


def test_gradients_flow_to_coefficients_only():
    _, layer = build("SO3-scalars+vectors->V")
    layer(torch.randn(3, layer.in_features, dtype=torch.float64)).sum().backward()
    assert [name for name, p in layer.named_parameters()] == ["coefficients", "bias_coefficients"]
    assert layer.coefficients.grad is not None and layer.bias_coefficients.grad is not None
    assert all(not b.requires_grad for b in layer.buffers())


def test_basis_is_a_non_persistent_buffer_and_moves_with_dtype():
    _, layer = build("SO3-hidden", dtype=torch.float32)
    keys = set(layer.state_dict())
    assert not any(k.startswith("basis") or k.startswith("bias_basis") for k in keys)
    layer64 = layer.double()
    assert layer64.bias_basis.dtype == layer64._forward_value.dtype == torch.float64
    # the float64 basis is rebuilt from the float64 solution, not widened from float32
    assert equivariance_error(layer64) < 1e-10


def test_state_dict_round_trip_is_bit_identical():
    torch.manual_seed(0)
    _, a = build("SO3-hidden")
    buffer = io.BytesIO()
    torch.save(a.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(123)
    _, b = build("SO3-hidden")
    b.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(4, a.in_features, dtype=torch.float64)
    assert torch.equal(a(x), b(x))


def test_loading_into_another_basis_raises():
    V3, O3 = cn.V(SO(3)), cn.V(O(3))
    a = cn.nn.Linear(V3**2, V3**0)  # same parameter shapes, other group
    b = cn.nn.Linear(O3**2, O3**0)
    with pytest.raises(cn.RepMismatchError, match="another rep_in"):
        b.load_state_dict(a.state_dict())
    state = a.state_dict()
    state["_extra_state"] = dict(state["_extra_state"], signature=[0.123])
    with pytest.raises(cn.RepMismatchError, match="another basis"):
        a.load_state_dict(state)
    state["_extra_state"] = dict(state["_extra_state"], basis_format=999)
    with pytest.raises(cn.RepMismatchError, match="basis format"):
        a.load_state_dict(state)


def test_same_seed_same_parameters():
    def make():
        torch.manual_seed(7)
        return build("SO3-hidden")[1]

    for p, q in zip(make().parameters(), make().parameters()):
        assert torch.equal(p, q)


def test_wrong_width_names_both_widths():
    _, layer = build("SO3-scalars+vectors->V")
    with pytest.raises(cn.RepMismatchError, match=r"expected input width 20 .* got 19"):
        layer(torch.randn(2, 19, dtype=torch.float64))


def test_reps_of_different_groups_rejected():
    with pytest.raises(cn.RepMismatchError, match=r"SO\(3\).*O\(3\)"):
        cn.nn.Linear(cn.V(SO(3)), cn.V(O(3)))


def test_leading_dimensions_are_kept():
    _, layer = build("D4-sum")
    assert layer(torch.randn(2, 3, layer.in_features, dtype=torch.float64)).shape == (2, 3, layer.out_features)


def test_extra_repr_shows_reps_and_parameter_count():
    _, layer = build("SO3-scalars+vectors->V")
    text = repr(layer)
    assert "rep_in=5*Scalar + 5*V" in text and "coefficients=5" in text

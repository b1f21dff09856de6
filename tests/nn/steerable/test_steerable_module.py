"""SteerableConv2d as a module: shape and values of a Conv2d, export, weight layout, saving, caching, gradients,
devices, errors and determinism."""

from __future__ import annotations

import copy
import io
import itertools
import math
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import constrainnet as cn
from constrainnet.groups import C, D
from constrainnet.nn import FieldType, SteerableConv2d
from constrainnet.nn.fields import SQUARE_GRID
from constrainnet.nn.steerable_kernels import kernel_basis


from steerable_refs import block_rho, fields, randomise_bias, one_torch_thread  # noqa: F401  (tests/nn/steerable/steerable_refs.py; the fixture is autouse)


# -- the layer as a Conv2d ---------------------------------------------------------------------


def small_layer(dtype=torch.float64, **kwargs):
    G = D(4)
    S, R, V, _ = fields(G)
    return SteerableConv2d(FieldType(G, [S, V, R]), FieldType(G, [R, S, V]), 3, dtype=dtype, **kwargs)


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        (dict(), (9, 7)),
        (dict(padding=1), (8, 8)),
        (dict(padding=(2, 0), stride=(2, 1)), (9, 6)),
        (dict(stride=3, dilation=2), (11, 10)),
        (dict(padding=1, padding_mode="circular", stride=2), (6, 9)),
        (dict(padding=(1, 2), padding_mode="reflect", dilation=(1, 2)), (7, 8)),
        (dict(padding=1, padding_mode="replicate"), (3, 3)),
    ],
)
def test_output_shape_and_values_are_torch_conv2d(kwargs, shape):
    torch.manual_seed(9)
    conv = small_layer(**kwargs)
    randomise_bias(conv)
    x = torch.randn(3, conv.in_type.size, *shape, dtype=torch.float64)
    ref = torch.nn.Conv2d(conv.in_type.size, conv.out_type.size, 3, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        ref.weight.copy_(conv.weight)
        ref.bias.copy_(conv.bias)
    y = conv(x)
    assert y.shape == ref(x).shape
    torch.testing.assert_close(y, ref(x), rtol=1e-13, atol=1e-13)
    exported = conv.export()
    assert type(exported) is torch.nn.Conv2d
    assert exported.weight.dtype == torch.float64 and exported.padding_mode == conv.padding_mode
    assert torch.equal(exported(x), y)
    assert torch.equal(exported.weight, conv.weight) and torch.equal(exported.bias, conv.bias)


def test_export_without_bias_and_in_float32():
    torch.manual_seed(10)
    conv = small_layer(dtype=torch.float32, bias=False, padding=1)
    exported = conv.export()
    assert exported.bias is None and exported.weight.dtype == torch.float32
    x = torch.randn(2, conv.in_type.size, 6, 6)
    assert torch.equal(exported(x), conv(x))


def test_weight_is_the_sum_of_coefficients_times_the_basis():
    """m_out copies of one type and m_in of another: coefficients (m_out, m_in, r), weight Σ_t c_t K_t per block."""
    torch.manual_seed(11)
    G = D(4)
    S, R, V, _ = fields(G)
    m_in, m_out = 2, 3
    conv = SteerableConv2d(FieldType(G, m_in * [V]), FieldType(G, m_out * [R]), 3, dtype=torch.float64)
    E = kernel_basis(V, R, SQUARE_GRID, 3)
    c = conv.coefficients.detach().view(m_out, m_in, len(E)).numpy()
    expected = np.einsum("ijt,topab->iojpab", c, E)  # output copy i, its channel o; input copy j, its channel p
    expected = expected.reshape(m_out * R.size, m_in * V.size, 3, 3)
    np.testing.assert_allclose(conv.weight.detach().numpy(), expected, rtol=0, atol=1e-14)
    assert conv.num_coefficients == m_out * m_in * len(E)


def test_each_coefficient_puts_one_basis_kernel_into_one_field_block():
    """With fields in non-grouped order: every unit coefficient gives a weight that is one element of the
    pair's kernel basis in one (output field, input field) block and zero elsewhere, and all are met once."""
    G = D(4)
    S, R, V, Q = fields(G)
    t_in, t_out = FieldType(G, [S, R, V, S]), FieldType(G, [V, Q, S, V])
    conv = SteerableConv2d(t_in, t_out, 3, bias=False, dtype=torch.float64)
    in_slices = [(r, t_in.slice(i)) for i, r in enumerate(t_in.reps)]
    out_slices = [(r, t_out.slice(i)) for i, r in enumerate(t_out.reps)]
    met = set()
    for n in range(conv.num_coefficients):
        with torch.no_grad():
            conv.coefficients.zero_()
            conv.coefficients[n] = 1.0
        K = conv.weight.detach().numpy()
        hits = []
        for (j, (ri, si)), (i, (ro, so)) in itertools.product(enumerate(in_slices), enumerate(out_slices)):
            block = K[so, si]
            if np.abs(block).max() == 0:
                continue
            E = kernel_basis(ri, ro, SQUARE_GRID, 3)
            matches = [t for t in range(len(E)) if np.allclose(block, E[t], rtol=0, atol=1e-14)]
            assert len(matches) == 1
            hits.append((i, j, matches[0]))
        assert len(hits) == 1, f"coefficient {n} touches {len(hits)} blocks"
        met.add(hits[0])
    expected = sum(len(kernel_basis(ri, ro, SQUARE_GRID, 3)) for (ri, _), (ro, _) in itertools.product(in_slices, out_slices))
    assert len(met) == conv.num_coefficients == expected


def test_bias_is_invariant_and_counted_per_field():
    G = D(4)
    S, R, V, Q = fields(G)
    t_out = FieldType(G, [R, V, S, Q, R])
    conv = SteerableConv2d(FieldType(G, [S]), t_out, 1, dtype=torch.float64)
    assert conv.bias_coefficients.numel() == 1 + 1 + 1 + 1  # regular, trivial, quotient, regular; V has none
    randomise_bias(conv)
    b = conv.bias.detach().numpy()
    for g in G.elements():
        np.testing.assert_allclose(block_rho(t_out.reps, g) @ b, b, atol=1e-14)
    np.testing.assert_array_equal(b[t_out.slice(1)], 0)
    assert np.abs(b[t_out.slice(0)]).max() > 0


def test_cast_rebuilds_the_basis_in_float64():
    torch.manual_seed(12)
    conv32 = small_layer(dtype=torch.float32, padding=1)
    conv64 = copy.deepcopy(conv32).double()
    twin = small_layer(dtype=torch.float64, padding=1)
    with torch.no_grad():
        twin.coefficients.copy_(conv64.coefficients)
        twin.bias_coefficients.copy_(conv64.bias_coefficients)
    assert torch.equal(conv64.weight, twin.weight)
    x = torch.randn(2, conv32.in_type.size, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(conv32(x.float()).double(), conv64(x), rtol=1e-5, atol=1e-5)


# -- saving, caching, gradients -------------------------------------------------------------------


def test_state_dict_round_trip_gives_identical_outputs():
    torch.manual_seed(13)
    conv = small_layer(padding=1, padding_mode="reflect")
    randomise_bias(conv)
    buffer = io.BytesIO()
    torch.save(conv.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(14)
    other = small_layer(padding=1, padding_mode="reflect")
    x = torch.randn(2, conv.in_type.size, 6, 6, dtype=torch.float64)
    assert not torch.equal(other(x), conv(x))
    other.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(other(x), conv(x))
    # the kernel bases are rebuilt, not saved
    assert not any(name.startswith("kernel_basis") for name in conv.state_dict())


def test_loading_into_a_layer_with_another_basis_raises():
    G = D(4)
    S, R = cn.Scalar(G), cn.regular(G)
    t_in, t_out = FieldType(G, [S]), FieldType(G, [R])
    a = SteerableConv2d(t_in, t_out, 3, basis="harmonic", max_frequency=1)
    b = SteerableConv2d(t_in, t_out, 7, basis="harmonic", max_frequency=0)
    assert a.num_coefficients == b.num_coefficients  # same shapes, other kernels
    with pytest.raises(cn.RepMismatchError, match="another kernel basis"):
        b.load_state_dict(a.state_dict())
    grid = SteerableConv2d(t_in, t_out, 3)
    assert grid.num_coefficients != a.num_coefficients
    with pytest.raises((RuntimeError, cn.RepMismatchError)):
        grid.load_state_dict(a.state_dict())


def test_eval_under_no_grad_caches_the_weight_and_refreshes_after_an_optimizer_step():
    torch.manual_seed(15)
    conv = small_layer(padding=1)
    x = torch.randn(2, conv.in_type.size, 5, 5, dtype=torch.float64)
    opt = torch.optim.SGD(conv.parameters(), lr=0.1)
    with mock.patch.object(conv, "_assemble", wraps=conv._assemble) as assemble:
        conv.eval()
        with torch.no_grad():
            y0 = conv(x)
            y1 = conv(x)
        assert assemble.call_count == 1 and torch.equal(y0, y1)
        conv.train()
        loss = (conv(x) ** 2).sum()
        loss.backward()
        opt.step()
        calls = assemble.call_count
        conv.eval()
        with torch.no_grad():
            y2 = conv(x)
            y3 = conv(x)
        assert assemble.call_count == calls + 1
        assert torch.equal(y2, y3) and not torch.allclose(y2, y0)
        with torch.no_grad():
            w, b = conv._assemble()
        torch.testing.assert_close(y2, F.conv2d(x, w, b, padding=1), rtol=0, atol=1e-13)
        # an in-place change outside an optimizer is seen too
        with torch.no_grad():
            conv.coefficients.mul_(2.0)
            y4 = conv(x)
        assert not torch.allclose(y4, y2)
        # with grad enabled nothing is cached: every call assembles
        calls = assemble.call_count
        conv(x)
        conv(x)
        assert assemble.call_count == calls + 2


def test_gradients_flow_to_the_coefficients():
    torch.manual_seed(16)
    G = C(4)
    S, R, V, _ = fields(G)
    conv = SteerableConv2d(FieldType(G, [S, V]), FieldType(G, [R, S]), 3, padding=1, padding_mode="circular", dtype=torch.float64)
    x = torch.randn(1, conv.in_type.size, 4, 4, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    (y * torch.cos(y)).sum().backward()
    assert conv.coefficients.grad is not None and conv.coefficients.grad.abs().max() > 0
    assert conv.bias_coefficients.grad is not None and conv.bias_coefficients.grad.abs().max() > 0
    assert x.grad is not None and x.grad.abs().max() > 0

    def f(coefficients, bias):
        return torch.func.functional_call(conv, {"coefficients": coefficients, "bias_coefficients": bias}, (x.detach(),))

    c = conv.coefficients.detach().clone().requires_grad_()
    b = conv.bias_coefficients.detach().clone().normal_().requires_grad_()
    assert torch.autograd.gradcheck(f, (c, b))


def test_meta_device_builds_and_forwards():
    conv = small_layer(dtype=torch.float32, padding=1)
    meta = SteerableConv2d(conv.in_type, conv.out_type, 3, padding=1, device="meta")
    assert meta.coefficients.device.type == "meta"
    y = meta(torch.empty(2, conv.in_type.size, 6, 5, device="meta"))
    assert y.device.type == "meta" and y.shape == (2, conv.out_type.size, 6, 5)
    assert meta.weight.shape == (conv.out_type.size, conv.in_type.size, 3, 3)


def test_same_seed_same_layer():
    torch.manual_seed(17)
    a = small_layer(padding=1)
    torch.manual_seed(17)
    b = small_layer(padding=1)
    torch.manual_seed(18)
    c = small_layer(padding=1)
    assert torch.equal(a.coefficients, b.coefficients) and torch.equal(a.weight, b.weight)
    assert not torch.equal(a.coefficients, c.coefficients)


def test_coefficients_are_drawn_within_the_documented_bound():
    """Uniform with bound √(d_out / fan), fan = Σ m_in r over the pairs into that output type; bias zero."""
    torch.manual_seed(19)
    G = D(4)
    S, R, V, _ = fields(G)
    conv = SteerableConv2d(FieldType(G, 5 * [S]), FieldType(G, [R]), 3, dtype=torch.float64)
    r = len(kernel_basis(S, R, SQUARE_GRID, 3))
    bound = math.sqrt(R.size / (5 * r))
    c = conv.coefficients.detach()
    assert c.abs().max() <= bound and c.abs().max() > 0.5 * bound
    assert torch.equal(conv.bias_coefficients, torch.zeros_like(conv.bias_coefficients))


# -- errors ------------------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    G = D(4)
    t = FieldType(G, [cn.Scalar(G)])
    with pytest.raises(TypeError, match="in_type a FieldType"):
        SteerableConv2d(cn.Scalar(G), t, 3)
    with pytest.raises(TypeError, match="out_type a FieldType"):
        SteerableConv2d(t, [cn.Scalar(G)], 3)
    with pytest.raises(cn.RepMismatchError, match="expected the same"):
        SteerableConv2d(t, FieldType(C(4), [cn.Scalar(C(4))]), 3)
    with pytest.raises(cn.RepMismatchError, match="grid"):
        SteerableConv2d(FieldType(D(2), [cn.Scalar(D(2))]), FieldType(D(2), [cn.Scalar(D(2))], grid="hex"), 3)
    with pytest.raises(ValueError, match="padding_mode"):
        SteerableConv2d(t, t, 3, padding_mode="mirror")
    for size in (2, 0, -3, (3, 3)):
        with pytest.raises(ValueError, match="odd kernel size"):
            SteerableConv2d(t, t, size)
    bad_values = [("stride", 0), ("stride", (1, 2, 3)), ("stride", True), ("padding", -1), ("padding", 1.5), ("dilation", 0), ("dilation", "2")]
    for name, bad in bad_values:
        with pytest.raises(ValueError, match=name):
            SteerableConv2d(t, t, 3, **{name: bad})
    with pytest.raises(ValueError, match="basis"):
        SteerableConv2d(t, t, 3, basis="fourier")
    with pytest.raises(cn.RepError, match="harmonic"):
        SteerableConv2d(FieldType(C(8), [cn.Scalar(C(8))]), FieldType(C(8), [cn.Scalar(C(8))]), 3)
    with pytest.raises(cn.DtypeError):
        SteerableConv2d(t, t, 3, dtype=torch.int64)


def test_bad_inputs_raise_clear_errors():
    conv = small_layer(padding=1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        conv(np.zeros((1, conv.in_type.size, 5, 5)))
    with pytest.raises(cn.RepMismatchError, match=rf"\(N, {conv.in_type.size}, H, W\)"):
        conv(torch.zeros(1, conv.in_type.size + 1, 5, 5, dtype=torch.float64))
    with pytest.raises(cn.RepMismatchError):
        conv(torch.zeros(conv.in_type.size, 5, 5, dtype=torch.float64))
    with pytest.raises(cn.DtypeError, match="float64"):
        conv(torch.zeros(1, conv.in_type.size, 5, 5, dtype=torch.float32))


def test_field_type_errors():
    G = D(4)
    with pytest.raises(TypeError, match="Group"):
        FieldType("D4", [cn.Scalar(G)])
    with pytest.raises(cn.RepError):
        FieldType(cn.groups.SO(2), [cn.Scalar(cn.groups.SO(2))])
    with pytest.raises(cn.RepError, match="rep of"):
        FieldType(G, [cn.Scalar(C(4))])
    with pytest.raises(TypeError, match="Rep"):
        FieldType(G, [cn.Scalar(G), "V"])
    with pytest.raises(ValueError, match="at least one field"):
        FieldType(G, [])
    with pytest.raises(ValueError, match="grid"):
        FieldType(G, [cn.Scalar(G)], grid="triangle")
    t = FieldType(G, [cn.Scalar(G), cn.V(G)])
    with pytest.raises(ValueError, match="tensor"):
        t.transform(torch.zeros(1, 2, 3, 3), G.discrete_generators[0])
    assert t.size == 3 and len(t) == 2 and t.rep.size == 3


def test_numpy_integers_are_accepted_as_torch_conv2d_accepts_them():
    G = D(4)
    t = FieldType(G, [cn.regular(G)])
    conv = SteerableConv2d(t, t, np.int64(3), stride=np.int64(1), padding=np.int64(1))
    assert conv.kernel_size == 3 and type(conv.kernel_size) is int
    with pytest.raises(ValueError, match="SteerableConv2d: expected an odd kernel size"):
        SteerableConv2d(t, t, 4)


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    # no graph break anywhere in the layer (what CUDA graphs need on a GPU); checked on the CPU
    torch.manual_seed(0)
    G = D(4)
    t_in, t_out = FieldType(G, [cn.Scalar(G), cn.regular(G)]), FieldType(G, 2 * [cn.regular(G)] + [cn.V(G)])
    conv = SteerableConv2d(t_in, t_out, 3, padding=1)
    compiled = torch.compile(conv, fullgraph=True)
    x = torch.randn(2, t_in.size, 6, 6, requires_grad=True)
    torch.testing.assert_close(compiled(x), conv(x))
    compiled(x).square().sum().backward()
    grad = conv.coefficients.grad.clone()
    conv.coefficients.grad = None
    conv(x).square().sum().backward()
    torch.testing.assert_close(grad, conv.coefficients.grad)

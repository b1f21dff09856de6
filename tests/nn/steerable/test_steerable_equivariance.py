"""SteerableConv2d equivariance on square and hexagonal grids over padding modes, strides, dilations and mixed
field types; the group action itself against a loop reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.groups import C, D
from constrainnet.nn import FieldType, SteerableConv2d
from constrainnet.nn.fields import HEX_GRID, SQUARE_GRID


from steerable_refs import DTYPES, TOL, HEX_BASIS, lattice_map, block_rho, reference_transform, equivariance_error, randomise_bias, hexagon_input, fields, one_torch_thread  # noqa: F401  (tests/nn/steerable/steerable_refs.py; the fixture is autouse)


# -- the group action --------------------------------------------------------------------------


def test_square_transform_is_rot90_and_flips_of_the_pixels():
    """The D(4) images of a scalar field are the 8 rot90/flip images of the array, C(4)'s the 4 rotations."""
    x = torch.randn(1, 1, 5, 5, dtype=torch.float64)
    torch_images = [torch.rot90(x, t, dims=(2, 3)) for t in range(4)]
    for G, expected in ((C(4), torch_images), (D(4), torch_images + [torch.flip(i, dims=(3,)) for i in torch_images])):
        t = FieldType(G, [cn.Scalar(G)])
        got = [t.transform(x, g) for g in G.elements()]
        assert len(got) == len(expected)
        for e in expected:
            assert sum(torch.equal(e, y) for y in got) == 1
    # the documented example: the 90° rotation is torch.rot90 by one turn
    t = FieldType(C(4), [cn.Scalar(C(4))])
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    torch.testing.assert_close(t.transform(x, C(4).discrete_generators[0]), torch.rot90(x, 1, dims=(2, 3)))


@pytest.mark.parametrize("G, grid, size", [(D(4), "square", 6), (C(4), "square", 5), (D(6), "hex", 5), (C(6), "hex", 5), (D(2), "hex", 5)])
def test_transform_matches_the_loop_reference_and_is_an_action(G, grid, size):
    reps = list(fields(G))
    t = FieldType(G, reps, grid=grid)
    basis = HEX_BASIS if grid == "hex" else np.eye(2)
    if grid == "hex":
        x = hexagon_input(t.size, size // 2, size // 2, torch.float64)
    else:
        x = torch.randn(2, t.size, size, size, dtype=torch.float64)
    elements = t.grid_elements()
    assert len(elements) == len(G.elements())
    for g in elements:
        torch.testing.assert_close(t.transform(x, g), reference_transform(x, g, reps, basis), rtol=0, atol=1e-12)
        if not np.allclose(g, np.eye(2)):
            assert not torch.allclose(t.transform(x, g), x)  # faithful: the tests below are not vacuous
    for g, h in itertools.product(elements[:4], elements):
        torch.testing.assert_close(t.transform(t.transform(x, h), g), t.transform(x, g @ h), rtol=0, atol=1e-12)


def test_hex_rotation_moves_axial_coordinates_by_the_hand_derived_matrix():
    """60° turns b₁ into b₂ and b₂ into b₂ − b₁: (a, b) ↦ (−b, a + b)."""
    g = C(6).discrete_generators[0]
    np.testing.assert_allclose(g, [[0.5, -math.sqrt(3) / 2], [math.sqrt(3) / 2, 0.5]], atol=1e-12)
    np.testing.assert_array_equal(HEX_GRID.lattice_action(g), [[0, -1], [1, 1]])
    t = FieldType(C(6), [cn.Scalar(C(6))])
    assert t.grid == HEX_GRID
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 2 + 1, 2 + 0] = 1.0  # the pixel at axial offset (1, 0) from the centre
    y = t.transform(x, g)
    assert y[0, 0, 2 + 0, 2 + 1] == 1.0 and y.sum() == 1.0  # moved to (0, 1)


def test_c8_grid_elements_are_its_c4_part():
    t = FieldType(C(8), [cn.Scalar(C(8))])
    assert t.grid == SQUARE_GRID
    elements = t.grid_elements()
    assert len(elements) == 4
    for g in elements:
        assert lattice_map(g, np.eye(2)) is not None
    with pytest.raises(ValueError, match="grid"):
        t.transform(torch.zeros(1, 1, 3, 3), C(8).discrete_generators[0])


# -- equivariance --------------------------------------------------------------------------------

SQUARE_LAYERS = [
    pytest.param(D(4), "grid", id="D4-grid"),
    pytest.param(C(4), "grid", id="C4-grid"),
    pytest.param(D(4), "harmonic", id="D4-harmonic"),
    pytest.param(C(4), "harmonic", id="C4-harmonic"),
    pytest.param(C(8), "harmonic", id="C8-harmonic"),
]


@DTYPES
@pytest.mark.parametrize("size", [7, 8], ids=["odd", "even"])
@pytest.mark.parametrize("G, basis", SQUARE_LAYERS)
def test_square_layers_are_equivariant(G, basis, size, dtype):
    torch.manual_seed(0)
    S, R, V, _ = fields(G)
    t_in, t_out = FieldType(G, [S, R, V]), FieldType(G, [R, S, V])
    conv = SteerableConv2d(t_in, t_out, 3, padding=1, basis=basis, dtype=dtype)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, size, size, dtype=dtype)
    assert equivariance_error(conv, x) < TOL[dtype]


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("k, size", [(3, 7), (3, 8), (5, 9), (5, 6)])
def test_padding_modes_keep_equivariance(mode, k, size):
    torch.manual_seed(1)
    G = D(4)
    S, R, V, _ = fields(G)
    t_in, t_out = FieldType(G, [R, V]), FieldType(G, [S, R])
    conv = SteerableConv2d(t_in, t_out, k, padding=k // 2, padding_mode=mode, dtype=torch.float64)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, size, size, dtype=torch.float64)
    assert conv(x).shape[-2:] == (size, size)
    assert equivariance_error(conv, x) < 1e-10


@pytest.mark.parametrize("mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("k, padding, dilation, size", [(3, 1, 1, 7), (3, 0, 1, 9), (5, 2, 1, 9), (3, 2, 2, 9), (3, 1, 2, 7)])
def test_stride_two_keeps_equivariance_when_the_sampled_grid_is_centred(mode, k, padding, dilation, size):
    assert (size + 2 * padding - dilation * (k - 1) - 1) % 2 == 0
    torch.manual_seed(2)
    G = C(4)
    S, R, V, Q = fields(G)
    t_in, t_out = FieldType(G, [S, V, Q]), FieldType(G, [R, V])
    conv = SteerableConv2d(t_in, t_out, k, stride=2, padding=padding, dilation=dilation, padding_mode=mode, dtype=torch.float64)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, size, size, dtype=torch.float64)
    assert equivariance_error(conv, x) < 1e-10


@pytest.mark.parametrize("padding, size", [(2, 7), (2, 8), (0, 9), (1, 8)])
def test_dilation_two_keeps_equivariance(padding, size):
    torch.manual_seed(3)
    G = D(4)
    S, R, V, Q = fields(G)
    t_in, t_out = FieldType(G, [V, Q]), FieldType(G, [Q, R])
    conv = SteerableConv2d(t_in, t_out, 3, padding=padding, dilation=2, dtype=torch.float64)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, size, size, dtype=torch.float64)
    assert equivariance_error(conv, x) < 1e-10


@DTYPES
@pytest.mark.parametrize(
    "G, basis",
    [(D(6), "grid"), (C(6), "grid"), (D(6), "harmonic"), (C(6), "harmonic")],
    ids=["D6-grid", "C6-grid", "D6-harmonic", "C6-harmonic"],
)
def test_hexagonal_layers_are_equivariant_on_hexagon_supported_inputs(G, basis, dtype):
    torch.manual_seed(4)
    S, R, V, Q = fields(G)
    t_in, t_out = FieldType(G, [S, R, V]), FieldType(G, [V, Q, S])
    assert t_in.grid == HEX_GRID
    k, r = 3, 5
    conv = SteerableConv2d(t_in, t_out, k, padding=k // 2, basis=basis, bias=False, dtype=dtype)
    x = hexagon_input(t_in.size, r, r - k // 2, dtype)  # the output stays inside the image's hexagon
    assert len(t_in.grid_elements()) == len(G.elements())
    assert equivariance_error(conv, x) < TOL[dtype]


def test_hexagonal_stride_two_about_an_even_centre():
    torch.manual_seed(5)
    G = D(6)
    S, R, V, _ = fields(G)
    t_in, t_out = FieldType(G, [S, V]), FieldType(G, [R])
    conv = SteerableConv2d(t_in, t_out, 3, stride=2, padding=1, bias=False, dtype=torch.float64)
    x = hexagon_input(t_in.size, 4, 3, torch.float64)  # centre index 4: the even pixels keep it
    assert conv(x).shape[-2:] == (5, 5)
    assert equivariance_error(conv, x) < 1e-10


@DTYPES
@pytest.mark.parametrize("outs", ["SRVS", "VSRSV"])
def test_mixed_field_types_in_non_grouped_order(outs, dtype):
    torch.manual_seed(6)
    G = D(4)
    S, R, V, _ = fields(G)
    t_in = FieldType(G, [S, R, V, S])
    t_out = FieldType(G, [{"S": S, "R": R, "V": V}[f] for f in outs])
    conv = SteerableConv2d(t_in, t_out, 3, padding=1, dtype=dtype)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, 7, 7, dtype=dtype)
    assert equivariance_error(conv, x) < TOL[dtype]
    # the kernel and bias satisfy the constraint with ρ assembled here, field by field
    K = conv.weight.detach().double().numpy()
    b = conv.bias.detach().double().numpy()
    for g in G.elements():
        L = lattice_map(g, np.eye(2))
        ro, ri = block_rho(t_out.reps, g), block_rho(t_in.reps, g)
        np.testing.assert_allclose(ro @ b, b, atol=TOL[dtype])
        for a, c in itertools.product(range(-1, 2), repeat=2):
            y = L @ np.array([a, c])
            np.testing.assert_allclose(K[:, :, y[0] + 1, y[1] + 1], ro @ K[:, :, a + 1, c + 1] @ ri.T, atol=TOL[dtype])
    # bias: one number per trivial and regular field (constant on the regular one), none on V fields
    for i, r in enumerate(t_out.reps):
        part = b[t_out.slice(i)]
        if r == V:
            np.testing.assert_array_equal(part, 0)
        else:
            assert np.abs(part).max() > 0 and np.allclose(part, part[0])


FIELD_POOL = {"S": 0, "R": 1, "V": 2, "Q": 3}


@settings(max_examples=8, deadline=None)
@given(
    group=st.sampled_from(["D4", "C4"]),
    ins=st.lists(st.sampled_from(sorted(FIELD_POOL)), min_size=1, max_size=4),
    outs=st.lists(st.sampled_from(sorted(FIELD_POOL)), min_size=1, max_size=4),
    size=st.integers(4, 9),
    k=st.sampled_from([1, 3]),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    basis=st.sampled_from(["grid", "harmonic"]),
)
def test_random_field_types_are_equivariant(group, ins, outs, size, k, mode, basis):
    G = {"D4": D(4), "C4": C(4)}[group]
    pool = fields(G)
    t_in = FieldType(G, [pool[FIELD_POOL[f]] for f in ins])
    t_out = FieldType(G, [pool[FIELD_POOL[f]] for f in outs])
    torch.manual_seed(7)
    conv = SteerableConv2d(t_in, t_out, k, padding=k // 2, padding_mode=mode, basis=basis, dtype=torch.float64)
    randomise_bias(conv)
    x = torch.randn(2, t_in.size, size, size, dtype=torch.float64)
    if conv(x).abs().max() == 0:
        return  # no kernel between these types (harmonic 1×1 from V to a trivial field)
    assert equivariance_error(conv, x) < 1e-10


@settings(max_examples=5, deadline=None)
@given(
    group=st.sampled_from(["D6", "C6", "D3", "C3"]),
    ins=st.lists(st.sampled_from(sorted(FIELD_POOL)), min_size=1, max_size=3),
    outs=st.lists(st.sampled_from(sorted(FIELD_POOL)), min_size=1, max_size=3),
    r=st.integers(2, 5),
)
def test_random_hexagonal_field_types_are_equivariant(group, ins, outs, r):
    G = {"D6": D(6), "C6": C(6), "D3": D(3), "C3": C(3)}[group]
    pool = fields(G)
    t_in = FieldType(G, [pool[FIELD_POOL[f]] for f in ins])
    t_out = FieldType(G, [pool[FIELD_POOL[f]] for f in outs])
    torch.manual_seed(8)
    conv = SteerableConv2d(t_in, t_out, 3, padding=1, bias=False, dtype=torch.float64)
    assert t_in.grid == HEX_GRID
    x = hexagon_input(t_in.size, r, r - 1, torch.float64)
    if conv(x).abs().max() == 0:
        return
    assert equivariance_error(conv, x) < 1e-10

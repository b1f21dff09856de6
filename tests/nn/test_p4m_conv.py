"""P4M image layers: sparse orbit assembly, circular convolution, local support — against conv2d and dense solves."""

from __future__ import annotations

import copy
import io
import itertools

import numpy as np
import pytest
import torch
import scipy.sparse
import scipy.sparse.csgraph

import constrainnet as cn
from constrainnet.errors import RepMismatchError
from constrainnet.groups import P4M, S
import constrainnet.nn.conv as conv_module
from constrainnet.nn.conv import KernelGrid, circular_conv
from constrainnet.nn.linear import Linear
from constrainnet.solver.orbit import coordinate_permutations
from constrainnet.solver.support import window_mask
from constrainnet.testing import assert_equivariant

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def d4_transforms(kernel):
    """The 8 images of (…, k, k) kernels under rotations by 90° and transposition-free mirrors."""
    out = []
    for turns in range(4):
        rotated = torch.rot90(kernel, turns, dims=(-2, -1))
        out += [rotated, torch.flip(rotated, dims=(-1,))]
    return out


def circular_conv2d(x, kernel):
    """The reference: torch's own Conv2d with circular padding and no bias."""
    k = kernel.shape[-1]
    conv = torch.nn.Conv2d(kernel.shape[1], kernel.shape[0], k, padding=k // 2, padding_mode="circular", bias=False, dtype=kernel.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel)
    return conv(x)


def window(n, k):
    """Displacement mask of the k×k window, built by loops (not by the library)."""
    h = k // 2
    allowed = np.zeros((n, n), dtype=bool)
    for dr, dc in itertools.product(range(-h, h + 1), repeat=2):
        allowed[dr % n, dc % n] = True
    return allowed


def orbit_indicators(rep):
    """Normalised orbit indicators from the generators' coordinate permutations by a plain graph search.

    Columns in order of each orbit's first coordinate, as the canonical basis;
    no fast path of the library is involved.
    """
    perms = coordinate_permutations(rep)
    size = rep.size
    rows = np.tile(np.arange(size), len(perms))
    graph = scipy.sparse.coo_matrix((np.ones(rows.size), (rows, perms.reshape(-1))), shape=(size, size))
    _, raw = scipy.sparse.csgraph.connected_components(graph, directed=True, connection="weak")
    _, first = np.unique(raw, return_index=True)
    Q = np.zeros((size, len(first)))
    for column, label in enumerate(raw[np.sort(first)]):
        members = raw == label
        Q[members, column] = 1 / np.sqrt(members.sum())
    return Q


def coefficients_of(kernel, n, k):
    """Coefficients of a D4-symmetric kernel in the orbit basis of V >> V, restricted to the window's orbits.

    W of one channel pair is found by applying torch's conv2d to the n² unit images;
    its coordinates in the dense canonical basis Q are Qᵀ vec(W).
    """
    V = cn.V(P4M(n))
    Q = orbit_indicators(V >> V)
    allowed = window(n, k)
    pixel = np.arange(n * n)
    r, c = np.divmod(pixel, n)
    disp_allowed = allowed[(r[None, :] - r[:, None]) % n, (c[None, :] - c[:, None]) % n].ravel()  # [o, i]
    kept = [j for j in range(Q.shape[1]) if np.all(disp_allowed[np.abs(Q[:, j]) > 1e-9])]
    units = torch.eye(n * n, dtype=torch.float64).view(n * n, 1, n, n)
    c_out, c_in = kernel.shape[:2]
    coeffs = np.zeros((len(kept), c_out, c_in))
    for p in range(c_out):
        for q in range(c_in):
            columns = circular_conv2d(units, kernel[p : p + 1, q : q + 1].double()).detach().view(n * n, n * n).numpy()
            W = columns.T  # W[:, i] is the response to unit image i
            coeffs[:, p, q] = (Q.T @ W.ravel())[kept]
    return torch.as_tensor(coeffs)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("n, k", [(6, 3), (7, 5), (5, 5), (12, 9), (11, 11)])
def test_layer_is_conv2d_with_the_symmetrised_kernel(n, k, dtype):
    """k ≥ FFT_MIN_KERNEL runs through the Fourier transform; the reference is always torch's Conv2d."""
    torch.manual_seed(0)
    c_in, c_out = 3, 2
    V = cn.V(P4M(n))
    raw = torch.randn(c_out, c_in, k, k, dtype=torch.float64)
    kernel = sum(d4_transforms(raw)) / 8
    layer = cn.nn.Linear(c_in * V, c_out * V, bias=False, support=k, dtype=dtype)
    assert layer.plan.name == "orbit"
    with torch.no_grad():
        layer.pair_coefficients()[0].copy_(coefficients_of(kernel, n, k))
    x = torch.randn(4, c_in, n, n, dtype=torch.float64)
    expected = circular_conv2d(x, kernel).reshape(4, -1)
    got = layer(x.to(dtype).reshape(4, -1))
    torch.testing.assert_close(got.double(), expected, **TOL[dtype])
    torch.testing.assert_close(layer.plan.kernel(layer).double(), kernel, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("support", [None, 3, 5])
def test_kernel_of_random_coefficients_is_d4_invariant_and_the_layer_convolves_with_it(support, dtype):
    torch.manual_seed(1)
    n = 7
    V = cn.V(P4M(n))
    layer = cn.nn.Linear(2 * V, 3 * V, support=support, dtype=dtype)
    kernel = layer.plan.kernel(layer).detach()
    assert kernel.shape == (3, 2, support or n, support or n)
    for image in d4_transforms(kernel):
        torch.testing.assert_close(image, kernel, rtol=0, atol=0)
    x = torch.randn(5, 2, n, n, dtype=dtype)
    expected = circular_conv2d(x, kernel).reshape(5, -1) + layer.bias().detach()
    torch.testing.assert_close(layer(x.reshape(5, -1)).detach(), expected, **TOL[dtype])


@pytest.mark.parametrize("k, orbits", [(1, 1), (3, 3), (5, 6)])
def test_free_parameters_per_channel_pair_are_the_window_orbits(k, orbits):
    # independent count: D4 orbits of the window's displacements as sets of tuples
    h = k // 2
    found = {frozenset((a, s * b) for a, b in ((dr, dc), (dc, -dr), (-dr, -dc), (-dc, dr)) for s in (1, -1)) for dr, dc in itertools.product(range(-h, h + 1), repeat=2)}
    assert len(found) == orbits
    V = cn.V(P4M(8))
    layer = cn.nn.Linear(4 * V, 3 * V, support=k)
    assert layer.num_coefficients == orbits * 4 * 3


def dense_twin(layer, dtype=torch.float64):
    """The same layer built by the dense plan (the reference path of Linear)."""
    twin = Linear.__new__(Linear)
    Linear.__init__(twin, layer.rep_in, layer.rep_out, bias=layer.bias_coefficients is not None, dtype=dtype)
    twin.load_state_dict(layer.state_dict())
    return twin


MIXED = {
    "images": lambda V: (3 * V, 2 * V),
    "images+scalars": lambda V: (2 * V + 2 * V**0, V + V**0 + V),
    "scalars->images": lambda V: (2 * V**0, 3 * V),
    "images->scalars": lambda V: (2 * V, V**0 + V**0),
    "image-square": lambda V: (V + V**2, V),
}


@pytest.mark.parametrize("case", sorted(MIXED))
def test_sparse_layer_equals_the_dense_plan(case):
    torch.manual_seed(2)
    rin, rout = MIXED[case](cn.V(P4M(4)))
    layer = cn.nn.Linear(rin, rout, dtype=torch.float64)
    twin = dense_twin(layer)
    x = torch.randn(6, rin.size, dtype=torch.float64, requires_grad=True)
    y, y_twin = layer(x), twin(x)
    torch.testing.assert_close(y, y_twin, **TOL[torch.float64])
    torch.testing.assert_close(layer.weight(), twin.weight(), **TOL[torch.float64])
    (g,) = torch.autograd.grad((y * torch.cos(y)).sum(), layer.coefficients)
    (g_twin,) = torch.autograd.grad((y_twin * torch.cos(y_twin)).sum(), twin.coefficients)
    torch.testing.assert_close(g, g_twin, **TOL[torch.float64])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", ["images+scalars", "image-square"])
@pytest.mark.parametrize("support", [None, 3])
def test_layers_are_equivariant(case, support, dtype):
    torch.manual_seed(3)
    rin, rout = MIXED[case](cn.V(P4M(5)))
    assert_equivariant(cn.nn.Linear(rin, rout, support=support, dtype=dtype), n_samples=4)


def test_mask_support_is_the_window_support():
    n, k = 6, 3
    V = cn.V(P4M(n))
    by_window = cn.nn.Linear(V, V, support=k, dtype=torch.float64)
    by_mask = cn.nn.Linear(V, V, support=torch.as_tensor(window_mask(n, k)), dtype=torch.float64)
    assert by_mask.num_coefficients == by_window.num_coefficients == 3
    by_mask.load_state_dict(by_window.state_dict())  # same basis, same fingerprint
    torch.testing.assert_close(by_mask.weight(), by_window.weight(), rtol=0, atol=0)


def test_mask_support_on_a_general_permutation_rep():
    V = cn.V(S(4))
    layer = cn.nn.Linear(2 * V, V, bias=False, support=np.tile(np.eye(4, dtype=bool), (1, 2)), dtype=torch.float64)
    assert layer.plan.name == "orbit" and layer.num_coefficients == 2  # the diagonal of each input copy
    c = layer.coefficients.detach()
    expected = torch.cat([c[0] * torch.eye(4, dtype=torch.float64) / 2, c[1] * torch.eye(4, dtype=torch.float64) / 2], dim=1)
    torch.testing.assert_close(layer.weight().detach(), expected)


def test_bad_supports_are_refused():
    V = cn.V(P4M(5))
    with pytest.raises(ValueError, match="odd window size"):
        cn.nn.Linear(V, V, support=4)
    with pytest.raises(ValueError, match="odd window size"):
        cn.nn.Linear(V, V, support=7)
    with pytest.raises(TypeError, match="expected None, an odd int"):
        cn.nn.Linear(V, V, support="local")
    with pytest.raises(TypeError, match="expected None, an odd int"):
        cn.nn.Linear(V, V, support=np.ones((25, 25)))
    with pytest.raises(ValueError, match=r"expected a boolean mask of shape \(25, 25\)"):
        cn.nn.Linear(V, V, support=np.ones((5, 5), dtype=bool))
    with pytest.raises(TypeError, match="expected image reps of a P4M group"):
        cn.nn.Linear(cn.V(S(4)), cn.V(S(4)), support=3)
    cut = np.zeros((4, 4), dtype=bool)
    cut[0, 1] = True
    with pytest.raises(ValueError, match="cuts orbit 1"):
        cn.nn.Linear(cn.V(S(4)), cn.V(S(4)), support=cut)
    differ = np.zeros((4, 8), dtype=bool)
    differ[:, :4] = np.eye(4, dtype=bool)
    with pytest.raises(ValueError, match="same orbits for every copy"):
        cn.nn.Linear(2 * cn.V(S(4)), cn.V(S(4)), support=differ)


def test_state_dict_round_trip_cache_and_export():
    torch.manual_seed(4)
    V = cn.V(P4M(6))
    layer = cn.nn.Linear(2 * V + V**0, 2 * V, support=3, dtype=torch.float64)
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    fresh = cn.nn.Linear(2 * V + V**0, 2 * V, support=3, dtype=torch.float64)
    fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
    x = torch.randn(3, layer.in_features, dtype=torch.float64)
    torch.testing.assert_close(fresh(x), layer(x), rtol=0, atol=0)
    # eval cache: equal outputs, rebuilt after an optimiser step
    fresh.eval()
    with torch.no_grad():
        before = fresh(x)
        torch.testing.assert_close(before, layer(x))
    with torch.no_grad():
        fresh.coefficients.add_(1.0)
    fresh.eval()
    with torch.no_grad():
        after = fresh(x)
    torch.testing.assert_close(after, x @ fresh.weight().T + fresh.bias())
    assert not torch.allclose(after, before)
    # export: a plain nn.Linear with the same map
    torch.testing.assert_close(layer.export()(x), layer(x))
    # another support is another basis: refused
    other = cn.nn.Linear(2 * V + V**0, 2 * V, support=5, dtype=torch.float64)
    with pytest.raises((RepMismatchError, RuntimeError)):
        other.load_state_dict(layer.state_dict())


def test_copies_casts_and_no_dense_basis_on_a_large_image():
    V = cn.V(P4M(32))
    layer = cn.nn.Linear(4 * V, 4 * V, support=5)
    assert layer.num_coefficients == 6 * 16
    # no (r, 1024, 1024) basis anywhere: the largest buffers are the (4096, 4) bias basis and pixel indices
    assert sum(b.numel() for b in layer.buffers()) < 50_000
    full = cn.nn.Linear(V, V)
    assert full.num_coefficients == 153 and sum(b.numel() for b in full.buffers()) < 300_000
    clone = copy.deepcopy(layer).double()
    x = torch.randn(2, 4 * 1024)
    torch.testing.assert_close(clone(x.double()).float(), layer(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("grid", [KernelGrid(10, 10, 5, 4), KernelGrid(12, 9, 4, 4), KernelGrid(9, 9, 4, 4)], ids=["full-even", "window-9", "full-odd"])
def test_fourier_path_equals_the_convolution_path(grid, monkeypatch):
    """circular_conv by the FFT against circular_conv by conv2d (threshold moved), with bias, and its gradients."""
    torch.manual_seed(0)
    x = torch.randn(3, 2, grid.n, grid.n, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(4, 2, grid.size, grid.size, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert grid.size >= conv_module.FFT_MIN_KERNEL
    fourier = circular_conv(x, kernel, grid, bias)
    monkeypatch.setattr(conv_module, "FFT_MIN_KERNEL", 10**9)
    direct = circular_conv(x, kernel, grid, bias)
    torch.testing.assert_close(fourier, direct, rtol=1e-12, atol=1e-12)
    monkeypatch.undo()
    grad = torch.randn_like(fourier)
    for a, b in zip(torch.autograd.grad(fourier, (x, kernel, bias), grad), torch.autograd.grad(direct, (x, kernel, bias), grad)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    small = (x[:1, :1].detach().requires_grad_(), kernel[:1, :1].detach().requires_grad_())
    assert torch.autograd.gradcheck(lambda a, k: circular_conv(a, k, grid), small)


def test_full_image_layer_without_support_is_equivariant_through_the_fft():
    """P4M(10) without support: the whole 10×10 torus as kernel (the Fourier path), against the dense plan."""
    V = cn.V(P4M(10))
    torch.manual_seed(0)
    layer = cn.nn.Linear(2 * V, V, dtype=torch.float64)
    assert layer.plan.grid.size == 10
    x = torch.randn(3, 200, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ layer.weight().t() + layer.bias(), rtol=1e-12, atol=1e-12)
    assert_equivariant(layer)

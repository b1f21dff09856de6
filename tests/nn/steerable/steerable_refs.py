"""Reference implementations shared by the SteerableConv2d tests: the group action by loops, ρ of concatenated
fields, the field pool of a group; written from the documented formulas, independently of the library's code."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import C, D


DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}
HEX_BASIS = np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]])


# -- references -------------------------------------------------------------------------------


def lattice_map(g, basis):
    m = np.linalg.inv(basis) @ np.asarray(g) @ basis
    return np.rint(m).astype(int) if np.allclose(m, np.rint(m), atol=1e-9) else None


def block_rho(reps, g):
    """ρ(g) of concatenated fields, assembled here from the fields' own ρ."""
    sizes = [r.size for r in reps]
    out = np.zeros((sum(sizes), sum(sizes)))
    start = 0
    for r in reps:
        out[start : start + r.size, start : start + r.size] = r.rho(g)
        start += r.size
    return out


def reference_transform(x, g, reps, basis):
    """(g·f)(p) = ρ(g) f(c + L(g)⁻¹(p − c)), pixel by pixel with loops; zero where the source is outside."""
    L = lattice_map(g, basis)
    Linv = np.linalg.inv(L)
    N, Cc, H, W = x.shape
    c = np.array([(H - 1) / 2, (W - 1) / 2])
    moved = torch.zeros_like(x)
    for i, j in itertools.product(range(H), range(W)):
        src = c + Linv @ (np.array([i, j]) - c)
        assert np.allclose(src, np.rint(src))
        a, b = np.rint(src).astype(int)
        if 0 <= a < H and 0 <= b < W:
            moved[:, :, i, j] = x[:, :, a, b]
    rho = torch.as_tensor(block_rho(reps, g), dtype=x.dtype)
    return torch.einsum("oc,bchw->bohw", rho, moved)


def equivariance_error(conv, x, elements=None):
    """max over g of |conv(g·x) − g·conv(x)|, relative to max |conv(x)|."""
    t_in, t_out = conv.in_type, conv.out_type
    with torch.no_grad():
        y = conv(x)
        scale = y.abs().max().item()
        assert scale > 0
        worst = 0.0
        for g in t_in.grid_elements() if elements is None else elements:
            err = (conv(t_in.transform(x, g)) - t_out.transform(y, g)).abs().max().item()
            worst = max(worst, err / scale)
    return worst


def randomise_bias(conv, seed=0):
    if conv.bias_coefficients is not None:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            conv.bias_coefficients.copy_(torch.randn(conv.bias_coefficients.shape, generator=gen))


def hexagon_input(channels, r, radius, dtype, seed=0):
    """A (2, channels, 2r+1, 2r+1) map supported on the hexagon of the given radius about the centre pixel."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, channels, 2 * r + 1, 2 * r + 1, generator=gen, dtype=torch.float64)
    a, b = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij")
    inside = (np.abs(a) + np.abs(b) + np.abs(a + b)) / 2 <= radius
    return (x * torch.as_tensor(inside, dtype=torch.float64)).to(dtype)


def fields(G):
    """The field pool of a group: trivial, regular, V and a quotient."""
    S, R, V = cn.Scalar(G), cn.regular(G), cn.V(G)
    subgroup = {D(4): D(1), C(4): C(2), D(6): D(3), C(6): C(3), D(3): D(1), C(3): C(1)}.get(G, G)
    Q = cn.quotient(G, subgroup)
    return S, R, V, Q


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run a test module on one torch thread (imported by each module of this folder, which makes it autouse there).

    The tensors here are tiny (a few channels of ≤ 11×11 pixels): on a busy
    two-core machine torch's OpenMP pool makes each such conv2d ~100× slower
    (threads waiting on each other), and threads buy nothing at this size.
    The previous setting is restored after the module.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


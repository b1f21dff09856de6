"""Where SteerableConv2d and the P4M(n) image layers overlap they agree: D(4)-steerable scalar kernels with
circular padding on an n×n image span exactly the P4M(n)-equivariant maps V → V supported in the window.

P4M(n) (constrainnet/groups/families.py) acts on the flattened image, pixel (r, c) at index r·n + c, by the
90° rotation (r, c) → (c, −r mod n), the mirror (r, c) → (r, −c mod n) and unit translations; D(4) acts on
(row, col) offsets by its 2×2 matrices with the mirror diag(−1, 1), i.e. (r, c) → (−r, c). The two mirrors
differ by a 90° rotation, so the groups are the same and the statements here are about the whole group.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import D, P4M
from constrainnet.nn import FieldType, SteerableConv2d

from steerable_refs import one_torch_thread  # noqa: F401  (tests/nn/steerable/steerable_refs.py; an autouse fixture)

CASES = [(5, 3), (6, 3), (6, 5), (7, 5)]
IDS = [f"n{n}-k{k}" for n, k in CASES]


def as_matrix(conv, n):
    """The n²×n² matrix of a one-channel layer: column i is its response to the unit image i."""
    units = torch.eye(n * n, dtype=torch.float64).view(n * n, 1, n, n)
    with torch.no_grad():
        out = conv(units).reshape(n * n, n * n)
    return out.T.numpy()


def unit_matrices(conv, n):
    """The matrix of every basis kernel (coefficient vector e_t)."""
    mats = []
    for t in range(conv.num_coefficients):
        with torch.no_grad():
            conv.coefficients.zero_()
            conv.coefficients[t] = 1.0
        mats.append(as_matrix(conv, n))
    return np.array(mats)


def window_mask(n, k):
    """allowed[o, i]: the displacement i − o (mod n per axis) lies in the k×k window; built by loops."""
    h = k // 2
    near = np.zeros((n, n), dtype=bool)
    for dr, dc in itertools.product(range(-h, h + 1), repeat=2):
        near[dr % n, dc % n] = True
    r, c = np.divmod(np.arange(n * n), n)
    return near[(r[None, :] - r[:, None]) % n, (c[None, :] - c[:, None]) % n]


def d4_orbits_of_window(k):
    h = k // 2
    orbits = set()
    for dr, dc in itertools.product(range(-h, h + 1), repeat=2):
        turns = ((dr, dc), (dc, -dr), (-dr, -dc), (-dc, dr))
        orbits.add(frozenset((s * a, b) for a, b in turns for s in (1, -1)))
    return len(orbits)


def scalar_conv(n, k, m_in=1, m_out=1, bias=False):
    G = D(4)
    S = cn.Scalar(G)
    t_in, t_out = FieldType(G, m_in * [S]), FieldType(G, m_out * [S])
    return SteerableConv2d(t_in, t_out, k, padding=k // 2, padding_mode="circular", bias=bias, dtype=torch.float64)


def residual(vectors, basis):
    """Largest distance of the rows of ``vectors`` from the column span of ``basis`` (by least squares)."""
    coeffs = np.linalg.lstsq(basis, vectors.T, rcond=None)[0]
    return float(np.abs(vectors.T - basis @ coeffs).max())


@pytest.mark.parametrize("n, k", CASES, ids=IDS)
def test_steerable_circular_scalar_kernels_span_the_windowed_p4m_maps(n, k):
    V = cn.V(P4M(n))
    Q = np.asarray((V >> V).equivariant_basis())  # (n⁴, r): vec(W), W[o, i] row-major
    conv = scalar_conv(n, k)
    M = unit_matrices(conv, n)
    assert len(M) == d4_orbits_of_window(k)
    # every steerable kernel is a P4M-equivariant map ...
    assert residual(M.reshape(len(M), -1), Q) < 1e-10
    # ... supported on the window
    allowed = window_mask(n, k)
    assert np.all(M[:, ~allowed] == 0)
    # and conversely: the P4M maps supported on the window form a space of the same dimension, spanned by them
    off = Q[~allowed.ravel()]
    _, s, vt = np.linalg.svd(off, full_matrices=True)
    null = vt[int((s > 1e-10).sum()) :]  # coefficient vectors of the window-supported maps
    windowed = (Q @ null.T).T
    assert len(windowed) == len(M) == np.linalg.matrix_rank(M.reshape(len(M), -1), tol=1e-10)
    assert residual(windowed, M.reshape(len(M), -1).T) < 1e-10


@pytest.mark.parametrize("n, k", CASES, ids=IDS)
def test_p4m_linear_with_window_support_is_a_steerable_conv(n, k):
    """Linear(2V, 3V, support=k) of P4M(n) and SteerableConv2d(2 scalars → 3 scalars, circular) are the same layers."""
    torch.manual_seed(20)
    V = cn.V(P4M(n))
    lin = cn.nn.Linear(2 * V, 3 * V, support=k, dtype=torch.float64)
    with torch.no_grad():
        lin.bias_coefficients.normal_()
    conv = scalar_conv(n, k, m_in=2, m_out=3, bias=True)
    assert lin.num_coefficients == conv.num_coefficients == 6 * d4_orbits_of_window(k)
    M = unit_matrices(scalar_conv(n, k), n)  # the basis of one channel pair (coefficients are (m_out, m_in, r))
    W = lin.weight().detach().numpy()
    coefficients = np.zeros((3, 2, len(M)))
    for p, q in itertools.product(range(3), range(2)):
        block = W[p * n * n : (p + 1) * n * n, q * n * n : (q + 1) * n * n].ravel()
        a, *_ = np.linalg.lstsq(M.reshape(len(M), -1).T, block, rcond=None)
        assert np.abs(M.reshape(len(M), -1).T @ a - block).max() < 1e-10
        coefficients[p, q] = a
    beta = lin.bias().detach().numpy().reshape(3, n * n)
    np.testing.assert_allclose(beta, beta[:, :1].repeat(n * n, axis=1), atol=1e-14)  # one constant per channel
    with torch.no_grad():
        conv.coefficients.copy_(torch.as_tensor(coefficients.ravel()))
        conv.bias_coefficients.fill_(1.0)
        unit_bias = conv.bias.clone()
        conv.bias_coefficients.copy_(torch.as_tensor(beta[:, 0]) / unit_bias)
    x = torch.randn(4, 2, n, n, dtype=torch.float64)
    torch.testing.assert_close(conv(x).reshape(4, -1), lin(x.reshape(4, -1)), rtol=0, atol=1e-12)


def test_p4m_and_d4_act_on_images_alike():
    """The permutations of P4M(n)'s point-group generators are D(4)'s transforms of an n×n image about its
    centre followed by a translation: the same group of pixel maps modulo translations."""
    n = 5
    G = D(4)
    t = FieldType(G, [cn.Scalar(G)])
    x = torch.randn(1, 1, n, n, dtype=torch.float64)
    d4_images = [t.transform(x, g).reshape(-1) for g in G.elements()]
    P = P4M(n).discrete_generators
    for g in P:
        y = torch.as_tensor(np.array(g)) @ x.reshape(-1)
        shifts = [torch.roll(y.view(n, n), (a, b), dims=(0, 1)).reshape(-1) for a in range(n) for b in range(n)]
        assert any(torch.equal(s, im) for s in shifts for im in d4_images)

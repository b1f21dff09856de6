"""examples/hexagon_z6.py: the Z(6) layer is a block-circulant group convolution (checked by scipy and the FFT)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg


@pytest.fixture(scope="module", params=[0, 7], ids=["seed0", "seed7"])
def outcome(request, example, tmp_path_factory):
    out = tmp_path_factory.mktemp("hexagon")
    return example("hexagon_z6").main(["--out", str(out), "--seed", str(request.param)])


def test_basis_dimension_is_the_character_count(outcome):
    # Hom(V, V) of the regular rep of a group of order 6 has dimension 6; 3 x 3 channel pairs
    assert outcome["basis_dim"] == 54


def test_weight_is_block_circulant_with_the_kernel_of_one_column(outcome):
    W, w = outcome["W"], outcome["kernel"]
    assert W.shape == (18, 18) and w.shape == (3, 3, 6)
    # scipy's circulant(c)[i, j] = c[(i - j) mod n]: the group convolution's matrix w(g - h)
    expected = np.block([[scipy.linalg.circulant(w[a, b]) for b in range(3)] for a in range(3)])
    np.testing.assert_allclose(W, expected, rtol=0, atol=1e-14)
    assert outcome["circulant_deviation"] < 1e-14
    assert np.abs(w).max() > 0.01  # not trivially circulant because zero


def test_layer_is_the_circular_convolution(outcome):
    # convolution theorem: sum over input channels of ifft(fft(w_c'c) fft(f_c)), plus a constant bias per channel
    w, f, psi_f = outcome["kernel"], outcome["f"], outcome["psi_f"]
    bias = outcome["bias"].reshape(3, 6)
    np.testing.assert_allclose(bias, bias[:, :1] * np.ones((1, 6)), rtol=0, atol=1e-15)
    by_fft = np.real(np.fft.ifft(np.fft.fft(w, axis=-1) * np.fft.fft(f, axis=-1)[None], axis=-1)).sum(axis=1)
    np.testing.assert_allclose(psi_f, by_fft + bias, rtol=0, atol=1e-12)
    assert outcome["convolution_error"] < 1e-12


def test_turning_the_input_turns_the_output(outcome):
    assert 1 <= outcome["k"] <= 5
    assert outcome["equivariance_error"] < 1e-12


def test_group_convolution_helper_is_exact_on_a_delta(example):
    # a delta at vertex h = 0 in channel c returns the kernel column w[:, c, g] (plus bias)
    mod = example("hexagon_z6")
    w = np.arange(54, dtype=float).reshape(3, 3, 6)
    f = np.zeros((3, 6))
    f[1, 0] = 1.0
    np.testing.assert_array_equal(mod.group_convolution(w, np.array([1.0, 2.0, 3.0]), f), w[:, 1, :] + [[1.0], [2.0], [3.0]])

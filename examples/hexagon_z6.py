"""The hexagon: Z(6) layers are group convolutions
===============================================

Z(6) on the vertices of a hexagon: the equivariant linear layer is the group convolution.

A signal on the hexagon gives each of its 6 vertices 3 numbers (red, green,
blue): the rep ``3*V`` of Z(6), where V is the regular rep (vertex i is the
group element i, and the generator moves the values one vertex round,
(T f)(i) = f(i + 1)). Solving the constraint for ``3*V >> 3*V`` gives an
(18, 18) weight whose nine 6 × 6 blocks are circulant, W_{c'c}[g, h] =
w_{c'c}(g − h): read the kernel w off one column of the layer's own weight and
the layer *is* the group convolution of the equivariant-networks chapter,

    (ψ[f])_{c'}(g) = b_{c'} + Σ_h Σ_c w_{c'c}(h⁻¹ g) f_c(h),

written out below with plain loops and compared with the layer. The bias is
one constant per channel (the invariant vectors of ``3*V``). The picture
(``hexagon_z6.png``) shows f, T_g f, ψ[f], ψ[T_g f] and T_g ψ[f] as hexagons
whose vertices are coloured by their three channels: the last two agree.

Run: python examples/hexagon_z6.py [--out DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

import numpy as np
import torch

import constrainnet as cn
from constrainnet.groups import Z

N = 6  #: vertices of the hexagon, the order of Z(6)
CHANNELS = 3  #: colour channels (red, green, blue)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: ``--out``, ``--seed``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for the PNG picture (default: current folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the layer, the signal and the group element")
    return parser.parse_args(argv)


def kernel_from_column(W: np.ndarray) -> np.ndarray:
    """The kernel w[c', c, k] = W[c'·6 + k, c·6 + 0]: column h = 0 of each block (k = g − 0)."""
    return W.reshape(CHANNELS, N, CHANNELS, N)[:, :, :, 0].transpose(0, 2, 1).copy()


def group_convolution(w: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(ψ[f])_{c'}(g) = b_{c'} + Σ_h Σ_c w_{c'c}(h⁻¹ g) f_c(h), with h⁻¹ g = (g − h) mod 6 in Z(6).

    Written out with loops on purpose: this is the formula, not a fast path.
    ``w`` is (3, 3, 6), ``b`` is (3,), ``f`` is (3, 6); returns (3, 6).
    """
    out = np.zeros((CHANNELS, N))
    for c_out in range(CHANNELS):
        for g in range(N):
            total = b[c_out]
            for h in range(N):
                for c in range(CHANNELS):
                    total += w[c_out, c, (g - h) % N] * f[c, h]
            out[c_out, g] = total
    return out


def circulant_deviation(W: np.ndarray) -> float:
    """max |B[i, j] − B[i+1, j+1]| over the 6 × 6 blocks B of W (indices mod 6): 0 iff every block is circulant."""
    blocks = W.reshape(CHANNELS, N, CHANNELS, N).transpose(0, 2, 1, 3)  # (c', c, g, h)
    shifted = np.roll(blocks, (-1, -1), axis=(2, 3))
    return float(np.abs(blocks - shifted).max())


def shift(f: np.ndarray, k: int) -> np.ndarray:
    """T_g f for g the generator to the power k: (T_g f)(i) = f(i + k), the rep ρ(g) of Z(6) on each channel."""
    return np.roll(f, -k, axis=-1)


def _colours(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0).T  # (6, 3) RGB in [0, 1]


def draw(panels: list[tuple[str, np.ndarray]], scale: list[tuple[float, float]], file: str) -> None:
    """Draw each (title, (3, 6) signal) as a hexagon: vertex i's sector has the RGB colour of its 3 channels."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon

    fig = Figure(figsize=(2.3 * len(panels), 2.7), layout="constrained")
    axes = fig.subplots(1, len(panels))
    angles = 2 * np.pi * np.arange(N) / N
    corners = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    for a, (title, values), (lo, hi) in zip(axes, panels, scale):
        colours = _colours(values, lo, hi)
        for i in range(N):
            before, after = (corners[i] + corners[i - 1]) / 2, (corners[i] + corners[(i + 1) % N]) / 2
            a.add_patch(Polygon([(0.0, 0.0), before, corners[i], after], closed=True, facecolor=colours[i], edgecolor="white", lw=1.0))
            a.text(*(1.17 * corners[i]), str(i), ha="center", va="center", fontsize=8, color="0.3")
        a.add_patch(Polygon(corners, closed=True, fill=False, edgecolor="0.2", lw=1.2))
        a.set_xlim(-1.3, 1.3)
        a.set_ylim(-1.3, 1.3)
        a.set_aspect("equal")
        a.axis("off")
        a.set_title(title, fontsize=10)
    fig.savefig(file, format="png", dpi=80)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the example and return what it measured.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        A dict with ``W`` (the layer's (18, 18) weight), ``bias`` (its (18,)
        bias), ``kernel`` ((3, 3, 6), read off column 0 of each block),
        ``basis_dim`` (54), ``circulant_deviation`` (0), ``convolution_error``
        (max |layer(f) − written-out group convolution|), ``f`` and ``psi_f``
        ((3, 6) each), ``k`` (g is the generator to the power k),
        ``equivariance_error`` (max |ψ[T_g f] − T_g ψ[f]|) and ``picture``.
    """
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    G = Z(N)
    V = cn.V(G)
    rep = CHANNELS * V
    basis_dim = (rep >> rep).equivariant_basis().dim
    torch.manual_seed(args.seed)
    layer = cn.nn.Linear(rep, rep, dtype=torch.float64)
    with torch.no_grad():
        W = layer.weight().numpy()
        bias = layer.bias().numpy()
    print(f"Linear({rep!r} -> {rep!r}) of {G!r}: weight {W.shape}, {basis_dim} free coefficients (9 blocks x 6)")

    deviation = circulant_deviation(W)
    w = kernel_from_column(W)
    b = bias.reshape(CHANNELS, N)[:, 0]
    print(f"every 6x6 block is circulant: max |B[i,j] - B[i+1,j+1]| = {deviation:.3g}")
    print(f"bias, one constant per channel: max spread {np.ptp(bias.reshape(CHANNELS, N), axis=1).max():.3g}")

    rng = np.random.default_rng(args.seed)
    f = rng.uniform(0.0, 1.0, size=(CHANNELS, N))  # an RGB colour per vertex

    def psi(signal: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return layer(torch.as_tensor(signal.reshape(1, -1))).numpy().reshape(CHANNELS, N)

    psi_f = psi(f)
    conv_error = float(np.abs(psi_f - group_convolution(w, b, f)).max())
    print(f"layer vs the group convolution written out: max difference {conv_error:.3g}")

    k = int(rng.integers(1, N))  # a turn that is not the identity
    g = np.linalg.matrix_power(G.discrete_generators[0], k)  # the generator to the power k
    assert np.array_equal(rep.rho(g) @ f.reshape(-1), shift(f, k).reshape(-1))
    psi_tf, t_psi_f = psi(shift(f, k)), shift(psi_f, k)
    eq_error = float(np.abs(psi_tf - t_psi_f).max())
    print(f"g = generator^{k} (turns the pattern clockwise by {60 * k} degrees): max |psi[T_g f] - T_g psi[f]| = {eq_error:.3g}")

    lo, hi = float(min(psi_f.min(), psi_tf.min())), float(max(psi_f.max(), psi_tf.max()))
    picture = os.path.join(args.out, "hexagon_z6.png")
    panels = [("f", f), (f"$T_g f$ (k={k})", shift(f, k)), (r"$\psi[f]$", psi_f), (r"$\psi[T_g f]$", psi_tf), (r"$T_g \psi[f]$", t_psi_f)]
    draw(panels, [(0.0, 1.0)] * 2 + [(lo, hi)] * 3, picture)
    print(f"wrote {picture}")
    return {
        "W": W,
        "bias": bias,
        "kernel": w,
        "basis_dim": basis_dim,
        "circulant_deviation": deviation,
        "convolution_error": conv_error,
        "f": f,
        "psi_f": psi_f,
        "k": k,
        "equivariance_error": eq_error,
        "picture": picture,
    }


if __name__ == "__main__":
    main()

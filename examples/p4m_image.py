"""A P4M layer on an image
=======================

A P4M-equivariant layer on a generated RGB image: ψ[T f] = T ψ[f] for a rotation, a mirror and a shift.

P4M(n) acts on a periodic n × n image by 90° rotations, mirrors and unit
shifts; an RGB image is the rep ``3*V`` (three channels of n² pixels, pixel
(r, c) at index r·n + c). A Linear layer ``3*V >> 3*V`` solved for P4M is a
circular convolution whose kernels are symmetric under the 8 rotations and
mirrors of the square (D4), so it commutes with every element of P4M. With
``support=5`` (the default here) the basis keeps only the orbits inside a
5 × 5 window: a local D4-symmetric 5 × 5 convolution, as the p4m kernel of
the dmol.pub chapter, with 6 free numbers per pair of channels instead of
a dense 1024 × 1024 block (``--support 0``: the full support, affordable
for small images only).

The image is generated, never downloaded: smooth periodic blobs of colour
on a slow colour wave, deliberately without symmetry so that a rotation or a
mirror shows. T is a 90° rotation, then a mirror, then a shift, built with
numpy's ``rot90``/``flip``/``roll`` (not with the group's generators) and
checked to be an element of P4M. The script prints ``max |ψ[T f] − T ψ[f]|``
relative to ``max |ψ[f]|`` in float32 and float64, and the same error for a plain
``torch.nn.Conv2d`` with a random 5 × 5 kernel and circular padding: it
commutes with shifts but not with rotations or mirrors. The picture
(``p4m_image.png``) shows f, T f, ψ[T f] and T ψ[f].

Run: python examples/p4m_image.py [--out DIR] [--seed N] [--size 32] [--support 5]
"""

from __future__ import annotations

import argparse
import os
from typing import Callable, Sequence

import numpy as np
import torch

import constrainnet as cn
from constrainnet.groups import P4M

CHANNELS = 3  #: red, green, blue


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: ``--out``, ``--seed``, ``--size``, ``--support``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for the PNG picture (default: current folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image, the layer and the transformation")
    parser.add_argument("--size", type=int, default=32, help="side n of the n x n image (the group is P4M(n))")
    parser.add_argument("--support", type=int, default=5, help="odd side k of the k x k kernel window (0: full support)")
    return parser.parse_args(argv)


def procedural_image(n: int, rng: np.random.Generator, blobs: int = 5) -> np.ndarray:
    """A smooth, periodic, asymmetric (3, n, n) RGB image in [0, 1]: Gaussian blobs of colour on a colour wave.

    Distances wrap around the borders, so the image is smooth on the torus
    that P4M(n) acts on.
    """
    r, c = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    wave = 0.5 + 0.25 * np.sin(2 * np.pi * (r + 2 * c) / n + np.arange(CHANNELS)[:, None, None] * 2.1)
    image = 0.5 * wave
    for _ in range(blobs):
        centre, width = rng.uniform(0, n, size=2), rng.uniform(0.06, 0.16) * n
        dr = np.minimum(np.abs(r - centre[0]), n - np.abs(r - centre[0]))
        dc = np.minimum(np.abs(c - centre[1]), n - np.abs(c - centre[1]))
        colour = rng.uniform(0, 1, size=CHANNELS)
        image = image + colour[:, None, None] * np.exp(-(dr**2 + dc**2) / (2 * width**2))
    return np.clip(image / image.max(), 0.0, 1.0)


def transformation(quarter_turns: int, mirror: bool, shift: tuple[int, int]) -> Callable[[np.ndarray], np.ndarray]:
    """T on (..., n, n) images: rotate by 90°·quarter_turns, then mirror left-right if asked, then shift periodically."""

    def T(image: np.ndarray) -> np.ndarray:
        out = np.rot90(image, quarter_turns, axes=(-2, -1))
        if mirror:
            out = np.flip(out, axis=-1)
        return np.roll(out, shift, axis=(-2, -1))

    return T


def permutation_matrix(T: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """The (n², n²) matrix of T on one channel: column j is T applied to the j-th pixel image."""
    basis = np.eye(n * n).reshape(n * n, n, n)
    return T(basis).reshape(n * n, n * n).T


def relative_error(psi: Callable[[np.ndarray], np.ndarray], T: Callable[[np.ndarray], np.ndarray], f: np.ndarray) -> float:
    """max |ψ[T f] − T ψ[f]| / max |ψ[f]|."""
    out = psi(f)
    return float(np.abs(psi(T(f)) - T(out)).max() / np.abs(out).max())


def draw(panels: list[tuple[str, np.ndarray]], file: str) -> None:
    """The (3, n, n) images side by side; each output channel is mapped to [0, 1] by one scale shared by the outputs."""
    from matplotlib.figure import Figure

    outputs = np.stack([img for title, img in panels[2:]])
    lo, hi = outputs.min(axis=(0, 2, 3))[:, None, None], outputs.max(axis=(0, 2, 3))[:, None, None]
    fig = Figure(figsize=(2.4 * len(panels), 2.7), layout="constrained")
    for a, (k, (title, image)) in zip(fig.subplots(1, len(panels)), enumerate(panels)):
        shown = image if k < 2 else (image - lo) / np.maximum(hi - lo, 1e-12)
        a.imshow(np.clip(shown.transpose(1, 2, 0), 0, 1), interpolation="nearest")
        a.set_title(title, fontsize=10)
        a.axis("off")
    fig.savefig(file, format="png", dpi=80)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the example and return what it measured.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        A dict with ``size`` (n), ``transformation`` ((quarter turns, mirror,
        shift)), ``in_group`` (T is an element of P4M(n)), ``error_float32``
        and ``error_float64`` (max |ψ[T f] − T ψ[f]| / max |ψ[f]| of the
        layer), ``conv2d_error`` (the same for a random circular
        ``Conv2d``), ``conv2d_shift_error`` (the Conv2d's error for the shift
        alone), ``num_coefficients`` of the layer (54 for a 5 × 5 support:
        9 channel pairs × 6 D4-orbits of offsets in the window),
        ``impulse_response`` ((3, 3, n, n): ψ[δ] − ψ[0] for a unit impulse in
        each input channel at the centre pixel (n//2, n//2), float64: the
        layer's kernels), ``f``, ``psi_Tf``,
        ``T_psi_f`` ((3, n, n) float64 arrays) and ``picture``.
    """
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    n = args.size
    G = P4M(n)
    rep = CHANNELS * cn.V(G)
    rng = np.random.default_rng(args.seed)
    f = procedural_image(n, rng)

    quarter_turns, mirror = int(rng.integers(1, 4)), True
    offset = tuple(int(v) for v in rng.permutation(np.arange(1, n))[:2])  # two different non-zero shifts
    T = transformation(quarter_turns, mirror, offset)
    in_group = G.contains(permutation_matrix(T, n))
    print(f"T: rotate by {90 * quarter_turns} degrees, mirror, shift by {offset}; an element of {G!r}: {in_group}")

    results = {"size": n, "transformation": (quarter_turns, mirror, offset), "in_group": in_group}
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(args.seed)
        layer = cn.nn.Linear(rep, rep, dtype=dtype, support=args.support or None).eval()

        def psi(image: np.ndarray, layer: cn.nn.Linear = layer, dtype: torch.dtype = dtype) -> np.ndarray:
            with torch.no_grad():
                x = torch.as_tensor(np.ascontiguousarray(image).reshape(1, -1), dtype=dtype)
                return layer(x).double().numpy().reshape(CHANNELS, n, n)

        name = str(dtype).removeprefix("torch.")
        results[f"error_{name}"] = relative_error(psi, T, f)
        window = f"{args.support}x{args.support} support" if args.support else "full support"
        print(f"P4M layer {rep!r} -> {rep!r}, {window} ({layer.num_coefficients} coefficients), {name}: "
              f"max |psi[T f] - T psi[f]| / max |psi[f]| = {results[f'error_{name}']:.3g}")
    results["num_coefficients"] = layer.num_coefficients
    impulses = np.zeros((CHANNELS, CHANNELS, n, n))
    impulses[np.arange(CHANNELS), np.arange(CHANNELS), n // 2, n // 2] = 1.0
    results["impulse_response"] = np.stack([psi(delta) - psi(np.zeros_like(delta)) for delta in impulses])
    results["f"], results["psi_Tf"], results["T_psi_f"] = f, psi(T(f)), T(psi(f))

    torch.manual_seed(args.seed)
    conv = torch.nn.Conv2d(CHANNELS, CHANNELS, 5, padding=2, padding_mode="circular", dtype=torch.float64)

    def psi_conv(image: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return conv(torch.as_tensor(np.ascontiguousarray(image)[None])).numpy()[0]

    results["conv2d_error"] = relative_error(psi_conv, T, f)
    results["conv2d_shift_error"] = relative_error(psi_conv, transformation(0, False, offset), f)
    print(f"plain Conv2d 5x5 (random kernel, circular padding): error {results['conv2d_error']:.3g} for T, "
          f"{results['conv2d_shift_error']:.3g} for the shift alone")

    picture = os.path.join(args.out, "p4m_image.png")
    draw([("f", f), ("T f", T(f)), (r"$\psi[T f]$", results["psi_Tf"]), (r"$T \psi[f]$", results["T_psi_f"])], picture)
    print(f"wrote {picture}")
    results["picture"] = picture
    return results


if __name__ == "__main__":
    main()

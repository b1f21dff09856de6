"""The dipole: projector, projection and bias
==========================================

The dipole example of the EMLP chapter of dmol.pub: SO(3), 5 charges in, a vector out.

Five point charges are given by their charges (5 scalars) and positions
(5 vectors), the rep ``5*V**0 + 5*V`` of SO(3); the dipole moment is a
vector, the rep V. This script shows, with the numbers that prove it:

1. the equivariant maps ``(5*V**0 + 5*V) >> V`` live in R^60 (a 3 × 20
   weight), so their projector is a 60 × 60 matrix; it has rank 5, one free
   parameter per position vector, and the scalars are cut off entirely;
2. a random W and its projection P W side by side (``dipole_weights.png``):
   P W satisfies ρ_out(g) P W = P W ρ_in(g), W does not;
3. the projected bias is zero: V has no non-zero vector fixed by every
   rotation, so an equivariant layer into V has no bias at all;
4. an EMLP from ``5*V**0 + 5*V`` to V is equivariant to random rotations, to
   float32 and float64 precision
   (:func:`constrainnet.testing.equivariance_error`).

Run: python examples/dipole.py [--out DIR] [--seed N] [--ch 128] [--num-layers 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

import numpy as np
import torch

import constrainnet as cn
from constrainnet import plot
from constrainnet.groups import SO
from constrainnet.testing import equivariance_error

#: The size of ``(5*V**0 + 5*V) >> V`` of SO(3): 3 outputs times (5 + 15) inputs.
HOM_SIZE = 60

#: Defaults under ``--quick`` (how the docs gallery runs it): a smaller EMLP, equivariant all the same.
QUICK = {"ch": 32, "num_layers": 1}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: ``--out``, ``--seed``, ``--ch``, ``--num-layers``, ``--quick``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for the PNG pictures (default: current folder)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights, models and rotations")
    parser.add_argument("--ch", type=int, default=128, help="hidden channels of the EMLP")
    parser.add_argument("--num-layers", type=int, default=2, help="hidden layers of the EMLP")
    parser.add_argument("--quick", action="store_true", help="the docs gallery's shorter run: defaults %s" % QUICK)
    args = parser.parse_args(argv)
    if args.quick:  # QUICK replaces the defaults; arguments given explicitly still win
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    return args


def map_error(W: np.ndarray, rep_in: cn.Rep, rep_out: cn.Rep, gs: np.ndarray) -> float:
    """The largest relative commutation error ‖ρ_out(g) W − W ρ_in(g)‖ / ‖W‖ over the elements ``gs``."""
    scale = max(float(np.linalg.norm(W)), 1e-300)
    return max(float(np.linalg.norm(rep_out.rho(g) @ W - W @ rep_in.rho(g))) / scale for g in gs)


def draw(rep_in: cn.Rep, rep_out: cn.Rep, seed: int, b: np.ndarray, Pb: np.ndarray, file: str) -> None:
    """Save the picture: random W, projected P W (constrainnet.plot.weights) and the bias before/after."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    axes = fig.subplots(1, 3, width_ratios=[4, 4, 1.3])
    plot.weights(rep_in, rep_out, seed=seed, ax=axes[:2])
    axes[2].barh(np.arange(3), b, height=0.5, color="0.65", label="random b")
    axes[2].plot(Pb, np.arange(3), "o", color="C3", label="P b = 0")
    axes[2].axvline(0.0, color="0.3", lw=0.6)
    axes[2].set_yticks(range(3), ["x", "y", "z"])
    axes[2].invert_yaxis()
    axes[2].set_title("bias b and P b")
    axes[2].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.savefig(file, format="png", dpi=80)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the example and return what it measured.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        A dict with ``projector`` (the dense P) and ``projector_shape`` (60, 60), ``projector_rank`` (5),
        ``basis_dim`` (5), ``W`` and ``PW`` (the random (3, 20) weight and its
        projection), ``random_error`` and ``projected_error`` (the
        commutation errors of W and P W), ``projected_bias_norm`` (0),
        ``scalar_block_max`` (0: the scalars' columns of P W),
        ``bias_basis_dim`` (0), ``layer_bias_norm`` (0), ``emlp_error_float32``
        and ``emlp_error_float64``, and ``picture`` (the PNG path).
    """
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    G = SO(3)
    V = cn.V(G)
    rep_in, rep_out = 5 * V**0 + 5 * V, V
    hom = rep_in >> rep_out

    P = np.asarray(hom.equivariant_projector())
    rank = int(np.linalg.matrix_rank(P))
    print(f"projector of {hom!r}: {P.shape[0]} x {P.shape[1]}, rank {rank}, basis dim {hom.equivariant_basis().dim}")

    rng = np.random.default_rng(args.seed)
    gs = G.samples(8, rng)
    W, PW = plot.projected_weights(rep_in, rep_out, args.seed)  # W ~ N(0, 1), P W its projection
    random_error, projected_error = map_error(W, rep_in, rep_out, gs), map_error(PW, rep_in, rep_out, gs)
    print(f"commutation error |rho_out(g) W - W rho_in(g)| / |W|: random W {random_error:.3g}, projected P W {projected_error:.3g}")
    scalar_block = float(np.abs(PW[:, :5]).max())
    print(f"largest entry of P W on the 5 scalar inputs: {scalar_block:.3g} (a scalar cannot make a vector)")

    b = rng.standard_normal(rep_out.size)
    Pb = rep_out.equivariant_projector() @ b
    bias_dim = rep_out.equivariant_basis().dim
    torch.manual_seed(args.seed)
    layer = cn.nn.Linear(rep_in, rep_out)
    with torch.no_grad():
        layer_bias = layer.bias()
    layer_bias_norm = float(layer_bias.norm()) if layer_bias is not None else 0.0
    print(f"random bias b = {np.round(b, 3)}, projected P b = {Pb} (|P b| = {np.linalg.norm(Pb):.3g}):")
    print(f"  V has {bias_dim} invariant vectors, so an equivariant Linear into V has a zero bias (|b| = {layer_bias_norm:.3g})")

    torch.manual_seed(args.seed)
    model = cn.nn.EMLP(rep_in, rep_out, group=G, ch=args.ch, num_layers=args.num_layers)
    err32 = equivariance_error(model, rng=args.seed)
    err64 = equivariance_error(model.double(), rng=args.seed)
    print(f"EMLP {rep_in!r} -> {rep_out!r} (hidden {model.hidden[0]!r}): equivariance error "
          f"{err32:.3g} in float32, {err64:.3g} in float64")

    picture = os.path.join(args.out, "dipole_weights.png")
    draw(rep_in, rep_out, args.seed, b, Pb, picture)
    print(f"wrote {picture}")
    return {
        "projector": P,
        "projector_shape": P.shape,
        "projector_rank": rank,
        "basis_dim": hom.equivariant_basis().dim,
        "W": W,
        "PW": PW,
        "random_error": random_error,
        "projected_error": projected_error,
        "scalar_block_max": scalar_block,
        "projected_bias_norm": float(np.linalg.norm(Pb)),
        "bias_basis_dim": bias_dim,
        "layer_bias_norm": layer_bias_norm,
        "emlp_error_float32": err32,
        "emlp_error_float64": err64,
        "picture": picture,
    }


if __name__ == "__main__":
    main()

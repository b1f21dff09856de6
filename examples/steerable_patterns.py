"""Steerable CNN: shapes seen upright, recognised in any of the 8 orientations of D4
=================================================================================

Five shapes (the five free tetrominoes I, O, T, L, S, drawn with thick
strokes, jittered in position and thickness, with pixel noise) are to be
told apart in 24×24 images. The training images show every shape in one
orientation only; the test images are turned by a random element of D4
(rotations by 90° and mirrors). The shapes are distinct under D4, so the
task is well posed for an orientation-blind model.

Two models with the same channel counts (64 → 64 → 256 by default) are trained alike:

- a D4 steerable CNN (:class:`constrainnet.nn.SteerableConv2d`): a lifting
  layer (1 trivial field → 8 regular fields of 8 channels), two regular →
  regular layers (the last to 32 fields), batch norm per field
  (:class:`~constrainnet.nn.FieldBatchNorm2d`), ReLU on the regular fields,
  average pooling (:class:`~constrainnet.nn.FieldPool2d`), group pooling
  (:class:`~constrainnet.nn.GroupPooling`: one invariant channel per field),
  a spatial max and a small MLP: D4-invariant by construction, with about
  8× fewer convolution parameters;
- a plain CNN (``torch.nn.Conv2d``), which learns only the upright shapes.

On upright test images both do well; on turned ones the plain CNN drops
towards chance (20%) while the steerable CNN keeps its accuracy exactly.

``--out DIR`` draws (1) the learned kernels of the lifting layer: each of
its basis elements (one per free coefficient, solved, not tabulated) and one
learned output field, whose 8 channels are the 8 turned copies of one
filter; and (2) a feature map of an image f and of g·f, side by side with
g applied to the first: they agree.

Run: python examples/steerable_patterns.py [--n-train 1000] [--epochs 8] [--fields 8] [--seed 0] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import numpy as np
import torch
from torch import nn

import constrainnet as cn
from constrainnet.groups import D

#: Defaults under ``--quick`` (the docs gallery and the tests).
QUICK = {"n_train": 400, "n_test": 300, "epochs": 5, "fields": 4}

SHAPES = {  # cells of the five free tetrominoes on a 4×4 board
    "I": [(0, 1), (1, 1), (2, 1), (3, 1)],
    "O": [(1, 1), (1, 2), (2, 1), (2, 2)],
    "T": [(1, 0), (1, 1), (1, 2), (2, 1)],
    "L": [(0, 1), (1, 1), (2, 1), (2, 2)],
    "S": [(1, 1), (1, 2), (2, 0), (2, 1)],
}
SIZE = 24


def make_images(n: int, turned: bool, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n images (n, 1, 24, 24) and labels; ``turned`` applies a random D4 element to each."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), n)
    images = np.zeros((n, SIZE, SIZE), dtype=np.float32)
    for k, label in enumerate(labels):
        cell = int(rng.integers(4, 6))
        board = np.zeros((4 * cell, 4 * cell), dtype=np.float32)
        for r, c in SHAPES["IOTLS"[label]]:
            board[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = 1.0
        if turned:
            board = np.rot90(board, int(rng.integers(4)))
            if rng.integers(2):
                board = board[:, ::-1]
        top, left = rng.integers(0, SIZE - board.shape[0] + 1, 2)
        images[k, top : top + board.shape[0], left : left + board.shape[1]] = board
    images += 0.3 * rng.standard_normal(images.shape).astype(np.float32)
    return torch.from_numpy(images[:, None]), torch.from_numpy(labels)


class SteerableCNN(nn.Module):
    """Lift to regular fields, two regular → regular convolutions, group pooling, a spatial max, a small MLP."""

    def __init__(self, fields: int = 8, classes: int = 5) -> None:
        super().__init__()
        G = D(4)
        self.G = G
        image = cn.nn.FieldType(G, [cn.Scalar(G)])
        hidden = cn.nn.FieldType(G, fields * [cn.regular(G)])
        wide = cn.nn.FieldType(G, 4 * fields * [cn.regular(G)])
        self.in_type = image
        self.lift = cn.nn.SteerableConv2d(image, hidden, 5, padding=2)
        self.body = nn.Sequential(
            cn.nn.FieldBatchNorm2d(hidden), cn.nn.PointwiseNonlinearity(hidden, torch.relu),
            cn.nn.FieldPool2d(hidden, 2),
            cn.nn.SteerableConv2d(hidden, hidden, 3, padding=1),
            cn.nn.FieldBatchNorm2d(hidden), cn.nn.PointwiseNonlinearity(hidden, torch.relu),
            cn.nn.FieldPool2d(hidden, 2),
            cn.nn.SteerableConv2d(hidden, wide, 3, padding=1),
            cn.nn.FieldBatchNorm2d(wide), cn.nn.PointwiseNonlinearity(wide, torch.relu),
            cn.nn.GroupPooling(wide),  # one D4-invariant channel per field
        )
        self.head = nn.Sequential(nn.Linear(4 * fields, 64), nn.ReLU(), nn.Linear(64, classes))

    def features(self, x: torch.Tensor, depth: int = 4) -> torch.Tensor:
        """The feature map after the lifting layer and ``depth`` modules of the body."""
        return self.body[:depth](self.lift(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.lift(x)).amax(dim=(2, 3)))


def plain_cnn(channels: int = 64, classes: int = 5) -> nn.Module:
    """The same layout with ``torch.nn.Conv2d`` and the same channel counts (no group pooling)."""
    wide = 4 * channels
    return nn.Sequential(
        nn.Conv2d(1, channels, 5, padding=2), nn.BatchNorm2d(channels), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(channels, wide, 3, padding=1), nn.BatchNorm2d(wide), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(wide, 64), nn.ReLU(), nn.Linear(64, classes),
    )


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> float:
    """Adam on cross-entropy, mini-batches of 50 in a seeded order; returns the seconds taken."""
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    model.train()
    for _ in range(args.epochs):
        for idx in torch.randperm(len(x), generator=gen).split(50):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return time.perf_counter() - start


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return float((torch.cat([model(b).argmax(1) for b in x.split(250)]) == y).float().mean())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=1000, help="upright training images (default: 1000)")
    parser.add_argument("--n-test", type=int, default=1000, help="test images of each kind (default: 1000)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs (default: 8)")
    parser.add_argument("--fields", type=int, default=8, help="regular D4 fields per layer; the plain CNN has 8x as many channels (default: 8)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, parameters and batches (default: 0)")
    parser.add_argument("--quick", action="store_true", help="a shorter run: defaults %s" % QUICK)
    parser.add_argument("--out", default=None, help="folder for the pictures (default: none)")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    if min(args.n_train, args.n_test, args.epochs, args.fields) < 1:
        parser.error(f"expected positive --n-train, --n-test, --epochs and --fields, got {args.n_train}, {args.n_test}, {args.epochs}, {args.fields}")
    return args


def main(argv: Sequence[str] | None = None) -> dict:
    """Train both models; print and return ``{name: {"upright", "turned", "params", "seconds"}}``."""
    args = parse_args(argv)
    x, y = make_images(args.n_train, turned=False, seed=args.seed)
    x_up, y_up = make_images(args.n_test, turned=False, seed=args.seed + 1)
    x_turn, y_turn = make_images(args.n_test, turned=True, seed=args.seed + 2)
    print(f"5 shapes, {args.n_train} upright training images, {args.n_test} upright and {args.n_test} turned test images")
    print(f"  {'model':<16}{'parameters':>11}{'upright':>9}{'turned':>8}{'train s':>9}")
    results: dict = {"args": vars(args)}
    models = {}
    for name in ("steerable D4", "plain CNN"):
        torch.manual_seed(args.seed)
        model = SteerableCNN(args.fields) if name == "steerable D4" else plain_cnn(8 * args.fields)
        seconds = train(model, x, y, args)
        params = sum(p.numel() for p in model.parameters())
        up, turn = accuracy(model, x_up, y_up), accuracy(model, x_turn, y_turn)
        results[name] = {"upright": up, "turned": turn, "params": params, "seconds": seconds}
        models[name] = model
        print(f"  {name:<16}{params:>11}{up:>9.1%}{turn:>8.1%}{seconds:>9.1f}")
    if args.out is not None:
        results["pictures"] = draw(models["steerable D4"], x_up[:1], args.out)
    return results


def draw(model: SteerableCNN, f: torch.Tensor, out: str) -> list[str]:
    """The lifting layer's basis and one learned field; a feature map of f and of g·f. Returns the PNG paths."""
    from matplotlib.figure import Figure

    os.makedirs(out, exist_ok=True)
    lift = model.lift
    basis = lift.kernel_basis_0_0.detach()  # (r, 8, 1, 5, 5): one regular output field per element
    kernel = lift.weight.detach()[:8, 0]  # the 8 channels of the first output field
    r = basis.shape[0]
    cols = 8
    rows = min(r, 6) + 1
    fig = Figure(figsize=(cols * 0.9, rows * 0.95))
    for i in range(rows - 1):
        for c in range(cols):
            ax = fig.add_subplot(rows, cols, i * cols + c + 1)
            ax.imshow(basis[i, c, 0].numpy(), cmap="RdBu_r", vmin=-0.5, vmax=0.5)
            ax.set_axis_off()
    for c in range(cols):
        ax = fig.add_subplot(rows, cols, (rows - 1) * cols + c + 1)
        ax.imshow(kernel[c].numpy(), cmap="RdBu_r")
        ax.set_axis_off()
    fig.suptitle(f"lifting layer: {min(r, 6)} of its {r} basis elements (rows; 8 channels each), last row: a learned field", fontsize=8)
    kernels_png = os.path.join(out, "steerable_kernels.png")
    fig.savefig(kernels_png, dpi=100)

    G, t_in = model.G, model.in_type
    g = G.discrete_generators[0]  # the rotation by 90°
    hidden = model.lift.out_type
    model.eval()
    with torch.no_grad():
        feat = model.features(f)
        feat_g = model.features(t_in.transform(f, g))
        moved = hidden.transform(feat, g)
    fig = Figure(figsize=(8, 2.4))
    panels = [(f[0, 0], "f"), (t_in.transform(f, g)[0, 0], "g·f"), (feat[0, 0], "Φ(f), channel 0"),
              (feat_g[0, 0], "Φ(g·f), channel 0"), (moved[0, 0], "g·Φ(f), channel 0")]
    for i, (img, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(img.numpy(), cmap="viridis")
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    err = float((feat_g - moved).abs().max() / moved.abs().max())
    fig.suptitle(f"g = rotation by 90°: Φ(g·f) = g·Φ(f) (relative difference {err:.1e})", fontsize=9)
    maps_png = os.path.join(out, "steerable_feature_maps.png")
    fig.savefig(maps_png, dpi=100)
    return [kernels_png, maps_png]


if __name__ == "__main__":
    main()

"""Soft equivariance: residual pathway priors when the data break the symmetry a little
=====================================================================================

The O(5) task of the EMLP paper with a small symmetry-breaking term: two
vectors x₁, x₂ ∈ R⁵ map to

    y = sin‖x₁‖ − ½‖x₂‖³ + ⟨x₁, x₂⟩ / (‖x₁‖‖x₂‖) + ε x₁[0] x₂[0],

the first three terms invariant under O(5) (:class:`~constrainnet.datasets.O5Synthetic`),
the last one only under the rotations and reflections that keep the first
axis (O(1) × O(4)): a preferred direction, as a small external field would
give. With ε = 0.5 the extra term carries under 1% of the targets' variance.

Four models are trained on the same samples, with the same widths, optimiser
and epochs, and compared by test MSE and O(5) equivariance error:

- EMLP: exactly O(5)-invariant, so of the ε term it can fit only its O(5)
  average ε⟨x₁, x₂⟩/5; the rest, of mean square 0.8 ε² for Gaussian inputs,
  is its error floor;
- MLP: unconstrained, it can fit everything but learns the symmetric part
  slowly from few samples;
- MLP+Aug: the MLP trained on O(5)-augmented batches
  (:class:`constrainnet.augment.GroupAugment`): it learns the symmetric
  part faster than the MLP, but is taught a symmetry the data do not have,
  so the ε term is averaged away as in the EMLP;
- RPP: EMLP + MLP with residual pathway priors (:class:`constrainnet.nn.RPP`):
  the equivariant path fits the symmetric part as the EMLP does, the basic
  path, held near zero by its narrow prior, fits the small ε term. It beats
  both EMLP and MLP.

``--out DIR`` draws the test errors beside the floor of any O(5)-invariant model.

Run: python examples/soft_equivariance.py [--n-train 300] [--epochs 80] [--epsilon 0.5] [--seed 0] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import numpy as np
import torch

import constrainnet as cn
from constrainnet.augment import GroupAugment
from constrainnet.datasets import O5Synthetic, Standardize
from constrainnet.testing import equivariance_error
from constrainnet.train import evaluate, fit

#: Defaults under ``--quick`` (the docs gallery and the tests): fewer epochs and test samples.
QUICK = {"epochs": 80, "n_test": 500}

MODELS = ("emlp", "mlp", "mlp+aug", "rpp")


class TiltedO5(O5Synthetic):
    """O5Synthetic plus ε x₁[0] x₂[0]: invariant under O(1) × O(4), no longer under O(5).

    Args:
        n: number of samples.
        epsilon: the weight ε of the symmetry-breaking term.
        seed: seed of the data.

    Example:
        >>> a, b = TiltedO5(4, epsilon=0.0, seed=0), O5Synthetic(4, seed=0)
        >>> bool(torch.equal(a.Y, b.Y))
        True
    """

    def __init__(self, n: int, epsilon: float, seed: int = 0) -> None:
        self.epsilon = float(epsilon)
        super().__init__(n, seed=seed)

    def _target(self, x: np.ndarray) -> np.ndarray:
        return super()._target(x) + self.epsilon * x[:, [0]] * x[:, [5]]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); ``--quick`` replaces defaults, explicit values still win."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=300, help="training samples (default: 300)")
    parser.add_argument("--n-test", type=int, default=2000, help="test samples (default: 2000)")
    parser.add_argument("--epochs", type=int, default=150, help="epochs (default: 150)")
    parser.add_argument("--epsilon", type=float, default=0.5, help="weight of the symmetry-breaking term (default: 0.5)")
    parser.add_argument("--ch", type=int, default=64, help="hidden channels of every model (default: 64)")
    parser.add_argument("--num-layers", type=int, default=2, help="hidden layers of every model (default: 2)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--basic-wd", type=float, default=cn.nn.rpp.DEFAULT_BASIC_WD, help="RPP's prior on the MLP path")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to train (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, parameters and shuffling (default: 0)")
    parser.add_argument("--quick", action="store_true", help="a shorter run: defaults %s" % QUICK)
    parser.add_argument("--out", default=None, help="folder for a bar chart of the test errors (default: none)")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    if args.n_train < 1 or args.n_test < 1 or args.epochs < 1:
        parser.error(f"expected positive --n-train, --n-test and --epochs, got {args.n_train}, {args.n_test}, {args.epochs}")
    return args


def build(name: str, train: TiltedO5, args: argparse.Namespace) -> tuple[torch.nn.Module, dict]:
    """The model ``name`` wrapped in :class:`Standardize`, and the extra arguments of :func:`fit` it trains with."""
    G, rep_in, rep_out = train.group, train.rep_in, train.rep_out
    torch.manual_seed(args.seed)
    sizes = {"ch": args.ch, "num_layers": args.num_layers}
    extra: dict = {}
    if name == "emlp":
        core = cn.nn.EMLP(rep_in, rep_out, G, **sizes)
    elif name == "rpp":
        core = cn.nn.RPP(rep_in, rep_out, G, basic_wd=args.basic_wd, **sizes)
        extra["penalty"] = core.prior_penalty
    else:
        core = cn.nn.MLP(rep_in, rep_out, G, **sizes)
        if name == "mlp+aug":
            extra["augment"] = GroupAugment(rep_in, rep_out, seed=args.seed)
    return Standardize(core, train.stats), extra


def main(argv: Sequence[str] | None = None) -> dict:
    """Train the models, print the table, and return ``{name: {"mse", "equivariance", "seconds"}}`` plus the setup."""
    args = parse_args(argv)
    train = TiltedO5(args.n_train, args.epsilon, seed=args.seed)
    test = TiltedO5(args.n_test, args.epsilon, seed=args.seed + 1)
    x = test.X.double()
    # the ε term minus its O(5) average ε<x1, x2>/5: what no O(5)-invariant model can fit
    floor = float((args.epsilon * (x[:, 0] * x[:, 5] - (x[:, :5] * x[:, 5:]).sum(1) / 5)).pow(2).mean())
    print(f"O(5) task + {args.epsilon:g} x1[0] x2[0]: {args.n_train} training, {args.n_test} test samples, {args.epochs} epochs")
    print(f"MSE of predicting 0: {float((test.Y.double() ** 2).mean()):.4g}; floor of any O(5)-invariant model: {floor:.4g}")
    results: dict = {"floor": floor, "args": vars(args)}
    print(f"  {'model':<8}{'test MSE':>10}{'O(5) equivariance':>19}{'train s':>9}")
    for name in args.models:
        model, extra = build(name, train, args)
        start = time.perf_counter()
        fit(model, train, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed, progress=False, **extra)
        seconds = time.perf_counter() - start
        mse = evaluate(model, test)
        error = equivariance_error(model, group=train.group, n_samples=16, rng=args.seed)
        results[name] = {"mse": mse, "equivariance": error, "seconds": seconds}
        print(f"  {name.upper():<8}{mse:>10.4g}{error:>19.2e}{seconds:>9.1f}")
    if "rpp" in results:
        for other in ("emlp", "mlp"):
            if other in results:
                ratio = results[other]["mse"] / results["rpp"]["mse"]
                print(f"RPP's test MSE is {ratio:.3g}x {'lower' if ratio >= 1 else 'higher'} than the {other.upper()}'s")
    if args.out is not None:
        results["picture"] = draw(results, args.models, args.out)
    return results


def draw(results: dict, names: Sequence[str], out: str) -> str:
    """A bar chart of each model's test MSE (log scale) with the O(5)-invariant floor; returns the PNG's path."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.add_subplot()
    mses = [results[name]["mse"] for name in names]
    ax.bar([name.upper() for name in names], mses, color="tab:blue")
    ax.axhline(results["floor"], color="tab:red", linestyle="--", label="floor of any O(5)-invariant model")
    ax.set_yscale("log")
    ax.set_ylabel("test MSE")
    ax.set_title(f"O(5) task + {results['args']['epsilon']:g} x1[0] x2[0]")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "soft_equivariance.png")
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()

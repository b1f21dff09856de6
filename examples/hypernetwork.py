"""A hypernetwork of equivariant maps: each material its own stiffness, every one rotation-equivariant
====================================================================================================

Each sample is a material, described by two numbers z (its log Young's
modulus and a squashed Poisson ratio), and a strain ε, a symmetric 3×3
matrix. The stress is Hooke's law for an isotropic material,

    σ = λ(z) tr(ε) I + 2 μ(z) ε,

with the Lamé parameters λ, μ nonlinear functions of z. For each material the
map ε ↦ σ is linear and commutes with rotations: it lies in the equivariant
subspace of ``V**2 >> V**2`` under SO(3), of dimension 3 (ε ↦ tr(ε) I,
ε ↦ ε, ε ↦ εᵀ), whatever z is.

So a hypernetwork need only predict 3 coefficients c(z) and expand them into
the sample's own map, W(z) = Q c(z), with
:meth:`~constrainnet.solver.basis.Basis.expand` (per sample, through the
structured basis, differentiable). Every predicted map is exactly
equivariant. Three models are trained on the same samples:

- equivariant hypernetwork: an MLP z → c ∈ R³, then σ = Q.expand(c) ε;
- plain hypernetwork: an MLP z → 81 entries of a 9×9 matrix, then σ = W ε;
- MLP: an MLP on (z, ε) → σ.

The equivariant hypernetwork learns from a few hundred materials what the
others cannot, and rotating the strain rotates its stress to rounding.
``--out DIR`` draws the test errors.

Run: python examples/hypernetwork.py [--n-train 256] [--epochs 300] [--seed 0] [--quick] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Sequence

import numpy as np
import torch

import constrainnet as cn
from constrainnet.groups import SO

#: Defaults under ``--quick`` (the docs gallery and the tests).
QUICK = {"epochs": 150, "n_test": 1000}

MODELS = ("equivariant", "plain", "mlp")


def materials(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z, ε, σ): n materials z ∈ R², symmetric strains ε (n, 9) and their stresses σ (n, 9), float64."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    young = np.exp(0.5 * z[:, 0])
    poisson = 0.25 + 0.2 * np.tanh(z[:, 1])
    lam = young * poisson / ((1 + poisson) * (1 - 2 * poisson))
    mu = young / (2 * (1 + poisson))
    a = rng.standard_normal((n, 3, 3))
    strain = 0.5 * (a + a.transpose(0, 2, 1))
    trace = np.trace(strain, axis1=1, axis2=2)
    stress = lam[:, None, None] * trace[:, None, None] * np.eye(3) + 2 * mu[:, None, None] * strain
    as_t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    return as_t(z), as_t(strain.reshape(n, 9)), as_t(stress.reshape(n, 9))


class EquivariantHypernetwork(torch.nn.Module):
    """z → c(z) ∈ R^r by an MLP, then σ = Q.expand(c) ε: a per-sample map in the equivariant subspace of ``rep``."""

    def __init__(self, rep: cn.Rep, hidden: int) -> None:
        super().__init__()
        self.basis = rep.equivariant_basis()
        self.net = _mlp(2, self.basis.dim, hidden)

    def forward(self, z: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        maps = self.basis.expand(self.net(z))  # (batch, 9, 9), each one equivariant
        return (maps @ strain[:, :, None])[:, :, 0]


class PlainHypernetwork(torch.nn.Module):
    """z → a free 9×9 matrix by an MLP, then σ = W ε."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(2, 81, hidden)

    def forward(self, z: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        return (self.net(z).view(-1, 9, 9) @ strain[:, :, None])[:, :, 0]


class ConcatMLP(torch.nn.Module):
    """An MLP on (z, ε) → σ."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(11, 9, hidden)

    def forward(self, z: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, strain], dim=1))


def _mlp(n_in: int, n_out: int, hidden: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, hidden), torch.nn.SiLU(), torch.nn.Linear(hidden, n_out)
    ).double()


def rotation_error(model: torch.nn.Module, z: torch.Tensor, strain: torch.Tensor, seed: int) -> float:
    """Relative error of σ(R ε Rᵀ) against R σ(ε) Rᵀ over random rotations R (0 for an equivariant model)."""
    G = SO(3)
    rs = torch.tensor(G.samples(len(z), rng=seed))
    e = strain.view(-1, 3, 3)
    with torch.no_grad():
        turned = model(z, (rs @ e @ rs.transpose(1, 2)).reshape(-1, 9)).view(-1, 3, 3)
        expected = rs @ model(z, strain).view(-1, 3, 3) @ rs.transpose(1, 2)
    return float((turned - expected).norm() / expected.norm())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); ``--quick`` replaces defaults, explicit values still win."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=256, help="training materials (default: 256)")
    parser.add_argument("--n-test", type=int, default=2000, help="test materials (default: 2000)")
    parser.add_argument("--epochs", type=int, default=300, help="epochs (default: 300)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden width of every MLP (default: 64)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="models to train (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, parameters and shuffling (default: 0)")
    parser.add_argument("--quick", action="store_true", help="a shorter run: defaults %s" % QUICK)
    parser.add_argument("--out", default=None, help="folder for a bar chart of the test errors (default: none)")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    if min(args.n_train, args.n_test, args.epochs, args.hidden, args.batch_size) < 1:
        parser.error("expected positive --n-train, --n-test, --epochs, --hidden and --batch-size")
    return args


def build(name: str, hidden: int, seed: int) -> torch.nn.Module:
    """The model ``name``, its parameters drawn from ``seed``."""
    torch.manual_seed(seed)
    if name == "equivariant":
        V = cn.V(SO(3))
        return EquivariantHypernetwork(V**2 >> V**2, hidden)
    return PlainHypernetwork(hidden) if name == "plain" else ConcatMLP(hidden)


def train(model: torch.nn.Module, data: tuple, args: argparse.Namespace) -> None:
    """Adam on the MSE, shuffled minibatches drawn from ``args.seed``."""
    z, strain, stress = data
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        for idx in torch.randperm(len(z), generator=order).split(args.batch_size):
            opt.zero_grad()
            loss = (model(z[idx], strain[idx]) - stress[idx]).pow(2).mean()
            loss.backward()
            opt.step()


def main(argv: Sequence[str] | None = None) -> dict:
    """Train the models, print the table, and return ``{name: {"mse", "rotation_error", "seconds", "parameters"}}``."""
    args = parse_args(argv)
    data, test = materials(args.n_train, args.seed), materials(args.n_test, args.seed + 1)
    zero = float(test[2].pow(2).mean())
    print(f"isotropic Hooke's law, Lamé parameters from z: {args.n_train} training, {args.n_test} test materials, {args.epochs} epochs")
    print(f"MSE of predicting 0: {zero:.4g}")
    print(f"  {'model':<13}{'parameters':>11}{'test MSE':>11}{'rotation error':>16}{'train s':>9}")
    results: dict = {"zero_mse": zero, "args": vars(args)}
    for name in args.models:
        model = build(name, args.hidden, args.seed)
        start = time.perf_counter()
        train(model, data, args)
        seconds = time.perf_counter() - start
        with torch.no_grad():
            mse = float((model(test[0], test[1]) - test[2]).pow(2).mean())
        error = rotation_error(model, test[0][:256], test[1][:256], args.seed)
        params = sum(p.numel() for p in model.parameters())
        results[name] = {"mse": mse, "rotation_error": error, "seconds": seconds, "parameters": params}
        print(f"  {name:<13}{params:>11}{mse:>11.3g}{error:>16.2e}{seconds:>9.1f}")
    if "equivariant" in results:
        for other in ("plain", "mlp"):
            if other in results:
                ratio = results[other]["mse"] / results["equivariant"]["mse"]
                print(f"the equivariant hypernetwork's test MSE is {ratio:.3g}x lower than the {other} model's")
    if args.out is not None:
        results["picture"] = draw(results, args.models, args.out)
    return results


def draw(results: dict, names: Sequence[str], out: str) -> str:
    """A bar chart of each model's test MSE (log scale) with its rotation error written above; returns the PNG's path."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.5))
    ax = fig.add_subplot()
    mses = [results[name]["mse"] for name in names]
    bars = ax.bar(list(names), mses, color="tab:blue")
    for bar, name in zip(bars, names):
        ax.annotate(f"rot. err. {results[name]['rotation_error']:.0e}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel("test MSE")
    ax.set_title(f"stress from strain, {results['args']['n_train']} materials")
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "hypernetwork.png")
    fig.savefig(path, dpi=100)
    return path


if __name__ == "__main__":
    main()

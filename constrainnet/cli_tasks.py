"""The ``demo`` and ``train`` subcommands of :mod:`constrainnet.cli`: data, models, training, and the launch on several processes.

Nothing heavy is imported at module level: torch, the layers and the datasets
are imported by the command that runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .groups import Group

__all__ = ["TASKS", "cmd_demo", "cmd_train"]

#: ``constrainnet train`` tasks: name -> dataset class name in :mod:`constrainnet.datasets`.
TASKS = {"dipole": "Dipole", "o5": "O5Synthetic", "inertia": "Inertia", "particles": "ParticleInteraction"}

_EQUIVARIANCE_SAMPLES = 16  # random group elements for the equivariance check


class UsageError(Exception):
    """Bad user input found after argument parsing: reported on one line, exit status 2."""


# -- demo and train ------------------------------------------------------------------
def _task_data(
    task: str, group_text: str | None, n_train: int, n_test: int, seed: int
) -> tuple[Any, Any, Group, Any, Any]:
    """Train and test sets of ``task``, the group, and its reps bound to the chosen group."""
    from . import datasets
    from .parse import parse_group, parse_rep

    cls = getattr(datasets, TASKS[task])
    train, test = cls(n_train, seed=seed), cls(n_test, seed=seed + 1)
    if group_text is None:
        return train, test, train.group, train.rep_in, train.rep_out
    G = parse_group(group_text)
    if G.d != train.group.d:
        raise UsageError(
            f"--group: the {task} task lives in R^{train.group.d} ({train.group!r}): "
            f"expected a group acting on R^{train.group.d}, got {G!r} acting on R^{G.d}"
        )
    # The same reps, over G: the reprs of the task's reps re-read as expressions over G's V.
    return train, test, G, parse_rep(repr(train.rep_in), G), parse_rep(repr(train.rep_out), G)


def _check_device(text: str) -> None:
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise UsageError(f"--device: expected a torch device such as cpu or cuda, got {text!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device: expected an available device, got {text!r} but CUDA is not available here")


def _model(kind: str, train: Any, G: Group, rep_in: Any, rep_out: Any, args: argparse.Namespace) -> Any:
    """EMLP or MLP for the task, wrapped to read raw inputs and return raw targets."""
    import torch

    from . import nn
    from .datasets import Standardize, Stats

    stats = train.stats
    if rep_in != train.rep_in or rep_out != train.rep_out:  # statistics of the same data, for G's reps
        stats = Stats.from_data(
            train.X.double().numpy(), train.Y.double().numpy(), rep_in, rep_out,
            outputs=train.standardize_outputs, dtype=train.X.dtype,
        )  # fmt: skip
    torch.manual_seed(args.seed)  # the models' initial parameters
    cls = {"emlp": nn.EMLP, "rpp": nn.RPP}.get(kind, nn.MLP)  # mlp+aug: an MLP, augmented by _fit
    core = cls(rep_in, rep_out, group=G, ch=args.ch, num_layers=args.num_layers)
    return Standardize(core, stats).to(args.device)


def _fit(model: Any, train: Any, args: argparse.Namespace, label: str, augment: Any = None) -> float:
    """Train ``model`` as the options say (with an RPP's prior penalty, and ``augment`` when given); the seconds taken."""
    from .train import fit

    start = time.perf_counter()
    if args.progress:
        print(f"training {label} ...", file=sys.stderr)
    fit(model, train, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
        device=args.device, progress=args.progress, compile=getattr(args, "compile", False),
        checkpoint=getattr(args, "checkpoint", None), resume=getattr(args, "resume", False),
        penalty=getattr(model.model, "prior_penalty", None), augment=augment)  # fmt: skip
    return time.perf_counter() - start


def cmd_demo(args: argparse.Namespace) -> int:
    from . import plot
    from .testing import equivariance_error
    from .train import evaluate

    start = time.perf_counter()
    _check_device(args.device)
    train, test, G, rep_in, rep_out = _task_data("dipole", args.group, args.n_train, args.n_test, args.seed)
    print(f"Dipole moment of 5 charges: {rep_in!r} -> {rep_out!r} under {G!r}")
    _print_setup(args)
    emlp = _model("emlp", train, G, rep_in, rep_out, args)
    mlp = _model("mlp", train, G, rep_in, rep_out, args)
    errors = [equivariance_error(m, group=G, n_samples=_EQUIVARIANCE_SAMPLES, rng=args.seed) for m in (emlp, mlp)]
    print(f"equivariance error on {_EQUIVARIANCE_SAMPLES} random elements of {G!r} (relative, float32; untrained):")
    print(f"  EMLP  {errors[0]:.2e}")
    print(f"  MLP   {errors[1]:.2e}")
    seconds = [_fit(emlp, train, args, "EMLP"), _fit(mlp, train, args, "MLP")]
    mse = [evaluate(emlp, test), evaluate(mlp, test)]
    errors = [equivariance_error(m, group=G, n_samples=_EQUIVARIANCE_SAMPLES, rng=args.seed) for m in (emlp, mlp)]
    print(f"test MSE after training ({args.n_test} samples; MSE of predicting 0: {_zero_mse(test):.4g}):")
    print(f"  {'model':<6}{'test MSE':>12}{'equivariance':>14}{'train s':>9}")
    for name, m, e, s in zip(("EMLP", "MLP"), mse, errors, seconds):
        print(f"  {name:<6}{m:>12.4g}{e:>14.2e}{s:>9.1f}")
    ratio = mse[1] / mse[0] if mse[0] > 0 else float("inf")
    print(f"EMLP's test MSE is {ratio:.3g}x {'lower' if ratio >= 1 else 'higher'} than the MLP's")
    os.makedirs(args.out, exist_ok=True)
    first = emlp.model.layers[0]
    path = os.path.join(args.out, "weights.png")
    plot.weights(first.rep_in, first.rep_out, seed=args.seed, file=path)
    print(f"wrote {path}: random vs projected weights of the first layer, {first.rep_in >> first.rep_out!r}")
    print(f"total {time.perf_counter() - start:.1f} s")
    return 0


def _zero_mse(data: Any) -> float:
    return float((data.Y.double() ** 2).mean())


def _print_setup(args: argparse.Namespace) -> None:
    epochs = f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}"
    print(f"{args.n_train} training and {args.n_test} test samples, {epochs}, device {args.device}")


def cmd_train(args: argparse.Namespace) -> int:
    """``constrainnet train``: one process, N local processes (``--nproc``), or one rank of a ``torchrun`` job."""
    if args.resume and args.checkpoint is None:
        raise UsageError("--resume: expected --checkpoint FILE to resume from")
    if args.epochs is None:  # the EMLP paper's epochs for this many training samples
        from .reproduce import paper_epochs

        args.epochs = paper_epochs(args.n_train)
    if args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        from .distributed import launch_local

        _check_device(args.device)
        return launch_local(args.nproc, _without_nproc(args.argv))
    from . import distributed

    started = distributed.init_from_env(args.device)
    args.device = distributed.local_device(args.device)
    try:
        quiet = not distributed.is_main_process()
        if quiet:
            args.progress = False
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            return _train_one(args)
    finally:
        if started:
            distributed.finish()


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line without its ``--nproc N`` (the launched processes each run one rank)."""
    out, skip = [], False
    for text in argv:
        if skip:
            skip = False
        elif text == "--nproc":
            skip = True
        elif not text.startswith("--nproc="):
            out.append(text)
    return out


def _train_one(args: argparse.Namespace) -> int:
    from .distributed import world
    from .train import evaluate

    _check_device(args.device)
    train, test, G, rep_in, rep_out = _task_data(args.task, args.group, args.n_train, args.n_test, args.seed)
    model = _model(args.model, train, G, rep_in, rep_out, args)
    name = args.model.upper()
    processes = world()[1]
    print(f"{args.task}: {name} on {rep_in!r} -> {rep_out!r} under {G!r}" + (f", {processes} processes" if processes > 1 else ""))
    _print_setup(args)
    augment = None
    if args.model == "mlp+aug":
        from .augment import GroupAugment

        augment = GroupAugment(rep_in, rep_out, group=G, seed=args.seed)
    seconds = _fit(model, train, args, name, augment)
    mse = evaluate(model, test)
    print(f"test MSE {mse:.6g} (MSE of predicting 0: {_zero_mse(test):.4g}), trained in {seconds:.1f} s")
    return 0

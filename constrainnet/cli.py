"""The ``constrainnet`` command: solve a basis, run the demo, train on a benchmark task.

::

    constrainnet basis --group "SO(3)" "V**2 >> V" [--plot FILE] [--strategy NAME]
    constrainnet basis --group "SO(3)" --decompose "V**3"
    constrainnet demo [--group SO(3)] [--n-train 300] [--n-test 500] [--epochs 100] [--out DIR]
    constrainnet train {dipole,o5,inertia,particles} [--model emlp|mlp|rpp|mlp+aug] [--epochs N] [--compile] ...
    constrainnet reproduce [--quick] [--tasks ...] [--n-train ...] [--methods ...] [--trials N] [--out DIR]

Group names and rep expressions are parsed by :mod:`constrainnet.parse`
(never ``eval``). Exit status: 0 on success, 2 for a usage error (an unknown
group, a bad expression, a bad option; one line on stderr, no traceback), 1
when the work itself fails (e.g. a basis too large to solve). The torch
modules, datasets and training loop are imported only by ``demo``,
``train`` and ``reproduce``, and numpy, scipy and the solver only by a command that runs, so
``--version``, ``--help`` and usage errors answer without importing them.

Example:
    >>> from constrainnet.cli import main
    >>> main(["basis", "--group", "SO(3)", "V**2 >> V"])  # doctest: +ELLIPSIS
    rep        V**2 >> V
    group      SO(3)
    size       27
    basis dim  1
    strategy   dense
    seconds    ...
    0
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any, Callable, Sequence

from . import __version__
from .cli_tasks import TASKS, UsageError, cmd_demo, cmd_train
from .errors import ConstrainnetError, ParseError

__all__ = ["main", "build_parser", "TASKS"]

#: The solver strategies ``basis --strategy`` accepts (those of
#: :data:`constrainnet.solver.strategy.STRATEGIES`, named here so that parsing
#: the command line imports no solver; a test keeps the two equal).
STRATEGY_NAMES = ("dense", "orbit", "block", "product", "iterative")


# Demo defaults: small enough that building, checking and training both
# models on Dipole takes well under a minute on 2 CPU cores, large enough that
# EMLP's advantage over the MLP is clear at 300 samples.
_DEMO_CH, _DEMO_LAYERS, _DEMO_EPOCHS = 128, 2, 100
_BATCH, _LR = 64, 3e-3
_PAPER_BATCH = 500  # train's default batch, the EMLP paper's




def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an int ≥ ``minimum``, with an error naming ``what`` and the text given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive = _int_at_least(1, "a positive integer")
_nonnegative = _int_at_least(0, "a non-negative integer")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``constrainnet`` command (subcommands basis, demo, train)."""
    parser = argparse.ArgumentParser(
        prog="constrainnet",
        description="Neural networks equivariant to a matrix group, by constraint.",
    )
    parser.add_argument("--version", action="version", version=f"constrainnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{basis,demo,train,reproduce}")
    group_help = "the group, e.g. SO(3), O(2), C(4), Z(6), D(4), S(5), P4M(8), Trivial(3), Lorentz(), GL(3), Sp(2), SU(2), Cube(), SO(3)*S(4)"

    basis = sub.add_parser(
        "basis", help="solve the equivariant basis of a rep", description="Solve the equivariant basis of a rep."
    )
    basis.add_argument("rep", help="a rep expression over V, e.g. 'V**2 >> V' or '(5*V**0 + 5*V) >> V'")
    basis.add_argument("--group", default="SO(3)", help=f"{group_help} (default: SO(3))")
    basis.add_argument(
        "--strategy", choices=list(STRATEGY_NAMES), default=None, help="force a solver strategy (default: by structure)"
    )
    basis.add_argument(
        "--explain", action="store_true", help="show the strategy, the blocks or orbits found and the time per stage"
    )
    basis.add_argument(
        "--decompose",
        action="store_true",
        help="print the rep's irreducible components (type, d, m, commutant) instead of its basis; "
        "--plot then draws rho(g) before and after the change of basis",
    )
    basis.add_argument("--plot", metavar="FILE", default=None, help="draw the first basis elements to this PNG")
    basis.set_defaults(run=_cmd_basis)

    demo = sub.add_parser(
        "demo",
        help="EMLP vs MLP on the Dipole task: equivariance, test MSE, weights.png",
        description="Build an EMLP for the dipole moment of 5 charges (5*V**0 + 5*V -> V), check its equivariance, "
        "train it and an MLP baseline on the same samples, compare test MSEs and draw weights.png.",
    )
    demo.add_argument("--group", default="SO(3)", help="a group acting on R^3 (default: SO(3); also O(3), S(3), ...)")
    demo.add_argument("--n-train", type=_positive, default=300, help="training samples (default: 300)")
    demo.add_argument("--n-test", type=_positive, default=500, help="test samples (default: 500)")
    demo.add_argument("--epochs", type=_positive, default=_DEMO_EPOCHS, help=f"epochs (default: {_DEMO_EPOCHS})")
    _add_model_options(demo, _DEMO_CH, _DEMO_LAYERS)
    demo.add_argument("--out", default=".", help="folder for weights.png (default: the current directory)")
    demo.set_defaults(run=cmd_demo)

    train = sub.add_parser(
        "train",
        help="train EMLP or MLP on a task and print the test MSE",
        description="Train EMLP or MLP on a synthetic task and print its test MSE.",
    )
    train.add_argument(
        "task", choices=sorted(TASKS), help="dipole (SO(3)), o5 (O(5)), inertia (O(3)) or particles (Lorentz())"
    )
    train.add_argument(
        "--model", choices=["emlp", "mlp", "rpp", "mlp+aug"], default="emlp",
        help="the model (default: emlp): rpp is EMLP + MLP with residual pathway priors, "
        "mlp+aug an MLP trained on batches transformed by random group elements",
    )  # fmt: skip
    train.add_argument("--group", default=None, help="another group acting on the task's space (default: the task's)")
    train.add_argument("--n-train", type=_positive, default=1000, help="training samples (default: 1000)")
    train.add_argument("--n-test", type=_positive, default=1000, help="test samples (default: 1000)")
    train.add_argument("--epochs", type=_positive, default=None,
                       help="epochs (default: the EMLP paper's, min(30*30000/N, 1000): 900 for N 1000)")  # fmt: skip
    _add_model_options(train, 384, 3, batch=_PAPER_BATCH)
    train.add_argument(
        "--compile", action="store_true",
        help="train through torch.compile (the first steps compile: a minute or more for an EMLP on the CPU)",
    )  # fmt: skip
    train.add_argument(
        "--nproc", type=_positive, default=1,
        help="train on N local processes (torch.distributed: gloo on the CPU, nccl on GPUs; default: 1)",
    )  # fmt: skip
    train.add_argument("--checkpoint", metavar="FILE", default=None, help="write the training state here after every epoch")
    train.add_argument("--resume", action="store_true", help="continue from --checkpoint FILE when it exists")
    train.set_defaults(run=cmd_train)
    _add_reproduce(sub)
    return parser


def _add_reproduce(sub: Any) -> None:
    """``constrainnet reproduce``: the EMLP paper's tables, ours beside the paper's (:mod:`constrainnet.reproduce`)."""
    p = sub.add_parser(
        "reproduce",
        help="the EMLP paper's data-efficiency table: ours beside the paper's numbers",
        description="Train the EMLP paper's models (O5Synthetic, Inertia, ParticleInteraction; MLP, MLP+Aug, EMLP over "
        "each group) as the paper did and print our test MSE beside the paper's, cell by cell; the pendulum table "
        "is printed with how to run ours. The full grid takes days on a CPU: --quick runs a few-minute subset.",
    )
    p.add_argument("--quick", action="store_true", help="O5Synthetic and Inertia, N 30 and 100, MLP and EMLP-O, "
                   "1 trial, ch 128, at most 500 epochs, 250 val, 1000 test (80 s on 2 idle CPU cores)")  # fmt: skip
    p.add_argument("--tasks", nargs="+", default=None, metavar="TASK",
                   help="O5Synthetic, Inertia, ParticleInteraction, DoubleSpringPendulum (or o5, inertia, particles, "
                   "pendulum; default: all)")  # fmt: skip
    p.add_argument("--n-train", nargs="+", type=_positive, default=None, metavar="N",
                   help="training sizes (default: 30 100 300 1000 3000 10000 30000)")  # fmt: skip
    p.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                   help="MLP, MLP+Aug, EMLP-SO(5), EMLP-O(3), EMLP-SO+(1,3), ... or a family such as EMLP-O "
                   "(default: all)")  # fmt: skip
    p.add_argument("--trials", type=_positive, default=None, help="trials per cell (default: 3)")
    p.add_argument("--ch", type=_positive, default=None, help="hidden channels (default: 384)")
    p.add_argument("--epochs", type=_positive, default=None, help="epochs of each cell (default: min(30*30000/N, 1000))")
    p.add_argument("--n-test", type=_positive, default=None, help="test samples (default: 5000)")
    p.add_argument("--n-val", type=_positive, default=None, help="validation samples (default: 1000)")
    p.add_argument("--seed", type=_nonnegative, default=2021, help="seed of the data (default: 2021)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--out", metavar="DIR", default=None, help="write reproduce_results.csv and the log-log plots here")
    p.set_defaults(run=_cmd_reproduce)


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import QUICK_SETTINGS, grid, reproduce

    preset = QUICK_SETTINGS if args.quick else {}
    try:  # the grid's names first: a typo is a usage error, before any training
        grid(args.tasks or preset.get("tasks"), args.n_train or preset.get("n_trains"),
             args.methods or preset.get("methods"))  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from .cli_tasks import _check_device

    _check_device(args.device)
    start = time.perf_counter()
    reproduce(args.tasks, args.n_train, args.methods, args.trials, args.quick, args.device, args.out,
              ch=args.ch, epochs=args.epochs, n_test=args.n_test, n_val=args.n_val, seed=args.seed)  # fmt: skip
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


def _add_model_options(p: argparse.ArgumentParser, ch: int, layers: int, batch: int = _BATCH) -> None:
    p.add_argument("--ch", type=_positive, default=ch, help=f"hidden channels (default: {ch})")
    p.add_argument("--num-layers", type=_nonnegative, default=layers, help=f"hidden layers (default: {layers})")
    p.add_argument("--lr", type=_positive_float, default=_LR, help=f"Adam learning rate (default: {_LR:g})")
    p.add_argument("--batch-size", type=_positive, default=batch, help=f"batch size (default: {batch})")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument("--seed", type=_nonnegative, default=0, help="seed of data, parameters and shuffling (default: 0)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="show progress on stderr: a bar on a terminal, a plain line every few seconds otherwise (default: on)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``constrainnet`` command with ``argv`` (default: ``sys.argv[1:]``).

    Args:
        argv: the arguments, without the program name.

    Returns:
        The exit status: 0 on success, 2 for a usage error, 1 when the work fails.
    """
    parser = build_parser()
    argv = _rep_after_double_dash(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help
        return int(exc.code or 0)
    args.argv = argv
    try:
        return int(args.run(args))
    except (ParseError, UsageError) as exc:
        return _fail(exc, 2)
    except (ConstrainnetError, ImportError, OSError, FloatingPointError) as exc:
        return _fail(exc, 1)
    except MemoryError as exc:  # an allocation beyond the solver's estimates: one line, not a traceback
        return _fail(f"out of memory ({exc}); lower the size of the rep or the memory limit (CONSTRAINNET_MEMORY_LIMIT)", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


# A rep expression that starts with a minus sign ("-3*V", "-(V + V)"): argparse
# would read it as an unknown option (only plain negative numbers pass).
_NEGATIVE_EXPRESSION = re.compile(r"^-\s*[\d(A-Za-z]")
# Options of ``basis`` that take a value (the value is never the rep).
_VALUED_OPTIONS = ("--group", "--strategy", "--plot")


def _rep_after_double_dash(argv: list[str]) -> list[str]:
    """``basis``'s argv with a rep that starts with ``-`` moved behind ``--``, where argparse reads it as positional."""
    if "basis" not in argv or "--" in argv:
        return argv
    start = argv.index("basis") + 1
    for k in range(start, len(argv)):
        text = argv[k]
        known = text.split("=", 1)[0] in _VALUED_OPTIONS or text in ("--explain", "--decompose", "-h", "--help")
        if not known and _NEGATIVE_EXPRESSION.match(text) and argv[k - 1] not in _VALUED_OPTIONS:
            return argv[:k] + argv[k + 1 :] + ["--", text]
    return argv


def _fail(message: Any, status: int) -> int:
    text = " ".join(str(message).split())  # one line, whatever the message
    print(f"constrainnet: error: {text}", file=sys.stderr)
    return status


# -- basis -----------------------------------------------------------------------
def _cmd_basis(args: argparse.Namespace) -> int:
    from .parse import parse_group, parse_rep
    from .solver import equivariant_basis, select_strategy

    G = parse_group(args.group)
    rep = parse_rep(args.rep, G)
    if args.decompose:
        return _print_decomposition(rep, G, args.plot)
    if args.explain:
        from .solver.budget import check_memory
        from .solver.explain import explain

        check_memory(rep, args.strategy or select_strategy(rep))  # explain builds the structures before solving

        print(f"rep          {rep!r} of {G!r}, size {rep.size}")
        print("\n".join(explain(rep, args.strategy)))
        return 0
    start = time.perf_counter()
    Q = equivariant_basis(rep, strategy=args.strategy)
    seconds = time.perf_counter() - start
    print(f"rep        {rep!r}")
    print(f"group      {G!r}")
    print(f"size       {rep.size}")
    print(f"basis dim  {Q.dim}")
    print(f"strategy   {Q.strategy}")
    print(f"seconds    {seconds:.4f}")
    if args.plot:
        from . import plot

        plot.basis(rep, file=args.plot)
        print(f"wrote      {args.plot}")
    return 0


def _print_decomposition(rep: Any, G: Any, plot_file: str | None) -> int:
    """The table of ``basis --decompose``: one row per isotypic component, in column order."""
    start = time.perf_counter()
    D = rep.decompose()
    seconds = time.perf_counter() - start
    print(f"rep        {rep!r}")
    print(f"group      {G!r}")
    print(f"size       {rep.size}")
    print(f"{'k':>3}  {'type':<28} {'d':>4} {'m':>5}  commutant")
    for k, comp in enumerate(D.components):
        print(f"{k:>3}  {comp.irrep.label:<28} {comp.dim:>4} {comp.multiplicity:>5}  {comp.commutant}")
    print(f"seconds    {seconds:.4f}")
    if plot_file:
        import numpy as np

        from . import plot

        plot.decomposition(rep, G.sample(np.random.default_rng(0)), file=plot_file)
        print(f"wrote      {plot_file}")
    return 0


if __name__ == "__main__":  # python -m constrainnet.cli
    sys.exit(main())

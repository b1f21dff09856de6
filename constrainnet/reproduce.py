r"""The EMLP paper's tables (Finzi, Welling, Wilson 2021), reproduced in one command: ``constrainnet reproduce``.

The paper's numbers ship with the package (``constrainnet/data/emlp_paper_results.csv``,
from EMLP's repository at commit b80815b): :func:`paper_results`. :func:`run_cell`
trains one model of the data-efficiency table as the paper did
(:data:`PAPER_SETTINGS`) and returns its test MSE in raw target units and its
equivariance error; :func:`reproduce` runs a grid of cells and prints ours
beside the paper's, mean ± std over trials, with the ratio ours / paper. Our
data come from :mod:`constrainnet.datasets`, not EMLP's generators, so the
agreement is statistical. The pendulum table (3b) is printed beside our HNNs and
neural ODEs (:mod:`constrainnet.reproduce_pendulum`).

Example:
    >>> from constrainnet.reproduce import paper_results, paper_epochs
    >>> [r.text for r in paper_results("data_efficiency", "Inertia") if r.n_train == 1000 and r.method == "EMLP-O(3)"]
    ['0.136 ± 0.053']
    >>> paper_epochs(30), paper_epochs(3000), paper_epochs(30000)
    (1000, 300, 30)
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import math
import numbers
import os
import sys
import time
import types
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Sequence, TextIO

from .paper_results import PaperResult, paper_results

__all__ = [
    "PAPER_SETTINGS", "QUICK_SETTINGS", "TASK_METHODS", "TASKS", "PaperResult", "CellResult",
    "paper_results", "paper_epochs", "grid", "run_cell", "reproduce",
]  # fmt: skip

#: The paper's training setup (section 3a of its results); ``epoch_budget / N`` epochs, at most ``max_epochs``.
PAPER_SETTINGS = types.MappingProxyType({
    "ch": 384, "num_layers": 3, "lr": 3e-3, "batch_size": 500, "epoch_budget": 30 * 30000, "max_epochs": 1000,
    "n_test": 5000, "n_val": 1000, "trials": 3, "n_trains": (30, 100, 300, 1000, 3000, 10000, 30000),
})  # fmt: skip

#: ``reproduce(quick=True)``: two tasks, two sizes, MLP against the full group's EMLP, one trial,
#: narrower models, at most 500 epochs, fewer val and test samples: 80 s on 2 idle CPU cores (minutes more when
#: other work shares them). Explicit arguments win.
QUICK_SETTINGS = types.MappingProxyType({
    "tasks": ("O5Synthetic", "Inertia", "DoubleSpringPendulum"), "n_trains": (30, 100), "methods": ("MLP", "EMLP-O"),
    "trials": 1, "ch": 128, "max_epochs": 500, "n_test": 1000, "n_val": 250,
})  # fmt: skip

#: The methods of each task of the data-efficiency table, in the paper's column order.
TASK_METHODS = types.MappingProxyType({
    "O5Synthetic": ("MLP", "MLP+Aug", "EMLP-SO(5)", "EMLP-O(5)"),
    "Inertia": ("MLP", "MLP+Aug", "EMLP-SO(3)", "EMLP-O(3)"),
    "ParticleInteraction": ("MLP", "MLP+Aug", "EMLP-SO+(1,3)", "EMLP-SO(1,3)", "EMLP-O(1,3)"),
})  # fmt: skip

_PENDULUM = "DoubleSpringPendulum"
#: Every task of the paper's tables: the three regression tasks and the pendulum (printed, not trained).
TASKS = tuple(TASK_METHODS) + (_PENDULUM,)
_ALIASES = {"o5": "O5Synthetic", "inertia": "Inertia", "particles": "ParticleInteraction", "pendulum": _PENDULUM}
_EQUIVARIANCE_SAMPLES = 16  # group elements of the equivariance check


@dataclass(frozen=True)
class CellResult:
    """Our result for one (task, method, n_train, trial): see :func:`run_cell`."""

    task: str
    method: str
    n_train: int
    trial: int
    epochs: int
    test_mse: float
    equivariance_error: float
    best_epoch: int
    best_val_mse: float
    seconds: float


def paper_epochs(n_train: int, max_epochs: int = PAPER_SETTINGS["max_epochs"]) -> int:
    """The paper's epochs for N training samples: min(30·30000/N, max_epochs), at least 1."""
    n_train, max_epochs = _positive(n_train, "n_train"), _positive(max_epochs, "max_epochs")
    return max(1, min(PAPER_SETTINGS["epoch_budget"] // n_train, max_epochs))


def _positive(value: Any, what: str, minimum: int = 1) -> int:
    kind = "positive" if minimum == 1 else "non-negative"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what}: expected a {kind} int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{what}: expected a {kind} int, got {value!r}")
    return int(value)


def _task_name(task: Any) -> str:
    if not isinstance(task, str):
        raise TypeError(f"task: expected a str, got {type(task).__name__} {task!r}")
    named = {t.lower(): t for t in TASKS} | _ALIASES
    if task.lower() not in named:
        raise ValueError(f"task: expected one of {list(TASKS)} (or {sorted(_ALIASES)}), got {task!r}")
    return named[task.lower()]


def _matches(selector: str, method: str) -> bool:
    """A method selector: the full name (``"EMLP-O(5)"``) or its family without the group size (``"EMLP-O"``)."""
    return selector.lower() in (method.lower(), method.split("(")[0].lower())


def grid(
    tasks: Iterable[str] | None = None, n_trains: Iterable[int] | None = None, methods: Iterable[str] | None = None
) -> list[tuple[str, str, int]]:
    """The (task, method, n_train) cells of the data-efficiency table to run, in the paper's order.

    Args:
        tasks: task names (``"O5Synthetic"``, ``"Inertia"``, ``"ParticleInteraction"``, or
            ``o5``, ``inertia``, ``particles``; ``DoubleSpringPendulum`` has no cells). Default: all.
        n_trains: training sizes (default: the paper's 30 ... 30000).
        methods: method names or families, e.g. ``"MLP"``, ``"MLP+Aug"``,
            ``"EMLP-SO(3)"`` or ``"EMLP-O"`` (every ``EMLP-O(·)``). Default: all.

    Returns:
        The cells, by task, then N, then method.

    Raises:
        TypeError: a task or method that is not a str, an n_train that is not an int.
        ValueError: an unknown task, a non-positive n_train, or a method that no chosen task has.

    Example:
        >>> grid(["o5"], [30], ["MLP", "EMLP-O"])
        [('O5Synthetic', 'MLP', 30), ('O5Synthetic', 'EMLP-O(5)', 30)]
    """
    tasks = [_task_name(t) for t in (TASKS if tasks is None else tasks)]
    sizes = [_positive(n, "n_train") for n in (PAPER_SETTINGS["n_trains"] if n_trains is None else n_trains)]
    selectors = None if methods is None else list(methods)
    for s in selectors or ():
        if not isinstance(s, str):
            raise TypeError(f"methods: expected str names, got {type(s).__name__} {s!r}")
        chosen = [m for t in tasks for m in TASK_METHODS.get(t, ())]
        if chosen and not any(_matches(s, m) for m in chosen):
            known = sorted({m for t in tasks for m in TASK_METHODS.get(t, ())})
            raise ValueError(f"methods: expected a method of the chosen tasks (one of {known}), got {s!r}")
    return [
        (t, m, n) for t in tasks if t in TASK_METHODS for n in sizes for m in TASK_METHODS[t]
        if selectors is None or any(_matches(s, m) for s in selectors)
    ]  # fmt: skip


def _group(name: str) -> Any:
    """The group of a method's name: ``"SO(5)"`` -> SO(5), ``"SO+(1,3)"`` -> SO13p(), ..."""
    from . import groups

    lorentz = {"SO+(1,3)": groups.SO13p, "SO(1,3)": groups.SO13, "O(1,3)": groups.O13}
    if name in lorentz:
        return lorentz[name]()
    family, size = name.rstrip(")").split("(")
    return getattr(groups, family)(int(size))


def run_cell(
    task: str, method: str, n_train: int, trial: int = 0, *, epochs: int | None = None, ch: int | None = None,
    n_test: int | None = None, n_val: int | None = None, device: Any = None, seed: int = 2021,
) -> CellResult:  # fmt: skip
    r"""Train one model of the data-efficiency table as the paper did; its test MSE and equivariance error.

    Train, validation and test sets are drawn from ``seed``, ``seed + 1``,
    ``seed + 2``. The model (``cn.nn.EMLP`` over the method's group, or
    ``cn.nn.MLP``; 3 layers) is wrapped in :class:`~constrainnet.datasets.Standardize`
    (the training set's statistics), so it reads raw inputs and returns raw
    targets, and trained by :func:`~constrainnet.train.fit` (Adam 3e-3, batches
    of min(500, N), initial parameters from ``seed + trial``, shuffling and
    augmentation from ``trial``; MLP+Aug by :class:`~constrainnet.augment.GroupAugment`
    over the task's group) with ``restore_best=True``: the epoch of lowest
    validation MSE is the one tested.

    Args:
        task: ``"O5Synthetic"``, ``"Inertia"`` or ``"ParticleInteraction"`` (or ``o5``, ``inertia``, ``particles``).
        method: one of ``TASK_METHODS[task]``, e.g. ``"MLP+Aug"`` or ``"EMLP-SO(3)"``.
        n_train: training samples N.
        trial: the trial's index (≥ 0).
        epochs: epochs (default: :func:`paper_epochs` of N).
        ch: hidden channels (default 384).
        n_test, n_val: test and validation samples (default 5000 and 1000).
        device: torch device to train on (default: the CPU).
        seed: seed of the data.

    Returns:
        A :class:`CellResult`: ``test_mse`` in raw target units, ``equivariance_error``
        (:func:`constrainnet.testing.equivariance_error` over 16 elements of the
        method's group for an EMLP, of the task's group otherwise), the best
        epoch (0-based), its validation MSE and the training seconds.

    Raises:
        TypeError: a non-str task or method, or a non-int size.
        ValueError: an unknown task, a method the task does not have, sizes < 1, or a negative trial or seed.

    Example:
        >>> r = run_cell("O5Synthetic", "MLP", 30, epochs=2, ch=8, n_test=20, n_val=10)
        >>> r.epochs, r.test_mse > 0, 0 <= r.best_epoch < 2
        (2, True, True)
    """
    import torch

    from . import datasets, nn
    from .augment import GroupAugment
    from .parse import parse_rep
    from .testing import equivariance_error
    from .train import evaluate, fit

    task = _task_name(task)
    if task not in TASK_METHODS:
        raise ValueError(f"run_cell: expected a task of the data-efficiency table {list(TASK_METHODS)}, got {task!r}")
    if not isinstance(method, str) or method not in TASK_METHODS[task]:
        raise ValueError(f"run_cell: expected a method of {task} {list(TASK_METHODS[task])}, got {method!r}")
    n_train = _positive(n_train, "n_train")
    trial, seed = _positive(trial, "trial", 0), _positive(seed, "seed", 0)
    epochs = paper_epochs(n_train) if epochs is None else _positive(epochs, "epochs")
    ch = _positive(PAPER_SETTINGS["ch"] if ch is None else ch, "ch")
    n_test = _positive(PAPER_SETTINGS["n_test"] if n_test is None else n_test, "n_test")
    n_val = _positive(PAPER_SETTINGS["n_val"] if n_val is None else n_val, "n_val")

    cls = getattr(datasets, task)
    train, val, test = cls(n_train, seed=seed), cls(n_val, seed=seed + 1), cls(n_test, seed=seed + 2)
    equivariant = method.startswith("EMLP-")
    G = _group(method[len("EMLP-"):]) if equivariant else train.group
    rep_in, rep_out, stats = train.rep_in, train.rep_out, train.stats
    if G != train.group:  # the task's reps over the method's group, and their statistics of the same data
        rep_in, rep_out = parse_rep(repr(rep_in), G), parse_rep(repr(rep_out), G)
        stats = datasets.Stats.from_data(
            train.X.double().numpy(), train.Y.double().numpy(), rep_in, rep_out,
            outputs=train.standardize_outputs, dtype=train.X.dtype,
        )  # fmt: skip
    with torch.random.fork_rng(devices=[]):  # the initial parameters, without touching the caller's RNG
        torch.manual_seed(seed + trial)
        layers = PAPER_SETTINGS["num_layers"]
        core = (nn.EMLP if equivariant else nn.MLP)(rep_in, rep_out, group=G, ch=ch, num_layers=layers)
    model = datasets.Standardize(core, stats)
    augment = GroupAugment(rep_in, rep_out, group=G, seed=trial) if method == "MLP+Aug" else None
    start = time.perf_counter()
    history = fit(
        model, train, val, epochs=epochs, lr=PAPER_SETTINGS["lr"], batch_size=min(PAPER_SETTINGS["batch_size"], n_train),
        seed=trial, device=device, progress=False, augment=augment, restore_best=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    val_mse = history["val_mse"]
    best = min(range(len(val_mse)), key=val_mse.__getitem__)
    error = equivariance_error(model, rep_in, rep_out, group=G, n_samples=_EQUIVARIANCE_SAMPLES, rng=trial)
    return CellResult(task, method, n_train, trial, epochs, evaluate(model, test), error, best, val_mse[best], seconds)


def reproduce(
    tasks: Iterable[str] | None = None, n_trains: Iterable[int] | None = None, methods: Iterable[str] | None = None,
    trials: int | None = None, quick: bool = False, device: Any = None, out: str | os.PathLike | None = None, *,
    ch: int | None = None, epochs: int | None = None, n_test: int | None = None, n_val: int | None = None,
    seed: int = 2021, file: TextIO | None = None, pendulum: bool = True,
) -> list[CellResult]:  # fmt: skip
    """Run a grid of :func:`run_cell` and print ours beside the paper's, cell by cell.

    Each printed row is one (task, N, method): our test MSE, mean ± std
    (population std) over the trials, the paper's, the ratio ours / paper, our
    largest equivariance error and the seconds per trial. The pendulum task
    prints the paper's table 3b and ours (see ``pendulum``).

    Args:
        tasks, n_trains, methods: the grid, as :func:`grid` reads them (default: the whole paper).
        trials: trials per cell (default 3).
        quick: start from :data:`QUICK_SETTINGS` instead of the paper's (arguments given still win).
        device: torch device to train on (default: the CPU).
        out: a folder for ``reproduce_results.csv`` (one row per trial) and
            ``data_efficiency_<task>.png`` (test MSE against N, log–log; ours
            solid, the paper's dashed, one colour per method). Needs matplotlib.
        ch, n_test, n_val: hidden channels, test and validation samples (default: the paper's, or the quick ones).
        epochs: epochs of every cell (default: :func:`paper_epochs` of N, at most 500 when quick).
        seed: seed of the data.
        file: where to print (default: ``sys.stdout``).
        pendulum: train our pendulum models beside the paper's table 3b (HNN
            × EMLP-O(2) and MLP at ``PENDULUM_QUICK`` when quick, every cell at
            the paper's settings otherwise: hours on a CPU); False prints the
            paper's rows only.

    Returns:
        Our :class:`CellResult` of every cell and trial.

    Raises:
        TypeError, ValueError: as :func:`grid` and :func:`run_cell`, a non-bool quick, or an unknown device.
        ImportError: ``out`` without matplotlib.

    Example:
        >>> import io
        >>> cells = reproduce(["o5"], [30], ["MLP"], trials=1, ch=8, epochs=2, n_test=20, n_val=10, file=io.StringIO())
        >>> [(c.task, c.method, c.n_train, c.epochs) for c in cells]
        [('O5Synthetic', 'MLP', 30, 2)]
    """
    import torch

    if not isinstance(quick, bool):
        raise TypeError(f"quick: expected a bool, got {type(quick).__name__} {quick!r}")
    preset = dict(QUICK_SETTINGS if quick else {"max_epochs": PAPER_SETTINGS["max_epochs"]})
    pick = lambda value, key: preset.get(key, PAPER_SETTINGS.get(key)) if value is None else value  # noqa: E731
    tasks = [_task_name(t) for t in (pick(tasks, "tasks") if pick(tasks, "tasks") is not None else TASKS)]
    cells = grid(tasks, pick(n_trains, "n_trains"), pick(methods, "methods"))
    trials, ch = _positive(pick(trials, "trials"), "trials"), _positive(pick(ch, "ch"), "ch")
    n_test, n_val = _positive(pick(n_test, "n_test"), "n_test"), _positive(pick(n_val, "n_val"), "n_val")
    epochs = None if epochs is None else _positive(epochs, "epochs")
    try:
        device = str(torch.device("cpu" if device is None else device))
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected a torch device such as cpu or cuda, got {device!r}") from exc
    if out is not None and importlib.util.find_spec("matplotlib") is None:  # fail now, not after the training
        raise ImportError("reproduce: the plots of out= need matplotlib (pip install matplotlib)")
    file = sys.stdout if file is None else file
    say = functools.partial(print, file=file, flush=True)
    max_epochs = preset["max_epochs"]
    say(f"The EMLP paper (Finzi, Welling, Wilson 2021), {'quick run' if quick else 'paper settings'}: ch {ch}, "
        f"{PAPER_SETTINGS['num_layers']} layers, Adam {PAPER_SETTINGS['lr']:g}, batch min(500, N), epochs "
        f"{epochs if epochs else f'min(30*30000/N, {max_epochs})'}, {n_val} val, {n_test} test, {trials} trial(s), "
        f"best-validation epoch, device {device}, data seed {seed}")  # fmt: skip
    say("The paper: ch 384, epochs min(30*30000/N, 1000), 1000 val, 5000 test, 3 trials. Test MSE in raw target units; "
        f"equiv. = our max relative equivariance error over {_EQUIVARIANCE_SAMPLES} group elements.")  # fmt: skip
    results: list[CellResult] = []
    for task in tasks:
        if task == _PENDULUM:
            _pendulum(say, quick, seed, pendulum)
            continue
        paper = {(r.method, r.n_train): r for r in paper_results("data_efficiency", task)}
        equi = ", ".join(f"{r.method} {r.text}" for r in paper_results("equivariance", task))
        say(f"\n{task} (the paper's equivariance errors, its own metric, mean over N: {equi})")
        say(f"{'N':>6} {'epochs':>6}  {'method':<14}{'ours':>22}{'paper':>22}{'ratio':>8}{'equiv.':>10}{'s/trial':>9}")
        for method, n in [(m, n) for t, m, n in cells if t == task]:
            runs = [run_cell(task, method, n, k, epochs=epochs or paper_epochs(n, max_epochs), ch=ch, n_test=n_test,
                             n_val=n_val, device=device, seed=seed) for k in range(trials)]  # fmt: skip
            results += runs
            if out is not None:
                _write_csv(results, out)  # after every cell: a long run stopped early keeps what it did
            mses = [r.test_mse for r in runs]
            mean = sum(mses) / len(mses)
            std = math.sqrt(sum((m - mean) ** 2 for m in mses) / len(mses))
            ref = paper.get((method, n))
            ratio = f"{mean / ref.mean:.3g}" if ref is not None and ref.mean else "-"
            ours = f"{mean:.3g} ± {std:.2g}" if trials > 1 else f"{mean:.3g}"
            say(f"{n:>6} {runs[0].epochs:>6}  {method:<14}{ours:>22}"
                f"{ref.text if ref else '-':>22}{ratio:>8}{max(r.equivariance_error for r in runs):>10.1e}"
                f"{sum(r.seconds for r in runs) / len(runs):>9.1f}")  # fmt: skip
    if out is not None and results:
        for path in [os.path.join(out, "reproduce_results.csv"), *_plot(results, out)]:
            say(f"wrote {path}")
    return results


def _pendulum(say: Any, quick: bool, seed: int, run: bool) -> None:
    """The paper's table 3b, then ours: HNN × (EMLP-O(2), MLP) at :data:`PENDULUM_QUICK` when quick, else every cell."""
    from . import reproduce_pendulum as rp

    rows = paper_results("pendulum")
    say(f"\n{_PENDULUM} (the paper's table 3b: 30 s rollout error, geometric mean of the relative state error; "
        f"{rows[0].n_train} systems, {rows[0].epochs} epochs, ch 128)")  # fmt: skip
    columns = [m.split("-", 1)[1] for m in (r.method for r in rows) if m.startswith("HNN-")]
    say(f"  {'model':<12}" + "".join(f"{c.removeprefix('EMLP-'):>18}" for c in columns))
    for kind in ("HNN", "NODE"):
        say(f"  {kind + ' paper':<12}" + "".join(f"{r.text:>18}" for r in rows if r.method.startswith(kind + "-")))
    say("  (examples/double_pendulum.py --ode trains the same models and draws the error against time)")
    if not run:
        return
    settings = rp.PENDULUM_QUICK if quick else rp.PENDULUM_SETTINGS
    say(f"  ours: {', '.join(f'{k} {v}' for k, v in settings.items())}"
        + (" (too short for the symmetry to pay off: a smoke test of the table)" if quick else ""))  # fmt: skip
    for kind in ("HNN",) if quick else ("HNN", "NODE"):
        cells = []
        for column in columns:
            method = column
            if quick and method not in ("EMLP-O(2)", "MLP"):
                cells.append("-")
                continue
            r = rp.run_pendulum_cell(kind, method, seed=seed, **settings)
            cells.append(f"{r.rollout_error:.3g}")
        say(f"  {kind + ' ours':<12}" + "".join(f"{c:>18}" for c in cells))


def _write_csv(results: Sequence[CellResult], out: str | os.PathLike) -> None:
    """``out/reproduce_results.csv``: one row per :class:`CellResult`."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "reproduce_results.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [x.name for x in fields(CellResult)], lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(r) for r in results)


def _plot(results: Sequence[CellResult], out: str | os.PathLike) -> list[str]:
    """One ``data_efficiency_<task>.png`` per task in ``out`` (ours solid, the paper's dashed); their paths."""
    from matplotlib.figure import Figure

    paths = []
    for task in dict.fromkeys(r.task for r in results):
        fig = Figure(figsize=(5.5, 4))
        ax = fig.add_subplot()
        for k, method in enumerate(TASK_METHODS[task]):
            ours = [r for r in results if r.task == task and r.method == method]
            if not ours:
                continue
            sizes = sorted({r.n_train for r in ours})
            means = [sum(r.test_mse for r in ours if r.n_train == n) / sum(r.n_train == n for r in ours) for n in sizes]
            ax.plot(sizes, means, "o-", color=f"C{k}", label=f"{method} (ours)")
            paper = [r for r in paper_results("data_efficiency", task) if r.method == method]
            paper_n, paper_mse = [r.n_train for r in paper], [r.mean for r in paper]
            ax.plot(paper_n, paper_mse, "x--", color=f"C{k}", label=f"{method} (paper)")
        ax.set(xscale="log", yscale="log", xlabel="training samples N", ylabel="test MSE", title=task)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(os.path.join(out, f"data_efficiency_{task}.png"))
        fig.savefig(paths[-1], dpi=100)
    return paths

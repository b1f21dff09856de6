"""The EMLP paper's numbers (Finzi, Welling, Wilson 2021), as shipped in ``constrainnet/data/emlp_paper_results.csv``.

Read by :func:`paper_results`; :mod:`constrainnet.reproduce` prints our runs beside them.

Example:
    >>> [r.text for r in paper_results("data_efficiency", "O5Synthetic") if r.n_train == 30 and r.method == "MLP"]
    ['28.1 ± 3.8']
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

__all__ = ["PaperResult", "paper_results"]


@dataclass(frozen=True)
class PaperResult:
    """One number of the paper: a cell of the data-efficiency, equivariance or pendulum table.

    Attributes:
        table: ``"data_efficiency"`` (test MSE, raw units), ``"equivariance"``
            (test equivariance error, mean over N) or ``"pendulum"`` (30 s rollout error).
        task, method: the row and column, e.g. ``"Inertia"``, ``"EMLP-SO(3)"``.
        n_train, epochs: training size and epochs (None for the equivariance table).
        mean, std: over trials (None where the paper gives a range or no spread).
        text: the number as the paper's table prints it, e.g. ``"0.017 ± 0.0053"``.
        source: the file (and EMLP commit) it was read from.
    """

    table: str
    task: str
    method: str
    n_train: int | None
    epochs: int | None
    mean: float | None
    std: float | None
    text: str
    source: str


@functools.lru_cache(maxsize=1)
def _load() -> tuple[PaperResult, ...]:
    text = resources.files("constrainnet").joinpath("data", "emlp_paper_results.csv").read_text(encoding="utf-8")
    number = lambda s, kind: kind(s) if s else None  # noqa: E731
    return tuple(
        PaperResult(r["table"], r["task"], r["method"], number(r["n_train"], int), number(r["epochs"], int),
                    number(r["mean"], float), number(r["std"], float), r["text"], r["source"])
        for r in csv.DictReader(text.splitlines())
    )  # fmt: skip


def paper_results(table: str | None = None, task: str | None = None) -> list[PaperResult]:
    """The paper's numbers, read from the CSV shipped with the package.

    Args:
        table: keep one table: ``"data_efficiency"``, ``"equivariance"`` or ``"pendulum"`` (default: all).
        task: keep one task, e.g. ``"O5Synthetic"`` (default: all).

    Returns:
        A list of :class:`PaperResult`, in the paper's order (rows by N, columns by method).

    Raises:
        ValueError: an unknown table or task.

    Example:
        >>> len(paper_results("data_efficiency")), len(paper_results("pendulum"))
        (91, 10)
    """
    rows = _load()
    for name, value, known in (("table", table, {r.table for r in rows}), ("task", task, {r.task for r in rows})):
        if value is not None and value not in known:
            raise ValueError(f"paper_results: expected {name} one of {sorted(known)}, got {value!r}")
    return [r for r in rows if (table is None or r.table == table) and (task is None or r.task == task)]

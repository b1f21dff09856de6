r"""Training checkpoints: the model, the optimiser, the epoch, the history and the RNG states, written atomically.

:func:`constrainnet.train.fit` writes one after every ``checkpoint_every``
epochs (rank 0 only, under ``torch.distributed``) and, with ``resume=True``,
starts from the one it finds. The epoch's sample order depends only on the
seed and the epoch number, so a run stopped after a checkpoint and resumed
ends with the same parameters, bit for bit, as one that was not stopped.

A checkpoint is written to a temporary file in the same folder and renamed
over the old one (``os.replace``), so a reader never sees a torn file, even
when the writer is killed mid-write.

Example:
    >>> import os, tempfile, torch
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.Adam(model.parameters())
    >>> path = os.path.join(tempfile.mkdtemp(), "run.pt")
    >>> save_checkpoint(path, model, opt, epoch=3, history={"train_loss": [1.0, 0.5, 0.25]}, settings={"seed": 0})
    >>> state = load_checkpoint(path, model, opt, settings={"seed": 0})
    >>> state["epoch"], state["history"]["train_loss"][-1]
    (3, 0.25)
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT"]

#: Bumped when the content of a checkpoint changes; another format is refused.
CHECKPOINT_FORMAT = 1


def save_checkpoint(
    path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
    history: dict[str, list[float]], settings: dict[str, Any],
) -> None:  # fmt: skip
    """Write the training state after ``epoch`` epochs to ``path``, atomically.

    Args:
        path: the checkpoint file (its folder must exist).
        model: the model (its ``state_dict``).
        optimizer: the optimiser (its ``state_dict``).
        epoch: epochs completed.
        history: the history so far (lists of floats).
        settings: the run's settings that a resumed run must share (seed,
            batch size, ...): compared by :func:`load_checkpoint`.
    """
    state = {
        "format": CHECKPOINT_FORMAT,
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": {k: list(v) for k, v in history.items()},
        "settings": dict(settings),
        "torch_rng": torch.get_rng_state(),
    }
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(
    path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer, settings: dict[str, Any]
) -> dict[str, Any]:
    """Load the state written by :func:`save_checkpoint` into ``model`` and ``optimizer``.

    Args:
        path: the checkpoint file.
        model, optimizer: built as for the run that wrote it.
        settings: this run's settings; each must equal the saved one.

    Returns:
        ``{"epoch": epochs completed, "history": the history so far}``.

    Raises:
        ValueError: a file that is not a checkpoint of this format, or one
            written with other settings (the message names them).
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"load_checkpoint: expected a checkpoint of format {CHECKPOINT_FORMAT} in {os.fspath(path)!r}, got {got!r}")
    saved = state["settings"]
    differ = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if differ:
        pairs = ", ".join(f"{k}: saved {saved.get(k)!r}, now {settings.get(k)!r}" for k in differ)
        raise ValueError(f"load_checkpoint: {os.fspath(path)!r} was written by a run with other settings ({pairs})")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
    return {"epoch": int(state["epoch"]), "history": {k: list(v) for k, v in state["history"].items()}}

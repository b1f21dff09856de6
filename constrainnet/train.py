r"""Train and evaluate a regression model on (x, y) datasets: :func:`fit` (Adam) and :func:`evaluate` (MSE).

Both work with any ``torch.nn.Module`` and any dataset of ``(x, y)`` pairs;
the datasets of :mod:`constrainnet.datasets` are read straight from their
``X``/``Y`` tensors. The loss is the mean squared error in the units of the
targets,

.. math::
    \mathrm{MSE} = \frac{1}{N\,d} \sum_{i=1}^{N} \lVert f(x_i) - y_i \rVert^2 ,

with d the number of output entries, so wrap a model that works on
standardised data in :class:`constrainnet.datasets.Standardize` first.

Example:
    >>> import torch
    >>> from constrainnet.datasets import Dipole, Standardize
    >>> train, val = Dipole(64, seed=0), Dipole(32, seed=1)
    >>> _ = torch.manual_seed(0)
    >>> model = Standardize(torch.nn.Linear(20, 3), train.stats)
    >>> history = fit(model, train, val, epochs=3, batch_size=16, progress=False)
    >>> len(history["train_loss"]), len(history["val_mse"])
    (3, 3)
    >>> evaluate(model, val) == history["val_mse"][-1]
    True
"""

from __future__ import annotations

import collections
import copy
import inspect
import math
import os
from typing import Any, Iterator

import numpy as np
import torch

__all__ = ["fit", "evaluate"]


# -- argument checks ----------------------------------------------------------
def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{what}: expected a positive int, got {value!r}")
    return int(value)


def _nonnegative_float(value: Any, what: str, positive: bool = False) -> float:
    kind = "positive" if positive else "non-negative"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: expected a {kind} float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{what}: expected a finite {kind} float, got {value!r}")
    return value


def _check_model(model: Any, what: str) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{what}: expected model to be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_data(data: Any, what: str) -> Any:
    if isinstance(data, torch.utils.data.DataLoader):
        return data
    if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        raise TypeError(
            f"{what}: expected a dataset of (x, y) pairs (with __len__ and __getitem__), got {type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError(f"{what}: expected a non-empty dataset, got {type(data).__name__} of length 0")
    item = data[0]
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        got = f"{type(item).__name__} of length {len(item)}" if isinstance(item, (tuple, list)) else type(item).__name__
        raise TypeError(f"{what}: expected dataset items to be (x, y) pairs, got {got}")
    return data


def _target_dtype_device(model: torch.nn.Module, device: Any) -> tuple[torch.dtype, torch.device]:
    floats = [t for t in list(model.parameters()) + list(model.buffers()) if t.is_floating_point()]
    dtype = floats[0].dtype if floats else torch.get_default_dtype()
    if device is not None:
        return dtype, torch.device(device)
    return dtype, floats[0].device if floats else torch.device("cpu")


# -- batches ------------------------------------------------------------------
def _batches(data: Any, order: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) batches of ``data`` in the given order (its X/Y tensors when it has them); a DataLoader's own batches."""
    if isinstance(data, torch.utils.data.DataLoader):
        for x, y in data:
            yield torch.as_tensor(x), torch.as_tensor(y)
        return
    X, Y = getattr(data, "X", None), getattr(data, "Y", None)
    fast = isinstance(X, torch.Tensor) and isinstance(Y, torch.Tensor) and len(X) == len(Y) == len(data)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if fast:
            yield X[idx], Y[idx]
        else:
            x, y = torch.utils.data.default_collate([data[int(i)] for i in idx])
            yield torch.as_tensor(x), torch.as_tensor(y)


def _check_shapes(out: torch.Tensor, y: torch.Tensor, what: str) -> None:
    # MSE would broadcast (batch, 1) against (batch,) into (batch, batch): refuse instead.
    if out.shape != y.shape:
        raise ValueError(
            f"{what}: expected model outputs of the targets' shape {tuple(y.shape)}, got {tuple(out.shape)}"
        )


# -- public -------------------------------------------------------------------
def evaluate(model: torch.nn.Module, data: Any, batch_size: int = 1024, device: Any = None) -> float:
    r"""The mean squared error of ``model`` on ``data``, in raw target units.

    .. math::
        \mathrm{MSE} = \frac{1}{N\,d} \sum_{i=1}^{N} \sum_{j=1}^{d} (f(x_i)_j - y_{ij})^2

    The model runs in eval mode without gradients; its previous train/eval
    mode is restored afterwards. Squared errors are summed in float64.

    Args:
        model: a ``torch.nn.Module`` mapping (batch, in) to (batch, d).
        data: a dataset of (x, y) pairs, e.g. a :mod:`constrainnet.datasets`
            dataset, or a ``torch.utils.data.DataLoader`` of (x, y) batches.
        batch_size: samples per forward pass (a DataLoader's own batches are used as they are).
        device: where to run (default: the model's device); inputs are cast
            to the model's floating dtype.

    Returns:
        The MSE as a Python float.

    Raises:
        TypeError: if model is not a Module, data not a dataset of pairs, or
            batch_size not an int.
        ValueError: if data is empty, batch_size < 1, or the model's outputs
            do not have the targets' shape.

    Example:
        >>> import torch
        >>> from constrainnet.datasets import Dipole
        >>> data = Dipole(10, seed=0)
        >>> zero = torch.nn.Linear(20, 3)
        >>> _ = torch.nn.init.zeros_(zero.weight), torch.nn.init.zeros_(zero.bias)
        >>> abs(evaluate(zero, data) - float((data.Y.double() ** 2).mean())) < 1e-12
        True
    """
    model = _check_model(model, "evaluate")
    data = _check_data(data, "evaluate")
    batch_size = _positive_int(batch_size, "evaluate: batch_size")
    dtype, device = _target_dtype_device(model, device)
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    try:
        with torch.no_grad():
            order = None if isinstance(data, torch.utils.data.DataLoader) else torch.arange(len(data))
            for x, y in _batches(data, order, batch_size):
                x, y = x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
                out = model(x)
                _check_shapes(out, y, "evaluate")
                total += ((out - y).double() ** 2).sum()
                count += y.numel()
    finally:
        model.train(was_training)
    return float(total) / count


def fit(
    model: torch.nn.Module,
    train: Any,
    val: Any = None,
    epochs: int = 100,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: Any = None,
    progress: bool = True,
    weight_decay: float = 0.0,
    compile: bool = False,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    checkpoint_every: int = 1,
    penalty: Any = None,
    augment: Any = None,
    restore_best: bool = False,
) -> dict[str, list[float]]:
    r"""Train ``model`` on ``train`` by Adam on the mean squared error, in one process or under ``torchrun``.

    Each epoch visits every sample once, in the order of a
    ``torch.utils.data.DistributedSampler`` seeded with ``seed`` (the order
    of epoch e depends only on ``seed`` and e, so a run is reproducible from
    the seed and the model's initial parameters, and a resumed run continues
    it exactly), in batches of ``batch_size`` (the last one may be smaller).
    The per-step loss is mean((f(x) − y)²) over the batch and the output
    entries. The model is trained in train mode and left in the mode it was
    given in.

    Under ``torch.distributed`` (a default process group of W > 1 processes,
    e.g. started by ``torchrun``; see :mod:`constrainnet.distributed`) the
    model is wrapped in ``DistributedDataParallel`` and each process takes
    ``batch_size / W`` samples of every global batch: the same batches, the
    same loss and the same parameters as one process with ``batch_size`` (to
    rounding), when W divides the number of samples (otherwise the sampler
    repeats up to W − 1 samples per epoch, as ``DistributedSampler`` does).
    Rank 0 alone shows progress and writes checkpoints.

    Args:
        model: a ``torch.nn.Module`` with trainable parameters; moved to
            ``device`` when one is given.
        train: the training data: a dataset of (x, y) pairs (anything with
            ``__len__`` and ``__getitem__``; the datasets of
            :mod:`constrainnet.datasets` are read from their X/Y tensors in
            one gather per batch), or a ``torch.utils.data.DataLoader``,
            whose batches are used as they are (its sampler's ``set_epoch`` is
            called each epoch; under torch.distributed it must shard the data
            itself, e.g. with a ``DistributedSampler``).
        val: an optional validation dataset or DataLoader, evaluated by
            :func:`evaluate` after every epoch (by every process, whole).
        epochs: number of passes over ``train`` (in all, resumed epochs included).
        lr: Adam's learning rate.
        batch_size: samples per step (all processes together).
        seed: seed of the shuffling.
        device: where to train (default: the model's device).
        progress: show progress on stderr (rank 0): a tqdm bar on a
            terminal, otherwise one plain line every few seconds
            (:mod:`constrainnet.progress`).
        weight_decay: Adam's L2 penalty.
        compile: train through ``torch.compile(model)`` (the validation runs
            the model as it is). The first steps pay the compilation: on the
            CPU seconds for a ``Linear``, a minute or more for an ``EMLP``, and
            again once for the first batch of another size (the last one of an
            epoch, then compiled for any batch size). The losses and
            parameters equal those of eager training to rounding (not bit for
            bit: the compiled code orders its sums its own way).
        checkpoint: a file to write the training state to (model, optimiser,
            epochs done, history, RNG state; :mod:`constrainnet.checkpoint`)
            after every ``checkpoint_every`` epochs and after the last.
        resume: start from ``checkpoint`` when the file exists (its settings —
            seed, batch size, lr, weight decay, processes — must be this
            run's); the run then ends bit-identical to one never stopped.
        checkpoint_every: epochs between two checkpoints.
        penalty: an optional callable of no arguments returning a 0-d tensor
            added to every step's loss before the backward pass, e.g. the
            prior of a residual pathway model
            (``penalty=rpp.prior_penalty``, :class:`constrainnet.nn.RPP`).
            The history's ``train_loss`` stays the data MSE, without it.
        augment: an optional callable ``(x, y) -> (x, y)`` applied to every
            training batch (after the cast to the model's dtype and device;
            never to ``val``), e.g. :class:`constrainnet.augment.GroupAugment`
            for group augmentation (the MLP+Aug baseline). If it has a
            ``set_epoch`` method it is called with the epoch before the
            epoch's batches, as the sampler's, so an augmented run is
            reproducible and resumes exactly.
        restore_best: end with the parameters and buffers (the
            ``state_dict``) of the epoch with the lowest validation MSE, the
            first of them on a tie, instead of the last epoch's: the model
            selection of the EMLP paper. All epochs still run, and the history
            is the same as without it. Needs ``val``; not with ``checkpoint``
            (a checkpoint holds the last epoch's state, so a resumed run could
            not know the best one). One copy of the ``state_dict`` is kept in
            memory. Afterwards ``evaluate(model, val)`` equals
            ``min(history["val_mse"])``.

    Returns:
        The history: ``{"train_loss": [...]}`` with the mean training loss of
        each epoch (averaged over its steps, weighted by batch size), and
        ``"val_mse"`` (the validation MSE after each epoch) when ``val`` is given.

    Raises:
        TypeError: if an argument has the wrong type (e.g. a float epochs).
        ValueError: if epochs, batch_size or lr are not positive, weight_decay
            is negative, a dataset is empty, the model has no trainable
            parameters, its outputs do not have the targets' shape, the
            number of processes does not divide ``batch_size``, ``resume``
            without ``checkpoint``, a checkpoint of another run, a penalty
            that is not a 0-d tensor, an augment that changes the
            batch's shapes, or ``restore_best`` without ``val`` or with
            ``checkpoint``.
        FloatingPointError: if the training loss of an epoch is not finite.

    Example:
        >>> import torch
        >>> from constrainnet.datasets import Dipole, Standardize
        >>> _ = torch.manual_seed(0)
        >>> model = Standardize(torch.nn.Linear(20, 3), Dipole(64).stats)
        >>> history = fit(model, Dipole(64), epochs=2, batch_size=32, progress=False)
        >>> sorted(history), len(history["train_loss"])
        (['train_loss'], 2)
    """
    from . import checkpoint as checkpoints
    from .distributed import world
    from .progress import EpochProgress

    model = _check_model(model, "fit")
    train = _check_data(train, "fit: train")
    if val is not None:
        val = _check_data(val, "fit: val")
    epochs = _positive_int(epochs, "fit: epochs")
    batch_size = _positive_int(batch_size, "fit: batch_size")
    checkpoint_every = _positive_int(checkpoint_every, "fit: checkpoint_every")
    lr = _nonnegative_float(lr, "fit: lr", positive=True)
    weight_decay = _nonnegative_float(weight_decay, "fit: weight_decay")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"fit: seed: expected a non-negative int, got {type(seed).__name__} {seed!r}")
    flags = (("progress", progress), ("compile", compile), ("resume", resume), ("restore_best", restore_best))
    for name, flag in flags:
        if not isinstance(flag, bool):
            raise TypeError(f"fit: {name}: expected a bool, got {type(flag).__name__} {flag!r}")
    for name, hook in (("penalty", penalty), ("augment", augment)):
        if hook is not None and not callable(hook):
            raise TypeError(f"fit: {name}: expected None or a callable, got {type(hook).__name__} {hook!r}")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs the checkpoint file to resume from, got checkpoint=None")
    if restore_best and val is None:
        raise ValueError("fit: restore_best=True needs a validation set to pick the best epoch by, got val=None")
    if restore_best and checkpoint is not None:
        raise ValueError(
            "fit: expected restore_best=True without a checkpoint (a checkpoint holds the last epoch's state), "
            f"got checkpoint={os.fspath(checkpoint)!r}"
        )
    rank, size = world()
    if batch_size % size:
        raise ValueError(f"fit: expected a batch_size divisible by the {size} processes, got {batch_size}")
    if device is not None:
        model.to(device)
    dtype, device = _target_dtype_device(model, device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("fit: expected a model with trainable parameters, got none")

    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    settings = {"seed": int(seed), "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "processes": size,
                "penalty": describe_hook(penalty), "augment": describe_hook(augment)}  # fmt: skip
    history: dict[str, list[float]] = {"train_loss": []}
    if val is not None:
        history["val_mse"] = []
    start = 0
    if resume and os.path.exists(checkpoint):
        state = checkpoints.load_checkpoint(checkpoint, model, optimizer, settings)
        start, history = min(state["epoch"], epochs), state["history"]
    step_model: torch.nn.Module = model
    if size > 1:
        step_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if compile:
        step_model = torch.compile(step_model)
    sampler = None
    if not isinstance(train, torch.utils.data.DataLoader):
        sampler = torch.utils.data.DistributedSampler(train, num_replicas=size, rank=rank, shuffle=True, seed=int(seed))
    was_training = model.training
    best: tuple[float, dict[str, Any]] | None = None  # (val MSE, state_dict copy) under restore_best
    bar = EpochProgress(epochs, start=start, enabled=progress and rank == 0)
    try:
        for epoch in range(start, epochs):
            model.train()
            if hasattr(augment, "set_epoch"):
                augment.set_epoch(epoch)
            total = torch.zeros((), dtype=torch.float64, device=device)
            count = torch.zeros((), dtype=torch.float64, device=device)
            for x, y in _epoch_batches(train, sampler, epoch, batch_size // size):
                x, y = x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)
                if augment is not None:
                    x, y = _augmented(augment, x, y)
                out = step_model(x)
                _check_shapes(out, y, "fit")
                loss = torch.mean((out - y) ** 2)
                optimizer.zero_grad(set_to_none=True)
                (loss if penalty is None else loss + _penalty_term(penalty)).backward()
                optimizer.step()
                total += loss.detach().double() * len(x)  # no host sync per step
                count += len(x)
            if size > 1:
                sums = torch.stack([total, count])
                torch.distributed.all_reduce(sums)
                total, count = sums[0], sums[1]
            epoch_loss = float(total / count)
            if not math.isfinite(epoch_loss):
                raise FloatingPointError(
                    f"fit: expected a finite training loss, got {epoch_loss} at epoch {epoch + 1}; "
                    f"try a lower lr (now {lr:g})"
                )
            history["train_loss"].append(epoch_loss)
            postfix = {"loss": f"{epoch_loss:.4g}"}
            if val is not None:
                history["val_mse"].append(evaluate(model, val, device=device))
                postfix["val_mse"] = f"{history['val_mse'][-1]:.4g}"
                if restore_best and (best is None or history["val_mse"][-1] < best[0]):
                    best = (history["val_mse"][-1], _state_copy(model))
            bar.update(epoch, postfix)
            if checkpoint is not None and rank == 0 and ((epoch + 1) % checkpoint_every == 0 or epoch + 1 == epochs):
                checkpoints.save_checkpoint(checkpoint, model, optimizer, epoch + 1, history, settings)
        if best is not None:
            model.load_state_dict(best[1])
    finally:
        bar.close()
        model.train(was_training)
    return history


def _state_copy(model: torch.nn.Module) -> dict[str, Any]:
    """A copy of ``model.state_dict()`` that later training steps do not change (its metadata kept)."""
    state = model.state_dict()
    copied = collections.OrderedDict(
        (k, v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in state.items()
    )
    metadata = getattr(state, "_metadata", None)
    if metadata is not None:
        copied._metadata = metadata  # type: ignore[attr-defined]
    return copied


def describe_hook(hook: Any) -> str | None:
    """A process-independent description of a penalty or augment hook, kept in checkpoint settings.

    A bound method of a module is named with its owner's settings
    (``RPP.prior_penalty(equivariant_wd=1e-05, basic_wd=0.01)``); an object
    with its own ``repr`` (``GroupAugment(...)``) by that; anything else by
    its qualified type or function name (never an address). A run resumed with
    another penalty or augmentation is then refused by the checkpoint.

    Example:
        >>> describe_hook(None) is None, describe_hook(abs)
        (True, 'abs')
    """
    if hook is None:
        return None
    if inspect.ismethod(hook):
        owner = hook.__self__
        settings = owner.extra_repr() if isinstance(owner, torch.nn.Module) else ""
        return f"{type(owner).__qualname__}.{hook.__name__}({settings})"
    if inspect.isfunction(hook) or inspect.isbuiltin(hook):
        return hook.__qualname__
    text = repr(hook)
    return type(hook).__qualname__ if " at 0x" in text else text


def _augmented(augment: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``augment(x, y)``, checked to give tensors of the batch's shapes."""
    out = augment(x, y)
    if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        raise TypeError(f"fit: augment: expected a callable returning an (x, y) pair of tensors, got {type(out).__name__}")
    if out[0].shape != x.shape or out[1].shape != y.shape:
        raise ValueError(
            f"fit: augment: expected tensors of the batch's shapes {tuple(x.shape)}, {tuple(y.shape)}, "
            f"got {tuple(out[0].shape)}, {tuple(out[1].shape)}"
        )
    return out[0], out[1]


def _penalty_term(penalty: Any) -> torch.Tensor:
    """``penalty()``, checked to be a 0-d tensor."""
    term = penalty()
    if not isinstance(term, torch.Tensor) or term.dim() != 0:
        got = f"a tensor of shape {tuple(term.shape)}" if isinstance(term, torch.Tensor) else type(term).__name__
        raise ValueError(f"fit: penalty: expected a callable returning a 0-d tensor, got {got}")
    return term


def _epoch_batches(train: Any, sampler: Any, epoch: int, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This process's (x, y) batches of ``epoch``: from the sampler's order, or the DataLoader's own."""
    if sampler is None:
        inner = getattr(train, "sampler", None)
        if hasattr(inner, "set_epoch"):
            inner.set_epoch(epoch)
        return _batches(train, None, batch_size)
    sampler.set_epoch(epoch)
    return _batches(train, torch.as_tensor(list(sampler), dtype=torch.long), batch_size)

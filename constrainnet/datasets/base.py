"""The shared base of the synthetic datasets: seeded generation, reps, tensors and statistics."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch

from ..errors import RepMismatchError
from ..groups import Group
from ..reps import Rep
from .standardize import Stats

__all__ = ["EquivariantDataset"]


def check_positive_int(value: Any, what: str) -> int:
    """``value`` as an int, or a TypeError/ValueError saying what was expected."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what}: expected a positive int, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{what}: expected a positive int, got {value!r}")
    return int(value)


def check_seed(seed: Any) -> int:
    """A non-negative int seed, or a TypeError/ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected a non-negative int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    return int(seed)


def check_dtype(dtype: Any) -> torch.dtype:
    """A floating-point torch dtype, or a TypeError."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype (e.g. torch.float32), got {dtype!r}")
    return dtype


class EquivariantDataset(torch.utils.data.Dataset, abc.ABC):
    r"""A regression dataset y = f(x) with f equivariant: f(ρ_in(g) x) = ρ_out(g) f(x).

    Subclasses set ``rep_in``, ``rep_out`` and ``group`` and implement
    ``_sample(rng, n)`` (inputs, float64) and ``_target(x)`` (targets, float64).
    Data are drawn once, in float64 from ``numpy.random.default_rng(seed)``,
    then cast to ``dtype``: the same seed gives the same tensors on every
    machine and in every dtype (up to the cast).

    Items are ``(X[i], Y[i])`` pairs, so a ``torch.utils.data.DataLoader`` or
    :func:`constrainnet.train.fit` can consume the dataset directly.

    Attributes:
        X: (n, rep_in.size) inputs.
        Y: (n, rep_out.size) targets.
        rep_in, rep_out: the reps of inputs and targets.
        group: the symmetry group.
        stats: a :class:`~constrainnet.datasets.Stats` computed from this data
            (see :func:`~constrainnet.datasets.standardization_stats`).
        seed: the seed the data were drawn from.
    """

    #: Whether ``stats`` standardises the outputs (False: identity output stats).
    standardize_outputs: bool = True

    rep_in: Rep
    rep_out: Rep
    group: Group

    def __init__(self, n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.n = check_positive_int(n, f"{type(self).__name__}: n")
        self.seed = check_seed(seed)
        dtype = check_dtype(dtype)
        rng = np.random.default_rng(self.seed)
        x = self._sample(rng, self.n)
        y = self._target(x)
        self.stats = Stats.from_data(x, y, self.rep_in, self.rep_out, outputs=self.standardize_outputs, dtype=dtype)
        self.X = torch.as_tensor(x, dtype=dtype)
        self.Y = torch.as_tensor(y, dtype=dtype)

    # -- to be provided by subclasses ----------------------------------------
    @abc.abstractmethod
    def _sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` inputs drawn from ``rng``, shape (n, rep_in.size)."""

    @abc.abstractmethod
    def _target(self, x: np.ndarray) -> np.ndarray:
        """The exact targets of inputs ``x``, shape (n, rep_out.size)."""

    # -- public --------------------------------------------------------------
    def target(self, x: Any) -> np.ndarray:
        """The exact target function f, in float64, on any inputs (not only ``X``).

        Args:
            x: array-like of shape (..., rep_in.size).

        Returns:
            A float64 numpy array of shape (..., rep_out.size).

        Raises:
            RepMismatchError: if the last axis of x is not ``rep_in.size``.

        Example:
            >>> import numpy as np
            >>> from constrainnet.datasets import Dipole
            >>> data = Dipole(1, n_points=2)
            >>> data.target(np.array([1.0, -1.0, 1.0, 2.0, 3.0, 0.0, 0.0, 1.0])).tolist()
            [1.0, 2.0, 2.0]
        """
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != self.rep_in.size:
            raise RepMismatchError(
                f"{type(self).__name__}.target: expected inputs of width {self.rep_in.size}, got shape {x.shape}"
            )
        lead = x.shape[:-1]
        y = self._target(x.reshape(-1, self.rep_in.size))
        return y.reshape(lead + (self.rep_out.size,))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.Y[i]

    def _extra_args(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={self.n}{self._extra_args()}, seed={self.seed}, dtype={self.X.dtype}): "
            f"{self.rep_in!r} -> {self.rep_out!r} of {self.group!r}"
        )

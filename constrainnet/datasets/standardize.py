r"""Standardisation that keeps equivariance: statistics per rep and the :class:`Standardize` wrapper.

Subtracting the empirical mean and dividing by per-coordinate standard
deviations breaks equivariance: x ↦ (x − m)/s commutes with every ρ(g) only if
ρ(g) m = m and the division commutes with ρ(g). So here

- the mean μ = P m is the empirical mean m projected onto the invariant
  subspace of the rep (P = ``rep.equivariant_projector()``): ρ(g) μ = μ;
- the scale is one positive number per copy of each component of a sum rep
  (the RMS of that copy's centred coordinates), broadcast over the copy's
  coordinates: a multiple of the identity on each ρ-block commutes with ρ(g).

Then (ρ_in(g) x − μ_in)/s_in = ρ_in(g) (x − μ_in)/s_in, and an equivariant f
stays equivariant after ``Standardize``: f((x − μ_in)/s_in) · s_out + μ_out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import RepMismatchError
from ..reps import Rep, SumRep

__all__ = ["Stats", "Standardize", "standardization_stats"]


def _copy_slices(rep: Rep) -> Iterator[slice]:
    """The coordinates of each copy of each component of ``rep`` (the whole rep if not a sum)."""
    if not isinstance(rep, SumRep):
        yield slice(0, rep.size)
        return
    start = 0
    for comp, mult in rep.components:
        for _ in range(mult):
            yield slice(start, start + comp.size)
            start += comp.size


def standardization_stats(x: Any, rep: Rep) -> tuple[np.ndarray, np.ndarray]:
    r"""An equivariance-preserving mean and scale of samples of ``rep``.

    .. math::
        \mu = P \bar x, \qquad
        s_c = \sqrt{\operatorname{mean}_{i,\,j \in c} (x_{ij} - \mu_j)^2}

    with P the orthogonal projector onto the invariant subspace of ``rep`` and
    c one copy of one component of the (sum) rep; s is broadcast over the
    coordinates of each copy. A copy whose centred data are all zero gets
    scale 1 (nothing to rescale).

    Args:
        x: (n, rep.size) samples (array-like or tensor).
        rep: the rep the rows of x live in.

    Returns:
        ``(mean, scale)``, two float64 arrays of shape (rep.size,), with
        ρ(g) mean = mean and scale > 0 constant on each copy.

    Raises:
        TypeError: if rep is not a Rep.
        RepMismatchError: if x is not (n, rep.size) with n ≥ 1.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> x = np.array([[1.0, 1.0, 0.0, 0.0], [3.0, -1.0, 0.0, 0.0]])
        >>> mean, scale = standardization_stats(x, V**0 + V)
        >>> mean.round(6).tolist(), scale.round(6).tolist()
        ([2.0, 0.0, 0.0, 0.0], [1.0, 0.57735, 0.57735, 0.57735])
    """
    if not isinstance(rep, Rep):
        raise TypeError(f"standardization_stats: expected a Rep, got {type(rep).__name__}")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != rep.size or x.shape[0] < 1:
        raise RepMismatchError(
            f"standardization_stats: expected samples of shape (n >= 1, {rep.size}) for {rep!r}, got {x.shape}"
        )
    mean = np.asarray(rep.equivariant_projector() @ x.mean(axis=0), dtype=np.float64)
    centred = x - mean
    scale = np.ones(rep.size)
    for sl in _copy_slices(rep):
        rms = float(np.sqrt(np.mean(centred[:, sl] ** 2)))
        scale[sl] = rms if rms > 0 else 1.0
    return mean, scale


@dataclass(frozen=True, eq=False)
class Stats:
    """Input and output standardisation statistics of a dataset, tied to its reps.

    Attributes:
        rep_in, rep_out: the reps the statistics belong to.
        mean_in: (rep_in.size,) invariant input mean μ_in.
        scale_in: (rep_in.size,) positive input scale s_in, constant per copy.
        mean_out: (rep_out.size,) invariant output mean μ_out.
        scale_out: (rep_out.size,) positive output scale s_out, constant per copy.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> s = Stats.identity(V**0 + V, V)
        >>> s.mean_in.tolist(), s.scale_out.tolist()
        ([0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0])
    """

    rep_in: Rep
    rep_out: Rep
    mean_in: torch.Tensor
    scale_in: torch.Tensor
    mean_out: torch.Tensor
    scale_out: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("rep_in", "rep_out"):
            if not isinstance(getattr(self, name), Rep):
                raise TypeError(f"Stats: expected {name} to be a Rep, got {type(getattr(self, name)).__name__}")
        sizes = {"mean_in": self.rep_in, "scale_in": self.rep_in, "mean_out": self.rep_out, "scale_out": self.rep_out}
        for name, rep in sizes.items():
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor) or value.shape != (rep.size,):
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise RepMismatchError(f"Stats: expected {name} a tensor of shape ({rep.size},), got {shape}")
        for name in ("scale_in", "scale_out"):
            if not bool(torch.all(getattr(self, name) > 0)):
                raise ValueError(f"Stats: expected {name} to be positive, got {getattr(self, name).tolist()}")

    @classmethod
    def from_data(
        cls,
        x: Any,
        y: Any,
        rep_in: Rep,
        rep_out: Rep,
        *,
        outputs: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> "Stats":
        """Statistics of inputs x (n, rep_in.size) and targets y (n, rep_out.size).

        Each side by :func:`standardization_stats`; with ``outputs=False`` the
        output statistics are the identity (mean 0, scale 1).
        """
        mean_in, scale_in = standardization_stats(x, rep_in)
        if outputs:
            mean_out, scale_out = standardization_stats(y, rep_out)
        else:
            mean_out, scale_out = np.zeros(rep_out.size), np.ones(rep_out.size)
        t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
        return cls(rep_in, rep_out, t(mean_in), t(scale_in), t(mean_out), t(scale_out))

    @classmethod
    def identity(cls, rep_in: Rep, rep_out: Rep, dtype: torch.dtype = torch.float32) -> "Stats":
        """Statistics that change nothing: means 0, scales 1."""
        z, o = torch.zeros, torch.ones
        return cls(rep_in, rep_out, z(rep_in.size, dtype=dtype), o(rep_in.size, dtype=dtype),
                   z(rep_out.size, dtype=dtype), o(rep_out.size, dtype=dtype))  # fmt: skip

    def to(self, dtype: torch.dtype | None = None, device: Any = None) -> "Stats":
        """The same statistics as tensors of another dtype and/or device."""
        t = lambda a: a.to(dtype=dtype, device=device)  # noqa: E731
        return Stats(self.rep_in, self.rep_out, t(self.mean_in), t(self.scale_in), t(self.mean_out), t(self.scale_out))

    def __repr__(self) -> str:
        return f"Stats({self.rep_in!r} -> {self.rep_out!r}, dtype={self.mean_in.dtype})"


def _float_dtype_device(module: torch.nn.Module) -> tuple[torch.dtype | None, torch.device | None]:
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.dtype, t.device
    return None, None


class Standardize(torch.nn.Module):
    r"""Wrap a model so it reads raw inputs and returns raw targets, keeping equivariance.

    .. math::
        \mathrm{Standardize}(f)(x) = f\big((x - \mu_{in}) / s_{in}\big) \odot s_{out} + \mu_{out}

    With the statistics of :func:`standardization_stats` (μ invariant, s
    constant on each copy of each rep component) this is equivariant whenever
    f is. The statistics are persistent buffers, so ``state_dict`` carries
    them and a save/load round trip restores the same function; they are cast
    to the dtype and device of the model's first floating-point parameter (or
    buffer) at construction, and follow ``.to()`` afterwards.

    Args:
        model: the torch module f, on standardised data; if it has ``rep_in``
            / ``rep_out`` attributes they must equal the statistics' reps.
        stats: a :class:`Stats` (e.g. ``dataset.stats`` of the training set).

    Attributes:
        model: the wrapped module.
        rep_in, rep_out: the reps of the statistics (and of the model).
        mean_in, scale_in, mean_out, scale_out: the statistics, as buffers.

    Raises:
        TypeError: if model is not a ``torch.nn.Module`` or stats not a Stats.
        RepMismatchError: if the model's reps differ from the statistics' reps,
            or (in forward) the input width is not ``rep_in.size``.

    Shape:
        - Input: (batch, rep_in.size)
        - Output: (batch, rep_out.size)

    Example:
        >>> import torch
        >>> from constrainnet.datasets import Dipole, Standardize
        >>> data = Dipole(64, seed=0)
        >>> model = Standardize(torch.nn.Linear(20, 3), data.stats)
        >>> model(data.X[:2]).shape
        torch.Size([2, 3])
        >>> model.rep_out
        V
    """

    def __init__(self, model: torch.nn.Module, stats: Stats) -> None:
        super().__init__()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"Standardize: expected a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(stats, Stats):
            raise TypeError(f"Standardize: expected stats to be a datasets.Stats, got {type(stats).__name__}")
        for name in ("rep_in", "rep_out"):
            own = getattr(model, name, None)
            if isinstance(own, Rep) and own != getattr(stats, name):
                expected = getattr(stats, name)
                raise RepMismatchError(f"Standardize: expected the model's {name} {expected!r}, got {own!r}")
        self.model = model
        self.rep_in = stats.rep_in
        self.rep_out = stats.rep_out
        dtype, device = _float_dtype_device(model)
        stats = stats.to(dtype=dtype, device=device)
        self.register_buffer("mean_in", stats.mean_in.clone())
        self.register_buffer("scale_in", stats.scale_in.clone())
        self.register_buffer("mean_out", stats.mean_out.clone())
        self.register_buffer("scale_out", stats.scale_out.clone())

    @property
    def stats(self) -> Stats:
        """The current statistics as a :class:`Stats` (sharing the buffers)."""
        return Stats(self.rep_in, self.rep_out, self.mean_in, self.scale_in, self.mean_out, self.scale_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.mean_in.shape[0]:
            raise RepMismatchError(
                f"Standardize: expected inputs of width {self.mean_in.shape[0]} ({self.rep_in!r}), "
                f"got shape {tuple(x.shape)}"
            )
        return self.model((x - self.mean_in) / self.scale_in) * self.scale_out + self.mean_out

    def extra_repr(self) -> str:
        return f"{self.rep_in!r} -> {self.rep_out!r}"

r"""Group augmentation at train time: the MLP+Aug baseline of the EMLP paper.

Every training pair (x, y) is replaced by (ρ_in(g) x, ρ_out(g) y) for a
random element g of the group, drawn afresh per sample and per step. For an
equivariant target f (f(ρ_in(g) x) = ρ_out(g) f(x)) the transformed pairs
are samples of the same function, so an unconstrained model sees the orbit
of each example instead of the example alone and learns the symmetry
approximately, from data.

:class:`GroupAugment` is a batch transform ``(x, y) -> (x, y)``; pass it to
:func:`constrainnet.train.fit` as ``augment=`` (it is applied to training
batches only, never to the validation set). Elements come from a *pool*
drawn once from the seed: ρ_in and ρ_out of ``pool`` elements are formed
once (in float64, cast to the batch's dtype and device once), and each step
draws a pool index per sample and applies the matrices in one batched
product. Forming ρ(g) costs about a millisecond per element for the paper's
reps, too much to repeat for every sample of every step; a pool of a few
thousand elements of a continuous group covers it densely, and for a finite
group the pool holds every element when the group has at most ``pool`` of
them. ``pool=None`` draws fresh elements for every batch instead (exact
samples of :meth:`~constrainnet.groups.Group.samples`, slow).

Example:
    >>> import torch, constrainnet as cn
    >>> from constrainnet.groups import SO
    >>> V = cn.V(SO(3))
    >>> aug = GroupAugment(V, V**0, pool=8, seed=0)
    >>> x, y = torch.randn(4, 3), torch.randn(4, 1)
    >>> xa, ya = aug(x, y)
    >>> g = aug.last_elements                      # the (4, 3, 3) elements drawn
    >>> torch.allclose(xa, torch.einsum("bij,bj->bi", torch.as_tensor(g, dtype=x.dtype), x), atol=1e-6)
    True
    >>> torch.equal(ya, y)                          # scalars do not move
    True
"""

from __future__ import annotations


import numpy as np
import torch

from .errors import GroupError
from .groups import Group
from .reps import Rep

__all__ = ["GroupAugment", "MAX_POOL_BYTES"]

#: The largest pool of ρ matrices (float64, both reps) :class:`GroupAugment` forms: 1 GiB.
MAX_POOL_BYTES = 1 << 30


class GroupAugment:
    r"""Transform each (x, y) sample of a batch by ρ_in(g), ρ_out(g) of its own random group element g.

    Args:
        rep_in: the rep of the inputs x, shape (batch, rep_in.size).
        rep_out: the rep of the targets y, shape (batch, rep_out.size).
        group: the group to draw from (default: ``rep_in.G``); both reps must
            be reps of it.
        pool: how many elements to draw once and reuse (default 4096; a
            finite group of at most ``pool`` elements is enumerated instead),
            or None to draw fresh elements for every batch.
        seed: the seed of the pool and of the per-step draws. The draws of
            epoch e depend only on ``seed`` and e once :meth:`set_epoch` is
            called (as :func:`~constrainnet.train.fit` does), so augmented
            runs are reproducible and resume exactly.

    Attributes:
        last_elements: the (batch, d, d) float64 elements g used by the last
            call, in the group's defining rep (for checks).
        last_indices: their indices in the pool (None without a pool).

    Raises:
        TypeError: reps that are not Reps, a group that is not a Group, a
            pool or seed that is not an int.
        ValueError: reps of another group, a pool < 1 or too large to hold
            (over :data:`MAX_POOL_BYTES`), or a negative seed; at call time,
            tensors of the wrong shape.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import O
        >>> V = cn.V(O(3))
        >>> aug = GroupAugment(2 * V, V**2, pool=16, seed=1)
        >>> xa, ya = aug(torch.randn(5, 6), torch.randn(5, 9))
        >>> xa.shape, ya.shape, aug.last_elements.shape
        (torch.Size([5, 6]), torch.Size([5, 9]), (5, 3, 3))
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, group: Group | None = None, pool: int | None = 4096, seed: int = 0) -> None:
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if not isinstance(rep, Rep):
                raise TypeError(f"GroupAugment: expected {name} to be a Rep, got {type(rep).__name__}")
        if group is None:
            group = rep_in.G
        if not isinstance(group, Group):
            raise TypeError(f"GroupAugment: expected group to be a Group or None, got {type(group).__name__}")
        for name, rep in (("rep_in", rep_in), ("rep_out", rep_out)):
            if rep.G != group:
                raise ValueError(f"GroupAugment: expected {name} to be a rep of {group!r}, got a rep of {rep.G!r}")
        if pool is not None:
            if isinstance(pool, bool) or not isinstance(pool, (int, np.integer)):
                raise TypeError(f"GroupAugment: pool: expected a positive int or None, got {type(pool).__name__} {pool!r}")
            if pool < 1:
                raise ValueError(f"GroupAugment: pool: expected a positive int or None, got {pool!r}")
            need = int(pool) * (rep_in.size**2 + rep_out.size**2) * 8
            if need > MAX_POOL_BYTES:
                raise ValueError(
                    f"GroupAugment: pool: {pool} elements of {rep_in!r} and {rep_out!r} take {need / 2**30:.1f} GiB "
                    f"of ρ matrices, expected at most {MAX_POOL_BYTES / 2**30:.0f} GiB: give a smaller pool"
                )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"GroupAugment: seed: expected a non-negative int, got {type(seed).__name__} {seed!r}")
        if seed < 0:
            raise ValueError(f"GroupAugment: seed: expected a non-negative int, got {seed!r}")
        self.rep_in, self.rep_out, self.group, self.seed = rep_in, rep_out, group, int(seed)
        self.pool = None if pool is None else int(pool)
        self.last_elements: np.ndarray | None = None
        self.last_indices: np.ndarray | None = None
        self._rng = np.random.default_rng([self.seed, 0])
        self._elements: np.ndarray | None = None
        self._rho: tuple[np.ndarray, np.ndarray] | None = None
        self._cast: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}
        if self.pool is not None:
            self._elements = self._pool_elements(self.pool)
            self._rho = self._matrices(self._elements)

    # -- the elements -----------------------------------------------------------------
    def _pool_elements(self, pool: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1])
        G = self.group
        if G.is_finite:
            try:  # a small finite group: every element, once
                elements = np.array(G.elements(max_order=pool), dtype=np.float64)
            except GroupError:  # more than pool elements: sample them
                elements = None
            if elements is not None and len(elements) <= pool:  # (a group may hold elements enumerated before)
                return elements
        return np.asarray(G.samples(pool, rng), dtype=np.float64)

    def _matrices(self, elements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rho_in = np.stack([self.rep_in.rho(g) for g in elements])
        rho_out = np.stack([self.rep_out.rho(g) for g in elements])
        return rho_in, rho_out

    def set_epoch(self, epoch: int) -> None:
        """Reseed the per-step draws for ``epoch`` (the pool stays): epoch e's draws depend on (seed, e) only."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise TypeError(f"GroupAugment.set_epoch: expected a non-negative int, got {type(epoch).__name__} {epoch!r}")
        self._rng = np.random.default_rng([self.seed, 2, int(epoch)])

    # -- the transform ------------------------------------------------------------------
    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ρ_in(g_i) x_i, ρ_out(g_i) y_i) for a fresh random g_i per sample i.

        Args:
            x: (batch, rep_in.size) inputs.
            y: (batch, rep_out.size) targets, on x's device.

        Returns:
            The transformed pair, of x's and y's dtypes and device.

        Raises:
            TypeError: x or y is not a tensor.
            ValueError: x or y of the wrong shape, or batches of different lengths.
        """
        for name, t, rep in (("x", x, self.rep_in), ("y", y, self.rep_out)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"GroupAugment: expected {name} to be a torch.Tensor, got {type(t).__name__}")
            if t.dim() != 2 or t.shape[1] != rep.size:
                raise ValueError(f"GroupAugment: expected {name} of shape (batch, {rep.size}), got {tuple(t.shape)}")
        if len(x) != len(y):
            raise ValueError(f"GroupAugment: expected x and y of one batch length, got {len(x)} and {len(y)}")
        n = len(x)
        if self._rho is None:
            elements = np.asarray(self.group.samples(n, self._rng), dtype=np.float64).reshape(n, self.group.d, self.group.d)
            rho_in, rho_out = (torch.as_tensor(r) for r in self._matrices(elements))
            self.last_elements, self.last_indices = elements, None
        else:
            idx = self._rng.integers(len(self._elements), size=n)
            self.last_elements, self.last_indices = self._elements[idx], idx
            pool_in, pool_out = self._pooled(x, y)
            index = torch.as_tensor(idx, device=x.device)
            rho_in, rho_out = pool_in[index], pool_out[index]
        rho_in = rho_in.to(device=x.device, dtype=x.dtype)
        rho_out = rho_out.to(device=y.device, dtype=y.dtype)
        return torch.bmm(rho_in, x.unsqueeze(-1)).squeeze(-1), torch.bmm(rho_out, y.unsqueeze(-1)).squeeze(-1)

    def _pooled(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The pool's ρ matrices as tensors of x's (and y's) dtype and device, cast once per kind."""
        key = (x.dtype, x.device, y.dtype, y.device)
        if key not in self._cast:
            rho_in, rho_out = self._rho
            self._cast[key] = (
                torch.as_tensor(rho_in).to(device=x.device, dtype=x.dtype),
                torch.as_tensor(rho_out).to(device=y.device, dtype=y.dtype),
            )
        return self._cast[key]

    def __repr__(self) -> str:
        return f"GroupAugment({self.rep_in!r}, {self.rep_out!r}, group={self.group!r}, pool={self.pool}, seed={self.seed})"

"""Measure and assert the equivariance of a function or module: f(ρ_in(g) x) = ρ_out(g) f(x)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from ..errors import RepMismatchError
from ..groups import Group
from ..groups._arrays import as_rng
from ..reps import Rep
from .tolerances import tolerance

__all__ = ["equivariance_error", "assert_equivariant"]

# Relative errors are divided by the displacement min(1, ‖ρ_in(g)x − x‖/‖x‖):
# a sample near the identity moves the input little, and an error that scales
# with that move must not hide behind it. Below this the element acts as the
# identity on x and the unscaled error is reported.
_IDENTITY_DISPLACEMENT = 1e-12


def _resolve(fn: Any, rep_in: Rep | None, rep_out: Rep | None, group: Group | None) -> tuple[Rep, Rep, Group]:
    rep_in = rep_in if rep_in is not None else getattr(fn, "rep_in", None)
    rep_out = rep_out if rep_out is not None else getattr(fn, "rep_out", None)
    if not isinstance(rep_in, Rep) or not isinstance(rep_out, Rep):
        raise TypeError(
            "equivariance_error: expected rep_in and rep_out (Reps), or a module with .rep_in/.rep_out, "
            f"got {type(rep_in).__name__} and {type(rep_out).__name__}"
        )
    group = group if group is not None else rep_in.G
    if rep_in.G != group or rep_out.G != group:
        raise RepMismatchError(
            f"equivariance_error: expected reps of {group!r}, got rep_in of {rep_in.G!r} and rep_out of {rep_out.G!r}"
        )
    return rep_in, rep_out, group


def _caller(fn: Callable, dtype: Any, device: Any) -> tuple[Callable[[np.ndarray], np.ndarray], Any]:
    is_module = isinstance(fn, torch.nn.Module)
    if is_module and dtype is None:
        params = list(fn.parameters()) + list(fn.buffers())
        floats = [p for p in params if p.is_floating_point()]
        dtype = floats[0].dtype if floats else torch.get_default_dtype()
        device = device if device is not None else (floats[0].device if floats else None)
    if isinstance(dtype, torch.dtype):

        def call(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = fn(torch.as_tensor(x, dtype=dtype, device=device))
            return out.detach().to("cpu", torch.float64).numpy()

        return call, dtype
    np_dtype = np.dtype(dtype if dtype is not None else np.float64)

    def call_np(x: np.ndarray) -> np.ndarray:
        return np.asarray(fn(x.astype(np_dtype)), dtype=np.float64)

    return call_np, np_dtype


def equivariance_error(
    fn: Callable,
    rep_in: Rep | None = None,
    rep_out: Rep | None = None,
    group: Group | None = None,
    *,
    n_samples: int = 8,
    batch: int = 4,
    rng: Any = 0,
    dtype: Any = None,
    device: Any = None,
) -> float:
    r"""The largest relative equivariance error of ``fn`` over random group elements.

    For inputs x ~ N(0, 1) and samples g of the group,

    .. math::
        e(g) = \frac{\lVert f(\rho_{in}(g)x) - \rho_{out}(g) f(x) \rVert}
                    {\tfrac12(\lVert f(\rho_{in}(g)x)\rVert + \lVert \rho_{out}(g) f(x)\rVert)
                     \cdot \min(1, \lVert \rho_{in}(g)x - x\rVert / \lVert x \rVert)}

    so that elements near the identity cannot hide an error.

    Args:
        fn: a ``torch.nn.Module`` (its ``rep_in``/``rep_out`` are used when the
            reps are not given) or a function of a (batch, rep_in.size) array.
        rep_in, rep_out: the input and output reps.
        group: the group to sample (default ``rep_in.G``).
        n_samples: number of group elements.
        batch: number of inputs per element.
        rng: seed or ``numpy.random.Generator`` for inputs and elements.
        dtype: torch dtype to call ``fn`` with tensors (default: the module's
            parameter dtype), or a numpy dtype to call it with arrays.
        device: torch device for the inputs (default: the module's).

    Returns:
        The maximum of e(g) over the samples, as a float.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> equivariance_error(lambda x: x * (x**2).sum(-1, keepdims=True), V, V) < 1e-12
        True
    """
    rep_in, rep_out, group = _resolve(fn, rep_in, rep_out, group)
    gen = as_rng(rng)
    call, _ = _caller(fn, dtype, device)
    x = gen.standard_normal((batch, rep_in.size))
    y = call(x)
    if y.shape != (batch, rep_out.size):
        raise RepMismatchError(f"equivariance_error: expected fn to return shape {(batch, rep_out.size)}, got {y.shape}")
    worst = 0.0
    for g in group.samples(n_samples, gen):
        gx = rep_in.rho_apply(g, x)
        a = call(gx)
        b = rep_out.rho_apply(g, y)
        denom = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b))
        rel = float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
        move = float(np.linalg.norm(gx - x) / max(np.linalg.norm(x), 1e-300))
        if move > _IDENTITY_DISPLACEMENT:
            rel /= min(1.0, move)
        worst = max(worst, rel)
    return worst


def assert_equivariant(
    fn: Callable,
    rep_in: Rep | None = None,
    rep_out: Rep | None = None,
    group: Group | None = None,
    *,
    rtol: float | None = None,
    **kwargs: Any,
) -> None:
    """Assert that :func:`equivariance_error` is below ``rtol`` (default: by dtype, see :func:`tolerance`).

    Raises:
        AssertionError: with the error, the tolerance and the reps.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> assert_equivariant(lambda x: 2 * x, V, V)
    """
    rep_in, rep_out, group = _resolve(fn, rep_in, rep_out, group)
    _, dtype = _caller(fn, kwargs.get("dtype"), kwargs.get("device"))
    tol = tolerance(dtype) if rtol is None else rtol
    err = equivariance_error(fn, rep_in, rep_out, group, **kwargs)
    if not err <= tol:
        raise AssertionError(
            f"not equivariant: relative error {err:.3g} exceeds {tol:g} for {rep_in!r} -> {rep_out!r} of {group!r}"
        )

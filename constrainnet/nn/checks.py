"""Validation at the boundary of the layers: constructor devices and dtypes, and the tensors a forward gets.

The constructors take ``device`` and ``dtype`` as ``torch.nn.Linear`` does;
:func:`factory_kwargs` checks them once, so a misspelt device or an integer
dtype is reported in the library's terms instead of deep inside torch. The
forward of every layer calls :func:`check_input` (the width of the input) and,
for layers with parameters, :func:`check_like` (the dtype and device of the
input against the layer's): torch would raise a bare ``RuntimeError`` for a
float32 input to a float64 layer, or silently promote where a layer adds a
float64 bias to a float32 zero. These checks cost a few attribute reads per
call (under a microsecond), nothing next to the layer itself.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import DeviceError, DtypeError, RepMismatchError
from ..reps import Rep

__all__ = ["factory_kwargs", "check_input", "check_like", "check_device", "check_floating"]


def factory_kwargs(device: Any, dtype: Any, what: str) -> dict:
    """The validated ``{"device": ..., "dtype": ...}`` for a layer's parameters and buffers.

    Args:
        device: None (torch's default device), a ``torch.device``, a string such
            as ``"cpu"``, ``"cuda:0"`` or ``"meta"``, or a CUDA index.
        dtype: None (torch's default dtype) or a floating ``torch.dtype``.
        what: the layer's name, for the messages.

    Returns:
        The keyword arguments of a torch factory function: the device as given
        (None stays None) and a floating dtype.

    Raises:
        DeviceError: a device torch does not know or that is not available here.
        DtypeError: a dtype that is not a real floating ``torch.dtype``.

    Example:
        >>> import torch
        >>> factory_kwargs("cpu", torch.float64, "Linear")
        {'device': device(type='cpu'), 'dtype': torch.float64}
        >>> factory_kwargs("cpux", None, "Linear")
        Traceback (most recent call last):
        ...
        constrainnet.errors.DeviceError: Linear: expected a device such as 'cpu', 'cuda:0' or 'meta', got 'cpux'
    """
    if dtype is None:
        dtype = torch.get_default_dtype()
    elif not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise DtypeError(f"{what}: expected a floating dtype such as torch.float32 or torch.float64, got {dtype!r}")
    if device is not None:
        if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
            raise DeviceError(f"{what}: expected a device such as 'cpu', 'cuda:0' or 'meta', got {device!r}")
        try:
            device = torch.device(device)
        except (RuntimeError, ValueError) as exc:
            raise DeviceError(f"{what}: expected a device such as 'cpu', 'cuda:0' or 'meta', got {device!r}") from exc
        try:  # a device torch knows but this machine lacks ("cuda" without a GPU)
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as exc:
            raise DeviceError(f"{what}: expected an available device, got {str(device)!r} ({exc})") from exc
    return {"device": device, "dtype": dtype}


def check_input(x: Any, rep: Rep, what: str) -> None:
    """Raise unless ``x`` is a tensor whose last dimension is ``rep.size``.

    Raises:
        TypeError: ``x`` is not a ``torch.Tensor``.
        RepMismatchError: the last dimension is not ``rep.size``.

    Example:
        >>> import torch, constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> check_input(torch.zeros(2, 4), cn.V(SO(3)), "Linear")
        Traceback (most recent call last):
        ...
        constrainnet.errors.RepMismatchError: Linear: expected input width 3 (rep_in = V), got 4 (shape (2, 4))
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != rep.size:
        got = x.shape[-1] if x.ndim else "a scalar"
        raise RepMismatchError(f"{what}: expected input width {rep.size} (rep_in = {rep!r}), got {got} (shape {tuple(x.shape)})")


def check_like(x: torch.Tensor, like: torch.Tensor, what: str) -> None:
    """Raise unless ``x`` has the dtype and device of ``like`` (a parameter of the layer).

    As ``torch.nn.Linear``, a layer does not cast its input: cast the input
    (``x.to(dtype)``) or the layer (``layer.to(dtype)``, ``layer.double()``).

    Raises:
        DtypeError: another dtype (float32 into float64, integers, bool, complex, ...).
        DeviceError: another device.

    Example:
        >>> import torch
        >>> check_like(torch.zeros(2, dtype=torch.float32), torch.zeros(1, dtype=torch.float64), "Linear")
        Traceback (most recent call last):
        ...
        constrainnet.errors.DtypeError: Linear: expected input of dtype torch.float64 (the layer's), got torch.float32; cast the input with x.to(torch.float64) or the layer with .to(torch.float32)
    """
    if x.dtype is not like.dtype:
        hint = f" or the layer with .to({x.dtype})" if x.is_floating_point() else ""
        raise DtypeError(f"{what}: expected input of dtype {like.dtype} (the layer's), got {x.dtype}; cast the input with x.to({like.dtype}){hint}")
    if x.device != like.device:
        _device_mismatch(x, like, what)


def check_device(x: torch.Tensor, like: torch.Tensor, what: str) -> None:
    """Raise :class:`DeviceError` unless ``x`` is on the device of ``like`` (a buffer of the layer).

    Example:
        >>> import torch
        >>> check_device(torch.zeros(2, device="meta"), torch.zeros(1), "GatedNonlinearity")
        Traceback (most recent call last):
        ...
        constrainnet.errors.DeviceError: GatedNonlinearity: expected input on device cpu (the layer's), got meta; move the input with x.to('cpu') or the layer with .to('meta')
    """
    if x.device != like.device:
        _device_mismatch(x, like, what)


def _device_mismatch(x: torch.Tensor, like: torch.Tensor, what: str) -> None:
    raise DeviceError(
        f"{what}: expected input on device {like.device} (the layer's), got {x.device}; "
        f"move the input with x.to({str(like.device)!r}) or the layer with .to({str(x.device)!r})"
    )


def check_floating(x: torch.Tensor, what: str) -> None:
    """Raise unless ``x`` has a real floating dtype (for layers without parameters, which take any of them).

    Raises:
        DtypeError: integers, bool or complex numbers.

    Example:
        >>> import torch
        >>> check_floating(torch.zeros(2, dtype=torch.int64), "GatedNonlinearity")
        Traceback (most recent call last):
        ...
        constrainnet.errors.DtypeError: GatedNonlinearity: expected input of a floating dtype, got torch.int64
    """
    if not x.is_floating_point():
        raise DtypeError(f"{what}: expected input of a floating dtype, got {x.dtype}")

"""Equivariance tolerances by dtype (the quality bars of the project)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["EQUIVARIANCE_RTOL", "tolerance"]

# Relative equivariance error allowed per dtype: float32 keeps ~7 digits and a
# few layers of accumulation lose one or two; float64 keeps ~16 and the bases
# are solved to ~1e-13, so 1e-10 leaves room for depth without hiding bugs.
EQUIVARIANCE_RTOL = {
    torch.float16: 1e-2,
    torch.bfloat16: 3e-2,
    torch.float32: 1e-5,
    torch.float64: 1e-10,
    np.dtype(np.float32): 1e-5,
    np.dtype(np.float64): 1e-10,
}


def tolerance(dtype: Any) -> float:
    """The relative equivariance tolerance for a torch or numpy dtype.

    Example:
        >>> import torch
        >>> tolerance(torch.float32)
        1e-05
    """
    if isinstance(dtype, torch.dtype):
        key: Any = dtype
    else:
        try:
            key = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"tolerance: expected a torch or numpy float dtype, got {dtype!r}") from exc
    if key not in EQUIVARIANCE_RTOL:
        raise TypeError(f"tolerance: expected one of {list(EQUIVARIANCE_RTOL)}, got {dtype!r}")
    return EQUIVARIANCE_RTOL[key]

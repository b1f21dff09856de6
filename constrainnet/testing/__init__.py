"""Tools to test equivariant code: error measures, gradient checks, tolerances and hypothesis strategies.

``constrainnet.testing.strategies`` imports hypothesis, so it is imported on
first use rather than with this package.
"""

import importlib
from typing import Any

from .equivariance import assert_equivariant, equivariance_error
from .gradients import assert_gradients
from .tolerances import EQUIVARIANCE_RTOL, tolerance

__all__ = ["assert_equivariant", "assert_gradients", "equivariance_error", "tolerance", "EQUIVARIANCE_RTOL"]


def __getattr__(name: str) -> Any:  # lazy: hypothesis is an optional dependency
    if name == "strategies":
        return importlib.import_module(f"{__name__}.strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

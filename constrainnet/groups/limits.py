"""Resource limits of groups: the largest defining dimension any group may have.

A group is refused *before* anything is built when it would exceed these
bounds, with a :class:`~constrainnet.errors.GroupError` saying what the bound is
and what was asked for, instead of running for minutes or exhausting memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GroupError

__all__ = [
    "MAX_DIMENSION",
    "MAX_ORTHOGONAL_N",
    "MAX_IMAGE_SIZE",
    "MAX_GENERATOR_ENTRIES",
    "check_dimension",
    "check_family_size",
]

#: Largest defining dimension d of any group (named family, custom group or
#: product). One group element is a dense (d, d) float64 matrix (``G.sample()``,
#: ``V.rho(g)``): 0.8 GB at d = 10⁴, and even the defining rep's ``V >> V``
#: then has 10⁸ coordinates, beyond the dense solver (8192) by far.
MAX_DIMENSION = 10_000

#: Largest n of ``SO(n)`` and ``O(n)``: so(n) has n(n-1)/2 generators of n×n,
#: n⁴/2 floats in all (67 MB at n = 64, 0.5 GB at n = 100), and every solve
#: applies each of them.
MAX_ORTHOGONAL_N = 64

#: Most entries in the dense generator stacks of a product group, (k + m)·d²
#: floats (k discrete generators that are not permutations, m Lie algebra
#: generators, each embedded as a d×d block matrix): 0.8 GB of float64, held
#: for the group's life and applied in every solve. O(64) × O(64) has 6.6·10⁷.
MAX_GENERATOR_ENTRIES = 100_000_000

#: Largest side n of ``P4M(n)``: the group acts on n² pixels, and n² is capped
#: by :data:`MAX_DIMENSION`.
MAX_IMAGE_SIZE = 100


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def check_family_size(n: Any, what: str, cap: int, why: str) -> int:
    """Validate the size argument n of a group family: an int with 1 ≤ n ≤ ``cap``.

    Args:
        n: the size given by the user.
        what: the call for error messages, e.g. ``"SO(n)"``.
        cap: the largest n allowed.
        why: what the cap protects, quoted in the error message.

    Returns:
        n as a Python int.

    Raises:
        GroupError: n is not an int, is below 1 or above ``cap``; raised
            before anything of size n is allocated.

    Example:
        >>> check_family_size(3, "SO(n)", MAX_ORTHOGONAL_N, "so(n) has n(n-1)/2 generators")
        3
    """
    if not _is_int(n) or n < 1:
        raise GroupError(f"{what}: expected an int >= 1, got {n!r}")
    if n > cap:
        raise GroupError(f"{what}: expected n ≤ {cap}, got {n} ({why})")
    return int(n)


def check_dimension(d: Any, what: str) -> int:
    """Validate a defining dimension: an int with 1 ≤ d ≤ :data:`MAX_DIMENSION`.

    Args:
        d: the dimension.
        what: the argument for error messages.

    Returns:
        d as a Python int.

    Raises:
        GroupError: d is not an int, is below 1 or above ``MAX_DIMENSION``.

    Example:
        >>> check_dimension(4, "Group(d)")
        4
    """
    if not _is_int(d) or d < 1:
        raise GroupError(f"{what}: expected an int d >= 1, got {d!r}")
    if d > MAX_DIMENSION:
        raise GroupError(
            f"{what}: expected a defining dimension d ≤ {MAX_DIMENSION}, got d = {d} "
            f"(one group element would be a dense {d}×{d} matrix)"
        )
    return int(d)

"""Resource limits of reps: the largest tensor order and size any rep may have.

Every way of building a rep (``**``, chains of ``*``, Homs, sums nested in
products) is checked against the same bounds when the rep is constructed,
before anything of its size is allocated, so that ``V*V*…*V`` cannot bypass
the bound that ``V**n`` has.
"""

from __future__ import annotations

from ..errors import RepError

__all__ = ["MAX_TENSOR_ORDER", "MAX_REP_SIZE", "check_rep_limits"]

#: Largest tensor order of a rep: the number of tensor factors (axes) of a
#: product, counted through Homs and through sums nested in products (a sum
#: counts as its largest component, and as one axis at least). ``rho_apply``
#: views a vector as one array axis per factor, and NumPy arrays have at most
#: 64 axes, half of which are left to the batch; V**32 of even a
#: 2-dimensional V has 4·10⁹ coordinates.
MAX_TENSOR_ORDER = 32

#: Largest size (number of coordinates) of a rep. One float64 vector of the
#: space is 16 GiB at 2³¹ coordinates, so no strategy can hold a basis of a
#: larger rep (the orbit strategy labels every coordinate, the iterative one
#: keeps several vectors); the bound also keeps sizes inside int64.
MAX_REP_SIZE = 2**31


def check_rep_limits(order: int, size: int, what: str) -> None:
    """Raise :class:`~constrainnet.errors.RepError` if a rep would exceed the limits.

    Args:
        order: the tensor order of the rep about to be built.
        size: its size, a Python int (exact, however large).
        what: the construction, for the message (e.g. ``"tensor product"``).

    Raises:
        RepError: ``order > MAX_TENSOR_ORDER`` or ``size > MAX_REP_SIZE``.

    Example:
        >>> check_rep_limits(3, 27, "tensor product")
        >>> check_rep_limits(40, 3**40, "tensor product")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        constrainnet.errors.RepError: tensor product: expected a tensor order of at most 32, got 40 ...
    """
    if order > MAX_TENSOR_ORDER:
        raise RepError(
            f"{what}: expected a tensor order of at most {MAX_TENSOR_ORDER}, got {order} "
            "(count of tensor factors, however the product is written)"
        )
    if size > MAX_REP_SIZE:
        raise RepError(
            f"{what}: expected a rep of size at most {MAX_REP_SIZE} (2**31), got size {_short(size)}, "
            f"whose one float64 vector alone would take {_bytes(8 * size)}"
        )


def _bytes(n: int) -> str:
    """A byte count for a message, in the largest binary unit below it (exact int in, never overflows)."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    if n >= 1024 ** len(units):
        return f"≥ 2**{n.bit_length() - 1} bytes"
    k = max(0, (n.bit_length() - 1) // 10)
    return f"{n / 1024**k:.3g} {units[k]}"


def _short(n: int) -> str:
    """An int for a message: in full when short, else as a power of two (str() of a huge int is slow)."""
    return str(n) if n < 10**16 else f"≥ 2**{n.bit_length() - 1}"

"""The one exception family of constrainnet.

Every error the library raises on purpose is a :class:`ConstrainnetError`.
The narrow subclasses also inherit the builtin exception they refine, so
``except ValueError`` keeps working for callers that do not know this module.
"""

from __future__ import annotations

__all__ = [
    "ConstrainnetError",
    "GroupError",
    "RepError",
    "RepMismatchError",
    "SolverError",
    "ParseError",
    "DtypeError",
    "DeviceError",
]


class ConstrainnetError(Exception):
    """Base class of every error raised by constrainnet."""


class GroupError(ConstrainnetError, ValueError):
    """A group was given invalid generators or asked something it cannot answer.

    Examples: non-square or non-invertible generators, ``elements()`` of a
    continuous group, a subgroup generator that does not lie in the parent.
    """


class RepError(ConstrainnetError, ValueError):
    """A representation was built or used with invalid arguments.

    Examples: a negative multiplicity, ``rho`` of a wrongly shaped element.
    """


class RepMismatchError(ConstrainnetError, ValueError):
    """Two things that must agree do not: reps of different groups, or a
    tensor whose width is not the size of the layer's input rep."""


class DtypeError(ConstrainnetError, TypeError):
    """A tensor or a ``dtype=`` argument of the wrong dtype: a float32 input
    to a float64 layer, integer or complex inputs, an integer ``dtype=``."""


class DeviceError(ConstrainnetError, ValueError):
    """A tensor on another device than the layer, or a ``device=`` argument
    that torch does not know or this machine does not have."""


class SolverError(ConstrainnetError, RuntimeError):
    """The solver could not certify an equivariant basis.

    The message carries the residual and the singular-value gap that made the
    rank undecidable, so the caller can tell a bad group from a hard case.
    """


class ParseError(ConstrainnetError, ValueError):
    """A group name or rep expression given as text could not be parsed.

    The message names the position in the text, what was expected and what
    was found, e.g. ``unknown group 'SO3x' at position 0 of 'SO3x'; expected one of SO(n), ...``.

    Attributes:
        text: the text that failed to parse (None when not known).
        position: the 0-based character offset of the problem in ``text`` (or None).
    """

    def __init__(self, message: str, text: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.position = position

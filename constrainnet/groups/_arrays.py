"""Array helpers shared by the group modules: validation, digests, permutations."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..errors import GroupError
from .limits import check_dimension

# Generators are compared for digests after rounding to this many decimals, so
# that the last bit of a cos/sin (which may differ between libm builds) never
# changes a cache key or a layer fingerprint.
DIGEST_DECIMALS = 12

# A generator is rejected as non-invertible when its smallest singular value is
# below this fraction of its largest: beyond ~1e12 the float64 inverse has no
# correct digits left.
INVERTIBLE_RTOL = 1e-12


def as_real_array(
    value: Any, what: str, error: type[Exception] = GroupError, expected: str = "a real numeric array"
) -> np.ndarray:
    """``value`` as a float64 array, refusing complex and non-finite entries.

    Groups are real matrix groups: casting a complex matrix to float64 would
    drop its imaginary part and silently give another group (or another
    element). An array of complex dtype is accepted only when every imaginary
    part is exactly zero, and then its real part is used.

    Args:
        value: anything ``numpy.asarray`` takes.
        what: the argument name for error messages.
        error: the exception class to raise (a ConstrainnetError subclass).
        expected: what a valid value is, for the message of a non-numeric one.

    Returns:
        A float64 array (not a copy when ``value`` already is one).

    Raises:
        error: a non-numeric or ragged value, a complex value with a non-zero
            imaginary part, or a NaN or infinite entry.

    Example:
        >>> as_real_array(np.array([[1.0 + 0j, 0j]]), "g")
        array([[1., 0.]])
        >>> as_real_array([[1j]], "g")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        constrainnet.errors.GroupError: g: expected real float matrices, got complex dtype complex128 ...
    """
    try:
        arr = np.asarray(value)
        if arr.dtype.kind != "c":
            arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"{what}: expected {expected}, got a ragged or non-numeric {type(value).__name__}") from exc
    if arr.dtype.kind == "c":
        if np.any(arr.imag != 0):
            raise error(
                f"{what}: expected real float matrices, got complex dtype {arr.dtype} with non-zero "
                "imaginary parts (complex groups are not supported: realify complex matrices with "
                "constrainnet.groups.realify, or use the realified U(n) and SU(n))"
            )
        arr = np.asarray(arr.real, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise error(f"{what}: expected finite entries, got NaN or inf")
    return arr


def as_generator_stack(value: Any, what: str, d: int | None) -> np.ndarray:
    """Validate ``value`` as a (k, d, d) float64 stack and return a read-only copy.

    Args:
        value: ``None``, a single (d, d) matrix or a (k, d, d) stack.
        what: the argument name for error messages.
        d: the expected matrix size, or ``None`` to take it from ``value``.

    Returns:
        A read-only float64 array of shape (k, d, d) (k may be 0).

    Raises:
        GroupError: on a wrong shape, a non-square or mismatched matrix, a
            non-finite entry or a complex one (see :func:`as_real_array`), or
            matrices larger than ``MAX_DIMENSION`` (checked first for arrays).
    """
    if value is None:
        if d is None:
            raise GroupError(f"{what}: expected a (k, d, d) array, got None and no dimension d")
        out = np.zeros((0, d, d))
    else:
        shape = getattr(value, "shape", ())
        if len(shape) >= 2:  # an array: its size is known before it is converted or copied
            check_dimension(shape[-1], what)
        out = as_real_array(value, what, expected="a numeric (k, d, d) array")
        if out.ndim == 2:
            out = out[None]
        if out.size == 0 and out.ndim != 3:
            if d is None:
                raise GroupError(f"{what}: expected a (k, d, d) array, got an empty array and no dimension d")
            out = np.zeros((0, d, d))
        if out.ndim != 3:
            raise GroupError(f"{what}: expected a (k, d, d) array, got shape {out.shape}")
        if out.shape[1] != out.shape[2]:
            raise GroupError(f"{what}: expected square (d, d) matrices, got shape {out.shape[1:]}")
        if d is not None and out.shape[1] != d:
            raise GroupError(
                f"{what}: expected matrices of size ({d}, {d}) to match the other generators, "
                f"got ({out.shape[1]}, {out.shape[2]})"
            )
    out = out + 0.0  # turns -0.0 into 0.0 and makes a fresh copy
    out.setflags(write=False)
    return out


def check_invertible(gens: np.ndarray, what: str) -> None:
    """Raise :class:`GroupError` if any matrix in ``gens`` is (numerically) singular."""
    for i, g in enumerate(gens):
        s = np.linalg.svd(g, compute_uv=False)
        if s[0] == 0 or s[-1] < INVERTIBLE_RTOL * s[0]:
            raise GroupError(
                f"{what}[{i}]: expected an invertible matrix, got one with singular values "
                f"from {s[0]:.3g} down to {s[-1]:.3g}"
            )


def permutations_of(gens: np.ndarray) -> np.ndarray | None:
    """Return the (k, d) permutations σ with ``gens[i] == I[σ_i]``, or None.

    A permutation matrix P = I[σ] acts as (P x)_j = x_{σ(j)}.
    """
    k, d, _ = gens.shape
    if k == 0:
        return None
    if not np.all((gens == 0) | (gens == 1)):
        return None
    if not (np.all(gens.sum(axis=1) == 1) and np.all(gens.sum(axis=2) == 1)):
        return None
    return np.argmax(gens, axis=2).astype(np.int64)


def permutation_matrices(perms: np.ndarray, d: int) -> np.ndarray:
    """The (k, d, d) permutation matrices I[σ] of a (k, d) stack of permutations."""
    eye = np.eye(d)
    out = np.stack([eye[p] for p in perms]) if len(perms) else np.zeros((0, d, d))
    out.setflags(write=False)
    return out


def digest_arrays(*parts: Any) -> int:
    """A process-independent 64-bit digest of ints, strings and float arrays."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype.kind == "f":
                part = np.round(part, DIGEST_DECIMALS) + 0.0
                h.update(b"f" + str(part.shape).encode() + np.ascontiguousarray(part, dtype="<f8").tobytes())
            else:
                h.update(b"i" + str(part.shape).encode() + np.ascontiguousarray(part, dtype="<i8").tobytes())
        else:
            h.update(b"s" + repr(part).encode())
        h.update(b"|")
    return int.from_bytes(h.digest()[:8], "little")


def as_rng(rng: Any) -> np.random.Generator:
    """Turn ``None``, an int seed or a ``numpy.random.Generator`` into a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng: expected None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")

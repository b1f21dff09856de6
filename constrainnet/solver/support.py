r"""Group-invariant supports: restricting an orbit basis to the orbits inside a set of coordinates.

For a permutation rep the equivariant vectors supported on a set S of
coordinates are spanned by the orbit indicators of the orbits inside S, and
only when S is a union of orbits is that the whole story: a set that cuts an
orbit is not invariant, and the maps supported on it would not be equivariant.
:func:`orbits_in_support` checks this and returns the orbits kept.

For the image rep V of ``P4M(n)`` a map W in Hom(V, V) is a circular
convolution, W[o, i] = K[i − o], so a support is a set of displacements; the
k×k window of displacements centred on the pixel (:func:`window_displacements`)
is invariant under the point group D4, so it is a union of orbits and gives a
local D4-symmetric convolution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_window", "orbits_in_support", "window_displacements", "window_mask"]


def check_window(n: int, k: Any) -> int:
    """Validate a window size k for an n×n image: an odd int with 1 ≤ k ≤ n.

    Raises:
        TypeError: ``k`` is not an int (bools are refused).
        ValueError: ``k`` is even, below 1 or above n.

    Example:
        >>> check_window(8, 5)
        5
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"support: expected an odd int window size k, got {type(k).__name__}")
    k = int(k)
    if k < 1 or k % 2 == 0 or k > n:
        raise ValueError(f"support: expected an odd window size k with 1 <= k <= {n} (the image side), got {k}")
    return k


def window_displacements(n: int, k: int) -> np.ndarray:
    r"""Flat displacements (δ_r mod n)·n + (δ_c mod n) of the k×k window :math:`|δ_r|, |δ_c| ≤ (k−1)/2`, row-major.

    Args:
        n: the image side.
        k: the window side (odd, at most n; see :func:`check_window`).

    Returns:
        (k, k) int64 array: entry (t_r, t_c) is the displacement δ = (t_r − h, t_c − h), h = (k−1)/2.

    Example:
        >>> window_displacements(5, 3).tolist()
        [[24, 20, 21], [4, 0, 1], [9, 5, 6]]
    """
    k = check_window(n, k)
    h = (k - 1) // 2
    d = (np.arange(k) - h) % n
    return d[:, None] * n + d[None, :]


def window_mask(n: int, k: int) -> np.ndarray:
    """The (n², n²) boolean mask over Hom(V, V) of ``P4M(n)``: W[o, i] allowed when i − o lies in the k×k window.

    Use it as ``Linear(..., support=mask)`` on a single image channel, or to
    build masks of larger reps; it is the same support as ``support=k``.

    Example:
        >>> int(window_mask(6, 3).sum(axis=1)[0])
        9
    """
    k = check_window(n, k)
    pixels = np.arange(n * n)
    r, c = np.divmod(pixels, n)
    disp = ((r[None, :] - r[:, None]) % n) * n + (c[None, :] - c[:, None]) % n
    allowed = np.zeros(n * n, dtype=bool)
    allowed[window_displacements(n, k).ravel()] = True
    return allowed[disp]


def orbits_in_support(labels: np.ndarray, mask: np.ndarray, what: str = "support") -> np.ndarray:
    """The orbits inside ``mask``, checked to be a union of whole orbits.

    Args:
        labels: (size,) orbit label of each coordinate (0 … r−1).
        mask: (size,) booleans: the coordinates in the support.
        what: how to name the support in errors.

    Returns:
        Sorted int64 ids of the orbits whose coordinates all lie in ``mask``.

    Raises:
        ValueError: ``mask`` has another length, or cuts an orbit (the message
            names the orbit, a coordinate inside the mask and one outside).

    Example:
        >>> import numpy as np
        >>> orbits_in_support(np.array([0, 1, 1, 0]), np.array([False, True, True, False])).tolist()
        [1]
    """
    labels = np.asarray(labels).reshape(-1)
    mask = np.asarray(mask, dtype=bool).reshape(-1)
    if mask.shape != labels.shape:
        raise ValueError(f"{what}: expected a mask of {labels.size} coordinates, got {mask.size}")
    r = int(labels.max()) + 1 if labels.size else 0
    inside = np.bincount(labels, weights=mask, minlength=r)
    sizes = np.bincount(labels, minlength=r)
    cut = np.flatnonzero((inside > 0) & (inside < sizes))
    if cut.size:
        orbit = int(cut[0])
        members = np.flatnonzero(labels == orbit)
        yes, no = members[mask[members]][0], members[~mask[members]][0]
        raise ValueError(
            f"{what}: expected a union of orbits, got a mask that cuts orbit {orbit} "
            f"({sizes[orbit]} coordinates): it holds coordinate {yes} but not {no}"
        )
    return np.flatnonzero(inside == sizes)

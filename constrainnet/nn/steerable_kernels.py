r"""Kernel bases of steerable convolutions, solved by the equivariant solver.

A convolution y(p) = Σ_δ K(δ) x(p + δ) between fields of types ρ_in and
ρ_out commutes with the point group G (acting as in
:mod:`constrainnet.nn.fields`) exactly when

.. math::
    K(L(g)\,\delta) = \rho_{out}(g)\, K(\delta)\, \rho_{in}(g)^{-1}
    \quad \text{for every } g \in G,

i.e. when K is an invariant vector of Hom(ρ_in, ρ_out) ⊗ P, P the
permutation rep of G on the kernel window's offsets. Two ways to span them:

- ``"grid"`` (exact): the solver's canonical basis of
  ``(rho_in >> rho_out) * cn.lattice_points(G, window)``, one basis element
  per free coefficient; G must map the grid onto itself. On the square grid
  its dimension is Σ over window orbits O of dim Hom_{G_δ}(ρ_in, ρ_out), G_δ
  the stabiliser of a point of O.
- ``"harmonic"`` (band-limited, as escnn's kernels): K(x) = Σ_rings
  :math:`\exp(-(|x| - r)^2 / 2\sigma^2)` A_r(φ) with A_r an invariant of Hom(ρ_in, ρ_out) ⊗
  (circular harmonics of frequency ≤ J_r), J_r = min(``max_frequency``, 2r),
  σ = 0.6, rings r = 0, 1, …, (k − 1)/2; solved by the same solver on the
  (2J + 1)-dimensional rep of G on the harmonics (exact for any rotation
  and mirror), then sampled at the window's points and orthonormalised by
  Gram–Schmidt in a fixed order. Smoother kernels, fewer parameters, and
  defined for groups that do not preserve the grid (C(8) on squares: exact
  on the grid's elements, approximate on the 45° ones).
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from ..errors import RepError
from ..groups import Group
from ..reps import Rep, lattice_points
from .fields import PlaneGrid

__all__ = ["CircleHarmonics", "kernel_basis", "check_kernel_arguments", "KERNEL_BASES", "RING_WIDTH"]

KERNEL_BASES = ("grid", "harmonic")
# σ of the Gaussian radial profile of each ring of a harmonic basis, in pixels.
RING_WIDTH = 0.6


class CircleHarmonics(Rep):
    r"""G ⊂ O(2) acting on functions on the circle of frequency ≤ J: (g·f)(φ) = f(g⁻¹φ).

    Coordinates are the coefficients of 1, cos φ, sin φ, …, cos Jφ, sin Jφ;
    a rotation by θ turns each (cos jφ, sin jφ) pair by jθ, a mirror flips
    signs, so ρ(g) is orthogonal. Computed from samples at 4J + 4 angles
    (exact: the space is closed under O(2)).
    """

    def __init__(self, G: Group, max_frequency: int) -> None:
        self._set(_G=G, _J=int(max_frequency))

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return 2 * self._J + 1

    def _rho(self, g: np.ndarray) -> np.ndarray:
        n = 4 * self._J + 4
        phi = 2 * math.pi * np.arange(n) / n
        pts = np.stack([np.cos(phi), np.sin(phi)], axis=1)
        moved = pts @ np.linalg.inv(g).T
        basis = circle_harmonics(np.arctan2(pts[:, 1], pts[:, 0]), self._J)
        target = circle_harmonics(np.arctan2(moved[:, 1], moved[:, 0]), self._J)
        m = np.linalg.lstsq(basis, target, rcond=None)[0]  # target = basis @ m: f(g⁻¹x) has coefficients m c
        return np.where(np.abs(m) < 1e-13, 0.0, m)

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return np.zeros((self.size, self.size))

    def _key(self) -> tuple:
        return ("CircleHarmonics", self._G, self._J)

    def _rebind(self, group: Group) -> Rep:
        return CircleHarmonics(group, self._J)

    is_permutation = False  # type: ignore[assignment]
    is_orthogonal = True  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CircleHarmonics(J={self._J})"


def circle_harmonics(phi: np.ndarray, J: int) -> np.ndarray:
    """(n, 2J + 1) values of 1, cos φ, sin φ, …, cos Jφ, sin Jφ at the angles φ."""
    cols = [np.ones_like(phi)]
    for j in range(1, J + 1):
        cols += [np.cos(j * phi), np.sin(j * phi)]
    return np.stack(cols, axis=1)


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_kernel_arguments(size: object, basis: object, max_frequency: object, what: str = "kernel_basis") -> tuple[int, int | None]:
    """Validate a kernel size, basis name and frequency cap; returns (size, max_frequency) as Python ints.

    Raises:
        ValueError: an even, non-positive or non-integer size (bools refused), an
            unknown basis, or a max_frequency that is not a non-negative int or None.
    """
    if not _is_int(size) or size < 1 or size % 2 == 0:
        raise ValueError(f"{what}: expected an odd kernel size ≥ 1, got {size!r}")
    if basis not in KERNEL_BASES:
        raise ValueError(f"{what}: expected basis in {KERNEL_BASES}, got {basis!r}")
    if max_frequency is not None and (not _is_int(max_frequency) or max_frequency < 0):
        raise ValueError(f"{what}: expected max_frequency a non-negative int or None, got {max_frequency!r}")
    return int(size), None if max_frequency is None else int(max_frequency)


def kernel_basis(
    rep_in: Rep, rep_out: Rep, grid: PlaneGrid, size: int, basis: str = "grid", max_frequency: int | None = None
) -> np.ndarray:
    r"""An orthonormal basis of the equivariant kernels between two fields, as (r, d_out, d_in, k, k).

    Args:
        rep_in, rep_out: the field types (reps of one finite group G ⊂ O(2)).
        grid: the pixel grid (:data:`~constrainnet.nn.fields.SQUARE_GRID` or ``HEX_GRID``).
        size: k, the odd kernel side.
        basis: ``"grid"`` or ``"harmonic"`` (see the module docstring).
        max_frequency: the harmonic basis' cap on angular frequency (None: 2r on ring r).

    Returns:
        A read-only float64 array; element t's kernel K_t[o, i, a, b] weights
        input channel i at offset (a − k//2, b − k//2) for output channel o.
        Orthonormal as flattened vectors. Cached per arguments.

    Raises:
        RepError: the reps belong to different groups, or (``"grid"``) G does
            not map the grid onto itself.
        ValueError: an even or non-positive size, an unknown basis.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import D
        >>> from constrainnet.nn.fields import SQUARE_GRID
        >>> s = cn.Scalar(D(4))
        >>> kernel_basis(s, s, SQUARE_GRID, 3).shape     # centre, edges, corners
        (3, 1, 1, 3, 3)
    """
    if rep_in.G != rep_out.G:
        raise RepError(f"kernel_basis: the fields are reps of {rep_in.G!r} and {rep_out.G!r}, expected one group")
    size, max_frequency = check_kernel_arguments(size, basis, max_frequency)
    return _kernel_basis(rep_in, rep_out, grid, size, basis, max_frequency)


@functools.lru_cache(maxsize=256)
def _kernel_basis(rep_in: Rep, rep_out: Rep, grid: PlaneGrid, size: int, basis: str, max_frequency: int | None) -> np.ndarray:
    G = rep_in.G
    window = grid.window(size)
    if basis == "grid":
        if not grid.preserves(G):
            raise RepError(
                f"kernel_basis: {G!r} does not map the {grid} grid onto itself; "
                "use basis='harmonic' (or the grid it preserves)"
            )
        W = lattice_points(G, window, grid.basis)
        q = np.asarray(((rep_in >> rep_out) * W).equivariant_basis())
        q = q.reshape(rep_out.size, rep_in.size, len(window), -1)
        values = np.moveaxis(q, 3, 0)  # (r, d_out, d_in, n)
    else:
        values = _harmonic_values(rep_in, rep_out, grid, window, size, max_frequency)
    out = np.zeros(values.shape[:3] + (size, size))
    c = size // 2
    out[:, :, :, window[:, 0] + c, window[:, 1] + c] = values
    out.setflags(write=False)
    return out


def _harmonic_values(
    rep_in: Rep, rep_out: Rep, grid: PlaneGrid, window: np.ndarray, size: int, max_frequency: int | None
) -> np.ndarray:
    """(r, d_out, d_in, n) sampled harmonic kernels, orthonormalised."""
    G = rep_in.G
    pos = grid.positions(window)
    radius = np.hypot(pos[:, 0], pos[:, 1])
    phi = np.arctan2(pos[:, 1], pos[:, 0])
    elements = []
    for ring in range(size // 2 + 1):
        J = 2 * ring if max_frequency is None else min(max_frequency, 2 * ring)
        A = ((rep_in >> rep_out) * CircleHarmonics(G, J)).equivariant_basis()
        a = np.asarray(A).reshape(rep_out.size, rep_in.size, 2 * J + 1, -1)
        harm = circle_harmonics(phi, J)
        harm[radius < 1e-12, 1:] = 0.0  # frequencies ≥ 1 vanish at the centre
        profile = np.exp(-((radius - ring) ** 2) / (2 * RING_WIDTH**2))
        sampled = np.einsum("oijr,nj,n->roin", a, harm, profile)
        elements.extend(sampled)
    d_out, d_in, n = rep_out.size, rep_in.size, len(window)
    return _gram_schmidt(np.array(elements).reshape(-1, d_out * d_in * n)).reshape(-1, d_out, d_in, n)


def _gram_schmidt(rows: np.ndarray, rtol: float = 1e-6) -> np.ndarray:
    """Orthonormalise rows in order (twice, for stability), dropping those within rtol of the span of earlier ones."""
    kept: list[np.ndarray] = []
    for v in rows:
        norm0 = np.linalg.norm(v)
        if norm0 == 0:
            continue
        w = v.copy()
        for _ in range(2):
            for u in kept:
                w -= (u @ w) * u
        norm = np.linalg.norm(w)
        if norm > rtol * norm0:
            kept.append(w / norm)
    return np.array(kept).reshape(len(kept), rows.shape[1])

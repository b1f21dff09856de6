"""The classical matrix groups GL(n), SL(n), Sp(n), U(n) and SU(n), from their Lie algebras.

GL, SL and Sp are not compact: their defining reps are not orthogonal, so
the solver uses their Lie algebra constraints as they are (as for the
Lorentz group) and layers treat V and its dual V* as different reps.

U(n) and SU(n) act on Cⁿ *realified* as R²ⁿ: z = x + i y is laid out as
(x₁, …, x_n, y₁, …, y_n), and a complex matrix M = A + iB acts as the real
block matrix [[A, -B], [B, A]] (:func:`realify`). Their realified defining
reps are orthogonal.

No Haar probability measure exists on a non-compact group; ``sample`` draws
k₁ exp(P) k₂ with k₁, k₂ Haar-random in the maximal compact subgroup (O(n),
SO(n) or U(n)) and P a random symmetric element of the Lie algebra with
spectral radius about 1, which reaches every element and keeps tensor reps
well conditioned.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

from ._arrays import INVERTIBLE_RTOL
from .base import MEMBERSHIP_ATOL, Group, as_element
from .limits import MAX_ORTHOGONAL_N, check_family_size

__all__ = ["GL", "SL", "Sp", "U", "SU", "realify", "symplectic_form"]

_WHY = "the Lie algebra has about d² generators of d×d, d⁴ floats in all"
_HALF = MAX_ORTHOGONAL_N // 2


def realify(m: Any) -> np.ndarray:
    """The real 2n×2n matrix [[A, -B], [B, A]] of a complex n×n matrix M = A + iB.

    With z = x + i y laid out as (x, y), ``realify(M) @ (x, y)`` is the layout
    of M z. Stacks (…, n, n) are realified matrix by matrix.

    Args:
        m: a complex (or real) array of shape (…, n, n).

    Returns:
        A float64 array of shape (…, 2n, 2n).

    Example:
        >>> import numpy as np
        >>> realify(np.array([[1j]])).tolist()
        [[0.0, -1.0], [1.0, 0.0]]
    """
    m = np.asarray(m, dtype=complex)
    a, b = m.real, m.imag
    return np.concatenate([np.concatenate([a, -b], -1), np.concatenate([b, a], -1)], -2) + 0.0


def symplectic_form(n: int) -> np.ndarray:
    """J = [[0, I_n], [-I_n, 0]], the form preserved by :class:`Sp` (gᵀ J g = J).

    Example:
        >>> symplectic_form(1).tolist()
        [[0.0, 1.0], [-1.0, 0.0]]
    """
    eye = np.eye(n)
    return np.block([[np.zeros((n, n)), eye], [-eye, np.zeros((n, n))]])


def _unit(n: int, i: int, j: int) -> np.ndarray:
    e = np.zeros((n, n))
    e[i, j] = 1.0
    return e


def _symmetric_units(n: int) -> list[np.ndarray]:
    """E_ii and E_ij + E_ji (i < j), lexicographic."""
    return [_unit(n, i, j) + (_unit(n, j, i) if i != j else 0.0) for i in range(n) for j in range(i, n)]


def _haar_orthogonal(n: int, rng: np.random.Generator, special: bool = False, complex_: bool = False) -> np.ndarray:
    """A Haar-random element of O(n), SO(n) (``special``) or U(n) (``complex_``), by QR with the sign fix."""
    z = rng.standard_normal((n, n))
    if complex_:
        z = z + 1j * rng.standard_normal((n, n))
    q, r = np.linalg.qr(z)
    d = np.diagonal(r)
    q = q * (d / np.abs(d))
    if special and np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _random_symmetric(n: int, rng: np.random.Generator) -> np.ndarray:
    """A symmetric matrix with Gaussian entries and spectral radius about 1."""
    x = rng.standard_normal((n, n)) * (0.5 / math.sqrt(n))
    return (x + x.T) / math.sqrt(2.0)


class GL(Group):
    """The general linear group GL(n, R) of all invertible n×n matrices, acting on Rⁿ.

    Lie algebra: the n² matrix units E_ij (row-major); discrete generator the
    reflection diag(-1, 1, …, 1), so both components (det > 0 and det < 0)
    are included. (EMLP's ``GL(n)`` has the Lie algebra only: its identity
    component.) Not compact: V and V* differ, and the one invariant of V ⊗ V*
    is the identity.

    Args:
        n: 1 ≤ n ≤ :data:`~constrainnet.groups.limits.MAX_ORTHOGONAL_N`.

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import GL
        >>> V = cn.V(GL(3))
        >>> (V * V.T).equivariant_basis().dim, (V * V).equivariant_basis().dim
        (1, 0)
    """

    def __init__(self, n: int) -> None:
        n = check_family_size(n, "GL(n)", MAX_ORTHOGONAL_N, _WHY)
        reflection = np.eye(n)
        reflection[0, 0] = -1.0
        lie = [_unit(n, i, j) for i in range(n) for j in range(n)]
        super().__init__(discrete_generators=[reflection], lie_algebra=lie, name=f"GL({n})")
        self._n = n

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        n = self._n
        p = _random_symmetric(n, rng)
        return _haar_orthogonal(n, rng) @ scipy.linalg.expm(p) @ _haar_orthogonal(n, rng)

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        if g.shape != (self._n, self._n):
            return False
        s = np.linalg.svd(g, compute_uv=False)
        return bool(s[0] > 0 and s[-1] >= INVERTIBLE_RTOL * s[0])  # the cut-off Group uses for generators


class SL(Group):
    """The special linear group SL(n, R) of n×n matrices of determinant 1, acting on Rⁿ.

    Lie algebra: the traceless matrices, basis E_ij (i ≠ j, row-major) then
    E_ii - E_nn (i < n). Connected and not compact; its invariants in V^{⊗n}
    are the multiples of the Levi-Civita symbol (the determinant).

    Args:
        n: 1 ≤ n ≤ :data:`~constrainnet.groups.limits.MAX_ORTHOGONAL_N` (SL(1) is trivial).

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SL
        >>> (cn.V(SL(3)) ** 3).equivariant_basis().dim
        1
    """

    def __init__(self, n: int) -> None:
        n = check_family_size(n, "SL(n)", MAX_ORTHOGONAL_N, _WHY)
        lie = [_unit(n, i, j) for i in range(n) for j in range(n) if i != j]
        lie += [_unit(n, i, i) - _unit(n, n - 1, n - 1) for i in range(n - 1)]
        super().__init__(lie_algebra=np.array(lie).reshape(-1, n, n), name=f"SL({n})", d=n)
        self._n = n

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        n = self._n
        p = _random_symmetric(n, rng)
        p -= np.eye(n) * (np.trace(p) / n)
        return _haar_orthogonal(n, rng, special=True) @ scipy.linalg.expm(p) @ _haar_orthogonal(n, rng, special=True)

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        if g.shape != (self._n, self._n):
            return False
        scale = max(1.0, float(np.abs(g).max()) ** self._n)
        return bool(abs(np.linalg.det(g) - 1.0) <= atol * scale)


class Sp(Group):
    r"""The symplectic group Sp(2n, R) acting on R²ⁿ: all g with gᵀ J g = J, J = [[0, I], [-I, 0]].

    Named ``Sp(n)`` by the half-dimension n, as in EMLP (others write
    Sp(2n)). Coordinates are (q₁, …, q_n, p₁, …, p_n). Lie algebra: the
    Hamiltonian matrices [[a, b], [c, -aᵀ]] with b, c symmetric, basis a = E_ij
    (n²), then b, then c running over E_ii and E_ij + E_ji (i < j); n(2n+1)
    generators. Connected, not compact; the one invariant of V ⊗ V is J
    (:func:`symplectic_form`), antisymmetric.

    Args:
        n: 1 ≤ n ≤ MAX_ORTHOGONAL_N // 2 (the defining dimension is 2n).

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import Sp, symplectic_form
        >>> g = Sp(2).sample(rng=0)
        >>> bool(np.allclose(g.T @ symplectic_form(2) @ g, symplectic_form(2)))
        True
        >>> (cn.V(Sp(2)) ** 2).equivariant_basis().dim
        1
    """

    def __init__(self, n: int) -> None:
        n = check_family_size(n, "Sp(n)", _HALF, _WHY)
        zero = np.zeros((n, n))
        lie = [np.block([[_unit(n, i, j), zero], [zero, -_unit(n, j, i)]]) for i in range(n) for j in range(n)]
        lie += [np.block([[zero, s], [zero, zero]]) for s in _symmetric_units(n)]
        lie += [np.block([[zero, zero], [s, zero]]) for s in _symmetric_units(n)]
        super().__init__(lie_algebra=lie, name=f"Sp({n})")
        self._n = n

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        n = self._n
        a, b = _random_symmetric(n, rng), _random_symmetric(n, rng)
        p = np.block([[a, b], [b, -a]]) / math.sqrt(2.0)  # symmetric and Hamiltonian
        k1, k2 = (realify(_haar_orthogonal(n, rng, complex_=True)) for _ in range(2))
        return k1 @ scipy.linalg.expm(p) @ k2

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        if g.shape != (2 * self._n, 2 * self._n):
            return False
        j = symplectic_form(self._n)
        scale = max(1.0, float(np.abs(g).max()) ** 2)
        return bool(np.allclose(g.T @ j @ g, j, atol=atol * scale))


class U(Group):
    r"""The unitary group U(n) acting on Cⁿ realified as R²ⁿ (see :func:`realify`).

    Convention: z = x + i y ∈ Cⁿ is the real vector (x₁, …, x_n, y₁, …, y_n)
    and a unitary M = A + iB acts as [[A, -B], [B, A]]. Lie algebra: the
    realified anti-Hermitian matrices, basis E_ij - E_ji and i(E_ij + E_ji)
    for i < j, then i E_ii; n² generators. The realified V is orthogonal.
    Its invariant bilinear forms (invariants of V ⊗ V) are the two parts of
    the Hermitian form ⟨z, w⟩ = Σ z̄_k w_k: the real part (the identity, symmetric)
    and the imaginary part (J = realify(i I), antisymmetric).

    Complex generators are refused by :class:`~constrainnet.groups.Group`; use
    this realified group, or realify a complex group's generators yourself.

    Args:
        n: 1 ≤ n ≤ MAX_ORTHOGONAL_N // 2 (the defining dimension is 2n).

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import U
        >>> G = U(2)
        >>> G.d, len(G.lie_algebra), (cn.V(G) ** 2).equivariant_basis().dim
        (4, 4, 2)
    """

    _special = False

    def __init__(self, n: int) -> None:
        what = "SU(n)" if self._special else "U(n)"
        n = check_family_size(n, what, _HALF, _WHY)
        lie = []
        for i in range(n):
            for j in range(i + 1, n):
                lie.append(_unit(n, i, j) - _unit(n, j, i))
                lie.append(1j * (_unit(n, i, j) + _unit(n, j, i)))
        if self._special:
            lie += [1j * (_unit(n, i, i) - _unit(n, n - 1, n - 1)) for i in range(n - 1)]
        else:
            lie += [1j * _unit(n, i, i) for i in range(n)]
        stack = realify(np.array(lie).reshape(-1, n, n))
        super().__init__(lie_algebra=stack, name=f"{what[:-3]}({n})", d=2 * n)
        self._n = n

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        u = _haar_orthogonal(self._n, rng, complex_=True)
        if self._special:
            u = u / np.linalg.det(u) ** (1.0 / self._n)
        return realify(u)

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        n = self._n
        if g.shape != (2 * n, 2 * n):
            return False
        m = g[:n, :n] + 1j * g[n:, :n]
        if not np.allclose(g, realify(m), atol=atol) or not np.allclose(m.conj().T @ m, np.eye(n), atol=atol):
            return False
        return not self._special or bool(abs(np.linalg.det(m) - 1.0) <= atol)


class SU(U):
    r"""The special unitary group SU(n) acting on Cⁿ realified as R²ⁿ (the convention of :class:`U`).

    Lie algebra: the realified traceless anti-Hermitian matrices, basis
    E_ij - E_ji and i(E_ij + E_ji) for i < j, then i(E_ii - E_nn) for i < n;
    n² - 1 generators. SU(1) is trivial. Invariants of V ⊗ V: 2 (the
    Hermitian form's real and imaginary parts) for n ≥ 3, 4 for SU(2) (the
    unit quaternions, whose commutant on R⁴ is the quaternions).

    Args:
        n: 1 ≤ n ≤ MAX_ORTHOGONAL_N // 2 (the defining dimension is 2n).

    Raises:
        GroupError: n is not an int in that range (checked before anything is built).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SU
        >>> [(cn.V(SU(n)) ** 2).equivariant_basis().dim for n in (2, 3)]
        [4, 2]
    """

    _special = True

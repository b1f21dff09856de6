"""The :class:`Rep` base class: an immutable representation of a group, with its algebra."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse

from ..errors import RepError, RepMismatchError
from ..groups import Group, Subgroup
from ..groups._arrays import as_real_array, digest_arrays
from .limits import MAX_TENSOR_ORDER, check_rep_limits

if TYPE_CHECKING:  # pragma: no cover
    from ..solver.basis import Basis, Projector
    from ..solver.decompose import Decomposition

__all__ = ["Rep"]


class Rep:
    r"""A finite-dimensional representation ρ of a group G, as an immutable value.

    Reps are built from the defining rep ``V(G)`` with an algebra: ``a + b``
    (direct sum), ``n * a`` (multiplicity), ``a * b`` and ``a ** n`` (tensor
    products), ``a.T`` (dual, ρ*(g) = ρ(g)⁻ᵀ) and ``a >> b`` (linear maps
    a → b, acting on row-major flattened (b.size, a.size) matrices). Two reps
    built the same way are equal and hash the same, so the solver caches by rep.

    Subclasses implement :meth:`rho`, :meth:`drho`, :attr:`size` and ``_key``.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> rep = 5 * V**0 + 5 * V
        >>> rep.size, (rep >> V).size
        (20, 60)
        >>> V**2 + V == V**2 + V
        True
    """

    __slots__ = ("_hash",)

    # -- to be provided by subclasses ----------------------------------------
    @property
    def G(self) -> Group:
        """The group this rep is a rep of."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def size(self) -> int:
        """The dimension of the representation space."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def tensor_order(self) -> int:
        """The number of tensor factors (axes) of the rep: 0 for scalars, 1 for atoms.

        A product adds its factors' orders, a Hom those of its input and
        output, and a sum takes the largest of its components (1 at least).
        Bounded by :data:`~constrainnet.reps.limits.MAX_TENSOR_ORDER`.
        """
        return 1

    def _rho(self, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _drho(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - abstract

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return x @ self._rho(g).T

    def _rho_sparse(self, g: np.ndarray) -> scipy.sparse.csr_matrix:
        return scipy.sparse.csr_matrix(self._rho(g))

    def _drho_sparse(self, a: np.ndarray) -> scipy.sparse.csr_matrix:
        return scipy.sparse.csr_matrix(self._drho(a))

    def _drho_apply(self, a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return x @ self._drho(a).T

    def _key(self) -> tuple:
        raise NotImplementedError  # pragma: no cover - abstract

    def _rebind(self, group: Group) -> "Rep":
        """The same construction over ``group`` (which shares G's defining space)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def is_permutation(self) -> bool:
        """True when every ρ(g) is a permutation matrix (and dρ = 0)."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def is_orthogonal(self) -> bool:
        """True when every ρ(g) is orthogonal, so the dual equals the rep."""
        raise NotImplementedError  # pragma: no cover - abstract

    # -- evaluation ----------------------------------------------------------
    def rho(self, g: Any) -> np.ndarray:
        """The (size, size) matrix ρ(g) of a group element g.

        Args:
            g: a (d, d) element of ``G`` in its defining rep.

        Raises:
            RepError: if g is not a (d, d) array, is complex (an array of
                complex dtype is taken only when its imaginary part is exactly
                zero) or has a NaN or infinite entry.
        """
        return self._rho(self._check_element(g, "rho"))

    def drho(self, a: Any) -> np.ndarray:
        """The (size, size) matrix dρ(A) of a Lie algebra element A (d, d)."""
        return self._drho(self._check_element(a, "drho"))

    def rho_sparse(self, g: Any) -> scipy.sparse.csr_matrix:
        """ρ(g) as a scipy.sparse CSR matrix, built from the structure (Kronecker products stay sparse)."""
        return self._rho_sparse(self._check_element(g, "rho_sparse"))

    def drho_sparse(self, a: Any) -> scipy.sparse.csr_matrix:
        """dρ(A) as a scipy.sparse CSR matrix, built from the structure (Kronecker sums stay sparse)."""
        return self._drho_sparse(self._check_element(a, "drho_sparse"))

    def rho_apply(self, g: Any, x: Any) -> np.ndarray:
        """ρ(g) applied to the last axis of x, without forming ρ(g) for structured reps.

        Shape:
            x: (..., size) -> (..., size)
        """
        return self._rho_apply(self._check_element(g, "rho_apply"), self._check_vector(x))

    def drho_apply(self, a: Any, x: Any) -> np.ndarray:
        """dρ(A) applied to the last axis of x, without forming dρ(A) for structured reps.

        Shape:
            x: (..., size) -> (..., size)
        """
        return self._drho_apply(self._check_element(a, "drho_apply"), self._check_vector(x))

    def _check_element(self, g: Any, what: str) -> np.ndarray:
        # Real and finite (a complex g would lose its imaginary part in a cast,
        # a NaN would come back as a NaN matrix): d² checks, cheap next to ρ(g).
        g = as_real_array(g, what, RepError, expected="a (d, d) element of the group")
        d = self.G.d
        if g.shape != (d, d):
            raise RepError(f"{what}: expected a ({d}, {d}) element of {self.G!r}, got shape {g.shape}")
        return g

    def _check_vector(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind == "c":
            if np.any(x.imag != 0):
                raise RepError(f"expected a real array, got complex dtype {x.dtype} with non-zero imaginary parts")
            x = x.real
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != self.size:
            raise RepMismatchError(f"expected an array whose last axis has size {self.size}, got shape {x.shape}")
        return x

    # -- algebra -------------------------------------------------------------
    def __add__(self, other: object) -> "Rep":
        from .composite import direct_sum

        if isinstance(other, (int, np.integer)) and not isinstance(other, bool) and other == 0:
            return self
        if not isinstance(other, Rep):
            return NotImplemented
        return direct_sum(self, other)

    def __radd__(self, other: object) -> "Rep":
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool) and other == 0:
            return self  # so that sum(reps) works
        return NotImplemented

    def __mul__(self, other: object) -> "Rep":
        from .composite import repeat, tensor

        if isinstance(other, Rep):
            return tensor(self, other)
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return repeat(self, int(other))
        if isinstance(other, (float, bool)):
            raise RepError(f"multiplicity: expected a positive int, got {other!r}")
        return NotImplemented

    def __rmul__(self, other: object) -> "Rep":
        from .composite import repeat

        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return repeat(self, int(other))
        if isinstance(other, (float, bool)):
            raise RepError(f"multiplicity: expected a positive int, got {other!r}")
        return NotImplemented

    def __pow__(self, n: object) -> "Rep":
        from .atoms import Scalar
        from .composite import tensor

        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise RepError(f"tensor power: expected a non-negative int, got {n!r}")
        if n == 0 or self.tensor_order == 0:
            return Scalar(self.G)
        if n > MAX_TENSOR_ORDER:  # before the list of n factors is built
            check_rep_limits(int(n) * self.tensor_order, 0, "tensor power")
        return tensor(*([self] * int(n)))

    def __rshift__(self, other: object) -> "Rep":
        from .composite import hom

        if not isinstance(other, Rep):
            return NotImplemented
        return hom(self, other)

    @property
    def T(self) -> "Rep":
        """The dual rep: ρ*(g) = ρ(g)⁻ᵀ, dρ*(A) = -dρ(A)ᵀ (the rep itself when orthogonal)."""
        from .composite import dual

        return dual(self)

    def restrict(self, H: Group) -> "Rep":
        """The same rep seen as a rep of the subgroup H of ``G``.

        Raises:
            RepMismatchError: if H is not ``G`` or a :class:`~constrainnet.groups.Subgroup` of it.
        """
        if not isinstance(H, Group):
            raise TypeError(f"restrict: expected a Group, got {type(H).__name__}")
        if H == self.G:
            return self
        if not (isinstance(H, Subgroup) and H.is_subgroup_of(self.G)):
            raise RepMismatchError(f"restrict: expected a Subgroup of {self.G!r}, got {H!r}")
        return self._rebind(H)

    # -- the solver ----------------------------------------------------------
    def equivariant_basis(self, strategy: str | None = None) -> "Basis":
        """An orthonormal basis Q of the equivariant (invariant) subspace of this rep.

        The subspace is {w : ρ(h) w = w for each discrete generator h, dρ(A) w = 0
        for each Lie algebra generator A}. ``np.asarray(Q)`` is (size, r).
        ``strategy`` forces a solver strategy (default: chosen from the structure).
        See :func:`constrainnet.solver.equivariant_basis`.
        """
        from ..solver import equivariant_basis

        return equivariant_basis(self, strategy)

    def equivariant_projector(self, strategy: str | None = None) -> "Projector":
        """The orthogonal projector P = Q Qᵀ onto the equivariant subspace (applied lazily).

        See :func:`constrainnet.solver.equivariant_projector`.
        """
        from ..solver import equivariant_projector

        return equivariant_projector(self, strategy)

    def decompose(self) -> "Decomposition":
        """The certified isotypic decomposition: Uᵀ ρ(g) U = ⊕ₖ I_{mₖ} ⊗ πₖ(g), U orthogonal.

        ``D.components`` lists the irreducible types (``.irrep``, ``.dim``,
        ``.multiplicity``, ``.commutant``) in column order; ``D.change_of_basis``
        is U, held per leaf. See :func:`constrainnet.solver.decompose`.
        """
        from ..solver import decompose

        return decompose(self)

    # -- values --------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rep):
            return NotImplemented
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            object.__setattr__(self, "_hash", hash(self._key()))
            return self._hash

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __copy__(self) -> "Rep":
        return self  # immutable values: a copy is the value itself

    def __deepcopy__(self, memo: dict) -> "Rep":
        return self

    def __getstate__(self) -> dict:
        # The cached hash is left out: hashes of strings differ between processes.
        return dict(self.__dict__)

    def __setstate__(self, state: dict) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)

    def _set(self, **fields: Any) -> None:
        for k, v in fields.items():
            object.__setattr__(self, k, v)

    @property
    def digest(self) -> int:
        """A process- and machine-independent 64-bit digest of the rep and its group."""
        return digest_arrays(*_flatten_key(self._key()))

    def __str__(self) -> str:
        return repr(self)


def _flatten_key(key: Any) -> list:
    out: list = []
    if isinstance(key, tuple):
        out.append("(")
        for k in key:
            out.extend(_flatten_key(k))
        out.append(")")
    elif isinstance(key, Group):
        out.append(key.digest)
    else:
        out.append(key)
    return out

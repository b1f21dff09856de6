"""Composite reps: direct sums, tensor products, linear maps (Hom) and duals."""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
import scipy.linalg
import scipy.sparse

from ..errors import RepError, RepMismatchError
from ..groups import Group
from .atoms import ScalarRep
from .base import Rep
from .limits import check_rep_limits

__all__ = ["SumRep", "TensorRep", "HomRep", "DualRep", "direct_sum", "repeat", "tensor", "hom", "dual"]


def _common_group(reps: Sequence[Rep], op: str) -> Group:
    G = reps[0].G
    for r in reps[1:]:
        if r.G != G:
            raise RepMismatchError(f"{op}: expected reps of one group, got a rep of {G!r} and a rep of {r.G!r}")
    return G


def _wrap(rep: Rep) -> str:
    """repr of a rep as an operand of ``*``, ``**`` or ``>>``: sums and Homs in parentheses."""
    return f"({rep!r})" if isinstance(rep, (SumRep, HomRep)) else repr(rep)


def _is_power(rep: Rep) -> bool:
    """True for a tensor power f**k of one factor, whose repr binds tighter than ``*``."""
    return isinstance(rep, TensorRep) and all(f == rep.factors[0] for f in rep.factors) and not isinstance(rep.factors[0], (SumRep, HomRep))


class SumRep(Rep):
    """A direct sum ⊕ m_i · r_i, with components in the order they were added.

    Coordinates are the concatenation of the copies: ``components`` lists
    (rep, multiplicity) pairs; adjacent equal reps are merged.
    """

    def __init__(self, components: Sequence[tuple[Rep, int]]) -> None:
        merged: list[tuple[Rep, int]] = []
        for rep, mult in components:
            if merged and merged[-1][0] == rep:
                merged[-1] = (rep, merged[-1][1] + mult)
            else:
                merged.append((rep, mult))
        G = _common_group([r for r, _ in merged], "direct sum")
        order = max([1] + [r.tensor_order for r, _ in merged])
        check_rep_limits(order, sum(r.size * int(m) for r, m in merged), "direct sum")
        offsets = np.cumsum([0] + [r.size * m for r, m in merged])
        self._set(_components=tuple(merged), _G=G, _offsets=tuple(int(o) for o in offsets), _order=order)

    @property
    def components(self) -> tuple[tuple[Rep, int], ...]:
        """The (rep, multiplicity) pairs, in coordinate order."""
        return self._components

    @property
    def offsets(self) -> tuple[int, ...]:
        """Start coordinate of each component (and the total size last)."""
        return self._offsets

    @property
    def G(self) -> Group:
        return self._G

    @property
    def size(self) -> int:
        return self._offsets[-1]

    @property
    def tensor_order(self) -> int:
        return self._order

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return scipy.linalg.block_diag(*(r._rho(g) for r, m in self._components for _ in range(m)))

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return scipy.linalg.block_diag(*(r._drho(a) for r, m in self._components for _ in range(m)))

    def _rho_sparse(self, g: np.ndarray) -> scipy.sparse.csr_matrix:
        return scipy.sparse.block_diag([r._rho_sparse(g) for r, m in self._components for _ in range(m)], format="csr")

    def _drho_sparse(self, a: np.ndarray) -> scipy.sparse.csr_matrix:
        return scipy.sparse.block_diag([r._drho_sparse(a) for r, m in self._components for _ in range(m)], format="csr")

    def _apply(self, fn: str, m: np.ndarray, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for (rep, mult), start, stop in zip(self._components, self._offsets, self._offsets[1:]):
            part = x[..., start:stop].reshape(x.shape[:-1] + (mult, rep.size))
            out[..., start:stop] = getattr(rep, fn)(m, part).reshape(x.shape[:-1] + (stop - start,))
        return out

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._apply("_rho_apply", g, x)

    def _drho_apply(self, a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._apply("_drho_apply", a, x)

    def _key(self) -> tuple:
        return ("Sum",) + tuple((r._key(), m) for r, m in self._components)

    def _rebind(self, group: Group) -> Rep:
        return SumRep([(r._rebind(group), m) for r, m in self._components])

    @property
    def is_permutation(self) -> bool:
        return all(r.is_permutation for r, _ in self._components)

    @property
    def is_orthogonal(self) -> bool:
        return all(r.is_orthogonal for r, _ in self._components)

    def __repr__(self) -> str:
        parts = []
        for r, m in self._components:
            if isinstance(r, HomRep) or (m > 1 and isinstance(r, (SumRep, TensorRep)) and not _is_power(r)):
                text = f"({r!r})"
            else:
                text = repr(r)
            parts.append(f"{m}*{text}" if m > 1 else text)
        return " + ".join(parts)


class _KronRep(Rep):
    """Shared evaluation of reps whose space is a Kronecker product of factors."""

    @property
    def tensor_factors(self) -> tuple[Rep, ...]:
        """The reps whose Kronecker product (row-major) is this rep's space."""
        raise NotImplementedError  # pragma: no cover - abstract

    @property
    def size(self) -> int:
        return self._size

    @property
    def tensor_order(self) -> int:
        return self._order

    def _checked(self, factors: Sequence[Rep], what: str) -> dict:
        """The order and size of a product of ``factors``, checked against the limits before it is built."""
        order = sum(f.tensor_order for f in factors)
        size = math.prod(f.size for f in factors)  # exact Python ints: np.prod would wrap around
        check_rep_limits(order, size, what)
        return {"_order": order, "_size": size}

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return functools.reduce(np.kron, [f._rho(g) for f in self.tensor_factors])

    def _drho(self, a: np.ndarray) -> np.ndarray:
        factors = self.tensor_factors
        mats = [f._drho(a) for f in factors]
        eyes = [np.eye(f.size) for f in factors]
        total = np.zeros((self.size, self.size))
        for i, m in enumerate(mats):
            total += functools.reduce(np.kron, eyes[:i] + [m] + eyes[i + 1 :])
        return total

    def _rho_sparse(self, g: np.ndarray) -> scipy.sparse.csr_matrix:
        return functools.reduce(lambda a, b: scipy.sparse.kron(a, b, format="csr"), [f._rho_sparse(g) for f in self.tensor_factors])

    def _drho_sparse(self, a: np.ndarray) -> scipy.sparse.csr_matrix:
        factors = self.tensor_factors
        total = scipy.sparse.csr_matrix((self.size, self.size))
        for i, f in enumerate(factors):
            left = scipy.sparse.identity(int(np.prod([g.size for g in factors[:i]])), format="csr")
            right = scipy.sparse.identity(int(np.prod([g.size for g in factors[i + 1 :]])), format="csr")
            total = total + scipy.sparse.kron(scipy.sparse.kron(left, f._drho_sparse(a)), right, format="csr")
        return total

    def _per_axis(self, fn: str, m: np.ndarray, x: np.ndarray, summed: bool) -> np.ndarray:
        factors = self.tensor_factors
        lead = x.shape[:-1]
        t = x.reshape(lead + tuple(f.size for f in factors))
        result = np.zeros_like(t) if summed else t
        for i, f in enumerate(factors):
            axis = len(lead) + i
            src = t if summed else result
            moved = np.moveaxis(src, axis, -1)
            applied = np.moveaxis(getattr(f, fn)(m, moved), -1, axis)
            result = result + applied if summed else applied
        return result.reshape(x.shape)

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._per_axis("_rho_apply", g, x, summed=False)

    def _drho_apply(self, a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._per_axis("_drho_apply", a, x, summed=True)

    @property
    def is_permutation(self) -> bool:
        return all(f.is_permutation for f in self.tensor_factors)

    @property
    def is_orthogonal(self) -> bool:
        return all(f.is_orthogonal for f in self.tensor_factors)


class TensorRep(_KronRep):
    """A tensor product f₁ ⊗ … ⊗ f_k with row-major (Kronecker) coordinates."""

    def __init__(self, factors: Sequence[Rep]) -> None:
        G = _common_group(list(factors), "tensor product")
        self._set(_factors=tuple(factors), _G=G, **self._checked(factors, "tensor product"))

    @property
    def factors(self) -> tuple[Rep, ...]:
        """The factors, in Kronecker order."""
        return self._factors

    @property
    def tensor_factors(self) -> tuple[Rep, ...]:
        return self._factors

    @property
    def G(self) -> Group:
        return self._G

    def _key(self) -> tuple:
        return ("Tensor",) + tuple(f._key() for f in self._factors)

    def _rebind(self, group: Group) -> Rep:
        return TensorRep([f._rebind(group) for f in self._factors])

    def __repr__(self) -> str:
        parts: list[str] = []
        i = 0
        fs = self._factors
        while i < len(fs):
            j = i
            while j + 1 < len(fs) and fs[j + 1] == fs[i]:
                j += 1
            text = _wrap(fs[i])
            n = j - i + 1
            parts.append(f"{text}**{n}" if n > 1 else text)
            i = j + 1
        return "*".join(parts)


class HomRep(_KronRep):
    """Linear maps ``rep_in → rep_out``, written ``rep_in >> rep_out``.

    A map is a (rep_out.size, rep_in.size) matrix W flattened row-major, and
    g acts as W ↦ ρ_out(g) W ρ_in(g)⁻¹: the space is rep_out ⊗ rep_in*.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep) -> None:
        G = _common_group([rep_in, rep_out], "Hom (>>)")
        limits = self._checked((rep_out, rep_in), "Hom (>>)")
        self._set(_rep_in=rep_in, _rep_out=rep_out, _G=G, _factors=(rep_out, dual(rep_in)), **limits)

    @property
    def rep_in(self) -> Rep:
        return self._rep_in

    @property
    def rep_out(self) -> Rep:
        return self._rep_out

    @property
    def tensor_factors(self) -> tuple[Rep, ...]:
        return self._factors

    @property
    def G(self) -> Group:
        return self._G

    def _key(self) -> tuple:
        return ("Hom", self._rep_in._key(), self._rep_out._key())

    def _rebind(self, group: Group) -> Rep:
        return HomRep(self._rep_in._rebind(group), self._rep_out._rebind(group))

    def __repr__(self) -> str:
        return f"{_wrap(self._rep_in)} >> {_wrap(self._rep_out)}"


class DualRep(Rep):
    """The dual ρ*(g) = ρ(g)⁻ᵀ of an atom whose ρ is not orthogonal (e.g. V of the Lorentz group)."""

    def __init__(self, rep: Rep) -> None:
        self._set(_rep=rep)

    @property
    def rep(self) -> Rep:
        """The rep this is the dual of."""
        return self._rep

    @property
    def G(self) -> Group:
        return self._rep.G

    @property
    def size(self) -> int:
        return self._rep.size

    @property
    def tensor_order(self) -> int:
        return self._rep.tensor_order

    def _rho(self, g: np.ndarray) -> np.ndarray:
        return np.linalg.inv(self._rep._rho(g)).T

    def _drho(self, a: np.ndarray) -> np.ndarray:
        return -self._rep._drho(a).T

    def _rho_apply(self, g: np.ndarray, x: np.ndarray) -> np.ndarray:
        return x @ np.linalg.inv(self._rep._rho(g))

    def _drho_apply(self, a: np.ndarray, x: np.ndarray) -> np.ndarray:
        return -x @ self._rep._drho(a)

    def _key(self) -> tuple:
        return ("Dual", self._rep._key())

    def _rebind(self, group: Group) -> Rep:
        return dual(self._rep._rebind(group))

    @property
    def is_permutation(self) -> bool:
        return self._rep.is_permutation

    @property
    def is_orthogonal(self) -> bool:
        return self._rep.is_orthogonal

    def __repr__(self) -> str:
        return f"{self._rep!r}.T"


# -- builders (the algebra's semantics live here) ------------------------------
def _components_of(rep: Rep) -> tuple[tuple[Rep, int], ...]:
    return rep.components if isinstance(rep, SumRep) else ((rep, 1),)


def direct_sum(*reps: Rep) -> Rep:
    """The direct sum of reps (flattened; one component of multiplicity 1 is returned as is).

    Raises:
        RepMismatchError: reps of different groups.
        RepError: a sum larger than :data:`~constrainnet.reps.limits.MAX_REP_SIZE`.
    """
    comps = [c for r in reps for c in _components_of(r)]
    _common_group([r for r, _ in comps], "direct sum")
    out = SumRep(comps)
    if len(out.components) == 1 and out.components[0][1] == 1:
        return out.components[0][0]
    return out


def repeat(rep: Rep, n: int) -> Rep:
    """``n`` copies of ``rep`` (``n * rep``), one after the other: ``2*(a + b)`` is ``a + b + a + b``.

    Raises:
        RepError: if n is not a positive int, or the result would be larger
            than :data:`~constrainnet.reps.limits.MAX_REP_SIZE` (checked
            before the copies are listed).
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise RepError(f"multiplicity: expected a positive int, got {n!r}")
    if n == 1:
        return rep
    check_rep_limits(rep.tensor_order, rep.size * int(n), "multiplicity")  # before n copies are listed
    comps = _components_of(rep)
    if len(comps) == 1:
        return SumRep([(comps[0][0], comps[0][1] * int(n))])
    return SumRep(list(comps) * int(n))  # n*(a + b) = a + b + a + b: the whole sum, repeated


def _flat_factors(rep: Rep) -> list[Rep]:
    if isinstance(rep, ScalarRep):
        return []
    if isinstance(rep, TensorRep):
        return list(rep.factors)
    if isinstance(rep, HomRep):
        return [f for t in rep.tensor_factors for f in _flat_factors(t)]
    return [rep]


def tensor(*reps: Rep) -> Rep:
    """The tensor product of reps (flattened; scalar factors dropped).

    However the product is written (``V**n``, ``V*V*…*V``, Homs and sums as
    factors), the result is bounded by the same limits.

    Raises:
        RepMismatchError: reps of different groups.
        RepError: a tensor order above :data:`~constrainnet.reps.limits.MAX_TENSOR_ORDER`
            or a size above :data:`~constrainnet.reps.limits.MAX_REP_SIZE`.
    """
    G = _common_group(list(reps), "tensor product")
    flat = [f for r in reps for f in _flat_factors(r)]
    if not flat:
        return ScalarRep(G)
    if len(flat) == 1:
        return flat[0]
    return TensorRep(flat)


def hom(rep_in: Rep, rep_out: Rep) -> Rep:
    """The rep ``rep_in >> rep_out`` of linear maps (see :class:`HomRep`).

    Raises:
        RepMismatchError: reps of different groups.
        RepError: beyond the tensor order or size limits of :mod:`constrainnet.reps.limits`.
    """
    _common_group([rep_in, rep_out], "Hom (>>)")
    return HomRep(rep_in, rep_out)


def dual(rep: Rep) -> Rep:
    """The dual rep, simplified: orthogonal reps are their own dual."""
    if isinstance(rep, DualRep):
        return rep.rep
    if isinstance(rep, ScalarRep) or rep.is_orthogonal:
        return rep
    if isinstance(rep, SumRep):
        return SumRep([(dual(r), m) for r, m in rep.components])
    if isinstance(rep, TensorRep):
        return TensorRep([dual(f) for f in rep.factors])
    if isinstance(rep, HomRep):
        return tensor(dual(rep.rep_out), rep.rep_in)
    return DualRep(rep)

"""The orbit strategy: exact, sparse bases of permutation reps.

When every discrete generator acts on the rep's coordinates by a permutation
(and the Lie algebra acts as zero), a vector is invariant exactly when it is
constant on each orbit of the generated group on the coordinates. The basis is
the normalised indicator of each orbit, ordered by the orbit's first
coordinate — the same basis the canonical form of the dense strategy gives.
The orbits are the connected components of the graph i → σ_h(i), found
without enumerating group elements or forming any dense matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from scipy.sparse.csgraph import connected_components

from ..errors import SolverError
from ..reps import DualRep, PseudoScalarRep, Rep, ScalarRep, SumRep, Vector
from ..reps.composite import _KronRep

__all__ = ["coordinate_permutations", "orbit_basis", "supports_orbits"]


def supports_orbits(rep: Rep) -> bool:
    """True when the generators permute the coordinates of ``rep`` (so the orbit strategy is exact)."""
    G = rep.G
    return (G.permutations is not None or G.num_discrete_generators == 0) and rep.is_permutation


def _permutation(rep: Rep, k: int) -> np.ndarray:
    """σ with (ρ(h_k) x)_i = x_{σ(i)} for discrete generator k."""
    if isinstance(rep, (ScalarRep, PseudoScalarRep)):
        return np.zeros(1, dtype=np.int64)
    if isinstance(rep, Vector):
        a, b = rep._block
        sigma = rep.G.permutations[k][a:b] - a
        return sigma
    if isinstance(rep, DualRep):
        return _permutation(rep.rep, k)  # ρ is a permutation, so ρ⁻ᵀ = ρ
    if isinstance(rep, SumRep):
        parts = []
        for (comp, mult), start in zip(rep.components, rep.offsets):
            sigma = _permutation(comp, k)
            parts.extend(start + c * comp.size + sigma for c in range(mult))
        return np.concatenate(parts)
    if isinstance(rep, _KronRep):
        total = np.zeros(1, dtype=np.int64)
        for f in rep.tensor_factors:
            total = np.add.outer(total * f.size, _permutation(f, k)).reshape(-1)
        return total
    raise SolverError(f"orbit strategy: cannot permute the coordinates of {rep!r}")


def coordinate_permutations(rep: Rep) -> np.ndarray:
    """The (k, size) permutations of the coordinates by each discrete generator.

    Raises:
        SolverError: if ``rep`` is not a permutation rep of a permutation group.
    """
    if not supports_orbits(rep):
        raise SolverError(f"orbit strategy: expected a permutation rep, got {rep!r} of {rep.G!r}")
    k = rep.G.num_discrete_generators
    return np.stack([_permutation(rep, i) for i in range(k)]) if k else np.zeros((0, rep.size), dtype=np.int64)


def orbit_basis(rep: Rep) -> scipy.sparse.csc_matrix:
    """The (size, r) sparse basis of normalised orbit indicators, orbits ordered by first coordinate.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import S
        >>> V = cn.V(S(4))
        >>> orbit_basis(V**2).shape  # the diagonal and the off-diagonal pairs
        (16, 2)
    """
    n = rep.size
    perms = coordinate_permutations(rep)
    if len(perms):
        rows = np.tile(np.arange(n), len(perms))
        graph = scipy.sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, perms.reshape(-1))), shape=(n, n))
        _, labels = connected_components(graph, directed=True, connection="weak")
    else:
        labels = np.arange(n)
    # Relabel orbits by their first coordinate, so the order never depends on the graph search.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    cols = rank[labels]
    sizes = np.bincount(cols)
    values = 1.0 / np.sqrt(sizes[cols])
    return scipy.sparse.csc_matrix((values, (np.arange(n), cols)), shape=(n, len(sizes)))

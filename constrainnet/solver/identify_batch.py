r"""The types of many irreducible pieces at once: :func:`~constrainnet.solver.irreps.identify` batched.

A decomposition meets its pieces class by class; identifying them one at a
time costs a few hundred microseconds of Python each (the cyclic form's
eigensolves and Gram–Schmidt steps, the registry scan). Here the pieces of
one dimension and commutant get their cyclic forms together
(:func:`~constrainnet.solver.cyclic.cyclic_forms`), and each piece's
fingerprint is compared with every known type's in one array operation, so
the dense Hom solve of :func:`~constrainnet.solver.irreps.match_known` runs
only for the types whose dimension, commutant and characters agree (none
for a piece of a new type with its own characters).

The rules are those of :func:`~constrainnet.solver.irreps.identify`, applied
to the pieces in their given order: a piece is matched against the types
known before it (those registered by earlier pieces of the batch included),
and a piece of no known type registers a new one with its cyclic form as
π_k. The result is the one ``identify`` would give piece after piece, to
rounding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SolverError
from ..groups import Group
from .cyclic import cyclic_forms
from .irreps import _LOCK, _REGISTRY, FINGERPRINT_ATOL, MAX_IRREP_DIM, IrrepType, match_known, register

__all__ = ["identify_many"]


def identify_many(G: Group, pi_generators: Sequence[np.ndarray], commutants: Sequence[int],
                  spanning: Sequence[np.ndarray | None], prints: Sequence[Sequence[float]]) -> list[tuple[IrrepType, np.ndarray]]:
    """The type of each irreducible piece of a group without a Lie algebra, and the T rotating it onto π_k.

    Args:
        G: the group (its Lie algebra empty).
        pi_generators: for each piece, (k, d, d) its π on G's discrete generators.
        commutants: for each piece, the dimension c of its commutant.
        spanning: for each piece, optional (r, d, d) elements spanning its
            commutant (see :func:`~constrainnet.solver.irreps.commutant_units`).
        prints: for each piece, its fingerprint (traces at the fingerprint elements).

    Returns:
        ``[(type, T), ...]`` in the order of the pieces, T orthogonal (d, d) with
        π(x) T = T π_k(x) for every generator x.

    Raises:
        SolverError: a piece is larger than :data:`~constrainnet.solver.irreps.MAX_IRREP_DIM`,
            has no cyclic form, or is isomorphic to a known type with another cyclic form.

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import Z
        >>> from constrainnet.solver.irreps import fingerprint
        >>> J = np.array([[[0.0, -1.0], [1.0, 0.0]]])  # a quarter turn: Z(4)'s two-dimensional real irreducible
        >>> fp = fingerprint(Z(4), J, np.zeros((0, 2, 2)))
        >>> (a, ta), (b, tb) = identify_many(Z(4), [J, -J], [2, 2], [None, None], [fp, fp])
        >>> a is b, a.commutant, bool(np.allclose(-J[0] @ tb, tb @ b.pi_generators[0]))
        (True, 'complex', True)
    """
    if len(G.lie_algebra):
        raise SolverError(f"identify_many: expected a group without a Lie algebra, got {G!r}")
    count = len(pi_generators)
    dims = [int(x.shape[-1]) for x in pi_generators]
    if any(d > MAX_IRREP_DIM for d in dims):
        raise SolverError(f"decompose: expected irreducible pieces of dimension at most {MAX_IRREP_DIM}, got one of dimension {max(dims)}")
    gens = [np.asarray(x, dtype=np.float64) for x in pi_generators]
    forms = cyclic_forms(gens, [int(c) for c in commutants])
    cycs = [b.T @ x @ b if d > 1 else x for b, x, d in zip(forms, gens, dims)]
    fps = np.array([[float(x) for x in p] for p in prints], dtype=np.float64).reshape(count, -1)
    empty = np.zeros((0,) + (1, 1))
    out: list[tuple[IrrepType, np.ndarray]] = []
    with _LOCK:
        known = _REGISTRY.setdefault(G, [])
        key_d = np.array([t.dim for t in known], dtype=np.int64)
        key_c = np.array([len(t.units) for t in known], dtype=np.int64)
        key_p = np.array([t.fingerprint for t in known], dtype=np.float64).reshape(len(known), fps.shape[1])
        # pieces whose dimension, commutant and characters agree with a type known before the batch
        close = (
            (key_d[None] == np.array(dims)[:, None])
            & (key_c[None] == np.array(commutants)[:, None])
            & (np.abs(fps[:, None] - key_p[None]).max(axis=2, initial=0.0) <= FINGERPRINT_ATOL * np.array(dims)[:, None])
        )
        # and with the pieces before them in the batch (which may register new types)
        inner = (
            (np.array(dims)[:, None] == np.array(dims)[None])
            & (np.array(commutants)[:, None] == np.array(commutants)[None])
            & (np.abs(fps[:, None] - fps[None]).max(axis=2, initial=0.0) <= FINGERPRINT_ATOL * np.array(dims)[:, None])
        )
        registered: dict[int, IrrepType] = {}  # piece index -> the new type it registered
        for i in range(count):
            d, c, b, cyc = dims[i], int(commutants[i]), forms[i], cycs[i]
            fp = tuple(fps[i].tolist())
            candidates = [known[j] for j in np.flatnonzero(close[i]).tolist()]
            candidates += [registered[j] for j in np.flatnonzero(inner[i, :i]).tolist() if j in registered]
            hit = match_known(candidates, list(gens[i]), list(cyc), fp, b, c) if candidates else None
            if hit is not None:
                out.append(hit)
                continue
            t = register(G, known, cyc, empty.reshape(0, d, d), c, b, spanning[i], 0.0, None, fp)
            registered[i] = t
            out.append((t, b))
    return out

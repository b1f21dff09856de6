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
from .canonical import PIVOT_ATOL
from .irreps import _LOCK, _REGISTRY, FINGERPRINT_ATOL, MAX_IRREP_DIM, UNIT_ATOL, UNIT_RTOL, IrrepType, match_known, register

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
    units = _complex_units(gens, forms, cycs, commutants, spanning)
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
            t = register(G, known, cyc, empty.reshape(0, d, d), c, b, spanning[i], 0.0, None, fp, units.get(i))
            registered[i] = t
            out.append((t, b))
    return out


def _complex_units(gens: list[np.ndarray], forms: list[np.ndarray], cycs: list[np.ndarray], commutants: Sequence[int],
                   spanning: Sequence[np.ndarray | None]) -> dict[int, np.ndarray]:
    """The commutant units (2, d, d) of the complex-type pieces with spanning elements, those of one dimension at once.

    The rule of :func:`~constrainnet.solver.irreps.commutant_units` with
    spanning elements, batched: the imaginary unit spans the antisymmetric
    parts of the spanning elements carried into the cyclic form (one
    non-zero singular value, else :class:`~constrainnet.errors.SolverError`),
    is checked to commute with π, and is signed positive at its first entry
    above the pivot tolerance. A piece whose units would be needed only
    later (matched to a known type) costs one small SVD in the batch.
    """
    out: dict[int, np.ndarray] = {}
    groups: dict[int, list[int]] = {}
    for i, (x, c, sp) in enumerate(zip(gens, commutants, spanning)):
        if int(c) == 2 and sp is not None:
            groups.setdefault(int(x.shape[-1]), []).append(i)
    for d, members in groups.items():
        b = np.stack([forms[i] for i in members])
        sp = np.stack([np.asarray(spanning[i], dtype=np.float64) for i in members])  # (B, r, d, d)
        cyc_sp = np.swapaxes(b, 1, 2)[:, None] @ sp @ b[:, None]
        imag = (0.5 * (cyc_sp - np.swapaxes(cyc_sp, 2, 3))).reshape(len(members), -1, d * d)
        _, s, vt = np.linalg.svd(imag, full_matrices=False)
        lead = np.maximum(s[:, 0], 1e-300)
        if (s[:, 0] <= UNIT_RTOL * lead).any() or (s.shape[1] > 1 and (s[:, 1] > UNIT_RTOL * s[:, 0]).any()):
            raise SolverError(f"irreducible piece: expected a commutant of dimension 2, got singular values {np.round(s, 6).tolist()}")
        u = vt[:, 0].reshape(-1, d, d)
        pis = np.stack([cycs[i] for i in members])  # (B, k, d, d)
        sizes = np.maximum(1.0, np.abs(pis).max(axis=(2, 3)))
        worst = (np.abs(pis @ u[:, None] - u[:, None] @ pis).max(axis=(2, 3)) / sizes).max(initial=0.0)
        if worst > UNIT_ATOL:
            raise SolverError(f"irreducible piece: expected imaginary units commuting with π, got a residual {worst:.3g} (tolerance {UNIT_ATOL:g})")
        flat = vt[:, 0]  # (B, d²): the canonical basis of a line, positive at its first entry above the pivot tolerance
        first = np.argmax(np.abs(flat) > PIVOT_ATOL, axis=1)
        flat = flat * np.sign(flat[np.arange(len(members)), first])[:, None]
        for j, i in enumerate(members):
            out[i] = np.stack([np.eye(d), (flat[j] * np.sqrt(d)).reshape(d, d)])
    return out

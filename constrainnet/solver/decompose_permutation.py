r"""The isotypic decomposition of a permutation leaf of a finite group, from orbit labels.

When every discrete generator permutes the coordinates of a leaf (and there
is no Lie algebra), the commutant needs no solve: a matrix W commutes with
every ρ(h) exactly when W[i, j] depends only on the orbit of the pair (i, j)
(an *orbital*), so a random commutant element is a random value per orbital,
gathered by the orbital labels. The decomposition then runs on few
coordinates:

1. the coordinates split into the orbits of the group; two orbits of one
   size that are isomorphic as G-sets (a bijection φ with φ(σ_h(i)) =
   σ_h(φ(i)) for every generator, found by carrying a breadth-first tree of
   one orbit onto every candidate base point of the other) carry the same
   decomposition, moved by φ. Only one representative orbit per class is
   decomposed (Z(12) V**2: one orbit of 12 instead of twelve; S(6) V**3: 156
   of 216 coordinates);
2. on the union R of the representatives, :data:`~constrainnet.solver.isotypic.NUM_RANDOM`
   random commutant elements come from the orbital labels of R × R (no
   equivariant basis), and each orbit is split by the eigenspaces of the
   first, the others compressed onto the wide eigenspaces only to test
   irreducibility (:func:`~constrainnet.solver.isotypic._split` refines the
   rare piece that is not);
3. pieces are held on their orbit's coordinates. Their characters at the
   fingerprint elements and at the generators come from composed
   permutations (tr Pᵀρ(w)P = Σ P ⊙ P[σ_w]); only pieces of one dimension
   with equal characters can be isomorphic: a line is its character (no
   intertwiner), wider pieces are aligned by the intertwiners Pᵀ Wⱼ[B, A] P₁
   of the blocks of the random elements. Each class is identified against
   the group's registry as in :mod:`constrainnet.solver.isotypic`;
4. the copies of each type are carried to every orbit of the
   representative's class by φ (a permutation: exact) and re-chosen
   canonically orbit by orbit, the orbits of one class (and the problems of
   one shape) as one batch (:mod:`constrainnet.solver.decompose_orbit_copies`);
5. the result is certified on the generators: every column of U vanishes off
   its orbit, UᵀU = I on each orbit block, and ρ(h) U = U[σ_h] equals U times
   the block form (:func:`~constrainnet.solver.isotypic.certify_products`),
   else :class:`~constrainnet.errors.SolverError`.

The result is the decomposition :func:`~constrainnet.solver.isotypic.decompose_leaf`
defines (the same types πₖ, the same canonical U up to rounding), found
without the (n² × n²)-sized commutant of the whole leaf.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..reps import Rep
from .decompose_orbit_copies import batched_canonical_copies
from .decompose_orbits import orbit_classes, orbital_elements, orbits_of
from .irreps import FINGERPRINT_ATOL, FINGERPRINT_SIZE, IrrepType, _fingerprint_elements, identify
from .isotypic import (
    ISO_RTOL,
    SCALAR_RTOL,
    SPLIT_RTOL,
    LeafDecomposition,
    _commutant_dim,
    _split,
    certify_products,
)
from .orbit import coordinate_permutations, supports_orbits

__all__ = ["permutation_route_applies", "decompose_permutation_leaf"]


def permutation_route_applies(leaf: Rep) -> bool:
    """True when every discrete generator permutes the leaf's coordinates and the group has no Lie algebra.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import S, SO
        >>> permutation_route_applies(cn.V(S(4)) ** 2), permutation_route_applies(cn.V(SO(3)))
        (True, False)
    """
    G = leaf.G
    return len(G.lie_algebra) == 0 and G.num_discrete_generators > 0 and supports_orbits(leaf)


def _is_scalar(x: np.ndarray, scale: float) -> bool:
    """True when the symmetric (k, k) x is its mean diagonal times I, to SCALAR_RTOL · scale."""
    k = x.shape[0]
    if k == 1:
        return True
    return float(np.abs(x - (float(np.trace(x)) / k) * np.eye(k)).max()) <= SCALAR_RTOL * scale


def _split_orbits(blocks: list[tuple[int, int]], sym_w: list[np.ndarray], scales: list[float]) -> list[tuple[int, np.ndarray]]:
    """The irreducible pieces of each orbit block: (block, (|orbit|, d) orthonormal columns on the block's coordinates).

    The eigenspaces of the first element split the block; the others are
    compressed onto the eigenspaces wider than one vector (a line is
    irreducible), all at once, and a piece on which one of them is not
    scalar is refined by :func:`~constrainnet.solver.isotypic._split` (the
    pieces it would give from the start).
    """
    done = []
    for at, (lo, hi) in enumerate(blocks):
        local = [x[lo:hi, lo:hi] for x in sym_w]
        k = hi - lo
        if _is_scalar(local[0], scales[0]):
            parts = _split([np.eye(k)], local, scales)
        else:
            values, vecs = np.linalg.eigh(local[0])
            cuts = np.flatnonzero(np.diff(values) > SPLIT_RTOL * scales[0]) + 1
            starts, stops = np.concatenate([[0], cuts]), np.concatenate([cuts, [k]])
            wide = (stops - starts) > 1
            failed = np.zeros(len(starts), dtype=bool)
            if wide.any():  # compress the other elements onto the eigenspaces of more than one vector only
                first, last = starts[wide], stops[wide]
                cols = np.concatenate([np.arange(a, b) for a, b in zip(first.tolist(), last.tolist())])
                sub = vecs[:, cols]
                lead = np.cumsum(np.concatenate([[0], (last - first)[:-1]]))
                group = np.repeat(np.arange(len(first)), last - first)
                inside = (group[:, None] == group[None, :]) & ~np.eye(len(cols), dtype=bool)
                for x, scale in zip(local[1:], scales[1:]):
                    r = sub.T @ (x @ sub)
                    diag = np.diagonal(r)
                    spread = np.abs(diag - (np.add.reduceat(diag, lead) / (last - first))[group])
                    off = np.abs(np.where(inside, r, 0.0)).max(axis=1)
                    failed[wide] |= np.maximum.reduceat(np.maximum(spread, off), lead) > SCALAR_RTOL * scale
            parts = []
            for a, b, bad in zip(starts.tolist(), stops.tolist(), failed.tolist()):
                parts.extend(_split([vecs[:, a:b]], local, scales) if bad else [vecs[:, a:b]])
        done.extend((at, p) for p in parts)
    return done


def _piece_characters(pieces: list[tuple[int, np.ndarray]], blocks: list[tuple[int, int]], perms_r: np.ndarray) -> np.ndarray:
    """(pieces, FINGERPRINT_SIZE + k) traces of each piece's π at the fingerprint elements of
    :mod:`~constrainnet.solver.irreps`, then at the k generators, from permutations.

    ρ(a)ρ(b) permutes by σ_b ∘ σ_a, so each fixed word is one composed
    permutation σ_w, and tr Pᵀρ(w)P = Σ P ⊙ P[σ_w] for all pieces at once.
    """
    words, _ = _fingerprint_elements(len(perms_r), 0)
    sigmas = []
    for word in words:
        sigma = perms_r[word[0]]
        for j in word[1:]:
            sigma = perms_r[j][sigma]
        sigmas.append(sigma)
    sigmas.extend(perms_r)
    out = np.empty((len(pieces), len(sigmas)))
    for at, (lo, hi) in enumerate(blocks):
        mine = [i for i, (b, _) in enumerate(pieces) if b == at]
        if not mine:
            continue
        allp = np.concatenate([pieces[i][1] for i in mine], axis=1)
        starts = np.cumsum([0] + [pieces[i][1].shape[1] for i in mine[:-1]])
        traces = np.stack([np.add.reduceat(np.einsum("ij,ij->j", allp, allp[sigma[lo:hi] - lo]), starts) for sigma in sigmas])
        out[mine] = traces.T
    return out


def _align_pieces(pieces: list[tuple[int, np.ndarray]], traces: np.ndarray, blocks: list[tuple[int, int]],
                  ws: np.ndarray, scales: list[float]) -> tuple[list[list[tuple[int, np.ndarray]]], list[int]]:
    """:func:`~constrainnet.solver.isotypic._align` on pieces held on their orbit blocks; also the index of
    each class's first piece.

    Only pieces of one dimension whose characters (``traces``, from
    :func:`_piece_characters`) agree can be isomorphic. A one-dimensional
    piece is its character: π(h) = ±1 on each generator, equal values are the
    same type, and the piece already carries the class's π (no intertwiner).
    Between wider pieces the intertwiner from a piece P on block B to a
    class's first piece P₁ on block A is Pᵀ Wⱼ[B, A] P₁: only blocks of the
    random elements ``ws`` (NUM_RANDOM, |R|, |R|) are multiplied.
    """
    classes: list[list[tuple[int, np.ndarray]]] = []
    firsts: list[int] = []
    images: list[np.ndarray | None] = []  # Wⱼ[:, A] P₁ / scaleⱼ (NUM_RANDOM, |R|, d) for each class's first piece
    class_dim = np.zeros(len(pieces), dtype=np.int64)
    class_traces = np.zeros((len(pieces), traces.shape[1]))
    inverse_scales = 1.0 / np.array(scales)[:, None, None]
    size = FINGERPRINT_SIZE
    for at, (blk, p) in enumerate(pieces):
        d = p.shape[1]
        lo, hi = blocks[blk]
        known = len(classes)
        gap = np.abs(class_traces[:known] - traces[at])
        close = (class_dim[:known] == d) & (gap[:, :size].max(axis=1, initial=0.0) <= FINGERPRINT_ATOL * d)
        if d == 1:
            close &= gap[:, size:].max(axis=1, initial=0.0) < 0.5
        for k in np.flatnonzero(close).tolist():
            if d == 1:
                classes[k].append((blk, p))
                break
            ys = p.T @ images[k][:, lo:hi]  # (NUM_RANDOM, d, d)
            norms = np.sqrt((ys * ys).sum(axis=(1, 2)))
            j = int(np.argmax(norms))
            if norms[j] <= ISO_RTOL:
                continue
            y = ys[j] * (np.sqrt(d) / norms[j])
            if float(np.abs(y.T @ y - np.eye(d)).max()) > 1e-6:
                raise SolverError(f"decompose: an intertwiner between two pieces is not a scaled rotation (d = {d})")
            classes[k].append((blk, p @ y))
            break
        else:
            images.append(ws[:, :, lo:hi] @ p * inverse_scales if d > 1 else None)
            class_dim[known] = d
            class_traces[known] = traces[at]
            classes.append([(blk, p)])
            firsts.append(at)
    return classes, firsts


def _certify(leaf: Rep, u: np.ndarray, column_orbit: np.ndarray, orbits: list[np.ndarray],
             comps: list[tuple[IrrepType, int]], perms: np.ndarray) -> None:
    """:func:`~constrainnet.solver.isotypic.certify_products` with UᵀU from the orbit blocks and ρ(h)U as a row gather.

    Every column of U is checked to vanish off its orbit (the non-zeros of
    the orbit blocks are all of U's); then UᵀU is block-diagonal over the
    orbits, exactly, and only the blocks are formed.
    """
    worst, inside = 0.0, 0
    for i, orbit in enumerate(orbits):
        part = u[np.ix_(orbit, np.flatnonzero(column_orbit == i))]
        if part.shape[1] != len(orbit):
            worst = np.inf
            break
        inside += np.count_nonzero(part)
        worst = max(worst, float(np.abs(part.T @ part - np.eye(len(orbit))).max()))
    if inside != np.count_nonzero(u):  # an entry off the orbit blocks: UᵀU is not their direct sum
        worst = np.inf
    certify_products(leaf, u, comps, [("pi_generators", i, sigma, 1.0) for i, sigma in enumerate(perms)], gram=worst)


def _identify_classes(leaf: Rep, classes: list[list[tuple[int, np.ndarray]]], prints: list[np.ndarray],
                      blocks: list[tuple[int, int]], ws: np.ndarray, scales: list[float],
                      perms_r: np.ndarray) -> list[tuple[IrrepType, list[tuple[int, np.ndarray]]]]:
    """The type of each class of pieces (from its first piece, whose fingerprint is ``prints[k]``) and its
    copies rotated onto the type's πₖ."""
    G = leaf.G
    found: list[tuple[IrrepType, list[tuple[int, np.ndarray]]]] = []
    inverse_scales = 1.0 / np.array(scales)[:, None, None]
    for cls, fp in zip(classes, prints):
        blk, p = cls[0]
        lo, hi = blocks[blk]
        d = p.shape[1]
        pi_g = p.T @ p[perms_r[:, lo:hi] - lo]
        if d == 1:  # a real line: commutant ℝ
            t, tmat = identify(G, pi_g, np.zeros((0, 1, 1)), 0.0, None, c=1, spanning=inverse_scales, prints=fp)
        else:
            compressed = p.T @ ws[:, lo:hi, lo:hi] @ p
            c = _commutant_dim(compressed, scales)
            t, tmat = identify(G, pi_g, np.zeros((0, d, d)), 0.0, None, c=c, spanning=compressed * inverse_scales, prints=fp)
        if any(t is other for other, _ in found):
            raise SolverError(f"decompose: two classes of pieces of {leaf!r} were identified as one type {t!r}")
        found.append((t, [(b, x @ tmat) for b, x in cls]))
    return found


def _canonical_columns(n: int, found: list[tuple[IrrepType, list[tuple[int, np.ndarray]]]], num_blocks: int,
                       reps: list[int], rep_of: list[int], maps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """U (n, n), the orbit of each of its columns, and ((type, multiplicity), ...): the copies of each type
    (held on the representative orbits' blocks) carried to every orbit of their class and re-chosen canonically.

    Problems of one shape (and, for complex and quaternionic types, one type)
    are solved as one batch; the copies of a type are ordered by the
    coordinate their canonical basis vector is pivoted on.
    """
    targets = [[i for i, r in enumerate(rep_of) if r == rep] for rep in reps]
    orders = [np.stack([np.argsort(maps[i]) for i in tg]) for tg in targets]
    rows = [np.stack([maps[i][o] for i, o in zip(tg, od)]) for tg, od in zip(targets, orders)]  # coordinates, increasing
    groups: dict[tuple, list[tuple[int, int, np.ndarray]]] = {}
    for k, (t, copies) in enumerate(found):
        for blk in range(num_blocks):
            here = [x for b, x in copies if b == blk]
            if here:
                batch = np.swapaxes(np.stack(here)[:, orders[blk]], 0, 1)  # (orbits, m, |O|, d)
                key = batch.shape[1:] + ((len(t.units),) if len(t.units) == 1 else (k,))
                groups.setdefault(key, []).append((k, blk, batch))
    solved = []  # per group: picked (B, m, |O|, d), the type and orbit of each problem, its coordinates, pivot coordinates
    for members in groups.values():
        picked, through = batched_canonical_copies(np.concatenate([x for _, _, x in members]), found[members[0][0]][0].units)
        kind = np.concatenate([np.full(len(x), k) for k, _, x in members])
        orbit = np.concatenate([targets[blk] for _, blk, _ in members])
        where = np.concatenate([rows[blk] for _, blk, _ in members])
        solved.append((picked, kind, orbit, where, np.take_along_axis(where, through, axis=1)))
    # the copies of all types in column order: by type, then by the coordinate of their pivot
    kinds = np.concatenate([np.repeat(kind, x.shape[1]) for x, kind, _, _, _ in solved])
    pivots = np.concatenate([piv.reshape(-1) for *_, piv in solved])
    dims = np.array([t.dim for t, _ in found])[kinds]
    order = np.lexsort((pivots, kinds))
    starts = np.empty(len(order), dtype=np.int64)
    starts[order] = np.concatenate([[0], np.cumsum(dims[order])[:-1]])
    u = np.zeros((n, n))
    column_orbit = np.empty(n, dtype=np.int64)
    at = 0
    for picked, _, orbit, where, _ in solved:
        count, m, _, d = picked.shape
        cols = starts[at : at + count * m].reshape(count, m, 1) + np.arange(d)  # (problems, m, d)
        u[where[:, :, None, None], cols[:, None]] = np.swapaxes(picked, 1, 2)
        column_orbit[cols] = orbit[:, None, None]
        at += count * m
    counts = np.bincount(kinds, minlength=len(found))
    comps = [(t, int(m)) for (t, _), m in zip(found, counts)]
    return u, column_orbit, comps


def decompose_permutation_leaf(leaf: Rep) -> LeafDecomposition:
    """The certified, canonical isotypic decomposition of a permutation leaf of a finite group.

    Args:
        leaf: a leaf for which :func:`permutation_route_applies` holds.

    Returns:
        A :class:`~constrainnet.solver.isotypic.LeafDecomposition`, the same
        one :func:`~constrainnet.solver.isotypic.decompose_leaf` defines.

    Raises:
        SolverError: the result cannot be certified (or the route does not apply).

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import Z
        >>> ld = decompose_permutation_leaf(cn.V(Z(4)) ** 2)
        >>> [(t.dim, m) for t, m in ld.components]
        [(1, 4), (1, 4), (2, 4)]
    """
    if not permutation_route_applies(leaf):
        raise SolverError(f"decompose: expected a permutation leaf of a finite group, got {leaf!r} of {leaf.G!r}")
    n = leaf.size
    perms = coordinate_permutations(leaf)
    orbits = orbits_of(perms, n)
    rep_of, maps = orbit_classes(perms, orbits)
    reps = sorted(set(rep_of))
    coords = np.concatenate([orbits[r] for r in reps])  # R, representative by representative
    size = len(coords)
    local = np.full(n, -1, dtype=perms.dtype)
    local[coords] = np.arange(size)
    perms_r = local[perms[:, coords]]
    bounds = np.cumsum([0] + [len(orbits[r]) for r in reps]).tolist()
    blocks = list(zip(bounds[:-1], bounds[1:]))
    ws = np.stack(orbital_elements(perms_r, size))  # (NUM_RANDOM, |R|, |R|)
    scales = [max(float(x), 1e-300) for x in np.abs(ws).sum(axis=2).max(axis=1)]
    pieces = _split_orbits(blocks, list(0.5 * (ws + np.swapaxes(ws, 1, 2))), scales)
    traces = _piece_characters(pieces, blocks, perms_r)
    classes, firsts = _align_pieces(pieces, traces, blocks, ws, scales)
    found = _identify_classes(leaf, classes, [traces[i, :FINGERPRINT_SIZE] for i in firsts], blocks, ws, scales, perms_r)
    found.sort(key=lambda item: item[0].sort_key)
    u, column_orbit, comps = _canonical_columns(n, found, len(blocks), reps, rep_of, maps)
    _certify(leaf, u, column_orbit, orbits, comps, perms)
    u.setflags(write=False)
    return LeafDecomposition(leaf, u, tuple(comps))

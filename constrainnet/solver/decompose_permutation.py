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
   the block form (:func:`~constrainnet.solver.decompose_certify.certify_orbit_blocks`:
   the check of :func:`~constrainnet.solver.isotypic.certify_products` on the orbit blocks),
   else :class:`~constrainnet.errors.SolverError`.

The result is the decomposition :func:`~constrainnet.solver.isotypic.decompose_leaf`
defines (the same types πₖ, the same canonical U up to rounding), found
without the (n² × n²)-sized commutant of the whole leaf.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..reps import Rep
from .decompose_certify import certify_orbit_blocks
from .decompose_orbit_copies import canonical_columns
from .decompose_orbits import orbit_classes, orbital_elements, orbits_of
from .identify_batch import identify_many
from .irreps import FINGERPRINT_ATOL, FINGERPRINT_SIZE, IrrepType, _fingerprint_elements
from .isotypic import (
    ISO_RTOL,
    RANK_RTOL,
    SCALAR_RTOL,
    SPLIT_RTOL,
    LeafDecomposition,
    _split,
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

    The eigenspaces of the first element split the block; the second is
    compressed onto the eigenspaces wider than one vector (a line is
    irreducible), all at once, and a piece on which it is not scalar is
    refined by :func:`~constrainnet.solver.isotypic._split` with all the
    elements (the pieces it would give from the start). One independent
    random element tests irreducibility as well as several: on a reducible
    piece a generic commutant element is not scalar (the others still
    enter the commutant dimension and the intertwiners, and every result is
    certified on the generators).
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
                for x, scale in zip(local[1:2], scales[1:2]):
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
        moved = allp[np.stack(sigmas)[:, lo:hi] - lo]  # (words, |O|, columns): ρ(w) P as row gathers
        out[mine] = np.add.reduceat(np.einsum("ij,wij->jw", allp, moved), starts, axis=0)
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

    Classes are formed in the order of their first pieces: the first piece
    not yet placed opens a class, and every later unplaced piece of its
    dimension and characters is tested against it at once (one batched
    product, the pieces embedded in R's coordinates), so a piece joins the
    first class it is isomorphic to, as when the pieces are taken one by one.
    """
    count = len(pieces)
    dims = np.array([p.shape[1] for _, p in pieces], dtype=np.int64)
    where = np.array([b for b, _ in pieces], dtype=np.int64)
    size = FINGERPRINT_SIZE
    close = (dims[:, None] == dims[None]) & (
        np.abs(traces[:, None, :size] - traces[None, :, :size]).max(axis=2, initial=0.0) <= FINGERPRINT_ATOL * dims[:, None]
    )
    lines = np.abs(traces[:, None, size:] - traces[None, :, size:]).max(axis=2, initial=0.0) < 0.5
    close &= np.where(dims[:, None] == 1, lines, True)
    inverse_scales = 1.0 / np.array(scales)[:, None, None]
    placed = np.zeros(count, dtype=bool)
    aligned: list[np.ndarray | None] = [None] * count
    owner = np.full(count, -1, dtype=np.int64)
    firsts: list[int] = []
    embedded: dict[int, np.ndarray] = {}  # the pieces of one dimension on all of R's coordinates
    slot = np.zeros(count, dtype=np.int64)  # a piece's index in its dimension's stack
    for at in range(count):
        if placed[at]:
            continue
        k = len(firsts)
        firsts.append(at)
        placed[at], owner[at], aligned[at] = True, k, pieces[at][1]
        later = np.flatnonzero(close[at] & ~placed)
        if not len(later):
            continue
        d = int(dims[at])
        if d == 1:  # a line is its character
            placed[later], owner[later] = True, k
            for j in later.tolist():
                aligned[j] = pieces[j][1]
            continue
        lo, hi = blocks[pieces[at][0]]
        images = ws[:, :, lo:hi] @ pieces[at][1] * inverse_scales  # Wⱼ[:, A] P₁ / scaleⱼ (NUM_RANDOM, |R|, d)
        if d not in embedded:
            embedded[d] = _embedded(pieces, blocks, np.flatnonzero(dims == d), ws.shape[1], d, slot)
        ys = np.swapaxes(embedded[d][slot[later]], 1, 2)[:, None] @ images[None]  # (n, NUM_RANDOM, d, d)
        norms = np.sqrt((ys * ys).sum(axis=(2, 3)))
        best = norms.argmax(axis=1)
        top = norms[np.arange(len(later)), best]
        iso = top > ISO_RTOL
        if not iso.any():
            continue
        y = ys[iso, best[iso]] * (np.sqrt(d) / top[iso])[:, None, None]
        if float(np.abs(np.swapaxes(y, 1, 2) @ y - np.eye(d)).max()) > 1e-6:
            raise SolverError(f"decompose: an intertwiner between two pieces is not a scaled rotation (d = {d})")
        for j, x in zip(later[iso].tolist(), y):
            placed[j], owner[j], aligned[j] = True, k, pieces[j][1] @ x
    classes: list[list[tuple[int, np.ndarray]]] = [[] for _ in firsts]
    for j in range(count):
        classes[owner[j]].append((int(where[j]), aligned[j]))
    return classes, firsts


def _embedded(pieces: list[tuple[int, np.ndarray]], blocks: list[tuple[int, int]], members: np.ndarray, size: int,
              d: int, slot: np.ndarray) -> np.ndarray:
    """(len(members), size, d): the given pieces (all of dimension d) on all of R's coordinates; records each one's slot."""
    out = np.zeros((len(members), size, d))
    for i, j in enumerate(members.tolist()):
        blk, x = pieces[j]
        lo, hi = blocks[blk]
        out[i, lo:hi] = x
        slot[j] = i
    return out


def _identify_classes(leaf: Rep, classes: list[list[tuple[int, np.ndarray]]], prints: list[np.ndarray],
                      blocks: list[tuple[int, int]], ws: np.ndarray, scales: list[float],
                      perms_r: np.ndarray) -> list[tuple[IrrepType, list[tuple[int, np.ndarray]]]]:
    """The type of each class of pieces (from its first piece, whose fingerprint is ``prints[k]``) and its
    copies rotated onto the type's πₖ; all classes identified as one batch (:func:`~constrainnet.solver.identify_batch.identify_many`)."""
    inverse_scales = 1.0 / np.array(scales)[:, None, None]
    count = len(classes)
    pis: list[np.ndarray] = [np.empty(0)] * count
    spans: list[np.ndarray] = [inverse_scales] * count  # a real line: commutant ℝ
    cs = [1] * count
    groups: dict[int, list[int]] = {}  # first pieces by block, each block one batch padded to its widest piece
    for k, cls in enumerate(classes):
        groups.setdefault(cls[0][0], []).append(k)
    for blk, members in groups.items():
        lo, hi = blocks[blk]
        dims = [classes[k][0][1].shape[1] for k in members]
        top = max(dims)
        stack = np.zeros((len(members), hi - lo, top))  # (n, |O|, D): zero columns past each piece's d
        for i, k in enumerate(members):
            stack[i, :, : dims[i]] = classes[k][0][1]
        left = np.swapaxes(stack, 1, 2)[:, None]
        pi = left @ stack[:, perms_r[:, lo:hi] - lo]  # (n, k, D, D): Pᵀ ρ(h) P, ρ(h) P a row gather
        if top > 1:
            compressed = left @ ws[None, :, lo:hi, lo:hi] @ stack[:, None]  # (n, NUM_RANDOM, D, D)
            found_c = _commutant_dims(compressed, scales, dims)
        for i, k in enumerate(members):
            d = dims[i]
            pis[k] = pi[i, :, :d, :d]
            if d > 1:
                cs[k] = int(found_c[i])
                spans[k] = compressed[i, :, :d, :d] * inverse_scales
    ids = identify_many(leaf.G, pis, cs, spans, prints)
    found: list[tuple[IrrepType, list[tuple[int, np.ndarray]]]] = []
    for cls, (t, tmat) in zip(classes, ids):
        if any(t is other for other, _ in found):
            raise SolverError(f"decompose: two classes of pieces of {leaf!r} were identified as one type {t!r}")
        found.append((t, cls if tmat.shape == (1, 1) and tmat[0, 0] == 1.0 else [(b, x @ tmat) for b, x in cls]))
    return found


def _commutant_dims(compressed: np.ndarray, scales: list[float], dims: list[int]) -> np.ndarray:
    """:func:`~constrainnet.solver.isotypic._commutant_dim` of n pieces at once: ``compressed`` (n, NUM_RANDOM, D, D)
    their compressions Pᵀ Wⱼ P, each zero past its dimension ``dims[i]`` (zeros add no singular value); 1 for a line."""
    n, r, top = compressed.shape[0], compressed.shape[1], compressed.shape[2]
    anti = (compressed - np.swapaxes(compressed, 2, 3)).reshape(n, r, top * top) / (2 * np.array(scales)[None, :, None])
    sv = np.linalg.svd(anti, compute_uv=False)
    c = np.where(np.array(dims) > 1, 1 + (sv > RANK_RTOL * np.maximum(1.0, sv[:, :1])).sum(axis=1), 1)
    bad = (c != 1) & (c != 2) & (c != 4)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise SolverError(f"decompose: expected an irreducible commutant of dimension 1, 2 or 4, got {int(c[at])} (d = {dims[at]})")
    return c


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
    u, column_orbit, comps = canonical_columns(n, found, len(blocks), reps, rep_of, maps)
    certify_orbit_blocks(leaf, u, column_orbit, orbits, comps, perms)
    u.setflags(write=False)
    return LeafDecomposition(leaf, u, tuple(comps))

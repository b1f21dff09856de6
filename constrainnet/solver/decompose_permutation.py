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
   random commutant elements come from the orbital labels of R × R (one
   graph search on |R|² pairs, no equivariant basis), and the pieces,
   their classes, commutants and types are found as for any leaf
   (:mod:`constrainnet.solver.isotypic`: eigenspaces per orbit, intertwiners
   between pieces, identification against the group's registry);
3. the copies of each type are carried to every orbit of the representative's
   class by φ (a permutation: exact), re-chosen canonically
   (:func:`~constrainnet.solver.isotypic.canonical_copies`) and certified on
   the generators, with ρ(h) U a row gather.

The result is the decomposition :func:`~constrainnet.solver.isotypic.decompose_leaf`
defines (the same types πₖ, the same canonical U up to rounding), found
without the (n² × n²)-sized commutant of the whole leaf.
"""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from ..reps import Rep
from .irreps import IrrepType, _fingerprint_elements, identify
from .isotypic import (
    DIXON_SEED,
    NUM_RANDOM,
    SCALAR_RTOL,
    SPLIT_RTOL,
    LeafDecomposition,
    _align,
    _commutant_dim,
    _split,
    _sym,
    canonical_copies,
    certify_products,
)
from .orbit import _graph_labels, coordinate_permutations, supports_orbits

__all__ = ["permutation_route_applies", "decompose_permutation_leaf", "orbit_isomorphism"]


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


def _orbits(perms: np.ndarray, n: int) -> list[np.ndarray]:
    """The orbits of the coordinates as increasing index arrays, ordered by their first coordinate."""
    labels = _graph_labels(perms, n)
    order = np.argsort(labels, kind="stable")
    return np.split(order, np.cumsum(np.bincount(labels))[:-1])


def _tree(perms: np.ndarray, orbit: np.ndarray, n: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """A breadth-first tree of ``orbit`` from its first coordinate: steps (h, parents, children), σ_h(parent) = child."""
    seen = np.zeros(n, dtype=bool)
    seen[orbit[0]] = True
    frontier = orbit[:1]
    steps = []
    while frontier.size:
        grown = []
        for h, sigma in enumerate(perms):
            child = sigma[frontier]
            new = ~seen[child]
            if new.any():
                child, parent = child[new], frontier[new]
                seen[child] = True
                steps.append((h, parent, child))
                grown.append(child)
        frontier = np.concatenate(grown) if grown else frontier[:0]
    return steps


def orbit_isomorphism(perms: np.ndarray, a: np.ndarray, b: np.ndarray, steps: list | None = None) -> np.ndarray | None:
    """A G-set isomorphism φ from orbit ``a`` onto orbit ``b``, or None when there is none.

    Every base point of ``b`` is tried at once: the breadth-first tree of
    ``a`` from a₀ = a[0] fixes φ(x) = σ_h(φ(parent)) for each tree edge, and
    the candidate is kept when φ(σ_h(x)) = σ_h(φ(x)) for every generator h and
    every x (a G-map between transitive sets of one size is a bijection).
    The first valid base point in the order of ``b`` is taken.

    Args:
        perms: (k, n) coordinate permutations of the generators.
        a: increasing coordinates of one orbit.
        b: increasing coordinates of another orbit of the same size.
        steps: the tree of ``a`` (:func:`_tree`), when already built.

    Returns:
        (len(a),) coordinates: φ(a[i]), or None.

    Example:
        >>> import numpy as np
        >>> perms = np.array([[1, 0, 3, 2]])  # one transposition on each of two orbits
        >>> orbit_isomorphism(perms, np.array([0, 1]), np.array([2, 3])).tolist()
        [2, 3]
    """
    n = perms.shape[1]
    if len(a) != len(b):
        return None
    steps = _tree(perms, a, n) if steps is None else steps
    phi = np.zeros((len(b), n), dtype=perms.dtype)
    phi[:, a[0]] = b
    for h, parent, child in steps:
        phi[:, child] = perms[h][phi[:, parent]]
    ok = np.ones(len(b), dtype=bool)
    for sigma in perms:
        ok &= (sigma[phi[:, a]] == phi[:, sigma[a]]).all(axis=1)
    hits = np.flatnonzero(ok)
    return phi[hits[0], a] if len(hits) else None


def _orbit_classes(perms: np.ndarray, orbits: list[np.ndarray]) -> tuple[list[int], list[np.ndarray]]:
    """For each orbit, the index of its class's representative orbit and φ from the representative onto it."""
    n = perms.shape[1]
    rep_of: list[int] = []
    maps: list[np.ndarray] = []
    trees: dict[int, list] = {}
    for i, orbit in enumerate(orbits):
        for r in dict.fromkeys(rep_of):
            if len(orbits[r]) != len(orbit):
                continue
            if r not in trees:
                trees[r] = _tree(perms, orbits[r], n)
            phi = orbit_isomorphism(perms, orbits[r], orbit, trees[r])
            if phi is not None:
                rep_of.append(r)
                maps.append(phi)
                break
        else:
            rep_of.append(i)
            maps.append(orbit)
    return rep_of, maps


def _orbital_elements(perms_r: np.ndarray, size: int) -> list[np.ndarray]:
    """NUM_RANDOM random commutant elements (size, size) of the permutation rep ``perms_r``: a value per orbital."""
    pairs = (perms_r[:, :, None] * size + perms_r[:, None, :]).reshape(len(perms_r), -1)
    labels = _graph_labels(pairs, size * size)
    counts = np.bincount(labels)
    rng = np.random.default_rng(DIXON_SEED)
    # Gaussian coefficients on the normalised orbital indicators, as a random element of the solved basis would be
    return [(rng.standard_normal(len(counts)) / np.sqrt(counts))[labels].reshape(size, size) for _ in range(NUM_RANDOM)]


def _is_scalar(x: np.ndarray, scale: float) -> bool:
    k = x.shape[0]
    if k == 1:
        return True
    return float(np.abs(x - (float(np.trace(x)) / k) * np.eye(k)).max()) <= SCALAR_RTOL * scale


def _split_orbits(size: int, blocks: list[np.ndarray], sym_w: list[np.ndarray], scales: list[float]) -> list[np.ndarray]:
    """The irreducible pieces of each orbit block, embedded as (size, d) columns.

    The eigenspaces of the first element split the block; the others are
    compressed onto all eigenvectors at once (one product each) and a piece
    on which one of them is not scalar is refined by
    :func:`~constrainnet.solver.isotypic._split` (the same pieces it would give).
    """
    done = []
    for idx in blocks:
        lo, hi = int(idx[0]), int(idx[-1]) + 1  # the blocks are contiguous in R
        local = [x[lo:hi, lo:hi] for x in sym_w]
        k = hi - lo
        if _is_scalar(local[0], scales[0]):
            parts = _split([np.eye(k)], local, scales)
        else:
            values, vecs = np.linalg.eigh(local[0])
            cuts = [0, *(np.flatnonzero(np.diff(values) > SPLIT_RTOL * scales[0]) + 1).tolist(), k]
            wide = any(b - a > 1 for a, b in zip(cuts[:-1], cuts[1:]))
            rest = [vecs.T @ x @ vecs for x in local[1:]] if wide else []
            parts = []
            for a, b in zip(cuts[:-1], cuts[1:]):
                p = vecs[:, a:b]
                if b - a == 1 or all(_is_scalar(r[a:b, a:b], sc) for r, sc in zip(rest, scales[1:])):
                    parts.append(p)
                else:
                    parts.extend(_split([p], local, scales))
        for p in parts:
            full = np.zeros((size, p.shape[1]))
            full[lo:hi] = p
            done.append(full)
    return done


def _piece_characters(pieces: list[np.ndarray], perms_r: np.ndarray) -> list[np.ndarray]:
    """Traces of each piece's π at the fingerprint elements of :mod:`~constrainnet.solver.irreps`, from permutations.

    ρ(a)ρ(b) permutes by σ_b ∘ σ_a, so each fixed word is one composed
    permutation σ_w, and tr Pᵀρ(w)P = Σ P ⊙ P[σ_w] for all pieces at once.
    """
    words, _ = _fingerprint_elements(len(perms_r), 0)
    allp = np.concatenate(pieces, axis=1)
    starts = np.cumsum([0] + [p.shape[1] for p in pieces[:-1]])
    out = np.empty((len(words), len(pieces)))
    for i, word in enumerate(words):
        sigma = perms_r[word[0]]
        for j in word[1:]:
            sigma = perms_r[j][sigma]
        out[i] = np.add.reduceat(np.einsum("ij,ij->j", allp, allp[sigma]), starts)
    return list(out.T)


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
    G = leaf.G
    perms = coordinate_permutations(leaf)
    orbits = _orbits(perms, n)
    rep_of, maps = _orbit_classes(perms, orbits)
    reps = sorted(set(rep_of))
    coords = np.concatenate([orbits[r] for r in reps])  # R, representative by representative
    size = len(coords)
    local = np.full(n, -1, dtype=perms.dtype)
    local[coords] = np.arange(size)
    perms_r = local[perms[:, coords]]
    bounds = np.cumsum([0] + [len(orbits[r]) for r in reps])
    blocks = [np.arange(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
    ws = _orbital_elements(perms_r, size)
    scales = [max(float(np.abs(w).sum(axis=1).max()), 1e-300) for w in ws]
    pieces = _split_orbits(size, blocks, [_sym(w) for w in ws], scales)
    classes = _align(pieces, ws, scales, _piece_characters(pieces, perms_r))
    found: list[tuple[IrrepType, list[np.ndarray]]] = []
    empty = np.zeros((0,) + (1, 1))
    for cls in classes:
        p = cls[0]
        d = p.shape[1]
        compressed = np.stack([p.T @ w @ p for w in ws])
        c = _commutant_dim(compressed, scales)
        spanning = compressed / np.array(scales)[:, None, None]
        pi_g = np.stack([p.T @ p[sigma] for sigma in perms_r])
        t, tmat = identify(G, pi_g, empty.reshape(0, d, d), 0.0, None, c=c, spanning=spanning)
        if any(t is other for other, _ in found):
            raise SolverError(f"decompose: two classes of pieces of {leaf!r} were identified as one type {t!r}")
        found.append((t, [b @ tmat for b in cls]))
    found.sort(key=lambda item: item[0].sort_key)
    # carry each copy from its representative orbit to every orbit of the class
    owner = np.searchsorted(bounds, np.arange(size), side="right") - 1  # block of each coordinate of R
    columns, comps = [], []
    for t, copies in found:
        full = []
        for b in copies:
            block = int(owner[int(np.flatnonzero(np.abs(b).sum(axis=1))[0])])
            rows = b[blocks[block]]
            for i, r in enumerate(rep_of):
                if r == reps[block]:
                    q = np.zeros((n, t.dim))
                    q[maps[i]] = rows
                    full.append(q)
        columns.extend(canonical_copies(full, t.units))
        comps.append((t, len(full)))
    u = np.concatenate(columns, axis=1)
    certify_products(leaf, u, comps, [("pi_generators", i, u[sigma], 1.0) for i, sigma in enumerate(perms)])
    u.setflags(write=False)
    return LeafDecomposition(leaf, u, tuple(comps))

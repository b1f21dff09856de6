r"""The isotypic decomposition of one leaf rep (no direct sum inside), from its commutant.

Method (Dixon's, on the solver's own commutant):

1. the commutant of the leaf ρ is the equivariant basis of ``leaf >> leaf``
   (an (n, n) matrix W per basis vector, ρ(g) W = W ρ(g)). For a group with
   a Lie algebra that its discrete generators normalise (SO(n), O(n), their
   products and subgroups) every W commutes with the Casimir, so the
   commutant is block-diagonal over the Casimir's eigenspaces
   (:mod:`constrainnet.solver.casimir`); when these are at most
   :data:`CASIMIR_BLOCK_MAX` wide, each block's commutant is solved densely
   on its own (m² unknowns instead of n²), wider blocks get random elements
   of their commutant by projecting random matrices onto it (conjugate
   gradients); groups without a Lie algebra solve ``leaf >> leaf``;
2. :data:`NUM_RANDOM` random elements W₀, W₁, … of it (seeded). The
   coordinates first split into the sets that every generator keeps (the
   orbits of a permutation rep: Z(12) V**2 gives twelve blocks of 12, not
   one of 144), and each set is split on its own: the
   eigenspaces of sym(W₀) = (W₀ + W₀ᵀ)/2 are invariant subspaces; a piece is
   irreducible when the compressions Pᵀ sym(Wⱼ) P are all scalar (the
   symmetric part of the commutant of an irreducible is ℝ·I), else it is
   split again by the eigenspaces of the first non-scalar one;
3. the commutant of an irreducible piece is a division algebra ℝ, ℂ or ℍ; its
   dimension c is one plus the rank of the antisymmetric parts of the
   compressions Pᵀ Wⱼ P, which also span its imaginary units (a new type's
   units come from them, checked to commute with π, with no (d² × d²) solve);
4. pieces of one type are found and aligned by the commutant's intertwiners
   Y = Pᵢᵀ Wⱼ P₁ (non-zero exactly between isomorphic pieces; normalised to
   be orthogonal), so every copy carries the same matrices; the first piece
   is rotated onto its type's canonical π_k (:mod:`constrainnet.solver.irreps`);
5. the copies of a type span Hom_G(π_k, ρ); they are re-chosen canonically:
   their first columns span a subspace F that depends only on the isotypic
   component, F gets the canonical basis f₁, f₂, … of
   :func:`~constrainnet.solver.canonical.canonical_basis`, and the copy
   through each fᵢ, orthogonalised against the copies kept before (and their
   images under the commutant units, for complex and quaternionic types), is
   kept when its residual exceeds :data:`COPY_RTOL`;
6. the result is certified on the generators: UᵀU = I, and ρ(h)U and dρ(A)U
   equal U (⊕ₖ I_{mₖ} ⊗ πₖ) to :data:`CERTIFY_ATOL`, else :class:`SolverError`.

A leaf on whose coordinates every generator of a finite group acts by a
permutation takes another route to the same result
(:mod:`constrainnet.solver.decompose_permutation`): its commutant is read
from the orbit labels of index pairs (no solve), one orbit per G-set class
is decomposed and the others get its pieces by relabelling, and the
canonical copies and the certification run orbit by orbit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from ..errors import RepError, SolverError
from ..groups import O
from ..reps import Rep
from .canonical import canonical_basis
from .casimir import JOIN_RTOL, normalizes_algebra, orthonormal_algebra
from .intertwiners import BlockEquations
from .intertwiners import _project_out_range as project_out_range
from .irreps import COMMUTANT_NAMES, FINGERPRINT_ATOL, IrrepType, hom_basis, identify

__all__ = ["LeafDecomposition", "decompose_leaf", "certify", "canonical_copies", "leaf_operators", "piece_invariants", "DECOMPOSE_MAX_SIZE", "CERTIFY_ATOL", "certify_products"]

# The commutant of a leaf of size n is a rep of size n²: above this leaf size
# (a commutant of 1M coordinates) the solve takes minutes, so we refuse first.
DECOMPOSE_MAX_SIZE = 1024
# Seed of the random commutant elements (the result is canonicalised after).
DIXON_SEED = 20261206
# Casimir eigenspaces up to this width have their commutant solved densely
# (a 256 × 256 symmetric eigensolve at most); wider ones by conjugate
# gradients, which measured 3-5x faster on SO(3) V**4 and V**5 (blocks of 18-75).
CASIMIR_BLOCK_MAX = 16
# Random commutant elements drawn: one to split, the rest to test irreducibility
# and to sample the imaginary units of the commutant (at most 3 of them).
NUM_RANDOM = 4
# Eigenvalues of a random commutant element closer than this (relative to its
# norm) are one eigenspace: merging is safe (the piece is split again later).
SPLIT_RTOL = 1e-9
# A compression Pᵀ sym(W) P is scalar when it deviates from its mean diagonal by
# less than this (relative); rounding leaves ~1e-14, a reducible piece O(1).
SCALAR_RTOL = 1e-8
# Intertwiners between two pieces (relative to ‖W‖): ~1e-15 between different
# types, O(1) between copies of one type.
ISO_RTOL = 1e-7
# Rank cut-off of the antisymmetric parts of the compressions (relative).
RANK_RTOL = 1e-8
# A re-chosen copy is kept when its residual norm (copies have norm 1) exceeds this.
COPY_RTOL = 1e-6
# Certification: float64 products of orthogonal matrices are exact to ~1e-13.
CERTIFY_ATOL = 1e-9
# Generators with at most this many non-zeros per row on average (permutation
# and signed permutation reps have 1) are applied as sparse matrices.
SPARSE_APPLY_NNZ = 4
# ρ(h) is orthogonal and dρ(A) antisymmetric to this (relative) accuracy.
ORTHOGONAL_ATOL = 1e-9


@dataclass(frozen=True)
class LeafDecomposition:
    """The decomposition of one leaf.

    Attributes:
        leaf: the leaf rep.
        u: (n, n) read-only orthogonal matrix; columns component by component, copy by copy.
        components: ((type, multiplicity), ...) in column order.
    """

    leaf: Rep
    u: np.ndarray
    components: tuple[tuple[IrrepType, int], ...]


def _sym(w: np.ndarray) -> np.ndarray:
    return 0.5 * (w + w.T)


def _check_orthogonal(leaf: Rep, gens: list[np.ndarray], alg: list[np.ndarray]) -> None:
    n = leaf.size
    for r in gens:
        err = float(np.abs(_apply(r.T, r) - np.eye(n)).max())
        if err > ORTHOGONAL_ATOL * max(1.0, float(np.abs(r).max())):
            raise RepError(
                f"decompose: expected an orthogonal rep (ρ(h)ᵀρ(h) = I), got {leaf!r} of {leaf.G!r} with "
                f"‖ρ(h)ᵀρ(h) − I‖ = {err:.3g}: a non-compact group (such as the Lorentz group) has no orthogonal "
                f"change of basis to its irreducibles"
            )
    for a in alg:
        err = float(np.abs(a + a.T).max())
        if err > ORTHOGONAL_ATOL * max(1.0, float(np.abs(a).max())):
            raise RepError(
                f"decompose: expected an orthogonal rep (dρ(A) antisymmetric), got {leaf!r} of {leaf.G!r} with "
                f"‖dρ(A) + dρ(A)ᵀ‖ = {err:.3g}: a non-compact group (such as the Lorentz group) has no orthogonal "
                f"change of basis to its irreducibles"
            )


def _commutant_elements(leaf: Rep, ops: tuple) -> list[np.ndarray]:
    """NUM_RANDOM random elements of the commutant of the leaf (seeded), as dense (n, n) arrays."""
    n = leaf.size
    G = leaf.G
    gens, alg, casimir_ops, _ = ops
    rng = np.random.default_rng(DIXON_SEED)
    if casimir_ops and normalizes_algebra(G, orthonormal_algebra(G)):
        casimir = sum(x.T @ x for x in casimir_ops)
        values, vecs = np.linalg.eigh(casimir)
        scale = max(float(np.abs(values).max()), 1.0)
        blocks = np.split(vecs, np.flatnonzero(np.diff(values) > JOIN_RTOL * scale) + 1, axis=1)
        ws = [np.zeros((n, n)) for _ in range(NUM_RANDOM)]
        for p in blocks:
            pg, pa = [p.T @ r @ p for r in gens], [p.T @ a @ p for a in alg]
            if p.shape[1] <= CASIMIR_BLOCK_MAX:
                h = hom_basis(pg + pa, pg + pa)
                parts = [np.tensordot(rng.standard_normal(len(h)), h, axes=1) for _ in ws]
            else:
                parts = _projected_random(pg, pa, rng)
            for w, part in zip(ws, parts):
                w += p @ part @ p.T
        return ws
    q = (leaf >> leaf).equivariant_basis()
    return [(q @ rng.standard_normal(q.dim)).reshape(n, n) for _ in range(NUM_RANDOM)]


def _projected_random(pg: list[np.ndarray], pa: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """NUM_RANDOM random matrices projected onto the commutant of a wide block by conjugate gradients.

    The commutant is the nullspace of M ↦ (dπ(A) M − M dπ(A), π(h) M π(h)ᵀ − M)
    (:class:`~constrainnet.solver.intertwiners.BlockEquations` with every entry
    free); projecting Gaussian matrices onto it gives Gaussian elements of it,
    at O(k³) per step instead of a (k² × k²) eigensolve.
    """
    k = pg[0].shape[0] if pg else pa[0].shape[0]
    rows, cols = np.divmod(np.arange(k * k), k)
    eq = BlockEquations(lie=[(a, a) for a in pa], discrete=[(h, h) for h in pg], rows=rows, cols=cols, shape=(k, k))
    start = rng.standard_normal((NUM_RANDOM, k * k))
    projected, _ = project_out_range(eq, start)
    return [x.reshape(k, k) for x in projected]


def _coordinate_blocks(n: int, gens: list[np.ndarray], alg: list[np.ndarray]) -> list[np.ndarray]:
    """The finest split of the coordinates into sets whose spans every ρ(h) and dρ(A) maps into themselves.

    The connected components of the graph with an edge i — j wherever some
    generator has a non-zero (i, j) entry, as index arrays in order of each
    set's first coordinate. A permutation rep splits into its
    orbits (Z(12) V**2: twelve orbits of 12 instead of one block of 144), so
    Dixon's eigensolves run on the orbits; a dense rep such as SO(3) V**k is
    one set.
    """
    mats = gens + alg
    if not mats:
        return [np.arange(n)]
    pattern = np.zeros((n, n), dtype=bool)
    for r in mats:
        pattern |= r != 0
    _, labels = scipy.sparse.csgraph.connected_components(scipy.sparse.csr_matrix(pattern), directed=False)
    _, first = np.unique(labels, return_index=True)
    return [np.flatnonzero(labels == labels[i]) for i in np.sort(first)]


def _split_blocks(n: int, blocks: list[np.ndarray], sym_w: list[np.ndarray], scales: list[float]) -> list[np.ndarray]:
    """:func:`_split` on each coordinate block (compressions by indexing), pieces embedded as (n, d) columns."""
    done = []
    for idx in blocks:
        local = [s[np.ix_(idx, idx)] for s in sym_w]
        for p in _split([np.eye(len(idx))], local, scales):
            full = np.zeros((n, p.shape[1]))
            full[idx] = p
            done.append(full)
    return done


def _split(pieces: list[np.ndarray], sym_w: list[np.ndarray], scales: list[float]) -> list[np.ndarray]:
    """Refine invariant subspaces until every compression of the random elements is scalar."""
    done = []
    work = list(pieces)
    while work:
        p = work.pop(0)
        k = p.shape[1]
        for s, scale in zip(sym_w, scales):
            x = p.T @ s @ p
            mean = float(np.trace(x)) / k
            if float(np.abs(x - mean * np.eye(k)).max()) <= SCALAR_RTOL * scale:
                continue
            values, vecs = np.linalg.eigh(_sym(x))
            breaks = np.flatnonzero(np.diff(values) > SPLIT_RTOL * scale)
            if len(breaks) == 0:
                continue
            parts = [p @ vecs[:, c] for c in np.split(np.arange(k), breaks + 1)]
            work = parts + work
            break
        else:
            done.append(p)
    return done


def _commutant_dim(compressed: np.ndarray, scales: list[float]) -> int:
    """c from the compressions Pᵀ Wⱼ P (k, d, d) of the random commutant elements to an irreducible piece."""
    d = compressed.shape[1]
    anti = np.stack([(x - x.T).ravel() / (2 * s) for x, s in zip(compressed, scales)])
    sv = np.linalg.svd(anti, compute_uv=False)
    c = 1 + int(np.sum(sv > RANK_RTOL * max(1.0, float(sv[0]) if len(sv) else 0.0))) if d > 1 else 1
    if c not in COMMUTANT_NAMES:
        raise SolverError(f"decompose: expected an irreducible commutant of dimension 1, 2 or 4, got {c} (d = {d})")
    return c


def _align(pieces: list[np.ndarray], ws: list[np.ndarray], scales: list[float], prints: list[np.ndarray] | None = None) -> list[list[np.ndarray]]:
    """Group isomorphic pieces and rotate each onto the first of its class (same matrices).

    ``prints`` (optional): the character of each piece at a few fixed group
    elements; pieces whose characters differ by more than
    :data:`~constrainnet.solver.irreps.FINGERPRINT_ATOL` · d are not isomorphic,
    and their intertwiners are not formed.
    """
    classes: list[list[np.ndarray]] = []
    images: list[list[np.ndarray]] = []  # Wⱼ P₁ / scaleⱼ for each class's first piece P₁
    firsts: list[int] = []
    for at, p in enumerate(pieces):
        d = p.shape[1]
        for cls, wm, first in zip(classes, images, firsts):
            master = cls[0]
            if master.shape[1] != d:
                continue
            if prints is not None and float(np.abs(prints[at] - prints[first]).max()) > FINGERPRINT_ATOL * d:
                continue
            ys = [p.T @ x for x in wm]
            norms = [float(np.linalg.norm(y)) for y in ys]
            j = int(np.argmax(norms))
            if norms[j] <= ISO_RTOL:
                continue
            y = ys[j] * (np.sqrt(d) / norms[j])
            if float(np.abs(y.T @ y - np.eye(d)).max()) > 1e-6:
                raise SolverError(f"decompose: an intertwiner between two pieces is not a scaled rotation (d = {d})")
            cls.append(p @ y)
            break
        else:
            classes.append([p])
            images.append([w @ p / s for w, s in zip(ws, scales)])
            firsts.append(at)
    return classes


def canonical_copies(copies: list[np.ndarray], units: np.ndarray) -> list[np.ndarray]:
    """Re-choose the m copies of one type canonically (see step 5 of the module docstring)."""
    m, d = len(copies), units.shape[1]
    bu = np.stack([b @ u for b in copies for u in units])  # (m c, n, d)
    phi = bu[:, :, 0].T  # first columns: an orthonormal basis of F
    qc, _ = canonical_basis(phi)
    r = phi.T @ qc
    maps = np.tensordot(r.T, bu, axes=1)  # the copy through each canonical f
    chosen: list[np.ndarray] = []
    kept = np.empty((0, maps.shape[1] * d))  # the kept copies times each unit, flattened (orthonormal in ⟨x, y⟩/d)
    for t in maps:
        flat = t.reshape(-1)
        for _ in range(2):  # block Gram–Schmidt, twice (Kahan)
            flat = flat - ((kept @ flat) / d) @ kept
        norm = float(np.sqrt(flat @ flat / d))
        if norm > COPY_RTOL:
            copy = (flat / norm).reshape(t.shape)
            chosen.append(copy)
            if len(chosen) == m:
                break
            kept = np.concatenate([kept, np.stack([(copy @ u).reshape(-1) for u in units])])
    if len(chosen) != m:
        raise SolverError(f"decompose: re-chose {len(chosen)} copies of an irreducible, expected {m}")
    return chosen


def leaf_operators(leaf: Rep) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """ρ(h) for the discrete generators, dρ(A) for the Lie algebra generators, dρ of an orthonormal
    algebra basis (for the Casimir), and ρ(−I) for O(3) (else None), all dense (n, n)."""
    G = leaf.G
    gens = [leaf.rho(h) for h in G.discrete_generators]
    alg = [leaf.drho(a) for a in G.lie_algebra]
    casimir_ops = [leaf.drho(x) for x in orthonormal_algebra(G)]
    minus_i = leaf.rho(-np.eye(G.d)) if G == O(3) else None
    return gens, alg, casimir_ops, minus_i


def piece_invariants(p: np.ndarray, ops: tuple) -> tuple[np.ndarray, np.ndarray, float, float | None]:
    """A piece P (n, d): π on the discrete generators, dπ on the Lie algebra, its Casimir, and tr π(−I) (O(3))."""
    gens, alg, casimir_ops, minus_i = ops
    d = p.shape[1]
    pi_g = np.array([p.T @ (r @ p) for r in gens]).reshape(len(gens), d, d)
    pi_a = np.array([p.T @ a @ p for a in alg]).reshape(len(alg), d, d)
    casimir = sum(float(np.sum((x @ p) ** 2)) for x in casimir_ops) / d
    parity = float(np.trace(p.T @ minus_i @ p)) if minus_i is not None else None
    return pi_g, pi_a, casimir, parity


def certify(leaf: Rep, u: np.ndarray, comps: list[tuple[IrrepType, int]], gens: list[np.ndarray], alg: list[np.ndarray]) -> None:
    """Check UᵀU = I and ρ(x) U = U (⊕ₖ I_{mₖ} ⊗ πₖ(x)) on every generator x, else raise.

    With UᵀU = I (to rounding) the second is Uᵀρ(x)U = ⊕ₖ I_{mₖ} ⊗ πₖ(x). It
    is checked column block by column block: U_k (n, mₖ dₖ) times the block
    form is a reshape times πₖ, O(n² dₖ) instead of a dense (n × n) product,
    and ρ(x) U is a sparse product when ρ(x) is a permutation-like matrix.
    """
    products = [("pi_generators", i, _apply(r, u), max(1.0, float(np.abs(r).max()))) for i, r in enumerate(gens)]
    products += [("pi_algebra", i, _apply(a, u), max(1.0, float(np.abs(a).max()))) for i, a in enumerate(alg)]
    certify_products(leaf, u, comps, products)


def certify_products(leaf: Rep, u: np.ndarray, comps: list[tuple[IrrepType, int]], products: list[tuple], gram: float | None = None) -> None:
    """Check UᵀU = I and each given product ρ(x) U against U (⊕ₖ I_{mₖ} ⊗ πₖ(x)), else raise :class:`SolverError`.

    Args:
        leaf: the leaf (named in the error).
        u: (n, n) the change of basis, columns component by component.
        comps: ((type, multiplicity), ...) in column order.
        products: ``(which, i, ρ(x) U, scale)`` for every generator x: ``which`` is
            "pi_generators" or "pi_algebra", i the generator's index, ρ(x) U an
            (n, n) array or, when ρ(x) permutes the coordinates, the (n,) index
            array σ with ρ(x) U = U[σ]; the residual is divided by ``scale`` (the
            largest entry of ρ(x), at least 1).
        gram: max |UᵀU − I| when the caller has formed it more cheaply (from
            exact structure, such as orbit blocks); None: formed here.
    """
    n = leaf.size
    worst = float(np.abs(u.T @ u - np.eye(n)).max()) if gram is None else float(gram)
    # the columns of all components of one dimension d at once: U (n, M, d) times the stack of their M blocks πₖ(x)
    by_dim: dict[int, list[tuple[int, int, IrrepType]]] = {}
    at = 0
    for t, m in comps:
        by_dim.setdefault(t.dim, []).append((at, m, t))
        at += m * t.dim
    groups = []
    for d, members in by_dim.items():
        cols = np.concatenate([np.arange(a, a + m * d) for a, m, _ in members])
        copies = np.ascontiguousarray(np.swapaxes(u[:, cols].reshape(n, -1, d), 0, 1))  # (M, n, d)
        owner = np.repeat(np.arange(len(members)), [m for _, m, _ in members])
        groups.append((d, cols, copies, owner, [t for _, _, t in members]))
    for which, i, ru, scale in products:
        for d, cols, copies, owner, types in groups:
            pis = np.stack([getattr(t, which)[i] for t in types])[owner]  # (M, d, d)
            block = copies @ pis if d > 1 else copies * pis
            if ru.ndim == 1:  # ρ(x) permutes the rows: ρ(x) U = U[σ]
                image = copies[:, ru]
            else:
                image = np.swapaxes(ru[:, cols].reshape(n, -1, d), 0, 1)
            worst = max(worst, float(np.abs(image - block).max()) / scale)
    if worst > CERTIFY_ATOL:
        raise SolverError(
            f"decompose: cannot certify the decomposition of {leaf!r}: residual of ρ U against U times the block form "
            f"{worst:.3g}, expected ≤ {CERTIFY_ATOL:g}"
        )


def _apply(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    """r @ x, through a sparse matrix when r has at most a few non-zeros per row (permutation reps)."""
    n = r.shape[0]
    if np.count_nonzero(r) <= SPARSE_APPLY_NNZ * n:
        return np.asarray(scipy.sparse.csr_matrix(r) @ x)
    return r @ x


def decompose_leaf(leaf: Rep) -> LeafDecomposition:
    """The certified, canonical isotypic decomposition of a leaf rep.

    Args:
        leaf: a rep without direct sums, of size at most :data:`DECOMPOSE_MAX_SIZE`,
            with orthogonal ρ.

    Returns:
        A :class:`LeafDecomposition`.

    Raises:
        SolverError: the leaf is too large, or the result cannot be certified.
        RepError: ρ is not orthogonal (a non-compact group).
    """
    n = leaf.size
    if n > DECOMPOSE_MAX_SIZE:
        raise SolverError(f"decompose: expected leaves of size at most {DECOMPOSE_MAX_SIZE} (the commutant has n² coordinates), got {leaf!r} of size {n}")
    from .decompose_permutation import decompose_permutation_leaf, permutation_route_applies

    if permutation_route_applies(leaf):
        return decompose_permutation_leaf(leaf)
    G = leaf.G
    ops = leaf_operators(leaf)
    gens, alg = ops[0], ops[1]
    _check_orthogonal(leaf, gens, alg)
    ws = _commutant_elements(leaf, ops)
    scales = [max(float(np.abs(w).sum(axis=1).max()), 1e-300) for w in ws]
    pieces = _split_blocks(n, _coordinate_blocks(n, gens, alg), [_sym(w) for w in ws], scales)
    classes = _align(pieces, ws, scales)
    found: list[tuple[IrrepType, list[np.ndarray]]] = []
    for cls in classes:
        p = cls[0]
        compressed = np.stack([p.T @ w @ p for w in ws])
        c = _commutant_dim(compressed, scales)
        spanning = compressed / np.array(scales)[:, None, None]  # each of norm O(1), as in _commutant_dim
        t, tmat = identify(G, *piece_invariants(p, ops), c=c, spanning=spanning)
        if any(t is other for other, _ in found):
            raise SolverError(f"decompose: two classes of pieces of {leaf!r} were identified as one type {t!r}")
        found.append((t, [b @ tmat for b in cls]))
    found.sort(key=lambda item: item[0].sort_key)
    columns = []
    comps = []
    for t, copies in found:
        columns.extend(canonical_copies(copies, t.units))
        comps.append((t, len(copies)))
    u = np.concatenate(columns, axis=1)
    certify(leaf, u, comps, gens, alg)
    u.setflags(write=False)
    return LeafDecomposition(leaf, u, tuple(comps))

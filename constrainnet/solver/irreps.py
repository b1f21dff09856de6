"""Irreducible types of a group, found inside reps and identified across them.

The decomposition (:mod:`constrainnet.solver.decompose`) splits a rep into
irreducible pieces; this module tells which pieces are the *same*
irreducible and fixes one matrix realisation π_k for each type, so that every
copy of the type, in every rep of the group, is written with the same π_k.

A piece is given by its generator matrices π(h) (discrete generators) and
dπ(A) (Lie algebra generators) in some orthonormal basis of the piece. Two
rules make the realisation canonical:

1. the *cyclic form*: take a fixed generic symmetric element S of the group
   algebra — a seeded combination of the symmetrised words of length ≤ 3 in
   the generators, the same for every piece of the group — and a unit vector
   v₀ of its first eigenspace whose dimension equals the dimension c of the
   piece's commutant. The basis is v₀, then X v₀, X Y v₀, … (X, Y the
   generators, breadth first) orthonormalised in that order, a vector kept
   when its residual exceeds :data:`CYCLIC_RTOL`. Any other admissible v₀ is
   u v₀ for an orthogonal u in the commutant, which commutes with every
   generator: the basis is multiplied by u and the matrices do not change.
   So isomorphic pieces give the same matrices, up to rounding;
2. the *registry*: per group value, the first piece of each type met in this
   process fixes π_k (its cyclic form). A later piece is matched to the known
   types of its dimension, commutant and character fingerprint (traces are
   invariants: a different fingerprint is a different type, with no solve)
   by solving Hom(piece, π_k) densely — a non-zero intertwiner means the
   same type — and is then rotated by that
   intertwiner onto π_k exactly. Because of rule 1, which rep met a type
   first changes π_k only at rounding level (~1e-10), never its form.

Each type carries readable invariants: its dimension, its commutant
("real", "complex", "quaternionic"), a character fingerprint (traces at
fixed seeded group elements), the Casimir eigenvalue, and for SO(3) and
O(3) the angular momentum l (from the Casimir l(l + 1)) and, for O(3), the
parity (the action of −I).
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.linalg

from ..errors import SolverError
from ..groups import Group
from .canonical import PIVOT_ATOL, canonical_basis
from .cyclic import CYCLIC_RTOL, CYCLIC_SEED, EIGEN_JOIN_RTOL, MAX_WORD_LENGTH, cyclic_form  # noqa: F401 (re-exported)

__all__ = [
    "IrrepType",
    "irreps_seen",
    "registry_clear",
    "identify",
    "hom_basis",
    "cyclic_form",
    "COMMUTANT_NAMES",
    "MAX_IRREP_DIM",
]

COMMUTANT_NAMES = {1: "real", 2: "complex", 4: "quaternionic"}

# Irreducible pieces larger than this would need a dense (d² × d²) solve to be
# matched to their type (4096 unknowns at 64): refused with a clear error.
MAX_IRREP_DIM = 64
# Seed of the fingerprint elements: fixed, so every process builds the same ones.
FINGERPRINT_SEED = 20261205
# Singular values of the Hom constraints below this (relative to the largest,
# at least 1) span the intertwiners; rounding puts them at ~1e-14.
HOM_NULL_RTOL = 1e-8
# On the Gram matrix KᵀK the nullspace sits at ~1e-16 (relative); the path is
# kept only when every other eigenvalue is ≥ HOM_NULL_RTOL (a clear gap).
HOM_GRAM_RTOL = 1e-11
# The cyclic forms of a piece and of its type agree to rounding (~1e-10); a
# larger difference means the canonical rule failed, and we refuse to guess.
CYCLIC_MATCH_ATOL = 1e-6
# The number of fixed group elements whose traces form the fingerprint.
FINGERPRINT_SIZE = 8
# Two fingerprints (traces of orthogonal d × d matrices, exact to ~1e-13 d)
# differing by more than this times d belong to different types: traces are
# invariants, so only types whose fingerprints agree are tested by a Hom solve.
FINGERPRINT_ATOL = 1e-7
# Imaginary units from spanning elements: singular values of their antisymmetric
# parts below this (relative) are rounding; the units commute with π to UNIT_ATOL
# (relative to the generators; float64 products are exact to ~1e-13).
UNIT_RTOL = 1e-8
UNIT_ATOL = 1e-9

_LOCK = threading.Lock()
_REGISTRY: dict[Group, list["IrrepType"]] = {}


class IrrepType:
    """One irreducible type of a group: its canonical matrices π_k and its invariants.

    Types are shared by every rep of the group (per process): the same
    irreducible met in ``V**2`` and in ``V**3`` is the same object, and
    equality is identity. ``pi_generators`` and ``pi_algebra`` hold π_k on
    the group's discrete generators and dπ_k on its Lie algebra generators.

    Attributes:
        group: the group.
        dim: d, the dimension of the irreducible.
        commutant: "real", "complex" or "quaternionic" (End_G of dimension 1, 2, 4).
        fingerprint: traces of π_k at :data:`FINGERPRINT_SIZE` fixed group elements.
        casimir: the Casimir eigenvalue Σᵢ dπ(Xᵢ)ᵀdπ(Xᵢ) (orthonormal Xᵢ), 0 for finite groups.
        l: the angular momentum for SO(3) and O(3) (from casimir = l(l+1)/2), else None.
        parity: +1 or −1, the action of −I, for O(3); else None.
        units: (c, d, d) an orthonormal basis of the commutant of π_k, units[0] = I.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> D = (cn.V(SO(3))**2).decompose()
        >>> [(c.irrep.l, c.dim) for c in D.components]
        [(0, 1), (1, 3), (2, 5)]
    """

    __slots__ = (
        "group", "dim", "commutant", "fingerprint", "casimir", "l", "parity", "units",
        "pi_generators", "pi_algebra", "serial", "_sort_key",
    )

    def __init__(self, group: Group, pi_generators: np.ndarray, pi_algebra: np.ndarray, units: np.ndarray,
                 casimir: float, l: int | None, parity: int | None, serial: int,
                 prints: tuple[float, ...] | None = None) -> None:
        self.group = group
        self.dim = int(units.shape[1])
        self.commutant = COMMUTANT_NAMES[len(units)]
        self.pi_generators = _read_only(pi_generators)
        self.pi_algebra = _read_only(pi_algebra)
        self.units = _read_only(units)
        self.fingerprint = fingerprint(group, self.pi_generators, self.pi_algebra) if prints is None else tuple(prints)
        self.casimir = float(casimir)
        self.l = l
        self.parity = parity
        self.serial = serial
        self._sort_key: tuple | None = None

    @property
    def sort_key(self) -> tuple:
        """(dim, commutant dimension, rounded fingerprint, rounded π_k): the order of components, independent
        of the order met. Types whose fingerprints agree (P4M(4) has three 2-dimensional types with zero traces
        at every fingerprint element) are ordered by their canonical matrices (the cyclic form), which differ
        between non-isomorphic types."""
        if self._sort_key is None:
            matrices = np.concatenate([self.pi_generators.ravel(), self.pi_algebra.ravel()])
            self._sort_key = (
                self.dim,
                len(self.units),
                tuple([round(x, 6) + 0.0 for x in np.asarray(self.fingerprint, dtype=np.float64).tolist()]),
                tuple((np.round(matrices, 6) + 0.0).tolist()),  # rounded as one array: d² k numbers
            )
        return self._sort_key

    @property
    def label(self) -> str:
        """A short readable name: ``l=2`` (SO(3)), ``l=1,p=-1`` (O(3)), else the dimension, the commutant's
        letter and the first three fingerprint traces (``2c[0.52,-1.00,1.73]``): independent of the order met."""
        if self.l is not None:
            return f"l={self.l}" if self.parity is None else f"l={self.l},p={self.parity:+d}"
        chars = ",".join(f"{x:.2f}" for x in self.fingerprint[:3])
        return f"{self.dim}{self.commutant[0]}[{chars}]"

    def __repr__(self) -> str:
        return f"IrrepType({self.group!r}, {self.label}, dim={self.dim}, commutant={self.commutant!r})"


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def irreps_seen(G: Group) -> tuple[IrrepType, ...]:
    """The irreducible types of ``G`` met so far in this process, ordered by their sort key.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> _ = (cn.V(SO(3))**2).decompose()
        >>> [t.l for t in irreps_seen(SO(3))][:3]
        [0, 1, 2]
    """
    if not isinstance(G, Group):
        raise TypeError(f"irreps_seen: expected a Group, got {type(G).__name__}")
    with _LOCK:
        return tuple(sorted(_REGISTRY.get(G, []), key=lambda t: t.sort_key))


def registry_clear() -> None:
    """Forget every type (decompositions cached before refer to the old ones: clear them too)."""
    with _LOCK:
        _REGISTRY.clear()


# -- intertwiners between small irreducibles -----------------------------------------
def hom_basis(pi_a: list[np.ndarray], pi_b: list[np.ndarray]) -> np.ndarray:
    """An orthonormal (Frobenius) basis of {T : A T = T B for each pair (A, B) of generator matrices}.

    Args:
        pi_a: the generator matrices of one rep, each (p, p).
        pi_b: the same generators in another rep, each (q, q).

    Returns:
        (k, p, q) array, k the dimension of the intertwiner space.

    Example:
        >>> import numpy as np
        >>> J = np.array([[0.0, -1.0], [1.0, 0.0]])
        >>> hom_basis([J], [J]).shape  # span of I and J: a complex-type commutant
        (2, 2, 2)
    """
    p = pi_a[0].shape[0] if pi_a else 1
    q = pi_b[0].shape[0] if pi_b else 1
    if not pi_a:
        return np.eye(p * q).reshape(p * q, p, q)
    # row-major vec: vec(A T) = (A ⊗ I) vec T, vec(T B) = (I ⊗ Bᵀ) vec T
    # the rows of all pairs at once (the entries of np.kron(a, I) − np.kron(I, bᵀ), exactly)
    a_stack, b_stack = np.asarray(pi_a, dtype=np.float64), np.asarray(pi_b, dtype=np.float64)
    k = (np.einsum("hik,jl->hijkl", a_stack, np.eye(q)) - np.einsum("ik,hlj->hijkl", np.eye(p), b_stack)).reshape(-1, p * q)
    if k.size:
        # eigenvectors of the Gram matrix: one GEMM and a symmetric eigensolve instead of an SVD
        # (LAPACK's SVD of these small matrices is ~100x slower when its threads compete for cores)
        lam, vecs = np.linalg.eigh(k.T @ k)
        scale = max(float(lam[-1]), 1.0)
        null = lam <= HOM_GRAM_RTOL * scale
        rest = lam[~null]
        if not len(rest) or rest.min() >= HOM_NULL_RTOL * scale:
            return np.ascontiguousarray(vecs[:, null].T).reshape(-1, p, q)
    _, s, vt = scipy.linalg.svd(k, full_matrices=True)
    s_full = np.zeros(p * q)
    s_full[: len(s)] = s
    null = s_full <= HOM_NULL_RTOL * max(float(s_full[0]), 1.0)
    return vt[null].reshape(-1, p, q)


def commutant_units(pi: list[np.ndarray], c: int, spanning: np.ndarray | None = None) -> np.ndarray:
    """An orthonormal basis of the commutant of an irreducible: I, then canonical imaginary units (uᵀ = −u, u² = −I).

    Args:
        pi: the irreducible's generator matrices, each (d, d).
        c: the dimension of its commutant (1, 2 or 4).
        spanning: optional (k, d, d) elements that span the commutant (such
            as compressions of random commutant elements of the rep the
            piece came from). Given, the imaginary units are the span of
            their antisymmetric parts, checked to commute with ``pi`` (no
            (d² × d²) solve); else the commutant is solved by :func:`hom_basis`.

    Raises:
        SolverError: the commutant found has another dimension than ``c``, or
            a unit from ``spanning`` does not commute with ``pi``.
    """
    d = pi[0].shape[0] if pi else 1
    if c == 1 and spanning is not None:
        return np.eye(d)[None]
    if spanning is not None:
        imag = (0.5 * (spanning - np.swapaxes(spanning, 1, 2))).reshape(len(spanning), -1)
        _, s, vt = np.linalg.svd(imag, full_matrices=False)
        if len(s) < c - 1 or s[c - 2] <= UNIT_RTOL * max(float(s[0]), 1e-300) or (len(s) >= c and s[c - 1] > UNIT_RTOL * float(s[0])):
            raise SolverError(f"irreducible piece: expected a commutant of dimension {c}, got singular values {np.round(s, 6).tolist()}")
        for u in vt[: c - 1]:
            u = u.reshape(d, d)
            worst = max((float(np.abs(x @ u - u @ x).max()) / max(1.0, float(np.abs(x).max())) for x in pi), default=0.0)
            if worst > UNIT_ATOL:
                raise SolverError(f"irreducible piece: expected imaginary units commuting with π, got a residual {worst:.3g} (tolerance {UNIT_ATOL:g})")
    else:
        basis = hom_basis(pi, pi)
        if len(basis) != c:
            raise SolverError(f"irreducible piece: expected a commutant of dimension {c}, got {len(basis)}")
        flat = basis.reshape(len(basis), -1)
        eye = np.eye(d).reshape(-1) / np.sqrt(d)
        imag = flat - np.outer(flat @ eye, eye)
        _, s, vt = np.linalg.svd(imag, full_matrices=False)
    imag = vt[: c - 1].T if c > 1 else np.zeros((d * d, 0))
    if c == 2:  # the canonical basis of a line: its unit vector, positive at its first entry above the pivot tolerance
        imag = imag * np.sign(imag[int(np.argmax(np.abs(imag[:, 0]) > PIVOT_ATOL)), 0])
    else:
        imag, _ = canonical_basis(imag)
    units = np.concatenate([np.eye(d)[None], (imag.T * np.sqrt(d)).reshape(c - 1, d, d)])
    return units


# -- invariants ------------------------------------------------------------------------
def fingerprint(G: Group, pi_generators: np.ndarray, pi_algebra: np.ndarray) -> tuple[float, ...]:
    """Traces of π at :data:`FINGERPRINT_SIZE` fixed elements w · exp(Σ aⱼ dπ(Aⱼ)) (w a seeded word in the generators)."""
    k, m = len(pi_generators), len(pi_algebra)
    d = (pi_generators.shape[1] if k else pi_algebra.shape[1]) if (k or m) else 1
    words, coefs = _fingerprint_elements(k, m)
    if k:
        prod = pi_generators[words[:, 0]]  # the words' products, all elements at once
        for j in range(1, words.shape[1]):
            prod = prod @ pi_generators[words[:, j]]
    else:
        prod = np.broadcast_to(np.eye(d), (FINGERPRINT_SIZE, d, d))
    if m:
        prod = np.stack([x @ scipy.linalg.expm(np.tensordot(a, pi_algebra, axes=1)) for x, a in zip(prod, coefs)])
    return tuple(float(x) for x in np.einsum("kii->k", prod))


_FINGERPRINT_ELEMENTS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _fingerprint_elements(k: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded words (FINGERPRINT_SIZE, 7) in k generators and algebra coefficients (FINGERPRINT_SIZE, m)."""
    key = (k, m)
    if key not in _FINGERPRINT_ELEMENTS:
        rng = np.random.default_rng(FINGERPRINT_SEED)
        words, coefs = np.zeros((FINGERPRINT_SIZE, 7 if k else 0), dtype=np.int64), np.zeros((FINGERPRINT_SIZE, m))
        for i in range(FINGERPRINT_SIZE):
            if k:
                words[i] = rng.integers(0, k, size=7)
            if m:
                coefs[i] = rng.standard_normal(m)
        _FINGERPRINT_ELEMENTS[key] = (words, coefs)
    return _FINGERPRINT_ELEMENTS[key]


def _angular_momentum(G: Group, casimir: float, parity_sign: float | None) -> tuple[int | None, int | None]:
    from ..groups import O, SO

    if len(G.lie_algebra) != 3 or G.d != 3 or G not in (SO(3), O(3)):
        return None, None
    # SO(3) generators with orthonormal (trace) basis Xᵢ = Lᵢ/√2: Σ dπ(Xᵢ)ᵀdπ(Xᵢ) = l(l+1)/2
    l = int(round((-1.0 + np.sqrt(1.0 + 8.0 * casimir)) / 2.0))
    parity = None if parity_sign is None else (1 if parity_sign > 0 else -1)
    return l, parity


# -- identification ----------------------------------------------------------------------
def identify(G: Group, pi_generators: np.ndarray, pi_algebra: np.ndarray, casimir: float,
             parity_sign: float | None, c: int, spanning: np.ndarray | None = None,
             prints: tuple[float, ...] | None = None) -> tuple[IrrepType, np.ndarray]:
    """The type of an irreducible piece, and the orthogonal T that rotates the piece onto π_k.

    Args:
        G: the group.
        pi_generators: (k, d, d) the piece's π on G's discrete generators.
        pi_algebra: (m, d, d) the piece's dπ on G's Lie algebra generators.
        casimir: the piece's Casimir eigenvalue (0 without a Lie algebra).
        parity_sign: the trace of π(−I) for O(3), else None.
        c: the dimension of the piece's commutant.
        spanning: optional (k, d, d) elements spanning the piece's commutant
            (compressions of random commutant elements): a new type's units
            are taken from them instead of a (d² × d²) solve
            (:func:`commutant_units`).
        prints: the piece's :func:`fingerprint` when already known (traces are
            invariants: computed from the piece's rep, they equal the cyclic
            form's to rounding); None: computed here from the cyclic form.

    Returns:
        ``(type, T)`` with T orthogonal (d, d) and π(x) T = T π_k(x) for every generator x,
        so the piece's basis times T carries exactly π_k.

    Raises:
        SolverError: the piece is larger than :data:`MAX_IRREP_DIM`, or its cyclic form
            disagrees with an isomorphic known type (the canonical rule failed).
    """
    d = pi_generators.shape[1] if len(pi_generators) else (pi_algebra.shape[1] if len(pi_algebra) else 1)
    if d > MAX_IRREP_DIM:
        raise SolverError(f"decompose: expected irreducible pieces of dimension at most {MAX_IRREP_DIM}, got one of dimension {d}")
    gens = list(pi_generators) + list(pi_algebra)
    b = cyclic_form(gens, c)
    cyc_gens = b.T @ np.asarray(pi_generators) @ b if len(pi_generators) else pi_generators
    cyc_alg = b.T @ np.asarray(pi_algebra) @ b if len(pi_algebra) else pi_algebra
    cyc = list(cyc_gens) + list(cyc_alg)
    if prints is None:
        prints = fingerprint(G, cyc_gens, cyc_alg)  # of the cyclic form: a new type's own π_k
    prints = tuple(float(x) for x in prints)
    with _LOCK:
        known = _REGISTRY.setdefault(G, [])
        hit = match_known(known, gens, cyc, prints, b, c)
        if hit is not None:
            return hit
        return register(G, known, cyc_gens, cyc_alg, c, b, spanning, casimir, parity_sign, prints), b


def match_known(known: list[IrrepType], gens: list[np.ndarray], cyc: list[np.ndarray], prints: tuple[float, ...],
                b: np.ndarray, c: int) -> tuple[IrrepType, np.ndarray] | None:
    """The known type isomorphic to a piece and the orthogonal T rotating the piece onto its π_k, or None.

    Only types of the piece's dimension, commutant and fingerprint (to
    :data:`FINGERPRINT_ATOL` · d) are tested, by a dense Hom solve. The caller
    holds the registry's lock (``known`` is a registry list).

    Args:
        known: the types to test, in order.
        gens: the piece's generator matrices (discrete, then Lie algebra), each (d, d).
        cyc: the same in its cyclic form (``bᵀ x b``).
        prints: the piece's fingerprint.
        b: its cyclic form (:func:`cyclic_form`).
        c: its commutant dimension.

    Raises:
        SolverError: an isomorphic type has another cyclic form (the canonical rule failed).
    """
    d = b.shape[0]
    for t in known:
        if t.dim != d or len(t.units) != c:
            continue
        if float(np.abs(np.array(prints) - np.array(t.fingerprint)).max()) > FINGERPRINT_ATOL * d:
            continue  # different characters: not isomorphic, no solve needed
        ref = list(t.pi_generators) + list(t.pi_algebra)
        h = hom_basis(gens, ref)  # π T = T π_k
        if len(h) == 0:
            continue
        if max((float(np.abs(x - y).max()) for x, y in zip(cyc, ref)), default=0.0) > CYCLIC_MATCH_ATOL:
            raise SolverError(
                f"decompose: a piece isomorphic to {t!r} has another cyclic form (difference above "
                f"{CYCLIC_MATCH_ATOL:g}): the canonical realisation is not certified"
            )
        # the intertwiner closest to b (which maps π_k to the piece up to rounding), made orthogonal
        coef = np.einsum("kij,ij->k", h, b)
        tmat = np.tensordot(coef, h, axes=1)
        tmat *= np.sqrt(d) / np.linalg.norm(tmat)
        return t, tmat
    return None


def register(G: Group, known: list[IrrepType], cyc_gens: np.ndarray, cyc_alg: np.ndarray, c: int, b: np.ndarray,
             spanning: np.ndarray | None, casimir: float, parity_sign: float | None,
             prints: tuple[float, ...], units: np.ndarray | None = None) -> IrrepType:
    """A new type of G with the piece's cyclic form as π_k, appended to the registry list ``known`` (lock held).

    Args:
        G: the group.
        known: G's registry list.
        cyc_gens: (k, d, d) the piece's π on the discrete generators, in its cyclic form.
        cyc_alg: (m, d, d) its dπ on the Lie algebra generators, in its cyclic form.
        c: its commutant dimension.
        b: its cyclic form (to carry ``spanning`` into it).
        spanning: optional elements spanning the piece's commutant (see :func:`commutant_units`).
        casimir: its Casimir eigenvalue.
        parity_sign: tr π(−I) for O(3), else None.
        prints: its fingerprint.
        units: its commutant units in its cyclic form when already found (by
            :func:`commutant_units`'s rule); None: found here.
    """
    l, parity = _angular_momentum(G, casimir, parity_sign)
    if units is None:
        cyc_spanning = None if spanning is None else (np.asarray(spanning) if c == 1 else b.T @ np.asarray(spanning) @ b)  # c = 1: not read
        units = commutant_units(list(cyc_gens) + list(cyc_alg), c, cyc_spanning)
    t = IrrepType(G, cyc_gens, cyc_alg, units, casimir, l, parity, serial=len(known), prints=prints)
    known.append(t)
    return t

"""The shared group zoo of the test suite, and a plain-numpy reference rep algebra.

The zoo gives every test the same groups under readable pytest ids (``-k SO3``,
``-k D4``, ``-k P4M3``, ``-k C4xS3``), each with a proper subgroup to restrict to.

:class:`Spec` builds a rep twice: once with the library (``spec.build(G)``) and
once as independent numpy truths — ρ(g) from ``np.kron``/``block_diag`` of the
defining matrices, dρ(A) from the Leibniz rule, and the character χ(g) from
traces of the defining rep alone (tr(A⊗B) = trA·trB, tr(A⊕B) = trA + trB,
χ*(g) = χ(g⁻¹)). Tests compare the library against these, never against itself.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import scipy.linalg

import constrainnet as cn
from constrainnet.groups import (
    LORENTZ_METRIC,
    C,
    Cube,
    D,
    Group,
    Lorentz,
    O,
    P4M,
    S,
    SO,
    Subgroup,
    Trivial,
    Z,
)

# float64 tolerance of exact identities (ρ(gh) = ρ(g)ρ(h), QᵀQ = I, ...). Solves
# and products are exact to ~1e-15 per entry; 1e-10 leaves room for the growth
# with size and for the large entries of Lorentz boosts, which we scale out.
TOL = 1e-10

# Relative singular-value cut-off of the tests' own rank computations.
RANK_RTOL = 1e-8


# -- small matrices ------------------------------------------------------------
def rot2(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def perm_matrix(perm) -> np.ndarray:
    """I[σ]: (P x)_j = x_{σ(j)}, the library's convention."""
    perm = np.asarray(perm)
    return np.eye(len(perm))[perm]


def element_key(g: np.ndarray) -> bytes:
    """A hashable key of a group element, exact to 1e-8 (+ 0.0 folds -0.0 into 0.0)."""
    return (np.round(np.asarray(g, dtype=float), 8) + 0.0).tobytes()


def so_generator(n: int, i: int, j: int) -> np.ndarray:
    a = np.zeros((n, n))
    a[i, j], a[j, i] = -1.0, 1.0
    return a


# -- the zoo -------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """A zoo group: ``id`` is the pytest id, ``make`` builds the group, ``sub`` a subgroup of it."""

    id: str
    make: Callable[[], Group]
    sub: Callable[[Group], Group]
    finite: bool
    order: int | None = None  # the known order of a finite group

    @property
    def G(self) -> Group:
        return _group(self.id)

    @property
    def H(self) -> Group:
        return _subgroup(self.id)

    def __repr__(self) -> str:
        return self.id


def _c4_in_so2(G: Group) -> Group:
    return Subgroup(G, discrete_generators=[rot2(math.pi / 2)], name="C4<SO(2)")


def _d3_in_o2(G: Group) -> Group:
    return Subgroup(G, discrete_generators=[rot2(2 * math.pi / 3), np.diag([-1.0, 1.0])], name="D3<O(2)")


def _so2z(G: Group) -> Group:
    return Subgroup(G, lie_algebra=[so_generator(3, 0, 1)], name="SO(2)z<SO(3)")


def _o2z(G: Group) -> Group:
    mirror_z = np.diag([1.0, 1.0, -1.0])
    return Subgroup(G, discrete_generators=[mirror_z], lie_algebra=[so_generator(3, 0, 1)], name="O(2)z<O(3)")


def _o3_in_lorentz(G: Group) -> Group:
    rotations = np.zeros((3, 4, 4))
    rotations[0, 1:, 1:] = so_generator(3, 0, 1)
    rotations[1, 1:, 1:] = so_generator(3, 0, 2)
    rotations[2, 1:, 1:] = so_generator(3, 1, 2)
    return Subgroup(G, discrete_generators=[LORENTZ_METRIC], lie_algebra=rotations, name="O(3)<Lorentz")


def _mirror_in_d(G: Group) -> Group:
    return Subgroup(G, discrete_generators=[np.diag([-1.0, 1.0])], name="mirror<D")


def _half_turn(G: Group) -> Group:
    return Subgroup(G, discrete_generators=[-np.eye(2)], name="C2<C")


def _trivial_sub(G: Group) -> Group:
    return Subgroup(G, name=f"1<{G!r}")


def _shift_by_2(G: Group) -> Group:
    n = G.d
    return Subgroup(G, discrete_generators=[perm_matrix(np.roll(np.arange(n), -2))], name="Z3<Z6")


def _cycle_in_s(G: Group) -> Group:
    n = G.d
    return Subgroup(G, discrete_generators=[perm_matrix(np.roll(np.arange(n), -1))], name=f"Z{n}<S({n})")


def _swap_in_s(G: Group) -> Group:
    n = G.d
    swap = np.arange(n)
    swap[[0, 1]] = [1, 0]
    return Subgroup(G, discrete_generators=[perm_matrix(swap)], name=f"S2<S({n})")


def _translations_in_p4m(G: Group) -> Group:
    n = int(round(math.sqrt(G.d)))
    r, c = np.divmod(np.arange(n * n), n)
    right = perm_matrix(r * n + (c + 1) % n)
    down = perm_matrix(((r + 1) % n) * n + c)
    return Subgroup(G, discrete_generators=[right, down], name=f"T<P4M({n})")


def _quarter_turns_in_cube(G: Group) -> Group:
    """C4: the quarter turns of the cube about its F face (faces U, F, R, B, L, D)."""
    return Subgroup(G, discrete_generators=[perm_matrix([4, 1, 0, 3, 5, 2])], name="C4<Cube")


def _c4_x_s3_sub(G: Group) -> Group:
    return Subgroup(
        G,
        discrete_generators=[scipy.linalg.block_diag(rot2(math.pi / 2), np.eye(3))],
        name="C4x1<C4xS3",
    )


def _so3_x_s3_sub(G: Group) -> Group:
    lz = scipy.linalg.block_diag(so_generator(3, 0, 1), np.zeros((3, 3)))
    swap = scipy.linalg.block_diag(np.eye(3), perm_matrix([1, 0, 2]))
    return Subgroup(G, discrete_generators=[swap], lie_algebra=[lz], name="SO2xS2<SO3xS3")


FINITE = (
    Entry("Trivial2", lambda: Trivial(2), _trivial_sub, True, 1),
    Entry("Z5", lambda: Z(5), _trivial_sub, True, 5),
    Entry("Z6", lambda: Z(6), _shift_by_2, True, 6),
    Entry("C2", lambda: C(2), _trivial_sub, True, 2),
    Entry("C3", lambda: C(3), _trivial_sub, True, 3),
    Entry("C4", lambda: C(4), _half_turn, True, 4),
    Entry("D3", lambda: D(3), _mirror_in_d, True, 6),
    Entry("D4", lambda: D(4), _mirror_in_d, True, 8),
    Entry("S3", lambda: S(3), _swap_in_s, True, 6),
    Entry("S4", lambda: S(4), _cycle_in_s, True, 24),
    Entry("P4M3", lambda: P4M(3), _translations_in_p4m, True, 72),
    Entry("Cube", lambda: Cube(), _quarter_turns_in_cube, True, 24),
    Entry("C4xS3", lambda: C(4) * S(3), _c4_x_s3_sub, True, 24),
)

CONTINUOUS = (
    Entry("SO2", lambda: SO(2), _c4_in_so2, False),
    Entry("O2", lambda: O(2), _d3_in_o2, False),
    Entry("SO3", lambda: SO(3), _so2z, False),
    Entry("O3", lambda: O(3), _o2z, False),
    Entry("Lorentz", lambda: Lorentz(), _o3_in_lorentz, False),
    Entry("SO3xS3", lambda: SO(3) * S(3), _so3_x_s3_sub, False),
)

ZOO = FINITE + CONTINUOUS
BY_ID = {e.id: e for e in ZOO}


@functools.lru_cache(maxsize=None)
def _group(entry_id: str) -> Group:
    return BY_ID[entry_id].make()


@functools.lru_cache(maxsize=None)
def _subgroup(entry_id: str) -> Group:
    return BY_ID[entry_id].sub(_group(entry_id))


def params(entries=ZOO) -> list:
    """pytest parameters with readable ids: ``@pytest.mark.parametrize("entry", params(FINITE))``."""
    return [pytest.param(e, id=e.id) for e in entries]


def random_lie_element(G: Group, rng: np.random.Generator) -> np.ndarray:
    """A random element Σ c_j A_j of the Lie algebra of G."""
    return np.tensordot(rng.standard_normal(len(G.lie_algebra)), G.lie_algebra, axes=1)


# -- the reference rep algebra -------------------------------------------------
class Spec:
    """A rep described twice: built by the library, evaluated by plain numpy.

    Leaves: ``Spec.V()``, ``Spec.scalar()``, ``Spec.pseudo()``, ``Spec.factor(i)``.
    Operations mirror the library: ``+``, ``int *``, ``*``, ``**``, ``.T``,
    ``>>`` and :meth:`restricted` (build the child over G, then restrict to H).
    """

    def __init__(self, kind: str, *children: "Spec", n: int = 0) -> None:
        self.kind = kind
        self.children = children
        self.n = n

    # leaves
    @staticmethod
    def V() -> "Spec":
        return Spec("V")

    @staticmethod
    def scalar() -> "Spec":
        return Spec("scalar")

    @staticmethod
    def pseudo() -> "Spec":
        return Spec("pseudo")

    @staticmethod
    def factor(i: int) -> "Spec":
        return Spec("factor", n=i)

    # algebra
    def __add__(self, other: "Spec") -> "Spec":
        return Spec("sum", self, other)

    def __rmul__(self, n: int) -> "Spec":
        return Spec("mult", self, n=n)

    def __mul__(self, other: "Spec") -> "Spec":
        return Spec("tensor", self, other)

    def __pow__(self, n: int) -> "Spec":
        return Spec("pow", self, n=n)

    @property
    def T(self) -> "Spec":
        return Spec("dual", self)

    def __rshift__(self, other: "Spec") -> "Spec":
        return Spec("hom", self, other)

    def restricted(self) -> "Spec":
        return Spec("restrict", self)

    # library construction
    def build(self, G: Group, H: Group | None = None, on_sub: bool = False) -> cn.Rep:
        """The library rep. ``on_sub``: this node is a rep of the subgroup H."""
        cur = H if on_sub else G
        k, ch = self.kind, self.children
        if k == "V":
            return cn.V(cur)
        if k == "scalar":
            return cn.V(cur) ** 0
        if k == "pseudo":
            return cn.PseudoScalar(cur)
        if k == "factor":
            return cn.V(cur, factor=self.n)
        if k == "restrict":
            return ch[0].build(G, H, on_sub=False).restrict(H)
        parts = [c.build(G, H, on_sub) for c in ch]
        if k == "sum":
            return parts[0] + parts[1]
        if k == "mult":
            return self.n * parts[0]
        if k == "tensor":
            return parts[0] * parts[1]
        if k == "pow":
            return parts[0] ** self.n
        if k == "dual":
            return parts[0].T
        if k == "hom":
            return parts[0] >> parts[1]
        raise AssertionError(k)

    # reference numerics (the group is only needed for factor blocks)
    def size(self, G: Group) -> int:
        k, ch = self.kind, self.children
        if k == "V":
            return G.d
        if k in ("scalar", "pseudo"):
            return 1
        if k == "factor":
            return G.factors[self.n].d
        if k in ("restrict", "dual"):
            return ch[0].size(G)
        if k == "sum":
            return ch[0].size(G) + ch[1].size(G)
        if k == "mult":
            return self.n * ch[0].size(G)
        if k in ("tensor", "hom"):
            return ch[0].size(G) * ch[1].size(G)
        if k == "pow":
            return ch[0].size(G) ** self.n
        raise AssertionError(k)

    def rho(self, G: Group, g: np.ndarray) -> np.ndarray:
        """ρ(g) by np.kron / block_diag of the defining matrices."""
        k, ch = self.kind, self.children
        if k == "V":
            return np.array(g, dtype=float)
        if k == "scalar":
            return np.ones((1, 1))
        if k == "pseudo":
            return np.full((1, 1), np.linalg.det(g))
        if k == "factor":
            a, b = _block(G, self.n)
            return np.array(g[a:b, a:b])
        if k == "restrict":
            return ch[0].rho(G, g)
        if k == "sum":
            return scipy.linalg.block_diag(ch[0].rho(G, g), ch[1].rho(G, g))
        if k == "mult":
            return scipy.linalg.block_diag(*[ch[0].rho(G, g)] * self.n)
        if k == "tensor":
            return np.kron(ch[0].rho(G, g), ch[1].rho(G, g))
        if k == "pow":
            return functools.reduce(np.kron, [ch[0].rho(G, g)] * self.n, np.ones((1, 1)))
        if k == "dual":
            return np.linalg.inv(ch[0].rho(G, g)).T
        if k == "hom":
            # W ↦ ρ_out W ρ_in⁻¹ on row-major vec(W): vec(A W B) = (A ⊗ Bᵀ) vec(W).
            return np.kron(ch[1].rho(G, g), np.linalg.inv(ch[0].rho(G, g)).T)
        raise AssertionError(k)

    def drho(self, G: Group, a: np.ndarray) -> np.ndarray:
        """dρ(A) by the Leibniz rule: d(X⊗Y) = dX⊗I + I⊗dY, d(X⁻ᵀ) = −dXᵀ, d det = tr."""
        k, ch = self.kind, self.children
        if k == "V":
            return np.array(a, dtype=float)
        if k == "scalar":
            return np.zeros((1, 1))
        if k == "pseudo":
            return np.full((1, 1), np.trace(a))
        if k == "factor":
            lo, hi = _block(G, self.n)
            return np.array(a[lo:hi, lo:hi])
        if k == "restrict":
            return ch[0].drho(G, a)
        if k == "sum":
            return scipy.linalg.block_diag(ch[0].drho(G, a), ch[1].drho(G, a))
        if k == "mult":
            return scipy.linalg.block_diag(*[ch[0].drho(G, a)] * self.n)
        if k in ("tensor", "hom"):
            if k == "tensor":
                x, y = ch[0].drho(G, a), ch[1].drho(G, a)
            else:
                x, y = ch[1].drho(G, a), -ch[0].drho(G, a).T
            return np.kron(x, np.eye(len(y))) + np.kron(np.eye(len(x)), y)
        if k == "pow":
            base = ch[0].drho(G, a)
            m = len(base)
            out = np.zeros((m**self.n, m**self.n))
            for i in range(self.n):
                factors = [np.eye(m)] * i + [base] + [np.eye(m)] * (self.n - 1 - i)
                out += functools.reduce(np.kron, factors, np.ones((1, 1)))
            return out
        if k == "dual":
            return -ch[0].drho(G, a).T
        raise AssertionError(k)

    def char(self, G: Group, g: np.ndarray, ginv: np.ndarray) -> float:
        """χ(g) from traces of the defining matrices only (no Kronecker products)."""
        k, ch = self.kind, self.children
        if k == "V":
            return float(np.trace(g))
        if k == "scalar":
            return 1.0
        if k == "pseudo":
            return float(np.linalg.det(g))
        if k == "factor":
            lo, hi = _block(G, self.n)
            return float(np.trace(g[lo:hi, lo:hi]))
        if k == "restrict":
            return ch[0].char(G, g, ginv)
        if k == "sum":
            return ch[0].char(G, g, ginv) + ch[1].char(G, g, ginv)
        if k == "mult":
            return self.n * ch[0].char(G, g, ginv)
        if k == "tensor":
            return ch[0].char(G, g, ginv) * ch[1].char(G, g, ginv)
        if k == "pow":
            return ch[0].char(G, g, ginv) ** self.n
        if k == "dual":
            return ch[0].char(G, ginv, g)
        if k == "hom":
            return ch[0].char(G, ginv, g) * ch[1].char(G, g, ginv)
        raise AssertionError(k)

    def __repr__(self) -> str:
        k, ch = self.kind, self.children
        if k in ("V", "scalar", "pseudo"):
            return {"V": "V", "scalar": "V**0", "pseudo": "PS"}[k]
        if k == "factor":
            return f"V[{self.n}]"
        if k == "restrict":
            return f"({ch[0]!r}).restrict(H)"
        if k == "sum":
            return f"({ch[0]!r} + {ch[1]!r})"
        if k == "mult":
            return f"{self.n}*{ch[0]!r}"
        if k == "tensor":
            return f"({ch[0]!r} * {ch[1]!r})"
        if k == "pow":
            return f"{ch[0]!r}**{self.n}"
        if k == "dual":
            return f"{ch[0]!r}.T"
        return f"({ch[0]!r} >> {ch[1]!r})"


def _block(G: Group, i: int) -> tuple[int, int]:
    """Coordinates of factor i of a product group (or of the parent of a subgroup of one)."""
    while not hasattr(G, "factors"):
        G = G.parent
    offsets = np.cumsum([0] + [f.d for f in G.factors])
    return int(offsets[i]), int(offsets[i + 1])


# -- independent truths --------------------------------------------------------
def inverse(g: np.ndarray) -> np.ndarray:
    return np.linalg.inv(g)


def character_count(spec: Spec, G: Group, elements: np.ndarray | None = None) -> int:
    """(1/|G|) Σ_g χ(g): the dimension of the invariants, from traces alone."""
    elems = G.elements() if elements is None else elements
    total = sum(spec.char(G, g, inverse(g)) for g in elems)
    value = total / len(elems)
    count = int(round(value))
    assert abs(value - count) < 1e-6, f"character average {value} is not an integer"
    return count


def hom_character_count(a: Spec, b: Spec, G: Group) -> int:
    """(1/|G|) Σ_g tr ρ_a(g⁻¹) tr ρ_b(g) = dim Hom_G(a, b)."""
    elems = G.elements()
    total = sum(a.char(G, inverse(g), g) * b.char(G, g, inverse(g)) for g in elems)
    value = total / len(elems)
    count = int(round(value))
    assert abs(value - count) < 1e-6, f"character average {value} is not an integer"
    return count


def constraint_nullity(spec: Spec, G: Group, group: Group | None = None) -> int:
    """dim {w : ρ(h)w = w, dρ(A)w = 0} over the generators of ``group`` (default G), from the
    reference ρ and dρ of a spec over the zoo group G, by a plain SVD."""
    group = G if group is None else group
    n = spec.size(G)
    rows = [spec.rho(G, h) - np.eye(n) for h in group.discrete_generators]
    rows += [spec.drho(G, a) for a in group.lie_algebra]
    if not rows:
        return n
    m = np.concatenate(rows)
    s = np.linalg.svd(m, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return n
    return n - int(np.sum(s > RANK_RTOL * s[0]))


def riordan(n: int) -> int:
    """Riordan numbers 1, 0, 1, 1, 3, 6, 15, 36, 91: dim of SO(3) invariants of V**n.

    Closed form: R(n) = Σ_k (−1)^(n−k) C(n, k) Catalan(k).
    """
    return sum((-1) ** (n - k) * math.comb(n, k) * math.comb(2 * k, k) // (k + 1) for k in range(n + 1))


def assert_close(actual, expected, tol: float = TOL, scale: float | None = None, what: str = "") -> None:
    """max |actual − expected| ≤ tol · max(1, scale), scale defaulting to max|expected|."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if scale is None:
        scale = float(np.abs(expected).max()) if expected.size else 1.0
    err = float(np.abs(actual - expected).max()) if actual.size else 0.0
    assert err <= tol * max(1.0, scale), f"{what}: max error {err:.3g} > {tol:g} x {max(1.0, scale):.3g}"


def match_columns(qa: np.ndarray, qb: np.ndarray, tol: float = TOL) -> np.ndarray:
    """The permutation π with qa[:, π] == qb (columns equal up to order), asserting it exists."""
    assert qa.shape == qb.shape, f"basis shapes differ: {qa.shape} vs {qb.shape}"
    if qa.shape[1] == 0:
        return np.zeros(0, dtype=int)
    overlap = np.abs(qa.T @ qb)
    perm = overlap.argmax(axis=0)
    assert len(set(perm.tolist())) == len(perm), "columns do not match one to one"
    assert_close(qa[:, perm], qb, tol, what="columns up to permutation")
    return perm


# -- hypothesis strategies -----------------------------------------------------
def _strategies():
    from hypothesis import strategies as st

    return st


def spec_strategy(G: Group, max_size: int, on_sub: bool, depth: int = 3):
    """Random :class:`Spec` trees of size ≤ max_size over V, V**0, PseudoScalar, V[i], +, n*, *, **, .T, >>.

    ``on_sub``: the tree is a rep of the zoo subgroup H; then subtrees may be
    built over G and restricted (``restrict`` nodes), and factor leaves (which
    only a product group has) appear only under a restriction.
    """
    st = _strategies()
    is_product = hasattr(G, "factors")

    @st.composite
    def draw_leaf(draw, max_size, on_sub):
        options = [Spec.scalar(), Spec.pseudo()]
        if G.d <= max_size:
            options += [Spec.V()] * 3
        if is_product and not on_sub:
            options += [Spec.factor(i) for i, f in enumerate(G.factors) if f.d <= max_size]
        return draw(st.sampled_from(options))

    @st.composite
    def draw(draw_, max_size, on_sub, depth):
        ops = ["leaf"] if depth == 0 else ["leaf", "sum", "sum", "mult", "tensor", "pow", "dual", "hom", "hom"]
        if on_sub and depth > 0:
            ops.append("restrict")
        op = draw_(st.sampled_from(ops))
        if op == "leaf":
            return draw_(draw_leaf(max_size, on_sub))
        if op == "restrict":
            return draw_(draw(max_size, False, depth - 1)).restricted()
        left = draw_(draw(max_size, on_sub, depth - 1))
        s = left.size(G)
        if op == "sum":
            if s >= max_size:
                return left
            return left + draw_(draw(max_size - s, on_sub, depth - 1))
        if op == "mult":
            n = draw_(st.integers(2, 3))
            return n * left if n * s <= max_size else left
        if op in ("tensor", "hom"):
            right = draw_(draw(max(1, max_size // s), on_sub, depth - 1))
            if s * right.size(G) > max_size:
                return left
            return left * right if op == "tensor" else left >> right
        if op == "pow":
            n = draw_(st.integers(0, 3))
            return left**n if s**n <= max_size else left
        if op == "dual":
            return left.T
        raise AssertionError(op)

    return draw(max_size, on_sub, depth)


def rep_cases(entry: Entry, max_size: int = 64, allow_restrict: bool = True):
    """Strategy of (spec, on_sub): a random rep spec over the zoo group, and whether it is a rep of its subgroup.

    Tests parametrize over the zoo (readable ids, every group exercised) and
    draw from this with ``data.draw(rep_cases(entry))``.
    """
    st = _strategies()

    @st.composite
    def case(draw):
        on_sub = draw(st.booleans()) if allow_restrict else False
        return draw(spec_strategy(entry.G, max_size, on_sub)), on_sub

    return case()


def build_case(entry: Entry, spec: Spec, on_sub: bool) -> tuple[cn.Rep, Group]:
    """The library rep of a drawn case and the group it is a rep of."""
    rep = spec.build(entry.G, entry.H, on_sub)
    return rep, (entry.H if on_sub else entry.G)

"""kernel_basis: dimensions from characters over window orbits, orthonormality, the kernel constraint checked
pointwise, completeness against a dense null-space solve, and the harmonic basis' place inside the grid basis."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import C, D
from constrainnet.nn.fields import HEX_GRID, SQUARE_GRID
from constrainnet.nn.steerable_kernels import kernel_basis

from steerable_refs import one_torch_thread  # noqa: F401  (tests/nn/steerable/steerable_refs.py; an autouse fixture)

HEX_BASIS = np.array([[1.0, 0.5], [0.0, math.sqrt(3) / 2]])


# -- independent references ------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def rhos(rep):
    """ρ(g) of every element of the rep's group, in ``G.elements()`` order (computed once per rep)."""
    return np.array([rep.rho(g) for g in rep.G.elements()])


def lattice_map(g, basis):
    """L(g) = B⁻¹ g B, or None when it is not integral."""
    m = np.linalg.inv(basis) @ np.asarray(g) @ basis
    return np.rint(m).astype(int) if np.allclose(m, np.rint(m), atol=1e-9) else None


def window_offsets(size, hexagonal):
    r = size // 2
    pts = list(itertools.product(range(-r, r + 1), repeat=2))
    if hexagonal:
        pts = [(a, b) for a, b in pts if (abs(a) + abs(b) + abs(a + b)) / 2 <= r]
    return pts


def expected_dim(G, rep_in, rep_out, size, hexagonal):
    """Σ over window orbits O of dim Hom_{G_x}(ρ_in, ρ_out) = (1/|G_x|) Σ_{h ∈ G_x} χ_in(h) χ_out(h), x ∈ O."""
    B = HEX_BASIS if hexagonal else np.eye(2)
    elements = G.elements()
    maps = [lattice_map(g, B) for g in elements]
    assert all(L is not None for L in maps)
    seen, total = set(), 0.0
    for x in window_offsets(size, hexagonal):
        if x in seen:
            continue
        orbit = {tuple(L @ np.array(x)) for L in maps}
        seen |= orbit
        stab = [i for i, L in enumerate(maps) if tuple(L @ np.array(x)) == x]
        chi_in, chi_out = np.trace(rhos(rep_in), axis1=1, axis2=2), np.trace(rhos(rep_out), axis1=1, axis2=2)
        total += sum(chi_in[i] * chi_out[i] for i in stab) / len(stab)
    assert abs(total - round(total)) < 1e-9
    return int(round(total))


def dense_solution_space(G, rep_in, rep_out, size, hexagonal):
    """(Kept to small kernels: d_out·d_in·k² ≤ ~150, for LAPACK on a busy 2-core machine.)
    An orthonormal basis (n, d_out·d_in·k·k) of {K : K(L(g)δ) = ρ_out(g) K(δ) ρ_in(g)⁻¹ on the window,
    K = 0 off it}, by an SVD of the stacked constraints of the generators (no solver of the library)."""
    B = HEX_BASIS if hexagonal else np.eye(2)
    k, c = size, size // 2
    do, di = rep_out.size, rep_in.size
    n = do * di * k * k
    ident = np.eye(n).reshape(n, do, di, k, k)
    rows = []
    window = window_offsets(size, hexagonal)
    off = [(a, b) for a, b in itertools.product(range(-c, c + 1), repeat=2) if (a, b) not in window]
    for a, b in off:  # zero outside the window
        rows.append(ident[:, :, :, a + c, b + c].reshape(n, -1).T)
    for g in G.discrete_generators:
        L = lattice_map(g, B)
        ro, ri_inv = rep_out.rho(g), np.linalg.inv(rep_in.rho(g))
        for x in window:
            y = L @ np.array(x)
            lhs = ident[:, :, :, y[0] + c, y[1] + c]
            rhs = np.einsum("op,npq,qi->noi", ro, ident[:, :, :, x[0] + c, x[1] + c], ri_inv)
            rows.append((lhs - rhs).reshape(n, -1).T)
    A = np.concatenate(rows, axis=0)
    values, vectors = np.linalg.eigh(A.T @ A)
    return vectors[:, values < 1e-9].T


def check_constraint(E, G, rep_in, rep_out, basis, elements=None, atol=1e-10):
    """Every basis kernel satisfies K(L(g)δ) = ρ_out(g) K(δ) ρ_in(g)⁻¹ at every offset δ of the k×k square
    (an offset whose image leaves the square, a corner of a hexagonal window, must carry a zero kernel),
    for the elements g of G at the given indices of ``G.elements()`` (all by default)."""
    k = E.shape[-1]
    c = k // 2
    offsets = np.array(list(itertools.product(range(-c, c + 1), repeat=2)))
    flat = E.reshape(E.shape[:3] + (k * k,))
    all_elements = G.elements()
    indices = range(len(all_elements)) if elements is None else elements
    rho_out, rho_in_inv = rhos(rep_out), np.linalg.inv(rhos(rep_in))
    for e in indices:
        g = all_elements[e]
        L = lattice_map(g, basis)
        assert L is not None
        moved = offsets @ L.T
        inside = np.abs(moved).max(axis=1) <= c
        assert np.abs(flat[..., ~inside]).max(initial=0.0) <= atol
        target = (moved[inside, 0] + c) * k + moved[inside, 1] + c
        lhs = np.moveaxis(flat[..., target], 3, 1)  # (t, n, d_out, d_in)
        rhs = rho_out[e] @ np.moveaxis(flat[..., inside], 3, 1) @ rho_in_inv[e]
        error = np.abs(lhs - rhs).max(initial=0.0)
        assert error <= atol, f"the constraint fails by {error:.3g} at g = {np.round(g, 3).tolist()}"


def flatten(E):
    return E.reshape(len(E), int(np.prod(E.shape[1:])))


def assert_orthonormal(E, atol=1e-10):
    flat = flatten(E)
    np.testing.assert_allclose(flat @ flat.T, np.eye(len(E)), atol=atol)


def span_residual(E, F):
    """Largest distance of an element of E from the span of F (F orthonormal rows)."""
    e, f = flatten(E), flatten(F)
    return float(np.abs(e - (e @ f.T) @ f).max())


def field_reps(G):
    if G == D(4):
        Q = cn.quotient(D(4), D(1))
    elif G == C(4):
        Q = cn.quotient(C(4), C(2))
    elif G == D(2):
        Q = cn.quotient(D(2), D(1))
    elif G == C(6):
        Q = cn.quotient(C(6), C(3))
    elif G == D(6):
        Q = cn.quotient(D(6), D(3))
    else:
        Q = cn.quotient(G, G)
    return {"trivial": cn.Scalar(G), "regular": cn.regular(G), "V": cn.V(G), "quotient": Q}


SQUARE = [D(4), C(4), C(2), D(2), D(1)]
HEX = [C(6), D(6)]
FIELDS = ("trivial", "regular", "V", "quotient")
ALL_PAIRS = tuple(itertools.product(FIELDS, repeat=2))
CASES = [
    pytest.param(G, hexagonal, k, id=f"{G!r}-{'hex' if hexagonal else 'square'}-k{k}")
    for G, hexagonal in [(G, False) for G in SQUARE] + [(G, True) for G in HEX]
    for k in (1, 3, 5)
]


# -- the grid basis ----------------------------------------------------------------------------


def test_grids_are_the_documented_lattices():
    np.testing.assert_allclose(SQUARE_GRID.basis, np.eye(2))
    np.testing.assert_allclose(HEX_GRID.basis, HEX_BASIS, atol=1e-15)
    for k in (1, 3, 5, 7):
        assert sorted(map(tuple, SQUARE_GRID.window(k).tolist())) == sorted(window_offsets(k, False))
        assert sorted(map(tuple, HEX_GRID.window(k).tolist())) == sorted(window_offsets(k, True))
    assert len(HEX_GRID.window(3)) == 7 and len(HEX_GRID.window(5)) == 19  # centre + 6 + 12


@pytest.mark.parametrize("G, hexagonal, k", CASES)
def test_grid_basis_dimension_is_the_character_count_over_window_orbits(G, hexagonal, k):
    grid = HEX_GRID if hexagonal else SQUARE_GRID
    reps = field_reps(G)
    for a, b in ALL_PAIRS:
        ra, rb = reps[a], reps[b]
        E = kernel_basis(ra, rb, grid, k)
        assert E.shape[1:] == (rb.size, ra.size, k, k), (a, b)
        assert len(E) == expected_dim(G, ra, rb, k, hexagonal), (a, b)
        assert E.dtype == np.float64 and not E.flags.writeable


@pytest.mark.parametrize("G, hexagonal, k", CASES)
def test_grid_basis_is_orthonormal_and_satisfies_the_constraint_pointwise(G, hexagonal, k):
    grid = HEX_GRID if hexagonal else SQUARE_GRID
    reps = field_reps(G)
    for a, b in ALL_PAIRS:
        ra, rb = reps[a], reps[b]
        E = kernel_basis(ra, rb, grid, k)
        assert_orthonormal(E)
        check_constraint(E, G, ra, rb, grid.basis)
        if hexagonal:  # nothing outside the hexagon
            window = set(window_offsets(k, True))
            for x in itertools.product(range(-(k // 2), k // 2 + 1), repeat=2):
                if x not in window:
                    assert np.all(E[:, :, :, x[0] + k // 2, x[1] + k // 2] == 0)


COMPLETE = [
    (D(4), False, 3, "regular", "V"),
    (D(4), False, 3, "V", "V"),
    (D(4), False, 3, "quotient", "V"),
    (C(4), False, 5, "V", "trivial"),
    (D(1), False, 5, "V", "regular"),
    (C(6), True, 3, "V", "regular"),
    (D(6), True, 3, "quotient", "V"),
    (C(6), True, 5, "V", "V"),
]


@pytest.mark.parametrize("G, hexagonal, k, a, b", COMPLETE, ids=[f"{c[0]!r}-k{c[2]}-{c[3]}-{c[4]}" for c in COMPLETE])
def test_grid_basis_spans_every_equivariant_kernel_of_a_dense_solve(G, hexagonal, k, a, b):
    reps = field_reps(G)
    grid = HEX_GRID if hexagonal else SQUARE_GRID
    E = kernel_basis(reps[a], reps[b], grid, k)
    N = dense_solution_space(G, reps[a], reps[b], k, hexagonal)
    assert len(E) == len(N)
    assert span_residual(E, N) < 1e-10
    assert span_residual(N, E) < 1e-10


def test_documented_example_and_scalar_orbits():
    s = cn.Scalar(D(4))
    E = kernel_basis(s, s, SQUARE_GRID, 3)
    assert E.shape == (3, 1, 1, 3, 3)
    # centre, edges, corners: each element is constant on one orbit
    supports = sorted(tuple(sorted(zip(*np.nonzero(np.abs(e[0, 0]) > 1e-12)))) for e in E)
    assert sorted(len(s) for s in supports) == [1, 4, 4]


# -- the harmonic basis --------------------------------------------------------------------------

def harmonic_cases():
    """All pairs at k = 3; at k = 5 the pairs with a regular field (the costliest solves here) are marked slow."""
    cases = []
    without_regular = tuple(p for p in ALL_PAIRS if "regular" not in p)
    with_regular = tuple(p for p in ALL_PAIRS if "regular" in p)
    for G, hexagonal in [(D(4), False), (C(4), False), (D(6), True), (C(6), True)]:
        cases.append(pytest.param(G, hexagonal, 3, ALL_PAIRS, id=f"{G!r}-k3"))
        cases.append(pytest.param(G, hexagonal, 5, without_regular, id=f"{G!r}-k5"))
        cases.append(pytest.param(G, hexagonal, 5, with_regular, id=f"{G!r}-k5-regular", marks=pytest.mark.slow))
    return cases


@pytest.mark.parametrize("G, hexagonal, k, pairs", harmonic_cases())
def test_harmonic_basis_is_orthonormal_equivariant_and_inside_the_grid_basis(G, hexagonal, k, pairs):
    grid = HEX_GRID if hexagonal else SQUARE_GRID
    reps = field_reps(G)
    for a, b in pairs:
        ra, rb = reps[a], reps[b]
        H = kernel_basis(ra, rb, grid, k, basis="harmonic")
        E = kernel_basis(ra, rb, grid, k)
        assert H.shape[1:] == (rb.size, ra.size, k, k)
        assert 0 < len(H) <= len(E), (a, b)
        assert_orthonormal(H)
        check_constraint(H, G, ra, rb, grid.basis)
        assert span_residual(H, E) < 1e-10, (a, b)


def test_harmonic_basis_with_max_frequency_zero_is_isotropic():
    s = cn.Scalar(C(4))
    H = kernel_basis(s, s, SQUARE_GRID, 5, basis="harmonic", max_frequency=0)
    assert len(H) == 3  # one Gaussian ring per radius 0, 1, 2
    a, b = np.meshgrid(np.arange(-2, 3), np.arange(-2, 3), indexing="ij")
    radius = np.round(np.hypot(a, b), 9)
    for h in H:
        for r in np.unique(radius):  # a function of |δ| alone
            values = h[0, 0][radius == r]
            np.testing.assert_allclose(values, values[0], atol=1e-12)
    full = kernel_basis(s, s, SQUARE_GRID, 5, basis="harmonic")
    assert len(full) > len(H)


@pytest.mark.parametrize("k", [3, 5])
def test_c8_harmonic_basis_is_exact_on_c4_and_no_larger_than_the_c4_grid_basis(k):
    G8, G4 = C(8), C(4)
    c4_elements = [i for i, g in enumerate(G8.elements()) if lattice_map(g, np.eye(2)) is not None]
    assert len(c4_elements) == 4
    pairs = {
        "trivial": (cn.Scalar(G8), cn.Scalar(G4)),
        "V": (cn.V(G8), cn.V(G4)),  # V(C(8)) restricted to C(4) is V(C(4)), the same matrices
    }
    for (a, (a8, a4)), (b, (b8, b4)) in itertools.product(pairs.items(), repeat=2):
        H = kernel_basis(a8, b8, SQUARE_GRID, k, basis="harmonic")
        E4 = kernel_basis(a4, b4, SQUARE_GRID, k)
        assert 0 < len(H) <= len(E4), (a, b)
        assert_orthonormal(H)
        check_constraint(H, G8, a8, b8, np.eye(2), elements=c4_elements)
        assert span_residual(H, E4) < 1e-10, (a, b)
    R = cn.regular(G8)
    H = kernel_basis(R, cn.V(G8), SQUARE_GRID, k, basis="harmonic")
    assert H.shape[1:] == (2, 8, k, k) and len(H) > 0
    check_constraint(H, G8, R, cn.V(G8), np.eye(2), elements=c4_elements)


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "G, grid",
    [(C(8), SQUARE_GRID), (C(6), SQUARE_GRID), (D(4), HEX_GRID), (C(8), HEX_GRID)],
    ids=["C8-square", "C6-square", "D4-hex", "C8-hex"],
)
def test_grid_basis_of_a_group_that_does_not_preserve_the_grid_raises(G, grid):
    s = cn.Scalar(G)
    with pytest.raises(cn.RepError, match="harmonic"):
        kernel_basis(s, s, grid, 3)


@pytest.mark.parametrize("size", [0, 2, 4, -1, 3.0, True, "3"], ids=repr)
def test_bad_sizes_are_value_errors(size):
    s = cn.Scalar(D(4))
    with pytest.raises(ValueError, match="odd kernel size"):
        kernel_basis(s, s, SQUARE_GRID, size)


def test_bad_basis_frequency_and_mismatched_groups():
    s = cn.Scalar(D(4))
    with pytest.raises(ValueError, match="basis"):
        kernel_basis(s, s, SQUARE_GRID, 3, basis="fourier")
    with pytest.raises(ValueError, match="max_frequency"):
        kernel_basis(s, s, SQUARE_GRID, 3, basis="harmonic", max_frequency=-1)
    with pytest.raises(ValueError, match="max_frequency"):
        kernel_basis(s, s, SQUARE_GRID, 3, basis="harmonic", max_frequency=1.5)
    with pytest.raises(cn.RepError, match="one group"):
        kernel_basis(s, cn.Scalar(C(4)), SQUARE_GRID, 3)


def test_bool_max_frequency_is_rejected_like_a_bool_size():
    s = cn.Scalar(D(4))
    with pytest.raises(ValueError, match="max_frequency"):
        kernel_basis(s, s, SQUARE_GRID, 3, basis="harmonic", max_frequency=True)

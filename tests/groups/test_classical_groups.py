"""GL, SL, Sp, U, SU: the defining equations of their Lie algebras and samples, and known invariant counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import GL, SL, SU, Group, Sp, U, realify, symplectic_form


def J(n: int) -> np.ndarray:
    return np.block([[np.zeros((n, n)), np.eye(n)], [-np.eye(n), np.zeros((n, n))]])


def complex_part(g: np.ndarray) -> np.ndarray:
    """M = A + iB from the realified [[A, -B], [B, A]] (the documented layout (x, y))."""
    n = len(g) // 2
    return g[:n, :n] + 1j * g[n:, :n]


# (family, n, the Lie algebra's dimension, a test that an algebra element is in it, a test that an element is in the group)
def _is_hamiltonian(a, n):
    return np.allclose(a.T @ J(n) + J(n) @ a, 0)


def _is_anti_hermitian(a, n, special):
    m = complex_part(a)
    ok = np.allclose(a, realify(m)) and np.allclose(m, -m.conj().T)
    return ok and (not special or abs(np.trace(m)) < 1e-12)


FAMILIES = [
    pytest.param(GL, n, n * n, lambda a, n: True, lambda g, n: abs(np.linalg.det(g)) > 1e-9, id=f"GL{n}")
    for n in (1, 2, 3)
] + [
    pytest.param(SL, n, n * n - 1, lambda a, n: abs(np.trace(a)) < 1e-12, lambda g, n: np.isclose(np.linalg.det(g), 1), id=f"SL{n}")
    for n in (2, 3)
] + [
    pytest.param(Sp, n, n * (2 * n + 1), _is_hamiltonian, lambda g, n: np.allclose(g.T @ J(n) @ g, J(n)), id=f"Sp{n}")
    for n in (1, 2, 3)
] + [
    pytest.param(
        U, n, n * n, lambda a, n: _is_anti_hermitian(a, n, False),
        lambda g, n: np.allclose(g.T @ g, np.eye(2 * n)) and np.allclose(g, realify(complex_part(g))), id=f"U{n}",
    )
    for n in (1, 2, 3)
] + [
    pytest.param(
        SU, n, n * n - 1, lambda a, n: _is_anti_hermitian(a, n, True),
        lambda g, n: np.allclose(g.T @ g, np.eye(2 * n)) and np.isclose(np.linalg.det(complex_part(g)), 1), id=f"SU{n}",
    )
    for n in (2, 3)
]


@pytest.mark.parametrize("family, n, dim, in_algebra, in_group", FAMILIES)
def test_lie_algebra_is_a_basis_of_the_right_algebra(family, n, dim, in_algebra, in_group):
    G = family(n)
    lie = G.lie_algebra
    assert lie.shape[0] == dim
    assert np.linalg.matrix_rank(lie.reshape(dim, -1)) == dim
    assert all(in_algebra(a, n) for a in lie)
    for a, b in itertools.combinations(lie, 2):  # closed under the bracket
        assert G.lie_contains(a @ b - b @ a)


@pytest.mark.parametrize("family, n, dim, in_algebra, in_group", FAMILIES)
def test_samples_and_generators_are_in_the_group(family, n, dim, in_algebra, in_group):
    G = family(n)
    samples = G.samples(8, rng=0)
    assert samples.shape == (8, G.d, G.d)
    for g in samples:
        assert in_group(g, n) and G.contains(g)
    for h in G.discrete_generators:
        assert in_group(h, n) and G.contains(h)
    assert np.array_equal(G.samples(3, rng=1), family(n).samples(3, rng=1))


def test_contains_rejects_elements_of_other_groups():
    assert not SL(3).contains(2 * np.eye(3)) and GL(3).contains(2 * np.eye(3))
    assert not GL(2).contains(np.array([[1.0, 1.0], [1.0, 1.0]]))
    rotation = realify(np.diag([1.0, 1.0])) @ np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    assert not Sp(2).contains(rotation)  # orthogonal, but swapping q₁ and p₁ reverses the symplectic form
    assert not U(2).contains(np.diag([1.0, 1.0, 1.0, -1.0]))  # complex conjugation of z₂ is not C-linear
    assert U(1).contains(realify(np.array([[1j]]))) and not SU(1).contains(realify(np.array([[1j]])))
    assert not GL(2).contains(np.eye(3))


def test_sp1_is_sl2():
    for a in Sp(1).lie_algebra:
        assert SL(2).lie_contains(a)
    for a in SL(2).lie_algebra:
        assert Sp(1).lie_contains(a)


def test_realify_is_a_homomorphism():
    rng = np.random.default_rng(0)
    m1, m2 = (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)) for _ in range(2))
    np.testing.assert_allclose(realify(m1 @ m2), realify(m1) @ realify(m2), atol=1e-12)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    np.testing.assert_allclose(realify(m1) @ np.concatenate([z.real, z.imag]), np.concatenate([(m1 @ z).real, (m1 @ z).imag]))


def test_complex_generators_are_refused_with_what_is_expected():
    lie = np.array([[[1j, 0.0], [0.0, -1j]]])
    with pytest.raises(cn.GroupError, match=r"expected real float matrices.*realify.*U\(n\) and SU\(n\)") as info:
        Group(lie_algebra=lie)
    assert isinstance(info.value, ValueError)
    G = Group(lie_algebra=realify(lie))  # the realified generator is accepted: SU(2)'s diagonal torus
    assert SU(2).lie_contains(G.lie_algebra[0])


# -- known counts ------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_gl_invariants(n):
    V = cn.V(GL(n))
    Q = np.asarray((V * V.T).equivariant_basis())
    assert Q.shape[1] == 1  # the identity map
    np.testing.assert_allclose(np.abs(Q[:, 0]), np.eye(n).reshape(-1) / np.sqrt(n), atol=1e-10)
    assert (V * V).equivariant_basis().dim == 0
    assert cn.T(1, 1, GL(n)).equivariant_basis().dim == 1  # the T(p, q) shorthand: V ⊗ V*
    assert (V >> V).equivariant_basis().dim == 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_sp_invariant_is_the_symplectic_form(n):
    V = cn.V(Sp(n))
    Q = np.asarray((V * V).equivariant_basis())
    assert Q.shape[1] == 1
    form = Q[:, 0].reshape(2 * n, 2 * n)
    np.testing.assert_allclose(form, -form.T, atol=1e-10)  # antisymmetric
    np.testing.assert_allclose(np.abs(form) * np.sqrt(2 * n), np.abs(J(n)), atol=1e-10)
    np.testing.assert_array_equal(symplectic_form(n), J(n))


def levi_civita(n: int) -> np.ndarray:
    eps = np.zeros((n,) * n)
    for p in itertools.permutations(range(n)):
        inversions = sum(p[i] > p[j] for i in range(n) for j in range(i + 1, n))
        eps[p] = (-1) ** inversions
    return eps.reshape(-1)


@pytest.mark.parametrize("n", [2, 3])
def test_sl_invariant_of_the_n_th_power_is_the_determinant(n):
    V = cn.V(SL(n))
    Q = np.asarray((V**n).equivariant_basis())
    assert Q.shape[1] == 1
    eps = levi_civita(n)
    np.testing.assert_allclose(np.abs(Q[:, 0] @ eps), np.linalg.norm(eps), atol=1e-10)
    assert (V * V.T).equivariant_basis().dim == 1
    assert (cn.V(GL(n)) ** n).equivariant_basis().dim == 0  # det is not GL-invariant


# Invariant real bilinear forms of the realified Cⁿ: Re⟨z, w⟩ = xᵀx' + yᵀy' (I) and
# Im⟨z, w⟩ = xᵀy' - yᵀx' (J) for U(n) and SU(n ≥ 3); SU(2) is the unit
# quaternions acting on H = R⁴, whose commutant is H, 4-dimensional; SU(1) is trivial.
@pytest.mark.parametrize(
    "family, n, count",
    [(U, 1, 2), (U, 2, 2), (U, 3, 2), (SU, 1, 4), (SU, 2, 4), (SU, 3, 2)],
    ids=["U1", "U2", "U3", "SU1", "SU2", "SU3"],
)
def test_unitary_invariant_bilinear_forms(family, n, count):
    V = cn.V(family(n))
    Q = np.asarray((V * V).equivariant_basis())
    assert Q.shape[1] == count
    if count == 2:
        hermitian = np.stack([np.eye(2 * n).reshape(-1), J(n).reshape(-1)], 1)
        # the basis spans exactly {Re⟨·,·⟩, Im⟨·,·⟩}
        assert np.linalg.matrix_rank(np.concatenate([Q, hermitian], 1), tol=1e-8) == 2


@pytest.mark.parametrize(
    "build",
    [lambda: GL(0), lambda: SL(65), lambda: Sp(33), lambda: U(1.5), lambda: SU(True), lambda: cn.groups.Rot90(101)],
    ids=["GL0", "SL65", "Sp33", "U1.5", "SUbool", "Rot90-101"],
)
def test_family_sizes_are_checked_before_anything_is_built(build):
    with pytest.raises(cn.GroupError, match=r"expected (an int >= 1|n ≤)"):
        build()

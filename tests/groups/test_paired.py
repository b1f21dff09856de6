"""Paired (subdirect) actions: counts known from character theory, equivariance, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import GroupError, RepError
from constrainnet.groups import SO, Group, O, Paired, S, Z

J = np.array([[0.0, -1.0], [1.0, 0.0]])


def _sides(P):
    return cn.V(P, factor=0), cn.V(P, factor=1)


def _null_dim(constraints: list[np.ndarray]) -> int:
    """The nullspace dimension of stacked constraint matrices, by an SVD written here."""
    m = np.concatenate(constraints)
    s = np.linalg.svd(m, compute_uv=False)
    return m.shape[1] - int((s > 1e-9 * max(1.0, s[0])).sum())


def test_quotient_of_a_cyclic_group_gives_more_maps_than_the_direct_product():
    # Hom_Z6(R[Z6], W) ≅ W for any W (maps out of the regular rep are fixed by the image of e):
    # W = R³ with Z6 acting through Z3 gives 3; the direct product forces constant maps: 1.
    P = Paired(Z(6), Z(3))
    a, b = _sides(P)
    assert (a >> b).equivariant_basis().dim == 3
    D = Z(6) * Z(3)
    assert (cn.V(D, factor=0) >> cn.V(D, factor=1)).equivariant_basis().dim == 1


def test_double_angle_rotation_of_the_output():
    # θ on the input, 2θ on the output: V⊗V has frequencies 0, 0 and one copy of ±2, and maps between two
    # copies of the frequency-2 irreducible (complex type) form a 2-dimensional space; none from V itself.
    P = Paired(SO(2), Group(lie_algebra=[2 * J], name="SO(2) twice"))
    a, b = _sides(P)
    assert (a * a >> b).equivariant_basis().dim == 2
    assert (a >> b).equivariant_basis().dim == 0
    D = SO(2) * Group(lie_algebra=[2 * J])
    assert (cn.V(D, factor=0) * cn.V(D, factor=0) >> cn.V(D, factor=1)).equivariant_basis().dim == 0


def test_determinant_on_the_output_gives_the_levi_civita_map():
    G = O(3)
    det = Group(discrete_generators=[[[np.linalg.det(g)]] for g in G.discrete_generators], lie_algebra=np.zeros((3, 1, 1)))
    P = Paired(G, det)
    a, b = _sides(P)
    Q = np.asarray((a**3 >> b).equivariant_basis())
    assert Q.shape[1] == 1
    eps = np.zeros((3, 3, 3))
    for (i, j, k), s in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1, (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
        eps[i, j, k] = s
    assert abs(abs(Q[:, 0] @ eps.ravel()) / np.linalg.norm(eps) - 1.0) < 1e-10
    assert (a**2 >> b).equivariant_basis().dim == 0  # no pseudo-scalar from two vectors


@pytest.mark.parametrize(
    "on_in, on_out",
    [(Z(6), Z(3)), (Z(4), Z(2)), (S(4), S(3)), (SO(2), Group(lie_algebra=[3 * J]))],
    ids=["Z6-Z3", "Z4-Z2", "S4-S3", "SO2-triple"],
)
def test_basis_equals_the_dense_nullspace_of_the_paired_constraints(on_in, on_out):
    P = Paired(on_in, on_out)
    a, b = _sides(P)
    n, m = on_in.d, on_out.d
    # W (m × n) row-major: vec(W a) = (I ⊗ aᵀ) vec W, vec(b W) = (b ⊗ I) vec W
    rows = [np.kron(np.eye(m), x.T) - np.kron(y, np.eye(n)) for x, y in zip(on_in.discrete_generators, on_out.discrete_generators)]
    rows += [np.kron(np.eye(m), x.T) - np.kron(y, np.eye(n)) for x, y in zip(on_in.lie_algebra, on_out.lie_algebra)]
    assert (a >> b).equivariant_basis().dim == _null_dim(rows)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_maps_are_equivariant_on_sampled_pairs(seed):
    P = Paired(SO(2), Group(lie_algebra=[2 * J]))
    a, b = _sides(P)
    Q = np.asarray((a * a >> b).equivariant_basis())
    g = P.sample(seed)
    ga, gb = g[:2, :2], g[2:, 2:]
    for w in Q.T:
        W = w.reshape(2, 4)
        assert np.abs(W @ np.kron(ga, ga) - gb @ W).max() < 1e-10


def test_samples_pair_the_two_images():
    P = Paired(SO(2), Group(lie_algebra=[2 * J]))
    g = P.sample(3)
    theta = np.arctan2(g[1, 0], g[0, 0])
    assert np.allclose(g[2:, 2:], scipy.linalg.expm(2 * theta * J), atol=1e-10)


def test_homomorphism_or_not():
    assert Paired(Z(6), Z(3)).is_homomorphic_image
    P = Paired(Z(6), Z(4))  # the generators' orders disagree: the pairs generate Z(12)
    assert P.order == 12 and not P.is_homomorphic_image
    assert Paired(S(4), S(3)).is_homomorphic_image is False  # S4's generators do not map to S3's as a homomorphism
    with pytest.raises(GroupError, match="finite groups only"):
        Paired(SO(2), SO(2)).is_homomorphic_image


def test_layers_over_a_paired_group_are_equivariant():
    torch.manual_seed(0)
    P = Paired(Z(6), Z(3))
    a, b = _sides(P)
    layer = cn.nn.Linear(a, b, dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64)
    for g in P.elements():
        ga, gb = torch.tensor(g[:6, :6]), torch.tensor(g[6:, 6:])
        assert torch.allclose(layer(x @ ga.T), layer(x) @ gb.T, atol=1e-12)


def test_values_and_names():
    P = Paired(Z(6), Z(3))
    assert P == Paired(Z(6), Z(3)) and hash(P) == hash(Paired(Z(6), Z(3)))
    assert P != Z(6) * Z(3)
    assert repr(P) == "Paired(Z(6), Z(3))"
    assert repr(Paired(Z(6), Z(3), name="shift")) == "shift"
    assert P.factors == (Z(6), Z(3)) and P.block(0) == (0, 6) and P.block(1) == (6, 9)
    assert P.parent == Z(6) * Z(3)


def test_refusals():
    with pytest.raises(GroupError, match="same numbers of generators"):
        Paired(S(4), Z(3))
    with pytest.raises(GroupError, match="same numbers of generators"):
        Paired(SO(3), SO(2))
    with pytest.raises(TypeError, match="on_output to be a Group"):
        Paired(Z(3), "Z(3)")
    with pytest.raises(TypeError, match="name to be a str"):
        Paired(Z(3), Z(3), name=3)
    with pytest.raises(GroupError, match="expected 0"):
        Paired(Z(3), Z(3)).block(2)
    with pytest.raises(RepError, match="expected 0"):
        cn.V(Paired(Z(3), Z(3)), factor=2)
    with pytest.raises(RepError, match="product group"):
        cn.V(Z(3), factor=0)


def test_emlp_over_a_paired_group_is_equivariant():
    from constrainnet.testing import equivariance_error

    torch.manual_seed(0)
    P = Paired(SO(2), Group(lie_algebra=[2 * J]))
    model = cn.nn.EMLP(cn.V(P, factor=0), cn.V(P, factor=1), group=P, ch=16, num_layers=1).double()
    assert equivariance_error(model, group=P, n_samples=8, rng=0) < 1e-10


def test_parsed_by_name_and_by_the_command_line():
    from constrainnet.errors import ParseError
    from constrainnet.parse import parse_group, parse_rep

    for P in (Paired(Z(6), Z(3)), Paired(S(3) * Z(2), S(3) * Z(2)), Paired(SO(2), SO(2))):
        assert parse_group(repr(P)) == P
    P = parse_group("Paired(Z(6), Z(3))")
    assert parse_rep("V[0] >> V[1]", P).equivariant_basis().dim == 3
    with pytest.raises(ParseError, match="expected ',' between the input's and the output's group"):
        parse_group("Paired(Z(6))")
    with pytest.raises(ParseError, match="same numbers of generators"):
        parse_group("Paired(S(4), Z(3))")

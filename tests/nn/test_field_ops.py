"""Operations on feature fields: group pooling, spatial pooling, batch norm, nonlinearities; irreducibles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.errors import RepError, RepMismatchError
from constrainnet.groups import C, D
from constrainnet.nn import (
    FieldBatchNorm2d,
    FieldPool2d,
    FieldType,
    GatedNonlinearity,
    GroupPooling,
    NormNonlinearity,
    PointwiseNonlinearity,
)

G = D(4)
R, S, V = cn.regular(G), cn.Scalar(G), cn.V(G)


def _max_error(module, x):
    """max over D4 of |m(g·x) − g·m(x)| / max |m(x)|, in train and in eval mode."""
    errors = []
    for mode in (True, False):
        module.train(mode)
        ref = module(x)
        for g in G.elements():
            got = module(module.in_type.transform(x, g))
            errors.append(float((got - module.out_type.transform(ref, g)).detach().abs().max() / ref.detach().abs().max()))
    return max(errors)


MIXED = FieldType(G, [R, R, V, S, V, cn.quotient(G, C(4))])
PERMUTING = FieldType(G, [R, S, R, cn.quotient(G, C(2))])


@pytest.mark.parametrize(
    "make",
    [
        lambda: GroupPooling(MIXED),
        lambda: GroupPooling(MIXED, "mean"),
        lambda: FieldPool2d(MIXED, 2),
        lambda: FieldPool2d(MIXED, 3, stride=1, padding=1),
        lambda: FieldPool2d(PERMUTING, 2, mode="max"),
        lambda: FieldBatchNorm2d(MIXED, dtype=torch.float64),
        lambda: NormNonlinearity(MIXED, dtype=torch.float64),
        lambda: GatedNonlinearity(MIXED, dtype=torch.float64),
        lambda: PointwiseNonlinearity(PERMUTING, torch.relu),
    ],
    ids=["gpool-max", "gpool-mean", "avgpool2", "avgpool3", "maxpool", "batchnorm", "norm", "gated", "pointwise"],
)
@pytest.mark.parametrize("size", [8, 6])
def test_field_operations_commute_with_d4(make, size):
    torch.manual_seed(0)
    module = make()
    x = torch.randn(3, module.in_type.size, size, size, dtype=torch.float64)
    assert _max_error(module, x) < 1e-12


def test_batch_norm_of_trivial_fields_is_torch_batch_norm():
    torch.manual_seed(0)
    ours = FieldBatchNorm2d(FieldType(G, 3 * [S]))
    ref = torch.nn.BatchNorm2d(3)
    for _ in range(3):
        x = torch.randn(4, 3, 5, 5) * 2 + 1
        torch.testing.assert_close(ours(x), ref(x))
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    x = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(ours(x), ref(x))


def test_batch_norm_normalises_each_field_by_its_invariant_mean_and_norm():
    torch.manual_seed(0)
    t = FieldType(G, [R, V])
    bn = FieldBatchNorm2d(t, eps=1e-12, dtype=torch.float64, affine=False)
    x = torch.randn(16, 10, 6, 6, dtype=torch.float64) * 3 + torch.arange(10.0, dtype=torch.float64)[None, :, None, None]
    y = bn(x)
    # the regular field: its channel mean (the invariant part) is removed, its mean square is 1
    assert abs(float(y[:, :8].mean())) < 1e-12
    assert abs(float(y[:, :8].pow(2).mean()) - 1) < 1e-9
    # V has no invariant vector: nothing is subtracted, only scaled (by one number for both channels)
    ratio = y[:, 8:] / x[:, 8:]
    assert float(ratio.max() - ratio.min()) < 1e-9
    assert abs(float(y[:, 8:].pow(2).mean()) - 1) < 1e-9


def test_group_pooling_reduces_each_permutation_field_and_norms_the_others():
    t = FieldType(G, [R, V, S])
    x = torch.randn(2, t.size, 4, 4)
    y = GroupPooling(t)(x)
    assert y.shape == (2, 3, 4, 4)
    torch.testing.assert_close(y[:, 0], x[:, :8].amax(1))
    torch.testing.assert_close(y[:, 1], x[:, 8:10].norm(dim=1))
    torch.testing.assert_close(y[:, 2], x[:, 10])
    assert GroupPooling(t).out_type == FieldType(G, 3 * [S])


def test_gated_nonlinearity_on_fields_takes_one_gate_per_gated_field():
    t = FieldType(G, [R, V, V, S])
    gate = GatedNonlinearity(t)
    assert gate.in_type == FieldType(G, [R, V, V, S, S, S]) and gate.out_type == t
    assert gate(torch.randn(2, gate.in_type.size, 5, 5)).shape == (2, t.size, 5, 5)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: PointwiseNonlinearity(FieldType(G, [V])), RepError),
        (lambda: FieldPool2d(FieldType(G, [V]), 2, mode="max"), RepError),
        (lambda: FieldPool2d(FieldType(G, [R]), 2, mode="median"), ValueError),
        (lambda: GroupPooling(FieldType(G, [R]), mode="sum"), ValueError),
        (lambda: GroupPooling(R), TypeError),
        (lambda: FieldBatchNorm2d(R), TypeError),
    ],
)
def test_bad_arguments_are_refused(make, error):
    with pytest.raises(error):
        make()


@pytest.mark.parametrize("module", [GroupPooling(PERMUTING), FieldPool2d(PERMUTING, 2), FieldBatchNorm2d(PERMUTING), PointwiseNonlinearity(PERMUTING)])
def test_wrong_feature_maps_are_refused(module):
    with pytest.raises(RepMismatchError):
        module(torch.randn(2, PERMUTING.size + 1, 4, 4))
    with pytest.raises(RepMismatchError):
        module(torch.randn(2, PERMUTING.size))


@pytest.mark.parametrize("group", [D(4), C(4), D(6), C(8), D(3)], ids=repr)
def test_irreducibles_are_the_real_irreducibles_of_the_group(group):
    irreps = cn.irreducibles(group)
    elements = group.elements()
    order = len(elements)
    chars = np.array([[np.trace(r.rho(g)) for g in elements] for r in irreps])
    commutant = np.array([{"real": 1, "complex": 2, "quaternionic": 4}[r.irrep.commutant] for r in irreps])
    # Frobenius–Schur over R: <χ, χ> = dim End_G, distinct types orthogonal, Σ d² / dim End_G = |G|
    np.testing.assert_allclose(chars @ chars.T / order, np.diag(commutant), atol=1e-9)
    assert sum(r.size**2 / c for r, c in zip(irreps, commutant)) == pytest.approx(order)
    for r in irreps:
        for a, b in itertools.islice(itertools.product(elements, elements), 40):
            np.testing.assert_allclose(r.rho(a @ b), r.rho(a) @ r.rho(b), atol=1e-10)
        # irreducible: the commutant (equivariant maps r → r) has the dimension of its type
        assert (r >> r).equivariant_basis().dim == {"real": 1, "complex": 2, "quaternionic": 4}[r.irrep.commutant]


def test_irreducible_fields_in_a_steerable_convolution():
    torch.manual_seed(0)
    t = FieldType(G, cn.irreducibles(G))
    conv = cn.nn.SteerableConv2d(t, t, 3, padding=1, dtype=torch.float64)
    x = torch.randn(2, t.size, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        y = conv(x)
        for g in G.elements():
            assert float((conv(t.transform(x, g)) - t.transform(y, g)).abs().max()) < 1e-12 * float(y.abs().max())


def test_restricting_a_field_type_to_a_subgroup_keeps_layout_and_frees_coefficients():
    torch.manual_seed(0)
    t = FieldType(G, [R, V, S])
    tc = t.restrict(C(4))
    assert tc.size == t.size and tc.G.order == 4 and len(tc.grid_elements()) == 4
    d4 = cn.nn.SteerableConv2d(t, t, 3, padding=1, dtype=torch.float64)
    c4 = cn.nn.SteerableConv2d(tc, tc, 3, padding=1, dtype=torch.float64)
    assert c4.num_coefficients > d4.num_coefficients  # fewer constraints
    x = torch.randn(2, t.size, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        for g in tc.grid_elements():
            # the D4 layer commutes with C4 as the restricted type moves the maps
            assert float((d4(tc.transform(x, g)) - tc.transform(d4(x), g)).abs().max()) < 1e-12
            assert float((c4(tc.transform(x, g)) - tc.transform(c4(x), g)).abs().max()) < 1e-12
    with pytest.raises(cn.errors.GroupError):
        t.restrict(C(8))  # the 45° rotation is not in D(4)

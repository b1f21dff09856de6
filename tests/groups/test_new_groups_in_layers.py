"""The groups added for EMLP parity in Linear and EMLP (float64): equivariant, and not trivially zero."""

from __future__ import annotations

import pytest
import torch

import constrainnet as cn
from constrainnet.groups import GL, O13, SL, SO13, SU, U, Cube, Rot90, RubiksCube, SO13p, Sp, Z
from constrainnet.testing import assert_equivariant

GROUPS = [
    pytest.param(lambda: GL(3), id="GL3"),
    pytest.param(lambda: SL(3), id="SL3"),
    pytest.param(lambda: Sp(2), id="Sp2"),
    pytest.param(lambda: U(2), id="U2"),
    pytest.param(lambda: SU(2), id="SU2"),
    pytest.param(lambda: SU(3), id="SU3", marks=pytest.mark.slow),
    pytest.param(SO13p, id="SO13p"),
    pytest.param(SO13, id="SO13"),
    pytest.param(O13, id="O13", marks=pytest.mark.slow),  # the same group as Lorentz(), covered by the zoo
    pytest.param(lambda: Rot90(3), id="Rot90-3"),
    pytest.param(Cube, id="Cube"),
    pytest.param(RubiksCube, id="RubiksCube"),
    pytest.param(lambda: Z(3) * Z(4), id="Z3xZ4"),
]


@pytest.mark.parametrize("make", GROUPS)
def test_linear_and_emlp_are_equivariant(make):
    G = make()
    V = cn.V(G)
    rep_in, rep_out = V + V**0, V + V**0
    torch.manual_seed(0)
    x = torch.randn(4, rep_in.size, dtype=torch.float64)
    for module in (
        cn.nn.Linear(rep_in, rep_out, dtype=torch.float64),
        cn.nn.EMLP(rep_in, rep_out, group=G, ch=32, num_layers=2, dtype=torch.float64),
    ):
        assert module(x).abs().max() > 0
        assert_equivariant(module, n_samples=4)

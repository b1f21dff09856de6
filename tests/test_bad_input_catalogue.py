"""The bad-input catalogue: one row per malformed input the library must refuse.

Each row is an input a user can plausibly give, the error class it must raise
(always a :class:`~constrainnet.ConstrainnetError`, which also is the builtin
it refines) and a fragment of the message, which must say what was expected
and what was given. A second table lists valid inputs that once crashed in
the headline paths; they must now build and run.

Deeper tests of each area live beside it (``tests/nn/test_bad_inputs.py``,
``tests/groups/test_group_errors.py``, ``tests/reps/test_rep_errors.py``,
``tests/solver/test_memory_limit.py``, ``tests/solver/test_disk_cache.py``,
``tests/test_parse.py``); this file is the index a reader scans first.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.cli import main
from constrainnet.groups import P4M, SO, Group, Lorentz, O, S, Z
from constrainnet.parse import parse_group, parse_rep
from constrainnet.solver import set_memory_limit

SO3 = SO(3)
V3 = cn.V(SO3)


def _linear(**kwargs):
    return cn.nn.Linear(V3, V3, **kwargs)


def _tensor_chain(n: int):
    rep = V3
    for _ in range(n - 1):
        rep = rep * V3
    return rep


# (id, callable, error class, builtin it refines, message fragment)
CATALOGUE = [
    # groups: generators and families
    ("complex-generators", lambda: Group(discrete_generators=[np.diag([np.exp(0.3j), 1 + 1j])]),
     cn.GroupError, ValueError, "expected real float matrices, got complex"),
    ("complex-lie-algebra", lambda: Group(lie_algebra=[1j * np.eye(2)]),
     cn.GroupError, ValueError, "expected real float matrices, got complex"),
    ("nan-generator", lambda: Group(discrete_generators=[np.full((2, 2), np.nan)]),
     cn.GroupError, ValueError, "finite"),
    ("singular-generator", lambda: Group(discrete_generators=[np.zeros((2, 2))]),
     cn.GroupError, ValueError, "expected an invertible matrix"),
    ("zero-dimension", lambda: Group(d=0), cn.GroupError, ValueError, "expected an int d >= 1, got 0"),
    ("huge-cyclic", lambda: Z(10**9), cn.GroupError, ValueError, "expected n ≤ 10000, got 1000000000"),
    ("huge-rotation", lambda: SO(2000), cn.GroupError, ValueError, "expected n ≤ 64, got 2000"),
    ("huge-image", lambda: P4M(10**5), cn.GroupError, ValueError, "expected n ≤ 100, got 100000"),
    # reps: elements and sizes
    ("nan-element", lambda: V3.rho(np.full((3, 3), np.nan)), cn.RepError, ValueError, "expected finite entries"),
    ("complex-element", lambda: V3.rho(1j * np.eye(3)), cn.RepError, ValueError, "expected real float matrices"),
    ("wrong-element-shape", lambda: V3.rho(np.eye(4)), cn.RepError, ValueError, "expected"),
    ("reps-of-two-groups", lambda: V3 + cn.V(O(3)), cn.RepMismatchError, ValueError, "expected reps of one group"),
    ("tensor-chain-too-large", lambda: _tensor_chain(40), cn.RepError, ValueError, "expected a rep of size at most"),
    ("tensor-power-too-large", lambda: V3**40, cn.RepError, ValueError, "expected"),
    # parser
    ("unknown-group", lambda: parse_group("SO3x"), cn.ParseError, ValueError, "unknown group 'SO3x'"),
    ("too-many-factors", lambda: parse_group("*".join(["S(3)"] * 2000)), cn.ParseError, ValueError,
     "too many factors in a product"),
    ("text-too-long", lambda: parse_rep("V+" * 6000 + "V", SO3), cn.ParseError, ValueError,
     "expected a text of at most"),
    # solver: refused before allocating
    ("basis-too-large-dense", lambda: (V3**16).equivariant_basis(), cn.SolverError, RuntimeError,
     "expected a peak memory of at most"),
    ("basis-too-large-orbit", lambda: (cn.V(S(50)) ** 5).equivariant_basis(), cn.SolverError, RuntimeError,
     "expected a peak memory of at most"),
    ("decompose-non-compact", lambda: cn.V(Lorentz()).decompose(), cn.ConstrainnetError, ValueError,
     "non-compact"),
    # layers: inputs and placement
    ("input-width", lambda: _linear()(torch.randn(2, 4)), cn.RepMismatchError, ValueError, "expected input width 3"),
    ("float32-into-float64", lambda: _linear(dtype=torch.float64)(torch.randn(2, 3)), cn.DtypeError, TypeError,
     "expected input of dtype torch.float64"),
    ("int-input", lambda: _linear()(torch.ones(2, 3, dtype=torch.int64)), cn.DtypeError, TypeError, "got torch.int64"),
    ("bool-input", lambda: _linear()(torch.ones(2, 3, dtype=torch.bool)), cn.DtypeError, TypeError, "got torch.bool"),
    ("complex-input", lambda: _linear()(torch.ones(2, 3, dtype=torch.complex64)), cn.DtypeError, TypeError,
     "got torch.complex64"),
    ("bfloat16-input", lambda: _linear()(torch.ones(2, 3, dtype=torch.bfloat16)), cn.DtypeError, TypeError,
     "got torch.bfloat16"),
    ("integer-layer-dtype", lambda: _linear(dtype=torch.int64), cn.DtypeError, TypeError,
     "expected a floating dtype"),
    ("bad-device-string", lambda: _linear(device="cpux"), cn.DeviceError, ValueError, "got 'cpux'"),
    ("input-on-other-device", lambda: _linear()(torch.randn(2, 3, device="meta")), cn.DeviceError, ValueError,
     "expected input on device cpu"),
]


@pytest.mark.parametrize(
    "build, error, builtin, fragment",
    [pytest.param(*row[1:], id=row[0]) for row in CATALOGUE],
)
def test_bad_input_raises_the_library_error_naming_expected_and_given(build, error, builtin, fragment):
    with pytest.raises(error) as info:
        build()
    assert isinstance(info.value, cn.ConstrainnetError) and isinstance(info.value, builtin)
    assert fragment in str(info.value), str(info.value)


def test_a_low_memory_limit_refuses_a_moderate_rep_naming_the_numbers():
    set_memory_limit(10**6)
    try:
        with pytest.raises(cn.SolverError, match="1000000 bytes"):
            (V3**3 >> V3**3).equivariant_basis()
    finally:
        set_memory_limit(None)  # back to the environment's or the default limit


@pytest.mark.parametrize(
    "argv, fragment",
    [
        pytest.param(["basis", "--group", "SO3x", "V"], "unknown group", id="cli-unknown-group"),
        pytest.param(["basis", "--group", "SO(3)", "V**16"], "expected a peak memory", id="cli-too-large"),
    ],
)
def test_the_command_prints_one_error_line(capsys, argv, fragment):
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert err.startswith("constrainnet: error: ") and err.count("\n") == 1, err
    assert fragment in err and "Traceback" not in err


# Valid inputs that once crashed in the headline paths: they must build, run and stay equivariant.
def test_emlp_block_over_image_reps_builds_and_is_equivariant():
    G = P4M(3)
    block = cn.nn.EMLPBlock(cn.V(G), cn.V(G)).double()
    cn.testing.assert_equivariant(block, cn.V(G), cn.V(G), dtype=torch.float64)


def test_sparse_layer_with_a_block_pair_without_maps():
    G = P4M(3)
    rep_out = cn.V(G) + cn.PseudoScalar(G)
    layer = cn.nn.Linear(cn.V(G), rep_out).double()
    cn.testing.assert_equivariant(layer, cn.V(G), rep_out, dtype=torch.float64)


def test_every_buffer_follows_the_device_argument():
    model = cn.nn.EMLP(V3, V3, group=SO3, ch=16, num_layers=1, device="meta")
    placed = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type != "meta"]
    assert placed == []

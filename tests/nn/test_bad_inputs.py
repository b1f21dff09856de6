"""Bad devices, dtypes and inputs given to the layers: the library's own errors, with what was expected and what was given."""

from __future__ import annotations

from typing import Callable

import pytest
import torch

import constrainnet as cn
from constrainnet.errors import ConstrainnetError, DeviceError, DtypeError
from constrainnet.groups import P4M, SO

G = SO(3)
V = cn.V(G)
P = P4M(3)
W = cn.V(P)

# constructors taking device= and dtype=, by readable id
FACTORIES: dict[str, Callable[..., torch.nn.Module]] = {
    "Linear": lambda **kw: cn.nn.Linear(V**0 + V, V, **kw),
    "Linear-conv": lambda **kw: cn.nn.Linear(2 * W, W + cn.PseudoScalar(P), **kw),
    "BiLinear": lambda **kw: cn.nn.BiLinear(V**0 + V, V, **kw),
    "EMLPBlock": lambda **kw: cn.nn.EMLPBlock(V**0 + V, V**0 + V, **kw),
    "EMLP": lambda **kw: cn.nn.EMLP(V, V, group=G, ch=16, num_layers=1, **kw),
    "MLP": lambda **kw: cn.nn.MLP(V, V, group=G, ch=8, num_layers=1, **kw),
    "NormNonlinearity": lambda **kw: cn.nn.NormNonlinearity(V**0 + V, **kw),
    "GatedNonlinearity": lambda **kw: cn.nn.GatedNonlinearity(V**0 + V, **kw),
}
# those with parameters, whose dtype an input must match
WITH_PARAMETERS = [k for k in FACTORIES if k != "GatedNonlinearity"]


# -- item: device= and dtype= reach every parameter and buffer -----------------
def test_emlp_on_meta_has_every_buffer_on_meta():
    model = cn.nn.EMLP(V, V, group=G, ch=16, num_layers=1, device="meta")
    off = [name for name, t in list(model.named_parameters()) + list(model.named_buffers()) if t.device.type != "meta"]
    assert not off, f"left on another device: {off}"  # layers.0.nonlinearity.expand_1 stayed on the CPU


@pytest.mark.parametrize("kind", FACTORIES)
def test_dtype_reaches_every_floating_tensor(kind):
    module = FACTORIES[kind](dtype=torch.float64)
    wrong = [name for name, t in list(module.named_parameters()) + list(module.named_buffers()) if t.is_floating_point() and t.dtype != torch.float64]
    assert not wrong, f"not float64: {wrong}"


# -- item: inputs of another dtype or device ----------------------------------
@pytest.mark.parametrize("kind", WITH_PARAMETERS)
def test_float32_input_to_a_float64_layer(kind):
    module = FACTORIES[kind](dtype=torch.float64)
    with pytest.raises(DtypeError, match=r"expected input of dtype torch\.float64 .*got torch\.float32"):
        module(torch.randn(4, module.rep_in.size, dtype=torch.float32))


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("kind", WITH_PARAMETERS)
def test_other_dtypes_into_a_layer(kind, dtype):
    module = FACTORIES[kind]()
    x = torch.ones(4, module.rep_in.size, dtype=dtype)
    with pytest.raises(DtypeError, match=f"expected input of dtype torch.float32 .*got {dtype}"):
        module(x)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64], ids=str)
@pytest.mark.parametrize("kind", ["GatedNonlinearity", "PointwiseNonlinearity"])
def test_non_floating_input_to_a_nonlinearity(kind, dtype):
    module = cn.nn.PointwiseNonlinearity(2 * V**0) if kind == "PointwiseNonlinearity" else FACTORIES[kind]()
    with pytest.raises(DtypeError, match=f"expected input of a floating dtype, got {dtype}"):
        module(torch.ones(4, module.rep_in.size, dtype=dtype))


def test_nonlinearity_without_parameters_takes_any_float_dtype():
    act = cn.nn.GatedNonlinearity(V**0 + V)  # float32 buffers, like torch.nn.SiLU it takes float64
    x = torch.randn(4, act.rep_in.size, dtype=torch.float64)
    assert act(x).dtype == torch.float64


@pytest.mark.parametrize("kind", FACTORIES)
def test_input_on_another_device(kind):
    module = FACTORIES[kind]()
    with pytest.raises(DeviceError, match="expected input on device cpu .*got meta"):
        module(torch.empty(4, module.rep_in.size, device="meta"))


# -- item: bad device= and dtype= at construction ------------------------------
@pytest.mark.parametrize("kind", FACTORIES)
def test_unknown_device_string(kind):
    with pytest.raises(DeviceError, match="expected a device such as 'cpu', 'cuda:0' or 'meta', got 'cpux'"):
        FACTORIES[kind](device="cpux")


def test_device_of_a_wrong_type():
    with pytest.raises(DeviceError, match=r"expected a device such as .*got \[0\]"):
        cn.nn.Linear(V, V, device=[0])


def test_unavailable_device():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: 'cuda' is available")
    with pytest.raises(DeviceError, match="expected an available device, got 'cuda'"):
        cn.nn.EMLP(V, V, group=G, ch=16, num_layers=1, device="cuda")


@pytest.mark.parametrize("dtype", [torch.int64, torch.complex64, "float64"], ids=str)
@pytest.mark.parametrize("kind", FACTORIES)
def test_non_floating_dtype_argument(kind, dtype):
    with pytest.raises(DtypeError, match=f"expected a floating dtype such as torch.float32 or torch.float64, got {dtype!r}"):
        FACTORIES[kind](dtype=dtype)


def test_errors_are_of_the_family_and_refine_builtins():
    assert issubclass(DtypeError, ConstrainnetError) and issubclass(DtypeError, TypeError)
    assert issubclass(DeviceError, ConstrainnetError) and issubclass(DeviceError, ValueError)


def test_a_matching_input_still_passes():
    layer = cn.nn.Linear(V**0 + V, V, dtype=torch.float64)
    assert layer(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64
    layer.float()  # a cast moves what the check compares against
    assert layer(torch.randn(2, 4)).dtype == torch.float32

"""Every layer and model of constrainnet.nn over every group family of the zoo.

For each zoo group (finite, continuous, P4M images, products, Lorentz) and
each module (EMLP, MLP, EMLPBlock, BiLinear, the three nonlinearities, and
Linear in each of its plans: assembled, orbit/sparse, P4M convolution,
support-restricted):
- built in float64 and then cast to float32, the floating parameters and
  buffers are in that dtype; in each dtype one training step (loss.backward
  + SGD step) changes the parameters and keeps them finite, and after the
  step the module is equivariant (constrainnet.testing tolerances: 1e-5
  relative in float32, 1e-10 in float64) — except MLP, the unconstrained
  baseline;
- built with ``device="meta", dtype=torch.float32``, every parameter and
  buffer is on meta and in float32, and the forward runs there.

The reps are small (the defining rep, a scalar, a pseudoscalar) so the sweep
stays fast; ``test_wide_models`` (slow) repeats it with wider hidden reps.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch

import constrainnet as cn
from constrainnet.groups import P4M
from constrainnet.testing import assert_equivariant
from tests.zoo import ZOO, Entry

DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])

# Modules with a permutation-rep restriction or an image convolution exist
# only for some groups; each builder returns None where its module does not
# apply (the case is then not generated, see _cases).


def _is_permutation(entry: Entry) -> bool:
    return cn.V(entry.G).is_permutation


def _is_image(entry: Entry) -> bool:
    return entry.id.startswith("P4M")


def _reps(entry: Entry) -> tuple[cn.Rep, cn.Rep, cn.Rep]:
    """(rep_in, rep_out, hidden) of a zoo group: scalars, the defining rep and a pseudoscalar."""
    G = entry.G
    V = cn.V(G)
    return V**0 + V, V + cn.PseudoScalar(G), 2 * V**0 + V


def _assembled(entry: Entry, **kw) -> torch.nn.Module:
    rep_in, rep_out, _ = _reps(entry)
    if _is_image(entry):  # images out would make a convolution: map to scalars instead
        rep_out = 2 * cn.Scalar(entry.G) + cn.PseudoScalar(entry.G)
    layer = cn.nn.Linear(rep_in, rep_out, **kw)
    assert layer.plan.name == "assembled"
    return layer


def _orbit(entry: Entry, **kw) -> torch.nn.Module | None:
    """The sparse plan, forced by a support that keeps every orbit of a permutation rep."""
    if not _is_permutation(entry):
        return None
    rep_in, rep_out, _ = _reps(entry)
    rep_out = rep_out if not _is_image(entry) else 2 * cn.Scalar(entry.G) + cn.PseudoScalar(entry.G)
    Q = np.asarray((rep_in >> rep_out).equivariant_basis())
    support = (np.abs(Q).sum(axis=1) > 0).reshape(rep_out.size, rep_in.size)
    layer = cn.nn.Linear(rep_in, rep_out, support=support, **kw)
    assert layer.plan.name == "orbit" and layer.plan.kernel(layer) is None
    return layer


def _conv(entry: Entry, **kw) -> torch.nn.Module | None:
    """Image reps of P4M: the convolution plan (with gathers for the scalar and pseudoscalar blocks)."""
    if not _is_image(entry):
        return None
    rep_in, rep_out, _ = _reps(entry)
    layer = cn.nn.Linear(cn.V(entry.G) + rep_in, rep_out, plan="orbit", **kw)
    assert layer.plan.kernel(layer) is not None
    return layer


def _restricted(entry: Entry, **kw) -> torch.nn.Module | None:
    """A support that keeps only the diagonal orbit of V >> V (an int window on images)."""
    if not _is_permutation(entry):
        return None
    V = cn.V(entry.G)
    support = 1 if _is_image(entry) else np.tile(np.eye(V.size, dtype=bool), (1, 2))
    layer = cn.nn.Linear(2 * V, V, support=support, **kw)
    assert layer.plan.name == "orbit" and 0 < layer.num_coefficients < cn.nn.Linear(2 * V, V).num_coefficients
    return layer


def _bilinear(entry: Entry, **kw) -> torch.nn.Module:
    rep_in, rep_out, _ = _reps(entry)
    return cn.nn.BiLinear(rep_in, rep_out, **kw)


def _block(entry: Entry, **kw) -> torch.nn.Module:
    rep_in, _, hidden = _reps(entry)
    return cn.nn.EMLPBlock(rep_in, hidden, **kw)


def _emlp(entry: Entry, **kw) -> torch.nn.Module:
    rep_in, rep_out, hidden = _reps(entry)
    return cn.nn.EMLP(rep_in, rep_out, group=entry.G, ch=hidden, num_layers=1, **kw)


def _mlp(entry: Entry, **kw) -> torch.nn.Module:
    rep_in, rep_out, _ = _reps(entry)
    return cn.nn.MLP(rep_in, rep_out, group=entry.G, ch=8, num_layers=1, **kw)


def _gated(entry: Entry, **kw) -> torch.nn.Module:
    return cn.nn.GatedNonlinearity(_reps(entry)[2], **kw)


def _norm(entry: Entry, **kw) -> torch.nn.Module | None:
    if not cn.V(entry.G).is_orthogonal:  # rejected: see test_norm_nonlinearity_needs_orthogonal_reps
        return None
    layer = cn.nn.NormNonlinearity(_reps(entry)[2], **kw)
    with torch.no_grad():
        layer.bias.normal_()
    return layer


def _pointwise(entry: Entry, **kw) -> torch.nn.Module:
    rep = _reps(entry)[2] if _is_permutation(entry) else 2 * cn.Scalar(entry.G)
    return cn.nn.PointwiseNonlinearity(rep)


BUILDERS: dict[str, Callable[..., torch.nn.Module | None]] = {
    "Linear-assembled": _assembled,
    "Linear-orbit": _orbit,
    "Linear-conv": _conv,
    "Linear-support": _restricted,
    "BiLinear": _bilinear,
    "EMLPBlock": _block,
    "EMLP": _emlp,
    "MLP": _mlp,
    "GatedNonlinearity": _gated,
    "NormNonlinearity": _norm,
    "PointwiseNonlinearity": _pointwise,
}

# builders whose module takes no device/dtype (an elementwise function of any input)
_NO_FACTORY = {"PointwiseNonlinearity"}


def _applies(entry: Entry, kind: str) -> bool:
    if kind in ("Linear-orbit", "Linear-support"):
        return _is_permutation(entry)
    if kind == "Linear-conv":
        return _is_image(entry)
    if kind == "NormNonlinearity":
        return cn.V(entry.G).is_orthogonal
    return True


def _cases() -> list:
    return [pytest.param(e, kind, id=f"{e.id}-{kind}") for e in ZOO for kind in BUILDERS if _applies(e, kind)]


def _build(entry: Entry, kind: str, **kw) -> torch.nn.Module:
    if kind in _NO_FACTORY:
        kw = {}
    module = BUILDERS[kind](entry, **kw)
    assert module is not None
    return module


def _tensors(module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    return list(module.named_parameters()) + list(module.named_buffers())


def _assert_dtype(module: torch.nn.Module, kind: str, dtype: torch.dtype) -> None:
    if kind in _NO_FACTORY:
        return
    wrong = [(name, t.dtype) for name, t in _tensors(module) if t.is_floating_point() and t.dtype != dtype]
    assert not wrong, f"expected {dtype}, got {wrong}"


def _train_step(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """One SGD step on a regression loss: the parameters change and stay finite (or, without parameters, the input gets a finite gradient)."""
    x = torch.randn(5, module.rep_in.size, dtype=dtype)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        x.requires_grad_(True)
        module(x).sum().backward()
        assert torch.isfinite(x.grad).all()
        return
    before = [p.detach().clone() for p in params]
    optimizer = torch.optim.SGD(params, lr=0.1)
    (module(x) - 1.0).pow(2).mean().backward()
    optimizer.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, params)), "the step changed no parameter"
    assert all(torch.isfinite(p).all() for p in params), "a parameter is not finite after the step"


@pytest.mark.parametrize("entry, kind", _cases())
def test_train_step_then_equivariant(entry: Entry, kind: str) -> None:
    """Built in float64: a step, equivariant to 1e-10; cast to float32: a step, equivariant to 1e-5."""
    torch.manual_seed(0)
    module = _build(entry, kind, dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        module.to(dtype)
        _assert_dtype(module, kind, dtype)
        _train_step(module, dtype)
        if kind != "MLP":  # the unconstrained baseline
            assert_equivariant(module, dtype=dtype)


@pytest.mark.parametrize("entry, kind", _cases())
def test_builds_on_meta(entry: Entry, kind: str) -> None:
    """device= and dtype= reach every parameter and buffer; the forward runs on meta."""
    module = _build(entry, kind, device="meta", dtype=torch.float32)
    off = [(name, t.device) for name, t in _tensors(module) if t.device.type != "meta"]
    assert kind in _NO_FACTORY or not off, f"not on meta: {off}"
    _assert_dtype(module, kind, torch.float32)
    y = module(torch.empty(3, module.rep_in.size, device="meta"))
    assert y.device.type == "meta" and y.shape == (3, module.rep_out.size)


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.id) for e in ZOO if not cn.V(e.G).is_orthogonal])
def test_norm_nonlinearity_needs_orthogonal_reps(entry: Entry) -> None:
    with pytest.raises(cn.RepError, match="orthogonal"):
        cn.nn.NormNonlinearity(_reps(entry)[2])


@pytest.mark.slow
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.id) for e in ZOO])
@DTYPES
def test_wide_models(entry: Entry, dtype: torch.dtype) -> None:
    """EMLP with two hidden layers of uniform_rep(48) (or several image channels), trained a few steps."""
    torch.manual_seed(1)
    G = entry.G
    V = cn.V(G)
    ch = [3 * V**0 + 2 * V + cn.PseudoScalar(G)] * 2 if _is_image(entry) else 48
    model = cn.nn.EMLP(V**0 + 2 * V, V + V**0, group=G, ch=ch, num_layers=2, dtype=dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(16, model.rep_in.size, dtype=dtype)
    for _ in range(3):
        optimizer.zero_grad()
        (model(x) - 1.0).pow(2).mean().backward()
        optimizer.step()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert_equivariant(model, dtype=dtype)


# -- regressions on P4M images -------------------------------------------------
def test_emlp_block_over_p4m_images():
    """The sparse (convolution) plan inside a block: its parameters become views of the block's vector."""
    V = cn.V(P4M(4))  # (on P4M(3) images the isotypic plan's cost is the lowest)
    block = cn.nn.EMLPBlock(V, V)
    assert block.linear.plan.name == "orbit" and block.linear._borrowed == ("coefficients", "bias_coefficients")
    assert [name for name, _ in block.named_parameters()] == ["coefficients"]
    assert_equivariant(block.double(), dtype=torch.float64)


def test_sparse_layer_with_a_block_pair_without_maps():
    """V >> PseudoScalar of P4M(3) has no equivariant map: the pair is left out, and W matches the dense projection."""
    G = P4M(3)
    V = cn.V(G)
    rep_in, rep_out = V, V + cn.PseudoScalar(G)
    layer = cn.nn.Linear(rep_in, rep_out, dtype=torch.float64, plan="orbit")
    Q = np.asarray((rep_in >> rep_out).equivariant_basis())
    assert layer.num_coefficients == Q.shape[1]
    w = layer.weight().detach().numpy().reshape(-1)
    np.testing.assert_allclose(Q @ (Q.T @ w), w, atol=1e-12)  # W lies in the equivariant subspace
    np.testing.assert_array_equal(w.reshape(rep_out.size, rep_in.size)[-1], 0.0)  # no map to the pseudoscalar

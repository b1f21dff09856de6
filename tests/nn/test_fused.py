"""The fused training nodes (Linear's assembled affine map, the whole EMLP block) against plain references.

The references are built from other code paths: the block from its own
submodules (``Linear`` + ``BiLinear``, then the gate), the linear map from an
einsum of the plan's bases. Values and every first derivative must agree to
float64 rounding; second derivatives go through gradgradcheck.
"""

from __future__ import annotations

import pytest
import torch

import constrainnet as cn
from constrainnet.groups import Lorentz, O, S, SO
from constrainnet.testing import assert_gradients

BLOCKS = {
    "SO3-uniform": (SO(3), lambda V: cn.nn.uniform_rep(40, V.G), lambda V: cn.nn.uniform_rep(48, V.G)),
    "SO3-interleaved": (SO(3), lambda V: 2 * V**0 + V + V**2, lambda V: V + V**0 + V**2 + 2 * V**0),
    "O3-only-gated": (O(3), lambda V: 2 * V, lambda V: V**2 + V),
    "S4-permutation": (S(4), lambda V: V + V**0, lambda V: 2 * V + V**2 + V**0),
    "Lorentz": (Lorentz(), lambda V: V + V**0, lambda V: V**0 + V + V.T),
    "SO3xS3-points": (SO(3) * S(3), lambda V: cn.V(V.G, 0) * cn.V(V.G, 1) + V**0, lambda V: cn.nn.uniform_rep(30, V.G)),
    "SO3-big-input": (SO(3), lambda V: V**2, lambda V: V**0 + V),
}


def build_block(case, dtype=torch.float64):
    G, fin, fout = BLOCKS[case]
    V = cn.V(G)
    torch.manual_seed(0)
    return cn.nn.EMLPBlock(fin(V), fout(V), dtype=dtype)


def reference_block(block, x):
    """σ_gate(L x + B(x)) from the block's submodules, each with its own (unfused) forward."""
    return block.nonlinearity(block.linear(x) + block.bilinear(x))


@pytest.mark.parametrize("case", sorted(BLOCKS))
@pytest.mark.parametrize("input_grad", [True, False], ids=["x-grad", "x-data"])
def test_fused_block_equals_its_submodules_with_every_gradient(case, input_grad):
    block = build_block(case)
    x = torch.randn(2, 5, block.rep_in.size, dtype=torch.float64, requires_grad=input_grad)
    params = list(block.parameters())
    inputs = ([x] if input_grad else []) + params
    y, ref = block(x), reference_block(block, x)
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-13)
    grad = torch.randn_like(y)
    got = torch.autograd.grad(y, inputs, grad)
    want = torch.autograd.grad(ref, inputs, grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["SO3-interleaved", "S4-permutation", "Lorentz"])
def test_fused_block_second_derivatives_pass_gradgradcheck(case):
    block = build_block(case)
    assert_gradients(block, torch.randn(3, block.rep_in.size, dtype=torch.float64))


def test_fused_block_float32_and_eval_cache():
    block = build_block("SO3-uniform", dtype=torch.float32)
    x = torch.randn(7, block.rep_in.size)
    torch.testing.assert_close(block(x), reference_block(block, x), rtol=1e-5, atol=1e-5)
    block.eval()
    with torch.no_grad():
        first = block(x)
        torch.testing.assert_close(block(x), first, rtol=0, atol=0)
        torch.testing.assert_close(first, reference_block(block, x), rtol=1e-5, atol=1e-5)


def test_gate_fused_forward_and_backward_equal_the_module():
    """GatedNonlinearity's fused pair (used by the block) against its own autograd forward."""
    V = cn.V(SO(3))
    act = cn.nn.GatedNonlinearity(V + 2 * V**0 + V**2 + V**0 + 2 * V)
    y = torch.randn(6, act.rep_in.size, dtype=torch.float64, requires_grad=True)
    out, saved = act.fused_forward(y.detach())
    ref = act(y)
    torch.testing.assert_close(out, ref.detach(), rtol=0, atol=1e-15)
    grad = torch.randn_like(out)
    (want,) = torch.autograd.grad(ref, y, grad)
    got = torch.empty_like(want)
    act.fused_backward(grad, y.detach(), saved, got)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-14)


# -- Linear ------------------------------------------------------------------------


def einsum_affine(layer, x, c, beta):
    """x Wᵀ + Q β with W = Σ_k C_k ⊗ B_k block by block (einsum), differentiable in x, c and β."""
    plan = layer._plan
    W = x.new_zeros(layer.out_features, layer.in_features)
    start = 0
    for p in plan.pairs:
        inp, out = plan.inputs[p.i], plan.outputs[p.j]
        count = p.r * out.mult * inp.mult
        coefficients = c[start : start + count].view(p.r, out.mult, inp.mult)
        start += count
        block = torch.einsum("kpq,koi->poqi", coefficients, torch.as_tensor(p.basis, dtype=x.dtype))
        rows, cols = slice(out.offset, out.offset + out.size), slice(inp.offset, inp.offset + inp.size)
        W = W.index_put((torch.arange(rows.start, rows.stop)[:, None], torch.arange(cols.start, cols.stop)[None, :]), block.reshape(out.size, inp.size), accumulate=True)
    y = x @ W.t()
    return y if beta is None else y + layer.bias_basis @ beta


@pytest.mark.parametrize("case", sorted(BLOCKS))
def test_linear_training_forward_equals_einsum_with_every_gradient(case):
    G, fin, fout = BLOCKS[case]
    V = cn.V(G)
    torch.manual_seed(1)
    layer = cn.nn.Linear(fin(V), fout(V), dtype=torch.float64)
    x = torch.randn(3, 2, layer.in_features, dtype=torch.float64, requires_grad=True)
    c, beta = layer.coefficients, layer.bias_coefficients
    y, ref = layer(x), einsum_affine(layer, x, c, beta)
    torch.testing.assert_close(y, ref, rtol=0, atol=1e-12)
    grad = torch.randn_like(y)
    for g, w in zip(torch.autograd.grad(y, (x, c, beta), grad), torch.autograd.grad(ref, (x, c, beta), grad)):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


def test_linear_without_bias_and_with_data_input():
    V = cn.V(SO(3))
    torch.manual_seed(0)
    layer = cn.nn.Linear(3 * V**0 + 2 * V, V + V**0, bias=False, dtype=torch.float64)
    x = torch.randn(4, layer.in_features, dtype=torch.float64)
    (got,) = torch.autograd.grad(layer(x).square().sum(), layer.coefficients)
    (want,) = torch.autograd.grad(einsum_affine(layer, x, layer.coefficients, None).square().sum(), layer.coefficients)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


# -- the block's one parameter vector ------------------------------------------------


def test_block_has_one_parameter_and_submodules_see_views_of_it():
    block = build_block("SO3-interleaved")
    assert [name for name, _ in block.named_parameters()] == ["coefficients"]
    subs = [block.linear, block.bilinear.left, block.bilinear.right, block.bilinear.out]
    sizes = [s.num_coefficients for s in subs] + [s.bias_coefficients.numel() for s in subs[:3]]
    assert block.coefficients.numel() == sum(sizes)
    # the layout: coefficients of linear, left, right, out, then the biases of linear, left, right
    assert block.linear.coefficients.data_ptr() == block.coefficients.data_ptr()
    assert block.bilinear.right.bias_coefficients.data_ptr() == block.coefficients.data_ptr() + (sum(sizes) - sizes[-1]) * 8
    x = torch.randn(3, block.rep_in.size, dtype=torch.float64)
    before = block(x)
    with torch.no_grad():
        block.bilinear.out.coefficients.mul_(2.0)  # writes into the block's vector
    torch.testing.assert_close(block(x), reference_block(block, x), rtol=0, atol=1e-13)
    assert not torch.allclose(block(x), before)


def test_block_views_follow_casts_copies_and_pickles():
    import copy
    import pickle

    block = build_block("SO3-uniform", dtype=torch.float32)
    x = torch.randn(4, block.rep_in.size)
    block(x).sum().backward()
    block.double()
    assert block.linear.coefficients.dtype == torch.float64
    assert block.linear.coefficients.data_ptr() == block.coefficients.data_ptr()
    xd = x.double()
    for twin in (copy.deepcopy(block), pickle.loads(pickle.dumps(block))):
        assert [name for name, _ in twin.named_parameters()] == ["coefficients"]
        assert twin.linear.coefficients.data_ptr() == twin.coefficients.data_ptr() != block.coefficients.data_ptr()
        torch.testing.assert_close(twin(xd), block(xd), rtol=0, atol=0)
        with torch.no_grad():
            twin.coefficients.zero_()
        assert torch.count_nonzero(twin.bilinear.out.coefficients) == 0
        assert torch.count_nonzero(block.bilinear.out.coefficients) > 0


def test_a_submodule_copied_alone_owns_its_parameters():
    block = build_block("SO3-interleaved")
    x = torch.randn(3, block.rep_in.size, dtype=torch.float64)
    import copy

    alone = copy.deepcopy(block.bilinear)
    assert [name for name, _ in alone.named_parameters()] == [name for name, _ in cn.nn.BiLinear(block.rep_in, block.bilinear.rep_out).named_parameters()]
    torch.testing.assert_close(alone(x), block.bilinear(x), rtol=0, atol=0)
    with torch.no_grad():
        alone.out.coefficients.zero_()
    assert torch.count_nonzero(block.bilinear.out.coefficients) > 0


def test_block_state_dict_of_submodule_parameters_is_refused():
    """The layout before the block's version 2 (each submodule its own parameters) is refused, not loaded."""
    a, b = build_block("SO3-uniform"), build_block("SO3-uniform")
    state = {k: v for k, v in a.state_dict().items() if k != "coefficients"}
    for path, name, sub in a._members:
        state[f"{path}.{name}"] = getattr(sub, name).detach().clone()
    with pytest.raises(RuntimeError, match="Missing key.*coefficients"):
        b.load_state_dict(state)


def test_input_gradient_with_frozen_parameters():
    """Forces-style use: ∂E/∂x of a model whose parameters are frozen (no parameter gradients formed)."""
    block = build_block("SO3-uniform")
    x = torch.randn(4, block.rep_in.size, dtype=torch.float64, requires_grad=True)
    (want,) = torch.autograd.grad(reference_block(block, x).square().sum(), x)
    block.requires_grad_(False)
    (got,) = torch.autograd.grad(block(x).square().sum(), x)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_assert_gradients_catches_a_wrong_backward():
    """The testing kit's gradient check fails on a module whose hand-written backward is off by a factor."""

    class Doubled(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 2  # wrong: the derivative is 3

    class Wrong(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))

        def forward(self, x):
            return Doubled.apply(x) * self.scale

    with pytest.raises(AssertionError, match="first derivatives"):
        assert_gradients(Wrong(), torch.randn(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="float64"):
        assert_gradients(cn.nn.Linear(cn.V(SO(3)), cn.V(SO(3))), torch.randn(2, 3))

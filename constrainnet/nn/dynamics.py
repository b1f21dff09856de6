r"""Learned dynamics: Hamiltonian neural networks and neural ODEs over any torch model, with an RK4 rollout.

Both wrap a model of the state z (batch, d) and define a vector field dz/dt:

- :class:`HNN`: the model is a scalar energy H(z) and the field is Hamilton's
  equations, dz/dt = J ∇H(z) with z = (q, p) and J = [[0, I], [−I, 0]]
  (dq/dt = ∂H/∂p, dp/dt = −∂H/∂q). An invariant H (an EMLP with
  ``rep_out = V**0``) gives an equivariant field for any orthogonal action
  on q and p alike (``4*V`` of ``O2eR3()`` for the double spring pendulum).
- :class:`NeuralODE`: the model is the field itself, dz/dt = model(z) (an EMLP
  with ``rep_out = rep_in`` is equivariant).

``rollout(z0, ts)`` integrates the field with the classical fixed-step
Runge–Kutta scheme (RK4) in plain torch: batched, on the module's device and
differentiable, so a model is trained by backpropagating a loss on the
integrated states (EMLP's training on 5-step chunks of
:class:`~constrainnet.datasets.DoubleSpringPendulum`).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

__all__ = ["HNN", "NeuralODE", "rk4_rollout"]


def _check_states(z: Any, who: str) -> None:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{who}: expected a torch.Tensor of states (batch, d), got {type(z).__name__}")
    if not z.is_floating_point():
        raise TypeError(f"{who}: expected floating-point states, got dtype {z.dtype}")
    if z.ndim != 2:
        raise ValueError(f"{who}: expected states of shape (batch, d), got shape {tuple(z.shape)}")


def _as_times(ts: Any, who: str) -> list[float]:
    """``ts`` as a list of strictly increasing finite floats, or a TypeError/ValueError."""
    if isinstance(ts, torch.Tensor):
        if ts.ndim != 1:
            raise ValueError(f"{who}: ts: expected a 1-D sequence of times, got shape {tuple(ts.shape)}")
        times = [float(t) for t in ts.detach().cpu().tolist()]
    else:
        try:
            times = [float(t) for t in ts]
        except TypeError as exc:
            raise TypeError(f"{who}: ts: expected a 1-D sequence of times, got {type(ts).__name__}") from exc
    if not times:
        raise ValueError(f"{who}: ts: expected at least one time, got none")
    if any(t != t or t in (float("inf"), float("-inf")) for t in times):
        raise ValueError(f"{who}: ts: expected finite times, got {times}")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"{who}: ts: expected strictly increasing times, got {times}")
    return times


def rk4_rollout(
    field: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor, ts: Any, substeps: int = 1
) -> torch.Tensor:
    r"""Integrate dz/dt = field(z) from z0 at ts[0] with fixed-step RK4, returning the states at ``ts``.

    Each interval [tᵢ, tᵢ₊₁] is split into ``substeps`` steps of size h and each step is

    .. math::
        k_1 = f(z),\; k_2 = f(z + \tfrac h2 k_1),\; k_3 = f(z + \tfrac h2 k_2),\; k_4 = f(z + h k_3),
        \qquad z \leftarrow z + \tfrac h6 (k_1 + 2k_2 + 2k_3 + k_4),

    (local error O(h⁵), global O(h⁴)). Differentiable through ``field`` and z0.

    Args:
        field: an autonomous vector field, (batch, d) -> (batch, d).
        z0: (batch, d) initial states.
        ts: 1-D strictly increasing times (tensor or sequence); ts[0] is z0's time.
        substeps: RK4 steps per interval (a positive int).

    Returns:
        (batch, len(ts), d) states; ``[:, 0]`` is z0.

    Raises:
        TypeError: z0 not a floating tensor, ts not a sequence, substeps not an int.
        ValueError: z0 not 2-D, ts empty, not finite or not increasing,
            substeps < 1, or the field's output not of z0's shape.

    Example:
        >>> import math, torch
        >>> z = rk4_rollout(lambda z: -z, torch.ones(1, 1, dtype=torch.float64), [0.0, 1.0], substeps=10)
        >>> abs(float(z[0, 1, 0]) - math.exp(-1.0)) < 1e-6   # dz/dt = -z: z(1) = exp(-1)
        True
    """
    _check_states(z0, "rk4_rollout: z0")
    times = _as_times(ts, "rk4_rollout")
    if isinstance(substeps, bool) or not isinstance(substeps, int):
        raise TypeError(f"rk4_rollout: substeps: expected a positive int, got {type(substeps).__name__} {substeps!r}")
    if substeps < 1:
        raise ValueError(f"rk4_rollout: substeps: expected a positive int, got {substeps}")

    def f(z: torch.Tensor) -> torch.Tensor:
        dz = field(z)
        if not isinstance(dz, torch.Tensor) or dz.shape != z.shape:
            got = tuple(dz.shape) if isinstance(dz, torch.Tensor) else type(dz).__name__
            raise ValueError(f"rk4_rollout: expected the field to return dz/dt of shape {tuple(z.shape)}, got {got}")
        return dz

    states = [z0]
    z = z0
    for t0, t1 in zip(times, times[1:]):
        h = (t1 - t0) / substeps
        for _ in range(substeps):
            k1 = f(z)
            k2 = f(z + (0.5 * h) * k1)
            k3 = f(z + (0.5 * h) * k2)
            k4 = f(z + h * k3)
            z = z + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        states.append(z)
    return torch.stack(states, dim=1)


class _Dynamics(nn.Module):
    """A vector field over a wrapped model, with an RK4 rollout."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"{type(self).__name__}: expected a torch.nn.Module, got {type(model).__name__}")
        self.model = model

    def rollout(self, z0: torch.Tensor, ts: Any, substeps: int = 1) -> torch.Tensor:
        """The states at times ``ts`` from z0 at ts[0], by fixed-step RK4 (see :func:`rk4_rollout`).

        Args:
            z0: (batch, d) initial states.
            ts: 1-D strictly increasing times; ts[0] is z0's time.
            substeps: RK4 steps per interval of ``ts``.

        Returns:
            (batch, len(ts), d) states, ``[:, 0]`` is z0; differentiable
            (under ``torch.no_grad()`` nothing is kept for backward).

        Raises:
            TypeError, ValueError: as :func:`rk4_rollout`.
        """
        return rk4_rollout(self, z0, ts, substeps)


class HNN(_Dynamics):
    r"""A Hamiltonian neural network: a learned energy H(z) and its flow dz/dt = J ∇H(z).

    With z = (q, p) split in two halves of d/2 coordinates,

    .. math::
        \frac{dq}{dt} = \frac{\partial H}{\partial p}, \qquad
        \frac{dp}{dt} = -\frac{\partial H}{\partial q}, \qquad
        J = \begin{pmatrix} 0 & I \\ -I & 0 \end{pmatrix}.

    ∇H is ``torch.autograd.grad`` of H summed over the batch (each state's H
    depends on its own z only), with ``create_graph=True`` when gradients are
    enabled, so a loss on the field or on a rollout trains the model. The
    flow conserves H exactly; RK4 conserves it to O(h⁴).

    Args:
        model: a torch module mapping (batch, d) states to (batch, 1) or
            (batch,) energies, e.g. ``EMLP(4*V, V**0, group=O2eR3())`` or an ``MLP``.

    Raises:
        TypeError: model is not a ``torch.nn.Module``.

    Shape:
        - z: (batch, d), d even
        - output of ``forward``: (batch, d); of :meth:`hamiltonian`: (batch,)

    Example:
        >>> import torch
        >>> H = lambda z: 0.5 * (z**2).sum(-1)   # the harmonic oscillator
        >>> class Energy(torch.nn.Module):
        ...     def forward(self, z): return H(z)
        >>> hnn = HNN(Energy())
        >>> hnn(torch.tensor([[1.0, 0.0]])).tolist()   # dq/dt = p, dp/dt = -q
        [[0.0, -1.0]]
        >>> hnn.rollout(torch.tensor([[1.0, 0.0]]), torch.arange(3) * 0.1).shape
        torch.Size([1, 3, 2])
    """

    def hamiltonian(self, z: torch.Tensor) -> torch.Tensor:
        """The model's energy of each state.

        Args:
            z: (batch, d) states.

        Returns:
            (batch,) energies.

        Raises:
            TypeError: z not a floating tensor.
            ValueError: z not 2-D, or the model not returning one number per state.
        """
        _check_states(z, "HNN")
        energy = self.model(z)
        if not isinstance(energy, torch.Tensor) or energy.shape not in ((z.shape[0],), (z.shape[0], 1)):
            got = tuple(energy.shape) if isinstance(energy, torch.Tensor) else type(energy).__name__
            raise ValueError(f"HNN: expected the model to return one energy per state, ({z.shape[0]}, 1), got {got}")
        return energy.reshape(z.shape[0])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Hamilton's equations dz/dt = J ∇H(z) at the states z.

        Args:
            z: (batch, d) states, d even: (q, p).

        Returns:
            (batch, d) time derivatives, part of the graph when gradients are enabled.

        Raises:
            TypeError: z not a floating tensor.
            ValueError: z not 2-D, d odd, or the model's output not one energy per state.
        """
        _check_states(z, "HNN")
        if z.shape[1] % 2:
            raise ValueError(f"HNN: expected states (q, p) of even width, got width {z.shape[1]}")
        build_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.hamiltonian(leaf).sum(), leaf, create_graph=build_graph)
            half = z.shape[1] // 2
            field = torch.cat([grad[:, half:], -grad[:, :half]], dim=1)
        if not build_graph:
            return field.detach()
        if not z.requires_grad:
            return field
        params = [p for p in self.model.parameters() if p.requires_grad]
        return _Graft.apply(_Subgraph(field, leaf, params), z, *params)


class _Subgraph:
    """The graph of ``output`` from a detached ``leaf`` (standing for the real input) and ``params``."""

    def __init__(self, output: torch.Tensor, leaf: torch.Tensor, params: list[torch.Tensor]) -> None:
        self.output, self.leaf, self.params = output, leaf, params


class _Graft(torch.autograd.Function):
    r"""Splice a field computed from a detached copy of z back into z's graph.

    The field J ∇H(z) needs ``autograd.grad`` of H with respect to z. Taken
    with respect to z itself, torch walks z's whole history at every call
    (its engine visits every node reachable from H), and inside an RK4
    rollout z's history is every earlier field evaluation: the cost of the
    k-th evaluation grows with k and a rollout is quadratic. Measured here
    (EMLP ch 128 on ``4*V`` of O2eR3, batch 200, one thread): evaluation k
    took 21 + 11·k ms, a 4-step chunk (16 evaluations) 2.2–4.4 s instead of
    ~0.4 s. So ∇H is taken at a detached leaf (one evaluation's graph only)
    and this function joins the result to z and the parameters: forward is
    the identity on the field's value, backward is one vector–Jacobian
    product through the evaluation's own graph. First-order only (a loss on
    rollouts trains the model; gradients of those gradients are not kept).
    """

    @staticmethod
    def forward(ctx: Any, sub: _Subgraph, z: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        ctx.sub = sub
        return sub.output.detach()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:
        sub = ctx.sub
        inputs = [sub.leaf, *sub.params]
        grads = torch.autograd.grad(sub.output, inputs, grad_output, retain_graph=True, allow_unused=True)
        return (None, *grads)


class NeuralODE(_Dynamics):
    r"""A neural ODE: the model is the vector field, dz/dt = model(z).

    Args:
        model: a torch module mapping (batch, d) states to (batch, d) time
            derivatives, e.g. ``EMLP(4*V, 4*V, group=O2eR3())`` or an ``MLP``.

    Raises:
        TypeError: model is not a ``torch.nn.Module``.

    Shape:
        - z: (batch, d)
        - output: (batch, d)

    Example:
        >>> import torch
        >>> ode = NeuralODE(torch.nn.Linear(2, 2))
        >>> ode.rollout(torch.zeros(3, 2), [0.0, 0.2, 0.4]).shape
        torch.Size([3, 3, 2])
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The model's dz/dt at the states z.

        Args:
            z: (batch, d) states.

        Returns:
            (batch, d) time derivatives.

        Raises:
            TypeError: z not a floating tensor.
            ValueError: z not 2-D, or the model's output not of z's shape.
        """
        _check_states(z, "NeuralODE")
        dz = self.model(z)
        if not isinstance(dz, torch.Tensor) or dz.shape != z.shape:
            got = tuple(dz.shape) if isinstance(dz, torch.Tensor) else type(dz).__name__
            raise ValueError(f"NeuralODE: expected the model to return dz/dt of shape {tuple(z.shape)}, got {got}")
        return dz

r"""EMLP's double spring pendulum (Finzi, Welling, Wilson 2021): trajectories of a Hamiltonian system in R³.

Two unit masses hang from the origin on springs: x₁ on a spring to the origin,
x₂ on a spring to x₁, both of rest length 1, under gravity g = 1 along −z.
The state is z = (x₁, x₂, p₁, p₂) ∈ R¹² (positions, then momenta) and

.. math::
    H(z) = \tfrac12\lVert p_1\rVert^2 + \tfrac12\lVert p_2\rVert^2
         + \tfrac12(\lVert x_1\rVert - 1)^2 + (\lVert x_1 - x_2\rVert - 1)^2
         + x_{1,z} + x_{2,z},

EMLP's constants m₁ = m₂ = k₁ = k₂ = l₁ = l₂ = g = 1, with EMLP's factor: the
second spring's energy has no ½ (it is a spring of constant 2 in the usual
½k(r − l)² form). Hamilton's equations are dx/dt = ∂H/∂p = p and
dp/dt = −∂H/∂x. H is invariant under rotations about z and mirrors through
vertical planes, acting on every 3-vector of z at once: the state is the rep
``4*V`` of :func:`~constrainnet.groups.O2eR3` (and of its subgroups
``SO2eR3``, ``D6eR3``, ``D2eR3``), and the flow is equivariant.

Trajectories are integrated in float64 with scipy's ``solve_ivp`` (DOP853,
rtol = atol = 1e-10), all systems stacked as one ODE with a vectorised right
hand side, so that 500 systems over 30 s take a few seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.integrate
import torch

from ..errors import GroupError, RepMismatchError
from ..groups import Group, O2eR3
from ..reps import V
from .base import check_dtype, check_positive_int, check_seed

__all__ = ["DoubleSpringPendulum", "spring_pendulum_hamiltonian", "spring_pendulum_dynamics", "rollout_error"]

#: Width of the state z = (x₁, x₂, p₁, p₂).
STATE_SIZE = 12

#: solve_ivp's tolerances: tight enough that energy is conserved to ~1e-9
#: relative over 30 s (the tests ask for 1e-6), loose enough for a few seconds.
RTOL = ATOL = 1e-10

#: EMLP's floor on a per-step relative error before its logarithm is taken
#: (the t = 0 state of a rollout has error exactly 0).
ROLLOUT_ERROR_FLOOR = 1e-7


def _check_states(z: Any, what: str) -> None:
    if z.ndim == 0 or z.shape[-1] != STATE_SIZE:
        raise RepMismatchError(f"{what}: expected states of width {STATE_SIZE} (x1, x2, p1, p2), got shape {tuple(z.shape)}")


def spring_pendulum_hamiltonian(z: Any) -> Any:
    r"""The energy H(z) of the double spring pendulum (see the module docstring).

    Works on numpy arrays and torch tensors alike (differentiable in torch).

    Args:
        z: states of shape (..., 12), laid out (x₁, x₂, p₁, p₂).

    Returns:
        H of shape (...), of z's type and dtype.

    Raises:
        RepMismatchError: the last axis is not 12 (a ValueError).

    Example:
        >>> import numpy as np
        >>> z = np.zeros(12); z[2], z[5] = -1.0, -2.0   # both springs at rest length, at rest
        >>> float(spring_pendulum_hamiltonian(z))
        -3.0
    """
    _check_states(z, "spring_pendulum_hamiltonian")
    x1, x2, p1, p2 = z[..., 0:3], z[..., 3:6], z[..., 6:9], z[..., 9:12]
    r1 = ((x1**2).sum(-1)) ** 0.5
    r12 = (((x1 - x2) ** 2).sum(-1)) ** 0.5
    kinetic = 0.5 * (p1**2).sum(-1) + 0.5 * (p2**2).sum(-1)
    return kinetic + 0.5 * (r1 - 1.0) ** 2 + (r12 - 1.0) ** 2 + x1[..., 2] + x2[..., 2]


def spring_pendulum_dynamics(z: np.ndarray) -> np.ndarray:
    r"""Hamilton's equations dz/dt = J ∇H(z) of the double spring pendulum, in closed form (numpy).

    .. math::
        \dot x_i = p_i, \quad
        \dot p_1 = -(r_1 - 1)\frac{x_1}{r_1} - 2(r_{12} - 1)\frac{x_1 - x_2}{r_{12}} - e_z, \quad
        \dot p_2 = 2(r_{12} - 1)\frac{x_1 - x_2}{r_{12}} - e_z

    with r₁ = ‖x₁‖ and r₁₂ = ‖x₁ − x₂‖.

    Args:
        z: float64 states of shape (..., 12).

    Returns:
        dz/dt, of z's shape.

    Example:
        >>> import numpy as np
        >>> z = np.zeros(12); z[2], z[5] = -1.0, -2.0   # at rest: only gravity pulls
        >>> (spring_pendulum_dynamics(z)[6:] + 0.0).tolist()
        [0.0, 0.0, -1.0, 0.0, 0.0, -1.0]
    """
    z = np.asarray(z, dtype=np.float64)
    _check_states(z, "spring_pendulum_dynamics")
    x1, x2, p = z[..., 0:3], z[..., 3:6], z[..., 6:12]
    d = x1 - x2
    r1 = np.linalg.norm(x1, axis=-1, keepdims=True)
    r12 = np.linalg.norm(d, axis=-1, keepdims=True)
    spring1 = (r1 - 1.0) * x1 / r1
    spring2 = 2.0 * (r12 - 1.0) * d / r12
    out = np.empty_like(z)
    out[..., 0:6] = p
    out[..., 6:9] = -spring1 - spring2
    out[..., 9:12] = spring2
    out[..., 8] -= 1.0
    out[..., 11] -= 1.0
    return out


def _integrate(z0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The true flow of (n, 12) states at ``times`` (times[0] is z0's time), shape (n, len(times), 12)."""
    n = z0.shape[0]
    if len(times) == 1:
        return z0[:, None, :].copy()

    def rhs(_t: float, flat: np.ndarray) -> np.ndarray:
        return spring_pendulum_dynamics(flat.reshape(n, STATE_SIZE)).reshape(-1)

    sol = scipy.integrate.solve_ivp(
        rhs, (times[0], times[-1]), z0.reshape(-1), method="DOP853", t_eval=times, rtol=RTOL, atol=ATOL
    )
    if not sol.success:  # pragma: no cover - a smooth system on a bounded interval
        raise RuntimeError(f"DoubleSpringPendulum: solve_ivp failed: {sol.message}")
    return sol.y.reshape(n, STATE_SIZE, len(times)).transpose(0, 2, 1)


def _check_planar_group(group: Any) -> Group:
    """``group`` if it acts on R³ by orthogonal maps of (x, y) that fix z, else a TypeError/GroupError."""
    if not isinstance(group, Group):
        raise TypeError(f"DoubleSpringPendulum: group: expected a Group, got {type(group).__name__}")
    ez = np.array([0.0, 0.0, 1.0])
    ok = group.d == 3 and group.is_orthogonal
    if ok:
        ok = all(np.allclose(g[2], ez) and np.allclose(g[:, 2], ez) for g in group.discrete_generators)
        ok = ok and all(np.allclose(a[2], 0.0) and np.allclose(a[:, 2], 0.0) for a in group.lie_algebra)
    if not ok:
        raise GroupError(
            f"DoubleSpringPendulum: group: expected a symmetry of the pendulum (a planar group acting on x, y of R^3 "
            f"with z fixed, e.g. O2eR3()), got {group!r}"
        )
    return group


class DoubleSpringPendulum(torch.utils.data.Dataset):
    r"""EMLP's HNN/Neural ODE task: chunks of trajectories of the double spring pendulum.

    Initial conditions as EMLP's: x₁ = (0, 0, −1.5) + 0.2·N(0, I₃),
    x₂ = (0, 0, −3) + 0.2·N(0, I₃), (p₁, p₂) = 0.4·N(0, I₆), drawn in that
    order from ``numpy.random.default_rng(seed)``. Each system is integrated
    for ``integration_time`` (30 s) and observed every ``dt`` (0.2): 150
    states at t = 0, 0.2, …, 29.8 (``trajectories``). As EMLP does, each
    trajectory is cut into 30 consecutive, non-overlapping chunks of
    ``chunk_len`` (5) states and one chunk per system is drawn uniformly:
    item i is ``(Z0[i], Zs[i])`` with Zs[i] the chunk's 5 states at times
    ``ts`` = (0, 0.2, …, 0.8) relative to its start and Z0[i] = Zs[i, 0] its
    first state. A model is trained to integrate Z0 over ``ts`` onto Zs and
    tested by a 150-step rollout from Z0 against :meth:`rollout` (see
    :func:`rollout_error`). EMLP's statistics are the identity: no
    standardisation.

    Args:
        n: number of systems (one chunk each).
        seed: seed of the initial conditions and chunk choice.
        chunk_len: states per training chunk (5).
        dt: time between observed states (0.2).
        integration_time: length of each trajectory (30.0); it holds
            ``round(integration_time / dt)`` states.
        group: the symmetry the reps are built on (default ``O2eR3()``); any
            group acting on (x, y) with z fixed (``SO2eR3()``, ``D6eR3()``, …).
        dtype: dtype of ``Z0``, ``Zs``, ``ts`` and ``trajectories``.

    Attributes:
        Z0: (n, 12) first state of each chunk.
        Zs: (n, chunk_len, 12) the chunks (Zs[:, 0] == Z0).
        ts: (chunk_len,) times of a chunk's states, from 0.
        trajectories: (n, n_steps, 12) whole trajectories the chunks were cut from.
        rep_in: ``4*V`` of ``group``: the state (x₁, x₂, p₁, p₂).
        rep_out: ``V**0``, the Hamiltonian (an HNN's output; a Neural ODE's
            output is ``rep_in``).
        group: the group.

    Raises:
        TypeError: n, seed or chunk_len not ints, dt or integration_time not
            numbers, dtype not a float dtype, group not a Group.
        ValueError: non-positive sizes or times, chunk_len above the number of
            states; GroupError (a ValueError) for a group that is no symmetry.

    Example:
        >>> data = DoubleSpringPendulum(4, seed=0)
        >>> data.Z0.shape, data.Zs.shape, data.trajectories.shape, data.rep_in
        (torch.Size([4, 12]), torch.Size([4, 5, 12]), torch.Size([4, 150, 12]), 4*V)
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        chunk_len: int = 5,
        dt: float = 0.2,
        integration_time: float = 30.0,
        group: Group | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.n = check_positive_int(n, "DoubleSpringPendulum: n")
        self.seed = check_seed(seed)
        self.chunk_len = check_positive_int(chunk_len, "DoubleSpringPendulum: chunk_len")
        self.dt = _positive_float(dt, "dt")
        self.integration_time = _positive_float(integration_time, "integration_time")
        dtype = check_dtype(dtype)
        self.n_steps = int(round(self.integration_time / self.dt))
        if self.n_steps < self.chunk_len:
            raise ValueError(
                f"DoubleSpringPendulum: chunk_len: expected at most the {self.n_steps} states of a trajectory, got {chunk_len}"
            )
        self.group = O2eR3() if group is None else _check_planar_group(group)
        self.rep_in = 4 * V(self.group)
        self.rep_out = V(self.group) ** 0

        rng = np.random.default_rng(self.seed)
        z0 = self.sample_initial_conditions(rng, self.n)
        traj = _integrate(z0, np.arange(self.n_steps) * self.dt)
        n_chunks = self.n_steps // self.chunk_len
        start = rng.integers(0, n_chunks, size=self.n) * self.chunk_len
        chunks = traj[np.arange(self.n)[:, None], start[:, None] + np.arange(self.chunk_len)]
        self.chunk_start = start
        self.trajectories = torch.as_tensor(traj, dtype=dtype)
        self.Zs = torch.as_tensor(chunks, dtype=dtype)
        self.Z0 = self.Zs[:, 0].clone()
        self.ts = torch.arange(self.chunk_len, dtype=torch.float64).mul(self.dt).to(dtype)

    @staticmethod
    def sample_initial_conditions(rng: np.random.Generator, n: int) -> np.ndarray:
        """EMLP's initial states: masses hanging near (0, 0, −1.5), (0, 0, −3), small random momenta.

        Args:
            rng: the generator the draws come from (x₁, then x₂, then p).
            n: number of states.

        Returns:
            (n, 12) float64 states (x₁, x₂, p₁, p₂).

        Example:
            >>> import numpy as np
            >>> DoubleSpringPendulum.sample_initial_conditions(np.random.default_rng(0), 2).shape
            (2, 12)
        """
        x1 = np.array([0.0, 0.0, -1.5]) + 0.2 * rng.standard_normal((n, 3))
        x2 = np.array([0.0, 0.0, -3.0]) + 0.2 * rng.standard_normal((n, 3))
        p = 0.4 * rng.standard_normal((n, 6))
        return np.concatenate([x1, x2, p], axis=-1)

    def rollout(self, z0: Any, n_steps: int | None = None) -> np.ndarray:
        """The true trajectories from states ``z0``, observed every ``dt``: the ground truth of a rollout.

        Args:
            z0: (batch, 12) or (12,) initial states (array or tensor).
            n_steps: number of states returned, z0 included (default the
                dataset's ``n_steps``, 150).

        Returns:
            A float64 array (batch, n_steps, 12) (or (n_steps, 12) for one
            state); ``[..., 0, :]`` is z0, ``[..., k, :]`` the state at k·dt.

        Raises:
            RepMismatchError: z0 is not of width 12 (a ValueError).
            TypeError, ValueError: n_steps not a positive int.

        Example:
            >>> data = DoubleSpringPendulum(2, seed=0)
            >>> data.rollout(data.Z0, n_steps=3).shape
            (2, 3, 12)
        """
        if isinstance(z0, torch.Tensor):
            z0 = z0.detach().cpu().numpy()
        z0 = np.asarray(z0, dtype=np.float64)
        _check_states(z0, "DoubleSpringPendulum.rollout")
        if z0.ndim > 2:
            raise RepMismatchError(f"DoubleSpringPendulum.rollout: expected z0 of shape (batch, 12) or (12,), got {z0.shape}")
        steps = self.n_steps if n_steps is None else check_positive_int(n_steps, "DoubleSpringPendulum.rollout: n_steps")
        traj = _integrate(np.atleast_2d(z0), np.arange(steps) * self.dt)
        return traj[0] if z0.ndim == 1 else traj

    hamiltonian = staticmethod(spring_pendulum_hamiltonian)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.Z0[i], self.Zs[i]

    def __repr__(self) -> str:
        return (
            f"DoubleSpringPendulum(n={self.n}, seed={self.seed}, chunk_len={self.chunk_len}, dt={self.dt}, "
            f"integration_time={self.integration_time}, dtype={self.Z0.dtype}): {self.rep_in!r} of {self.group!r}"
        )


def _positive_float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"DoubleSpringPendulum: {what}: expected a positive number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"DoubleSpringPendulum: {what}: expected a positive number, got {value!r}")
    return float(value)


def rollout_error(pred: Any, true: Any, floor: float = ROLLOUT_ERROR_FLOOR) -> float:
    r"""EMLP's rollout metric: the geometric mean over time and trajectories of the relative state error.

    For every trajectory b and time step t,

    .. math::
        e_{bt} = \frac{\lVert \hat z_{bt} - z_{bt}\rVert}{\lVert \hat z_{bt}\rVert + \lVert z_{bt}\rVert},
        \qquad
        \text{error} = \exp\Big(\operatorname{mean}_{b,t} \log \max(e_{bt}, \text{floor})\Big),

    Euclidean norms over the state (EMLP writes them as RMS, the same ratio).
    As in EMLP, every time step given counts, t = 0 included (where a rollout
    equals the truth and e = 0 is raised to ``floor``); EMLP rolls out 150
    steps from each test chunk's first state.

    Args:
        pred: predicted states (..., T, d), array or tensor.
        true: true states of the same shape.
        floor: the smallest per-step error taken (EMLP: 1e-7), > 0.

    Returns:
        The geometric mean, a float in [floor, 1].

    Raises:
        ValueError: shapes differ, are empty, or floor is not positive.
        TypeError: non-numeric inputs.

    Example:
        >>> import numpy as np
        >>> true = np.array([[[1.0, 0.0], [0.0, 2.0]]])      # one trajectory, two steps
        >>> pred = np.array([[[1.0, 0.0], [0.0, 1.0]]])      # exact, then e = 1 / (1 + 2)
        >>> round(rollout_error(pred, true), 6) == round((1e-7 * (1 / 3)) ** 0.5, 6)
        True
    """
    pred, true = _as_float64(pred, "pred"), _as_float64(true, "true")
    if pred.shape != true.shape:
        raise ValueError(f"rollout_error: expected pred and true of one shape, got {pred.shape} and {true.shape}")
    if pred.ndim < 2 or pred.size == 0:
        raise ValueError(f"rollout_error: expected non-empty states of shape (..., T, d), got {pred.shape}")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not floor > 0:
        raise ValueError(f"rollout_error: floor: expected a positive number, got {floor!r}")
    num = np.linalg.norm(pred - true, axis=-1)
    den = np.linalg.norm(pred, axis=-1) + np.linalg.norm(true, axis=-1)
    err = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return float(np.exp(np.mean(np.log(np.maximum(err, floor)))))


def _as_float64(x: Any, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"rollout_error: {what}: expected a float array or tensor, got {type(x).__name__}") from exc

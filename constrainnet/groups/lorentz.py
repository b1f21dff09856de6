"""The Lorentz family as EMLP names it: SO13p() ⊂ SO13() ⊂ O13() = Lorentz().

All act on R⁴ = (t, x, y, z) with the metric η = diag(1, -1, -1, -1)
(:data:`~constrainnet.groups.LORENTZ_METRIC`, time first) and share the Lie
algebra of :class:`~constrainnet.groups.Lorentz`: the three rotations of
(x, y, z), then the three boosts E_0i + E_i0.

- ``SO13p()``: the proper orthochronous group SO⁺(1,3), the identity
  component (det g = 1 and g₀₀ ≥ 1); no discrete generators.
- ``SO13()``: the proper group SO(1,3) (det g = 1), adding -I (PT).
- ``O13()``: the full group O(1,3), equal to ``Lorentz()`` (same generators,
  parity and time reversal; ``O13() == Lorentz()``), named ``O13()``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats

from .base import MEMBERSHIP_ATOL, Group, as_element
from .families import LORENTZ_METRIC, Lorentz

__all__ = ["SO13p", "SO13", "O13"]


def _proper_orthochronous(rng: np.random.Generator) -> np.ndarray:
    """boost @ rotation: a rotation from the Haar measure of SO(3), a boost of rapidity ~ N(0, 0.5²) in a uniform direction."""
    rot = np.eye(4)
    rot[1:, 1:] = scipy.stats.special_ortho_group.rvs(3, random_state=rng)
    direction = rng.standard_normal(3)
    direction /= np.linalg.norm(direction)
    rapidity = rng.normal(0.0, 0.5)
    boost = np.eye(4)
    boost[0, 0] = math.cosh(rapidity)
    boost[0, 1:] = boost[1:, 0] = math.sinh(rapidity) * direction
    boost[1:, 1:] += (math.cosh(rapidity) - 1.0) * np.outer(direction, direction)
    return boost @ rot


def _preserves_metric(g: np.ndarray, atol: float) -> bool:
    scale = max(1.0, float(np.abs(g).max()) ** 2)
    return bool(np.allclose(g.T @ LORENTZ_METRIC @ g, LORENTZ_METRIC, atol=atol * scale))


class SO13p(Group):
    r"""The proper orthochronous Lorentz group SO⁺(1,3), the identity component of O(1,3) (EMLP's ``SO13p``).

    Lie algebra as :class:`~constrainnet.groups.Lorentz` (rotations, then
    boosts); no discrete generators. Samples are boost ∘ rotation, the
    rotation Haar-random and the rapidity N(0, 0.5²).

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import SO13p
        >>> g = SO13p().sample(rng=0)
        >>> round(float(np.linalg.det(g)), 6), bool(g[0, 0] >= 1)
        (1.0, True)
    """

    _discrete: tuple[np.ndarray, ...] = ()
    _family_name = "SO13p()"

    def __init__(self) -> None:
        lie = Lorentz().lie_algebra
        gens = np.array(self._discrete).reshape(-1, 4, 4)
        super().__init__(discrete_generators=gens, lie_algebra=lie, name=self._family_name, d=4)

    def _sample_one(self, rng: np.random.Generator) -> np.ndarray:
        g = _proper_orthochronous(rng)
        return g if not self._k else -g if rng.integers(2) else g

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        if g.shape != (4, 4) or not _preserves_metric(g, atol):
            return False
        return bool(np.linalg.det(g) > 0 and g[0, 0] > 0)


class SO13(SO13p):
    r"""The proper Lorentz group SO(1,3) (det g = 1): SO⁺(1,3) and -I (EMLP's ``SO13``).

    Example:
        >>> import numpy as np
        >>> from constrainnet.groups import SO13
        >>> SO13().discrete_generators.tolist() == [(-np.eye(4)).tolist()]
        True
    """

    _discrete = (-np.eye(4),)
    _family_name = "SO13()"

    def contains(self, g: Any, atol: float = MEMBERSHIP_ATOL) -> bool:
        g = as_element(g, "contains")
        return g.shape == (4, 4) and _preserves_metric(g, atol) and bool(np.linalg.det(g) > 0)


class O13(Lorentz):
    r"""The full Lorentz group O(1,3) with parity and time reversal: ``Lorentz()`` under EMLP's name.

    The same generators as :class:`~constrainnet.groups.Lorentz` (so
    ``O13() == Lorentz()``, with the same hash, and their reps share solved
    bases); only the name differs.

    Example:
        >>> from constrainnet.groups import O13, Lorentz
        >>> O13() == Lorentz(), repr(O13())
        (True, 'O13()')
    """

    def __init__(self) -> None:
        super().__init__()
        self._name = "O13()"

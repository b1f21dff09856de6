"""Hypothesis strategies for groups, group elements and reps (imports hypothesis lazily)."""

from __future__ import annotations

from typing import Any, Callable

from ..groups import C, D, Group, Lorentz, O, P4M, S, SO, Trivial, Z
from ..reps import PseudoScalar, Rep, Scalar, V

__all__ = ["GROUP_ZOO", "groups", "group_elements", "reps"]

#: Small groups of every family, by readable id: what the strategies draw from.
GROUP_ZOO: dict[str, Callable[[], Group]] = {
    "Trivial2": lambda: Trivial(2),
    "Z5": lambda: Z(5),
    "C4": lambda: C(4),
    "C2": lambda: C(2),
    "D4": lambda: D(4),
    "D3": lambda: D(3),
    "S4": lambda: S(4),
    "P4M3": lambda: P4M(3),
    "SO2": lambda: SO(2),
    "O2": lambda: O(2),
    "SO3": lambda: SO(3),
    "O3": lambda: O(3),
    "Lorentz": lambda: Lorentz(),
    "C4xS3": lambda: C(4) * S(3),
    "SO2xZ3": lambda: SO(2) * Z(3),
}


def _st() -> Any:
    try:
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("constrainnet.testing.strategies needs hypothesis: pip install 'constrainnet[test]'") from exc
    return st


def groups(names: list[str] | None = None) -> Any:
    """A strategy drawing groups from :data:`GROUP_ZOO` (or the given ids of it).

    Example:
        >>> from hypothesis import given
        >>> @given(groups())
        ... def test(G):
        ...     assert G.sample(0).shape == (G.d, G.d)
        >>> test()
    """
    st = _st()
    keys = sorted(GROUP_ZOO) if names is None else list(names)
    unknown = [k for k in keys if k not in GROUP_ZOO]
    if unknown:
        raise ValueError(f"groups: expected ids from {sorted(GROUP_ZOO)}, got {unknown}")
    return st.sampled_from(keys).map(lambda k: GROUP_ZOO[k]())


def group_elements(G: Group) -> Any:
    """A strategy of (d, d) elements of ``G``, each sampled from a drawn seed."""
    st = _st()
    return st.integers(0, 2**32 - 1).map(G.sample)


def reps(G: Group, max_size: int = 64, max_depth: int = 3) -> Any:
    """A strategy of reps of ``G`` of size at most ``max_size``.

    Built from V, Scalar, PseudoScalar and V.T by sums, multiplicities,
    tensor products, duals and Homs, up to ``max_depth`` nested operations.
    """
    st = _st()
    atoms = [r for r in (V(G), Scalar(G), PseudoScalar(G), V(G).T) if r.size <= max_size]

    @st.composite
    def build(draw: Any, depth: int = max_depth) -> Rep:
        if depth == 0 or draw(st.integers(0, 2)) == 0:
            return draw(st.sampled_from(atoms))
        op = draw(st.sampled_from(["+", "*", ">>", "mult", "T"]))
        a = draw(build(depth - 1))
        if op == "T":
            return a.T
        if op == "mult":
            out = draw(st.integers(1, 3)) * a
        else:
            b = draw(build(depth - 1))
            out = a + b if op == "+" else (a * b if op == "*" else a >> b)
        return out if out.size <= max_size else a

    return build()

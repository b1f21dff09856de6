"""Hidden reps: spread a channel budget evenly over tensor ranks."""

from __future__ import annotations

import math

from ..errors import RepError
from ..groups import Group
from ..reps import Rep, Scalar, T, V

__all__ = ["uniform_rep"]


def _max_rank(ch: int, d: int) -> int:
    """The largest r with (r + 1) · d^r ≤ ch: the top rank one round of allocation can afford."""
    r = 0
    while (r + 2) * d ** (r + 1) <= ch:
        r += 1
    return r


def uniform_rep(ch: int, group: Group) -> Rep:
    r"""A hidden rep of size ``ch`` that spends its channels evenly over tensor ranks 0, 1, 2, ….

    Rounds of allocation: with budget c left, take the top rank r with
    (r + 1)·d^r ≤ c and add d^{r−s} copies of rank s for s = 0..r, so that each
    rank takes d^r coordinates, until the budget is spent. For an orthogonal
    group rank s is V**s; otherwise the copies of rank s are split over
    T(p, q), p + q = s, in proportion to the binomial C(s, p) (largest
    remainders, ties to smaller q). Deterministic: no random state.

    Args:
        ch: the number of channels (the size of the rep), at least 1.
        group: the group.

    Returns:
        A rep of size exactly ``ch``.

    Example:
        >>> from constrainnet.groups import SO
        >>> rep = uniform_rep(384, SO(3))
        >>> rep, rep.size
        (102*Scalar + 34*V + 11*V**2 + 3*V**3, 384)
    """
    if not isinstance(ch, int) or isinstance(ch, bool) or ch < 1:
        raise RepError(f"uniform_rep: expected a positive int number of channels, got {ch!r}")
    if not isinstance(group, Group):
        raise TypeError(f"uniform_rep: expected a Group, got {type(group).__name__}")
    d = group.d
    counts: list[int] = []
    budget = ch
    while budget > 0:
        r = _max_rank(budget, d)
        counts += [0] * (r + 1 - len(counts))
        for s in range(r + 1):
            counts[s] += d ** (r - s)
        budget -= (r + 1) * d**r
    orthogonal = V(group).is_orthogonal
    parts: list[Rep] = []
    for s, n in enumerate(counts):
        if n == 0:
            continue
        if s == 0:
            parts.append(n * Scalar(group))
        elif orthogonal:
            parts.append(n * V(group) ** s)
        else:
            for q, m in enumerate(_binomial_split(n, s)):
                if m:
                    parts.append(m * T(s - q, q, group))
    return sum(parts[1:], parts[0])


def _binomial_split(n: int, s: int) -> list[int]:
    weights = [math.comb(s, q) for q in range(s + 1)]
    exact = [n * w / 2**s for w in weights]
    base = [int(math.floor(e)) for e in exact]
    left = n - sum(base)
    order = sorted(range(s + 1), key=lambda q: (-(exact[q] - base[q]), q))
    for q in order[:left]:
        base[q] += 1
    return base

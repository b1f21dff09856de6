"""A readable account of how the solver handles a rep: strategy, blocks or orbits, time per stage."""

from __future__ import annotations

import time

from ..reps import Rep
from .blocks import block_structure
from .iterative import iterative_plan
from .orbit import coordinate_permutations
from .product import factor_split
from .strategy import cache_clear, equivariant_basis, leaf_basis, select_strategy

__all__ = ["explain"]


def explain(rep: Rep, strategy: str | None = None, max_lines: int = 20) -> list[str]:
    """Solve ``rep`` from an empty in-memory cache and describe each stage.

    Lists the strategy chosen by :func:`select_strategy` (or forced), for the
    block strategy each distinct leaf with its copies, size, basis dimension,
    leaf strategy and solve time, for the orbit strategy the number of orbits,
    for the iterative strategy the two halves and the Casimir blocks with
    their unknowns, and the seconds of every stage. The disk cache is used as usual.

    Args:
        rep: the rep to solve.
        strategy: force a strategy, as in :func:`equivariant_basis`.
        max_lines: list at most this many leaves.

    Returns:
        The lines of the account.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> V = cn.V(SO(3))
        >>> print("\\n".join(explain((V**0 + V) >> V)[:2]))  # doctest: +ELLIPSIS
        strategy     block (chosen from the structure)
        blocks       2 distinct leaves, found in ... s
    """
    lines = []
    cache_clear()
    t0 = time.perf_counter()
    chosen = select_strategy(rep) if strategy is None else strategy
    how = "chosen from the structure" if strategy is None else "forced"
    lines.append(f"strategy     {chosen} ({how})")
    stages = []
    if chosen == "block":
        t = time.perf_counter()
        blocks = block_structure(rep)
        t_blocks = time.perf_counter() - t
        lines.append(f"blocks       {len(blocks)} distinct leaves, found in {t_blocks:.4f} s")
        lines.append(f"  {'leaf':<36} {'copies':>7} {'size':>7} {'dim':>6} {'how':>9} {'seconds':>9}")
        t_leaves = 0.0
        for i, b in enumerate(blocks):
            t = time.perf_counter()
            q, leaf_how = leaf_basis(b.leaf)
            dt = time.perf_counter() - t
            t_leaves += dt
            if i < max_lines:
                lines.append(f"  {repr(b.leaf)[:36]:<36} {b.index.shape[0]:>7} {b.leaf.size:>7} {q.shape[1]:>6} {leaf_how:>9} {dt:>9.4f}")
        if len(blocks) > max_lines:
            lines.append(f"  ... and {len(blocks) - max_lines} more leaves")
        stages += [("block structure", t_blocks), ("leaf solves", t_leaves)]
    elif chosen == "orbit":
        t = time.perf_counter()
        perms = coordinate_permutations(rep)
        stages.append(("coordinate permutations", time.perf_counter() - t))
        lines.append(f"generators   {len(perms)} permutations of {rep.size} coordinates")
    elif chosen == "iterative":
        t = time.perf_counter()
        plan = iterative_plan(rep)
        stages.append(("casimir splitting", time.perf_counter() - t))
        lines.append(f"halves       {plan.sizes[0]} x {plan.sizes[1]}, Casimir gap {plan.casimir_gap:.3g} (relative)")
        lines.append(f"  {'casimir':>10} {'rows':>6} {'cols':>6} {'unknowns':>9}")
        for value, rows, cols, unknowns in plan.blocks[:max_lines]:
            lines.append(f"  {value:>10.4g} {rows:>6} {cols:>6} {unknowns:>9}")
        if len(plan.blocks) > max_lines:
            lines.append(f"  ... and {len(plan.blocks) - max_lines} more blocks")
    elif chosen == "product":
        split = factor_split(rep) or []
        lines.append(f"parts        {len(split)}, one per group factor, solved apart and multiplied (Kronecker)")
        for factor, positions in split:
            lines.append(f"  factor {factor} ({rep.G.factors[factor]!r}): tensor factors {positions}")
    t = time.perf_counter()
    basis = equivariant_basis(rep, strategy)
    stages.append(("assembly" if chosen == "block" else "solve", time.perf_counter() - t))
    if chosen == "orbit":
        lines.append(f"orbits       {basis.dim}")
    lines.append(f"basis        {basis.shape[0]} x {basis.dim}")
    for name, seconds in stages:
        lines.append(f"  {name:<24} {seconds:.4f} s")
    lines.append(f"total        {time.perf_counter() - t0:.4f} s")
    return lines

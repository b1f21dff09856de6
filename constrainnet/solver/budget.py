r"""The solver's memory budget: an estimate of every strategy's peak memory, checked before solving.

A rep's size grows as a power of its degree: ``V(SO(3))**20`` has 3.5e9
coordinates and ``V(S(50))**6`` 1.6e10, so one index array of the rep
already takes 26 GiB or 116 GiB. Before a strategy allocates anything that
grows with the rep, :func:`check_memory` estimates the bytes it will need
(from the rep's structure alone: sizes, numbers of generators, leaves and
factors — nothing is built) and raises :class:`~constrainnet.errors.SolverError`
when the estimate exceeds the limit, naming the rep, the strategy, the
estimate and the limit. The estimates, per strategy (8 bytes per float64 or
int64 entry; N the rep's size, c its number of constraints, k its number of
discrete generators):

- dense: the stacked constraints (c·N²), their Gram matrix, eigenvectors and
  the QR/SVD workspace of the fallback path, and the canonical form: 8·(c + 6)·N²;
- orbit: the coordinate permutations, the graph of the generators, the labels
  and the sorted CSC indices: 8·(3k + 10)·N;
- iterative: the Casimir eigensolves of the two halves (:math:`3 (|A|^2 + |B|^2)`),
  the Gram matrix of the largest dense block, and the chunked certification
  vectors; the basis itself (N × r) is known only once solved;
- block: the coordinate index of every copy (3 int64 per coordinate) plus the
  largest estimate over the distinct leaves;
- product: N entries for the reordered Kronecker product plus the largest
  estimate over the factor parts; the Kronecker product of the parts' bases
  (3 · 8 · N · Π rᵢ bytes: the product, its reordering, its canonical form)
  is checked by :func:`check_product_memory` once their dimensions are known,
  before it is formed.

Every estimate adds :data:`BASELINE_MEMORY` for what does not grow with the
rep (generators, small ρ matrices). Measured peaks (``tracemalloc``) stay below
the estimates: dense 4–6×, orbit 1.1–3×, block ~4×.

The limit is, in order: the value given to :func:`set_memory_limit`; the
environment variable ``CONSTRAINNET_MEMORY_LIMIT`` (bytes, or a number with a
``K``/``M``/``G``/``T`` suffix, powers of 1024; ``none`` for no limit); or
:data:`DEFAULT_MEMORY_FRACTION` of the machine's physical memory (the smaller
of ``os.sysconf`` pages and a cgroup ``memory.max``), or
:data:`FALLBACK_MEMORY_LIMIT` where neither is known.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

from ..errors import SolverError
from ..reps import HomRep, Rep, ScalarRep, SumRep, dual, hom, tensor
from ..reps.composite import _KronRep
from .blocks import has_block_structure
from .iterative import BLOCK_DENSE_MAX, CERTIFY_CHUNK, halves, prefers_iterative
from .orbit import supports_orbits
from .product import _atoms, _on_factor, factor_split

__all__ = [
    "BASELINE_MEMORY",
    "DEFAULT_MEMORY_FRACTION",
    "FALLBACK_MEMORY_LIMIT",
    "check_memory",
    "check_product_memory",
    "check_basis_memory",
    "estimate_memory",
    "memory_limit",
    "set_memory_limit",
]

# Half of the physical memory by default: the estimates count the solver's
# own arrays, not the rest of the process (a model, a data set, Python itself).
DEFAULT_MEMORY_FRACTION = 0.5
# Where the physical memory cannot be read (no os.sysconf): 8 GiB.
FALLBACK_MEMORY_LIMIT = 8 * 2**30
# Added to every estimate: what a solve holds whatever the rep's size (the
# generators, ρ of the atoms, Python objects); measured below 0.3 MiB.
BASELINE_MEMORY = 2**20
_ENTRY = 8  # bytes per float64 or int64 entry
_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_ENV = "CONSTRAINNET_MEMORY_LIMIT"

_limit: float | None = None  # set by set_memory_limit; None: from the environment or the machine


def _physical_memory() -> int | None:
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    try:  # a container's limit (cgroup v2) is smaller than the host's memory
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            sizes.append(int(text))
    except OSError:
        pass
    sizes = [s for s in sizes if s > 0]
    return min(sizes) if sizes else None


def _parse_limit(text: str) -> float:
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    if value in ("NONE", "INF", "UNLIMITED"):
        return math.inf
    suffix = value[-1:] if value[-1:] in _SUFFIXES and value[-1:] else ""
    number = value[: len(value) - len(suffix)].strip()
    try:
        out = float(number) * _SUFFIXES[suffix]
    except ValueError:
        out = -1.0
    if not out > 0:
        raise SolverError(f"{_ENV}: expected a positive number of bytes (e.g. 8G, 512M) or 'none', got {text!r}")
    return out


def memory_limit() -> float:
    """The number of bytes a solve may take before :func:`check_memory` refuses it (``math.inf``: no limit).

    Returns:
        The limit given to :func:`set_memory_limit`, else ``$CONSTRAINNET_MEMORY_LIMIT``,
        else :data:`DEFAULT_MEMORY_FRACTION` of the physical memory.

    Raises:
        SolverError: ``CONSTRAINNET_MEMORY_LIMIT`` is not a positive size.

    Example:
        >>> memory_limit() > 0
        True
    """
    if _limit is not None:
        return _limit
    text = os.environ.get(_ENV, "").strip()
    if text:
        return _parse_limit(text)
    physical = _physical_memory()
    return DEFAULT_MEMORY_FRACTION * physical if physical else float(FALLBACK_MEMORY_LIMIT)


def set_memory_limit(limit: float | None) -> None:
    """Set the memory limit of the solver for this process.

    Args:
        limit: bytes (``math.inf`` for no limit), or ``None`` to go back to
            ``$CONSTRAINNET_MEMORY_LIMIT`` or the default fraction of the physical memory.

    Raises:
        ValueError: ``limit`` is not a positive number or None.

    Example:
        >>> import math
        >>> set_memory_limit(2 * 2**30); memory_limit()
        2147483648
        >>> set_memory_limit(None)
    """
    global _limit
    if limit is None:
        _limit = None
        return
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        raise ValueError(f"limit: expected a positive number of bytes, math.inf or None, got {limit!r}")
    _limit = limit


def _leaves(rep: Rep) -> list[Rep]:
    """The distinct leaves of the block strategy, found from the structure without any index array."""
    if isinstance(rep, SumRep):
        return [leaf for comp, _ in rep.components for leaf in _leaves(comp)]
    if isinstance(rep, _KronRep) and has_block_structure(rep):
        out = []
        for combo in itertools.product(*(_leaves(f) for f in rep.tensor_factors)):
            out.append(hom(dual(combo[1]), combo[0]) if isinstance(rep, HomRep) else tensor(*combo))
        return out
    return [rep]


def _leaf_strategy(rep: Rep) -> str:
    if supports_orbits(rep):
        return "orbit"
    if factor_split(rep) is not None:
        return "product"
    return "iterative" if prefers_iterative(rep) else "dense"


def _parts(rep: Rep) -> list[Rep]:
    """The reps of the factor groups that the product strategy solves apart."""
    atoms = _atoms(rep)
    return [tensor(*(_on_factor(atoms[p], rep.G.factors[f]) for p in positions)) for f, positions in factor_split(rep) or []]


def estimate_memory(rep: Rep, strategy: str) -> int:
    """Bytes that ``strategy`` is estimated to need at its peak to solve ``rep`` (see the module docstring).

    Args:
        rep: the rep.
        strategy: one of ``"dense"``, ``"orbit"``, ``"iterative"``, ``"block"``, ``"product"``.

    Returns:
        The estimate in bytes; computed from sizes and counts only, nothing is
        allocated. For the iterative and product strategies the basis they
        return (N × r) is not included: r is known only as they solve.

    Raises:
        ValueError: an unknown strategy.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO
        >>> estimate_memory(cn.V(SO(3)) ** 19, "dense") > 10**19  # (3**19)**2 entries of 8 bytes, 3 + 6 times
        True
    """
    n = rep.size
    if isinstance(rep, ScalarRep):
        return 0
    G = rep.G
    if strategy == "dense":
        constraints = G.num_discrete_generators + len(G.lie_algebra)
        return BASELINE_MEMORY + _ENTRY * (constraints + 6) * n * n
    if strategy == "orbit":
        return BASELINE_MEMORY + _ENTRY * (3 * G.num_discrete_generators + 10) * n
    if strategy == "iterative":
        a, b = (h.size for h in halves(rep))
        return BASELINE_MEMORY + _ENTRY * (3 * (a * a + b * b) + 2 * min(BLOCK_DENSE_MAX, n) ** 2 + 3 * CERTIFY_CHUNK * n)
    if strategy == "block":
        distinct = dict.fromkeys(_leaves(rep))  # distinct leaves, in order (reps are values)
        worst = max((estimate_memory(leaf, _leaf_strategy(leaf)) for leaf in distinct), default=0)
        return BASELINE_MEMORY + _ENTRY * 3 * n + worst
    if strategy == "product":
        worst = max((estimate_memory(part, _leaf_strategy(part)) for part in _parts(rep)), default=0)
        return BASELINE_MEMORY + _ENTRY * 2 * n + worst
    raise ValueError(f"strategy: expected one of dense, orbit, iterative, block, product, got {strategy!r}")


def _size_text(nbytes: float) -> str:
    if nbytes == math.inf:
        return "no limit"
    for unit, scale in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{int(nbytes)} bytes"


def _refuse(rep: Rep, strategy: str, estimate: float, limit: float, what: str) -> SolverError:
    return SolverError(
        f"{strategy} strategy for {rep!r} (size {rep.size}): expected {what} of at most the memory limit "
        f"{_size_text(limit)} ({int(limit)} bytes), got an estimate of {_size_text(estimate)} ({int(estimate)} bytes); "
        f"raise the limit with constrainnet.solver.set_memory_limit(bytes) or CONSTRAINNET_MEMORY_LIMIT "
        f"(e.g. 64G, or 'none'), or solve a smaller rep"
    )


def check_memory(rep: Rep, strategy: str) -> int:
    """Raise before solving when ``strategy`` is estimated to need more memory than :func:`memory_limit`.

    Args:
        rep: the rep about to be solved.
        strategy: the strategy about to solve it.

    Returns:
        The estimate in bytes (:func:`estimate_memory`), when within the limit.

    Raises:
        SolverError: the estimate exceeds the limit; the message names the
            rep, its size, the strategy, the estimate, the limit and how to raise it.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import S
        >>> set_memory_limit(2**30)
        >>> try:
        ...     check_memory(cn.V(S(50)) ** 5, "orbit")
        ... except cn.errors.SolverError as exc:
        ...     print(str(exc)[:92])
        orbit strategy for V**5 (size 312500000): expected a peak memory of at most the memory limit
        >>> set_memory_limit(None)
    """
    estimate = estimate_memory(rep, strategy)
    limit = memory_limit()
    if estimate > limit:
        raise _refuse(rep, strategy, estimate, limit, "a peak memory")
    return estimate


def check_product_memory(rep: Rep, rank: int) -> None:
    """Raise before the product strategy forms its (rep.size, rank) Kronecker basis when that exceeds the limit.

    Raises:
        SolverError: 3 · 8 · rep.size · rank bytes (the product, its reordering
            and its canonical form) exceed :func:`memory_limit`.

    Example:
        >>> import constrainnet as cn
        >>> from constrainnet.groups import SO, S
        >>> P = SO(3) * S(4)
        >>> check_product_memory(cn.V(P, factor=0) * cn.V(P, factor=1), 1)
    """
    check_basis_memory(rep, "product", rank)


def check_basis_memory(rep: Rep, strategy: str, rank: int) -> None:
    """Raise before a strategy forms a (rep.size, rank) basis (with its copies) that exceeds the limit.

    The product strategy calls it once its parts' dimensions are known; the
    iterative one as each Casimir block's intertwiners are found, before they
    are expanded to full length (so an invariant space too large to hold is
    refused in seconds, not after the whole solve).

    Raises:
        SolverError: 3 · 8 · rep.size · rank bytes (the basis, its reordering
            or expansion, and its canonical form) exceed :func:`memory_limit`.
    """
    estimate = 3 * _ENTRY * rep.size * rank
    limit = memory_limit()
    if estimate > limit:
        what = f"a Kronecker basis of {rank} columns" if strategy == "product" else f"a basis of {rank} columns (so far)"
        raise _refuse(rep, strategy, estimate, limit, what)

"""The solver's memory budget: estimates that bound the measured peaks, refusals before any large allocation."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import tracemalloc

import pytest

import constrainnet as cn
from constrainnet.errors import SolverError
from constrainnet.groups import P4M, S, SO, Lorentz, Z
from constrainnet.solver import cache_clear, equivariant_basis, estimate_memory, memory_limit, select_strategy, set_memory_limit
from constrainnet.solver import budget


@pytest.fixture
def fresh(monkeypatch):
    """No disk cache, empty in-memory caches, the default limit before and after."""
    monkeypatch.setenv("CONSTRAINNET_CACHE", "0")
    monkeypatch.delenv("CONSTRAINNET_MEMORY_LIMIT", raising=False)
    set_memory_limit(None)
    cache_clear()
    yield
    set_memory_limit(None)
    cache_clear()


def _peak(rep):
    tracemalloc.start()
    try:
        equivariant_basis(rep)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _cases():
    V, W, L, I = cn.V(SO(3)), cn.V(S(6)), cn.V(Lorentz()), cn.V(P4M(6))
    return {
        "SO3-dense": V**3 >> V**3,
        "Lorentz-dense": L**2 >> L**2,
        "S6-orbit": W**2 >> W**3,
        "Z12-orbit": cn.V(Z(12)) ** 4,
        "P4M-orbit": I >> I,
        "SO3-block": (V**0 + V + V**2) >> (V + V**3),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_estimates_bound_the_measured_peak(fresh, name):
    """numpy reports its allocations to tracemalloc: the peak of a cold solve stays below the estimate."""
    rep = _cases()[name]
    estimate = estimate_memory(rep, select_strategy(rep))
    assert _peak(rep) <= estimate


def test_iterative_and_product_peaks_are_bounded_with_their_basis(fresh):
    """Their estimate leaves out the returned basis (N × r); with 3 copies of it the peak is bounded."""
    V = cn.V(SO(3))
    P = SO(3) * S(6)
    A, B = cn.V(P, factor=0), cn.V(P, factor=1)
    for rep in (V**4 >> V**3, (A * B**2) >> (A * B**2)):
        strategy = select_strategy(rep)
        assert strategy in ("iterative", "product")
        estimate = estimate_memory(rep, strategy)
        peak = _peak(rep)
        r = equivariant_basis(rep).dim
        assert peak <= estimate + 3 * 8 * rep.size * r


def test_a_low_limit_refuses_a_moderate_rep_and_names_the_numbers(fresh):
    V = cn.V(SO(3))
    rep = V**3 >> V**3  # 729 coordinates, dense: 8 · (3 + 6) · 729² bytes + the baseline
    expected = budget.BASELINE_MEMORY + 8 * 9 * 729**2
    assert estimate_memory(rep, "dense") == expected
    set_memory_limit(10**6)
    with pytest.raises(SolverError) as info:
        equivariant_basis(rep)
    text = str(info.value)
    for fragment in ("dense strategy", repr(rep), "size 729", f"({expected} bytes)", "(1000000 bytes)", "set_memory_limit", "CONSTRAINNET_MEMORY_LIMIT"):
        assert fragment in text, text
    set_memory_limit(None)
    assert equivariant_basis(rep).dim == 15  # nothing was cached by the refusal


def test_the_limit_is_checked_for_every_leaf_and_every_strategy(fresh):
    V, W = cn.V(SO(3)), cn.V(S(8))
    set_memory_limit(10**6)
    with pytest.raises(SolverError, match="block strategy"):
        equivariant_basis((V**0 + V**2) >> V**3)  # the block estimate includes its largest leaf
    with pytest.raises(SolverError, match="orbit strategy"):
        equivariant_basis(W**5)
    with pytest.raises(SolverError, match="dense strategy"):
        cn.solver.leaf_basis(V**3 >> V**3)
    set_memory_limit(10**9)
    assert equivariant_basis((V**0 + V**2) >> V**3).dim > 0


def test_the_kronecker_basis_of_the_product_strategy_is_checked_before_it_is_formed(fresh):
    """The parts fit, the Kronecker product of their bases (N × Π rᵢ) does not: refused once the ranks are known."""
    P = SO(3) * S(5)
    A, B = cn.V(P, factor=0), cn.V(P, factor=1)
    rep = (A**2 * B**2) >> (A**2 * B**2)  # 81 · 625 coordinates; the parts have 3 (SO(3)) and 15 (S(5)) basis vectors
    estimate = estimate_memory(rep, "product")
    kron = 3 * 8 * rep.size * 3 * 15
    assert kron > estimate
    set_memory_limit((estimate + kron) // 2)
    with pytest.raises(SolverError, match=r"product strategy .* a Kronecker basis of 45 columns"):
        equivariant_basis(rep)


def test_limit_sources_and_validation(fresh, monkeypatch):
    physical = budget._physical_memory()
    default = memory_limit()
    if physical:
        assert default == budget.DEFAULT_MEMORY_FRACTION * physical
    monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", "512M")
    assert memory_limit() == 512 * 2**20
    monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", "2GiB")
    assert memory_limit() == 2 * 2**30
    monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", "1000")
    assert memory_limit() == 1000
    monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", "none")
    assert memory_limit() == math.inf
    set_memory_limit(12345)  # an explicit limit wins over the environment
    assert memory_limit() == 12345
    set_memory_limit(None)
    for bad in ("lots", "-1G", "0"):
        monkeypatch.setenv("CONSTRAINNET_MEMORY_LIMIT", bad)
        with pytest.raises(SolverError, match="CONSTRAINNET_MEMORY_LIMIT: expected a positive number of bytes"):
            memory_limit()
    for bad in (0, -5, "1G", True):
        with pytest.raises(ValueError, match="limit: expected a positive number of bytes"):
            set_memory_limit(bad)


def test_the_default_limit_refuses_what_no_machine_holds(fresh):
    V = cn.V(SO(3))
    rep = V**19  # 1.2e9 coordinates, dense: ~1e20 bytes
    with pytest.raises(SolverError, match=re.escape(f"(size {rep.size})")):
        equivariant_basis(rep)


def test_huge_reps_refuse_before_allocating():
    """Under a 3 GiB address-space limit, the solver must refuse (not allocate) reps whose index alone exceeds it."""
    resource = pytest.importorskip("resource", reason="RLIMIT_AS needs the resource module (POSIX)")
    if not hasattr(resource, "RLIMIT_AS"):
        pytest.skip("this platform has no RLIMIT_AS")
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        import constrainnet as cn
        from constrainnet.errors import ConstrainnetError
        from constrainnet.groups import SO, S
        for make in (lambda: cn.V(SO(3)) ** 20, lambda: cn.V(S(50)) ** 6, lambda: cn.V(SO(3)) ** 19, lambda: cn.V(S(50)) ** 5):
            try:
                make().equivariant_basis()
                print("solved")
            except ConstrainnetError as exc:
                print(type(exc).__name__)
        """
    )
    env = dict(os.environ, CONSTRAINNET_MEMORY_LIMIT="2G", CONSTRAINNET_CACHE="0")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.split()
    # 3**20 and 50**6 coordinates may be refused as reps already; the smaller two are the solver's refusals
    assert len(lines) == 4 and all(line.endswith("Error") for line in lines), done.stdout
    assert lines[2:] == ["SolverError", "SolverError"]


def test_the_iterative_basis_is_checked_as_its_blocks_are_solved(fresh):
    # V**5 >> V**5 of SO(3): the solver's own arrays fit in 300 MiB (estimate 228 MiB), its
    # basis of 603 columns of 59,049 coordinates (with its copies, 3 x 8 x 59,049 x 603 bytes,
    # 815 MiB) does not: refused as the columns accumulate, before they are expanded.
    V = cn.V(SO(3))
    rep = V**5 >> V**5
    limit = 300 * 2**20
    assert estimate_memory(rep, "iterative") < limit < 3 * 8 * rep.size * 603
    set_memory_limit(limit)
    with pytest.raises(SolverError, match=r"iterative strategy for V\*\*5 >> V\*\*5 \(size 59049\): expected a basis of \d+ columns"):
        equivariant_basis(rep)

"""Fuzz of the solver over groups × reps against an independent dense nullspace.

For each drawn rep of a zoo group (or of its subgroup), the constraints
[ρ(h) − I; dρ(A)] are stacked from the plain-numpy reference ρ and dρ of
``tests/zoo.py`` (Kronecker products and block diagonals of the defining
matrices, written independently of the library) and their nullspace is taken
with ``scipy.linalg.null_space`` (cut-off relative to max(1, σ_max)). The library's basis must have that rank,
orthonormal columns, the same projector, and be equivariant on random group
elements.

10,000 examples, marked slow (a few minutes on 2 cores):
``python -m pytest -p no:cacheprovider -m slow tests/solver/test_fuzz.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import constrainnet as cn
from zoo import BY_ID, ZOO, assert_close, build_case, rep_cases

# Relative singular-value cut-off of the reference nullspace (the constraints
# are scaled to unit size; exact invariants sit at ~1e-15).
NULL_RTOL = 1e-9


def reference_nullspace(spec, entry, on_sub: bool) -> np.ndarray:
    """Nullspace of the stacked reference constraints, each scaled by its size."""
    group = entry.H if on_sub else entry.G
    n = spec.size(entry.G)
    rows = []
    # scaled by the size of the generator, not of the constraint: rounding noise
    # (ρ(−I) − I on V⊗V, from cos π) must stay noise
    for h in group.discrete_generators:
        rho = spec.rho(entry.G, h)
        rows.append((rho - np.eye(n)) / max(1.0, np.abs(rho).max()))
    for a in group.lie_algebra:
        m = spec.drho(entry.G, a)
        rows.append(m / max(np.abs(a).max(), np.abs(m).max()))
    if not rows:
        return np.eye(n)
    # scipy.linalg.null_space's cut-off is relative to the largest singular value, which
    # is itself noise when every constraint is (C(2) on V⊗V): cut at max(1, σ_max) instead
    m = np.concatenate(rows)
    s_max = float(np.linalg.norm(m, 2))
    return scipy.linalg.null_space(m, rcond=NULL_RTOL * max(1.0, s_max) / s_max) if s_max > 0 else np.eye(n)


def _check(data) -> None:
    entry = BY_ID[data.draw(st.sampled_from([e.id for e in ZOO]), label="group")]
    spec, on_sub = data.draw(rep_cases(entry, max_size=32), label="spec, on_sub")
    rep, group = build_case(entry, spec, on_sub)
    q = np.asarray(rep.equivariant_basis())
    ref = reference_nullspace(spec, entry, on_sub)
    assert q.shape == ref.shape, f"{spec!r} over {group!r}: rank {q.shape[1]}, reference {ref.shape[1]}"
    assert_close(q.T @ q, np.eye(q.shape[1]), what="orthonormal columns")
    assert_close(q @ q.T, ref @ ref.T, tol=1e-8, what="projector vs reference")
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    g = group.sample(np.random.default_rng(seed))
    rho = spec.rho(entry.G, g)
    assert_close(rho @ q, q, tol=1e-8, scale=float(np.abs(rho).max()), what="equivariance on a random element")


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_fuzz_solver_against_reference_nullspace(data):
    _check(data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_solver_quick(data):
    _check(data)

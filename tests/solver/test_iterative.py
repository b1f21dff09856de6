"""The iterative strategy: the dense reference's canonical columns, known counts, certification, selection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
from hypothesis import given
from hypothesis import strategies as st

import constrainnet as cn
from constrainnet.errors import SolverError
from constrainnet.groups import O, SO, Group, Lorentz, S, Subgroup
from constrainnet.solver import equivariant_basis, equivariant_projector, select_strategy
from constrainnet.solver.dense import dense_basis
from constrainnet.solver.explain import explain
from constrainnet.solver.iterative import ITERATIVE_MIN_SIZE, halves, iterative_basis, iterative_plan, supports_iterative
from zoo import CONTINUOUS, TOL, assert_close, build_case, params, rep_cases, so_generator

# Riordan numbers: dim of the SO(3)-invariants of (R³)^⊗n, n = 0, 1, 2, ...
RIORDAN = [1, 0, 1, 1, 3, 6, 15, 36, 91, 232, 603]


def _o3_in_lorentz() -> Group:
    rotations = np.zeros((3, 4, 4))
    for k, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        rotations[k, 1:, 1:] = so_generator(3, i, j)
    return Subgroup(Lorentz(), discrete_generators=[np.diag([1.0, -1.0, 1.0, 1.0])], lie_algebra=rotations, name="O(3)<Lorentz")


def _cases():
    v3, w3, v2, w2, v4 = (cn.V(G) for G in (SO(3), O(3), SO(2), O(2), SO(4)))
    so2z = Subgroup(SO(3), lie_algebra=[so_generator(3, 0, 1)], name="SO(2)z<SO(3)")
    product = SO(3) * SO(2)
    h = cn.V(_o3_in_lorentz())
    return {
        "SO3-V**2>>V**2": v3**2 >> v3**2,
        "SO3-V**2>>V**3": v3**2 >> v3**3,
        "SO3-V**5": v3**5,
        "SO3-V>>V": v3 >> v3,
        "O3-V**2>>V**2": w3**2 >> w3**2,
        "O3-V**3>>V": w3**3 >> w3,
        "O3-PS*V**2>>V": (cn.PseudoScalar(O(3)) * w3**2) >> w3,
        "O3-V**4": w3**4,
        "SO2-V**4>>V**4": v2**4 >> v2**4,
        "SO2-V**6": v2**6,
        "O2-V**3>>V**3": w2**3 >> w2**3,
        "O2-V**5>>V": w2**5 >> w2,
        "SO4-V**2>>V**2": v4**2 >> v4**2,
        "SO4-V**4": v4**4,
        "SO4-V**3>>V": v4**3 >> v4,
        "SO2z<SO3-V**4": (v3**4).restrict(so2z),
        "SO3xSO2-V**2>>V": cn.V(product) ** 2 >> cn.V(product),
        "O3<Lorentz-V**2>>V**2": h**2 >> h**2,
    }


CASES = _cases()


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dense_block_max", [3000, 0], ids=["dense-blocks", "cg-blocks"])
def test_iterative_gives_the_dense_columns(name, dense_block_max):
    rep = CASES[name]
    assert supports_iterative(rep)
    q = iterative_basis(rep, dense_block_max=dense_block_max)
    reference = dense_basis(rep)
    assert q.shape == reference.shape and q.dtype == np.float64 and not q.flags.writeable
    assert_close(q, reference, what=f"{name}: iterative vs dense, column for column")


@pytest.mark.parametrize("entry", params(CONTINUOUS))
@given(data=st.data())
def test_iterative_equals_dense_on_random_reps(entry, data):
    spec, on_sub = data.draw(rep_cases(entry, max_size=128), label="spec, on_sub")
    rep, _ = build_case(entry, spec, on_sub)
    if not supports_iterative(rep):
        assert entry.id == "Lorentz" or rep.G.is_finite or not rep.is_orthogonal
        return
    assert_close(iterative_basis(rep), dense_basis(rep), what=f"{rep!r}: iterative vs dense")


@pytest.mark.parametrize("n", range(1, 8))
def test_so3_tensor_power_counts_are_the_riordan_numbers(n):
    # independent truth: Weyl's integration formula over the maximal torus of SO(3)
    weyl, _ = scipy.integrate.quad(lambda t: (1 + 2 * math.cos(t)) ** n * (1 - math.cos(t)) / math.pi, 0, math.pi)
    assert round(weyl) == RIORDAN[n]
    assert iterative_basis(cn.V(SO(3)) ** n).shape == (3**n, RIORDAN[n])


@pytest.mark.parametrize("n", [2, 4, 6, 8])
def test_so2_and_o2_tensor_power_counts(n):
    # weights ±1 summing to zero; the reflections of O(2) have character 0, halving the count
    assert iterative_basis(cn.V(SO(2)) ** n).shape[1] == math.comb(n, n // 2)
    assert iterative_basis(cn.V(O(2)) ** n).shape[1] == math.comb(n, n // 2) // 2


def _invariance_error(q: np.ndarray, g: np.ndarray, k: int) -> float:
    """max |g^⊗k W g^⊗kᵀ − W| over the columns of q read as (3^k, 3^k) maps, by numpy's kron alone."""
    gk = g
    for _ in range(k - 1):
        gk = np.kron(gk, g)
    w = q.T.reshape(-1, 3**k, 3**k)
    return float(np.abs(gk @ w @ gk.T - w).max())


def test_so3_v4_to_v4_has_the_riordan_dimension_and_is_invariant():
    V = cn.V(SO(3))
    rep = V**4 >> V**4
    assert rep.size == 6561 and select_strategy(rep) == "iterative"
    q = np.asarray(equivariant_basis(rep))
    assert q.shape == (6561, RIORDAN[8])
    assert_close(q.T @ q, np.eye(RIORDAN[8]), what="orthonormal columns")
    g = SO(3).sample(np.random.default_rng(3))
    assert _invariance_error(q, g, 4) < TOL


@pytest.mark.slow
def test_so3_v5_to_v5_has_dimension_603():
    V = cn.V(SO(3))
    rep = V**5 >> V**5
    q = iterative_basis(rep)
    assert q.shape == (59049, RIORDAN[10])
    assert_close(q.T @ q, np.eye(RIORDAN[10]), what="orthonormal columns")
    g = SO(3).sample(np.random.default_rng(5))
    assert _invariance_error(q[:, ::20], g, 5) < TOL


def _tilted_group(angle: float) -> Group:
    """so(2) on coordinates (0, 1) and a discrete rotation by ``angle`` on (2, 3): constraints of size ~angle."""
    h = np.eye(4)
    h[2:, 2:] = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    return Group(discrete_generators=[h], lie_algebra=[so_generator(4, 0, 1)], name=f"Tilt({angle})")


def test_an_uncertifiable_rank_raises_with_residual_and_gap():
    # a rotation by 1e-7 is numerically neither the identity nor clearly not: the rank is undecidable
    rep = cn.V(_tilted_group(1e-7)) ** 2
    with pytest.raises(SolverError, match=r"cannot certify.*got 1\.\d+e-07.*gap"):
        iterative_basis(rep)
    with pytest.raises(SolverError, match="cannot certify"):
        dense_basis(rep)  # the reference refuses too
    # a clearly non-trivial rotation is decided, as densely
    rep = cn.V(_tilted_group(1e-3)) ** 2
    assert_close(iterative_basis(rep), dense_basis(rep))


@pytest.mark.parametrize(
    "rep",
    [cn.V(S(4)) ** 2, cn.V(Lorentz()) ** 2, cn.V(Group(discrete_generators=[np.diag([1.0, 2.0])], lie_algebra=[so_generator(2, 0, 1)]))],
    ids=["finite", "lorentz", "non-orthogonal"],
)
def test_groups_outside_its_scope_are_refused(rep):
    assert not supports_iterative(rep)
    with pytest.raises(SolverError, match="iterative strategy: expected"):
        iterative_basis(rep)


def test_discrete_generators_must_normalise_the_algebra():
    # rotations about z, and a quarter turn about x that maps the z axis to y
    quarter_x = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    G = Group(discrete_generators=[quarter_x], lie_algebra=[so_generator(3, 0, 1)], name="not-normalising")
    assert not supports_iterative(cn.V(G) ** 2)


def test_strategy_selection():
    V = cn.V(SO(3))
    assert (V**3 >> V**3).size < ITERATIVE_MIN_SIZE <= (V**4 >> V**3).size
    assert select_strategy(V**3 >> V**3) == "dense"
    assert select_strategy(V**4 >> V**3) == "iterative"
    assert select_strategy(cn.V(O(3)) ** 7) == "iterative"
    assert select_strategy(cn.V(Lorentz()) ** 5) == "dense"  # not orthogonal
    assert select_strategy(cn.V(S(8)) ** 2 >> cn.V(S(8)) ** 2) == "orbit"
    assert select_strategy((V**4 + V) >> V**3) == "block"


def test_block_strategy_solves_large_leaves_iteratively():
    V = cn.V(SO(3))
    rep = (V**4 + V) >> (V**3 + V**0)
    basis = equivariant_basis(rep)
    hows = {blk.leaf: blk.strategy for blk in basis.blocks}
    assert hows[V**4 >> V**3] == "iterative" and hows[V >> V**3] == "dense"
    # dims: Hom(V⁴, V³), Hom(V⁴, 1), Hom(V, V³), Hom(V, 1) hold R₇ + R₄ + R₄ + R₁ invariants
    assert basis.dim == RIORDAN[7] + RIORDAN[4] + RIORDAN[4] + RIORDAN[1]
    (leaf,) = [blk for blk in basis.blocks if blk.strategy == "iterative"]
    g = SO(3).sample(np.random.default_rng(4))
    w = np.asarray(leaf.q).T.reshape(-1, 27, 81)
    g3, g4 = np.kron(np.kron(g, g), g), np.kron(np.kron(g, g), np.kron(g, g))
    assert float(np.abs(g3 @ w @ g4.T - w).max()) < TOL


def test_forcing_iterative_on_a_sum_gives_the_dense_basis():
    V = cn.V(O(3))
    rep = (V + cn.PseudoScalar(O(3))) >> (V**2 + V)
    forced = equivariant_basis(rep, strategy="iterative")
    assert forced.strategy == "iterative"
    assert_close(np.asarray(forced), np.asarray(equivariant_basis(rep, strategy="dense")))


def test_the_basis_does_not_depend_on_the_order_or_scale_of_the_generators():
    V = cn.V(SO(3))
    shuffled = Group(lie_algebra=SO(3).lie_algebra[[2, 0, 1]] * np.array([2.0, -1.0, 0.5])[:, None, None], name="SO3'")
    W = cn.V(shuffled)
    assert_close(iterative_basis(W**3 >> W**3), iterative_basis(V**3 >> V**3), tol=1e-12)


def test_plan_and_explain_describe_the_split():
    V = cn.V(SO(3))
    assert [h.size for h in halves(V**2 >> V**3)] == [9, 27]
    plan = iterative_plan(V**3 >> V**3)
    assert plan.sizes == (27, 27)
    # V**3 = V₀ + 3 V₁ + 2 V₂ + V₃: Casimir blocks of (2l+1)·m rows
    assert [b[1] for b in plan.blocks] == [1, 9, 10, 7]
    assert sum(b[3] for b in plan.blocks) < sum(b[1] * b[2] for b in plan.blocks)  # the weight split pays
    text = "\n".join(explain(V**3 >> V**3, strategy="iterative"))
    assert "strategy     iterative (forced)" in text and "halves       27 x 27" in text


def test_the_result_goes_to_the_disk_cache(_private_disk_cache):
    rep = cn.V(O(3)) ** 3 >> cn.V(O(3)) ** 3  # 729 coordinates: above the disk cache's minimum size
    cn.solver.cache_clear()
    equivariant_basis(rep, strategy="iterative")
    assert list(_private_disk_cache.glob(f"*{rep.digest:016x}-iterative.npz"))

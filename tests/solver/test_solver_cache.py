"""The solver cache: keyed by rep value, read-only results, clearable, bounded."""

from __future__ import annotations

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import SO, S
from constrainnet.solver import cache_info


def test_equal_reps_share_one_solve():
    cn.cache_clear()
    first = (cn.V(SO(3)) ** 2 + cn.V(SO(3))).equivariant_basis()
    second = (cn.V(SO(3)) ** 2 + cn.V(SO(3))).equivariant_basis()
    assert first is second
    info = cache_info()["bases"]
    assert info["hits"] >= 1 and info["misses"] >= 1


def test_cache_clear_forgets_and_the_result_is_unchanged():
    rep = cn.V(S(4)) ** 2 >> cn.V(S(4))
    before = rep.equivariant_basis()
    cn.cache_clear()
    assert cache_info()["bases"]["size"] == 0 and cache_info()["leaves"]["size"] == 0
    after = rep.equivariant_basis()
    assert after is not before
    assert np.asarray(after).tobytes() == np.asarray(before).tobytes()


def test_cached_arrays_are_read_only():
    V = cn.V(SO(3))
    basis = ((V + V**0) >> V**2).equivariant_basis()
    for block in basis.blocks:
        assert not block.q.flags.writeable
        with pytest.raises(ValueError):
            block.q[0, 0] = 1.0
    # what a user gets from np.asarray is a copy: writing to it cannot corrupt the cache
    q = np.asarray(basis)
    q[:] = 0.0
    assert np.abs(np.asarray(((V + V**0) >> V**2).equivariant_basis())).max() > 0


def test_cache_is_bounded():
    info = cache_info()
    assert info["bases"]["maxsize"] > 0 and info["leaves"]["maxsize"] > 0
    cn.cache_clear()
    V = cn.V(S(3))
    for k in range(1, info["bases"]["maxsize"] + 20):
        (k * V).equivariant_basis()
    assert cache_info()["bases"]["size"] <= info["bases"]["maxsize"]

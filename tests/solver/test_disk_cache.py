"""The disk cache: location, switch, round trip, atomic writes, and corrupt or stale files recomputed."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest
import scipy.sparse

import constrainnet as cn
from constrainnet.groups import S, SO
from constrainnet.solver import cache_clear, equivariant_basis
from constrainnet.solver import disk_cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTRAINNET_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CONSTRAINNET_CACHE", raising=False)
    cache_clear()
    yield tmp_path
    cache_clear()


def big_dense_rep():
    V = cn.V(SO(3))
    return V**3 >> V**3  # size 729 >= MIN_CACHED_SIZE, solved densely


def files(folder):
    return sorted(p for p in folder.iterdir() if p.suffix == ".npz")


def test_location_and_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("CONSTRAINNET_CACHE_DIR", str(tmp_path / "x"))
    assert disk_cache.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("CONSTRAINNET_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert disk_cache.cache_dir() == tmp_path / "xdg" / "constrainnet"
    monkeypatch.setenv("CONSTRAINNET_CACHE", "0")
    assert not disk_cache.enabled()


def test_round_trip_gives_identical_bases(folder):
    rep = big_dense_rep()
    first = np.asarray(equivariant_basis(rep))
    written = files(folder)
    assert len(written) == 1 and written[0].name.startswith(f"v{disk_cache.CACHE_FORMAT_VERSION}-")
    cache_clear()
    second = np.asarray(equivariant_basis(rep))
    assert np.array_equal(first, second)


def test_sparse_orbit_bases_round_trip(folder):
    W = cn.V(S(6))
    rep = W**2 >> W**2  # 1296 coordinates, orbit strategy
    first = np.asarray(equivariant_basis(rep))
    cache_clear()
    q = disk_cache.load_or_compute(rep, "orbit", lambda: pytest.fail("expected a cache hit"))
    assert scipy.sparse.issparse(q)
    assert np.array_equal(first, q.toarray())


def test_disabled_cache_writes_nothing(folder, monkeypatch):
    monkeypatch.setenv("CONSTRAINNET_CACHE", "0")
    equivariant_basis(big_dense_rep())
    assert files(folder) == []


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "other-rep", "bad-checksum", "stale-version"])
def test_damaged_files_are_recomputed_not_trusted(folder, damage):
    rep = big_dense_rep()
    truth = np.asarray(equivariant_basis(rep))
    (path,) = files(folder)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not an npz file at all" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        if damage == "other-rep":
            arrays["meta_rep"] = np.array("V**2 >> V**2")
        elif damage == "bad-checksum":
            arrays["dense"] = arrays["dense"] * 2.0
        else:
            arrays["meta_version"] = np.array(disk_cache.CACHE_FORMAT_VERSION + 1)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
    cache_clear()
    again = np.asarray(equivariant_basis(rep))
    assert np.array_equal(again, truth)
    # and the damaged file was replaced by a good one
    cache_clear()
    assert disk_cache._read(path, rep, "dense") is not None


def _solve_in_child(folder):
    os.environ["CONSTRAINNET_CACHE_DIR"] = folder
    cache_clear()
    return np.asarray(equivariant_basis(big_dense_rep())).tobytes()


def test_two_processes_writing_the_same_key(folder):
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_solve_in_child, [str(folder), str(folder)])
    assert results[0] == results[1]
    assert len(files(folder)) == 1
    assert not [p for p in folder.iterdir() if p.suffix == ".tmp"]
    cache_clear()
    assert np.asarray(equivariant_basis(big_dense_rep())).tobytes() == results[0]


def test_unwritable_folder_still_solves(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CONSTRAINNET_CACHE_DIR", str(blocker / "sub"))
    cache_clear()
    assert equivariant_basis(big_dense_rep()).dim == 15
    cache_clear()


def test_block_bases_come_from_one_file(folder):
    """Every leaf of a sum (small ones too) is stored in one file for the whole rep, and read back bit for bit."""
    V = cn.V(SO(3))
    rep = (3 * V**0 + 2 * V + V**2) >> (2 * V**0 + V + V**3)
    first = equivariant_basis(rep)
    bundles = [p for p in files(folder) if p.stem.endswith("-block")]
    assert len(bundles) == 1
    cache_clear()
    again = equivariant_basis(rep)
    assert [b.strategy for b in again.blocks] == [b.strategy for b in first.blocks]
    assert np.array_equal(np.asarray(again), np.asarray(first))
    # a damaged bundle is recomputed, not trusted
    bundles[0].write_bytes(bundles[0].read_bytes()[:100])
    cache_clear()
    assert np.array_equal(np.asarray(equivariant_basis(rep)), np.asarray(first))


def test_block_bundle_with_sparse_leaves_round_trips(folder):
    W = cn.V(S(4))
    rep = (W + W**0) >> (W**2 + W)
    first = np.asarray(equivariant_basis(rep))
    cache_clear()
    again = equivariant_basis(rep)
    assert {b.strategy for b in again.blocks} == {"orbit"}
    assert np.array_equal(np.asarray(again), first)


def test_orbit_bases_are_stored_as_row_indices(folder):
    """Orbit bases keep only their row indices on disk (the values are 1/sqrt(orbit size)) and read back exactly."""
    rep = cn.V(S(5)) ** 2 >> cn.V(S(5)) ** 2
    first = equivariant_basis(rep)
    (path,) = files(folder)
    with np.load(path, allow_pickle=False) as npz:
        assert "orbit_rows" in npz.files and "data" not in npz.files
    cache_clear()
    again = equivariant_basis(rep)
    q1, q2 = first.blocks[0].q, again.blocks[0].q
    assert scipy.sparse.issparse(q2)
    assert (q1 != q2).nnz == 0

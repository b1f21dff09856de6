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


# -- exact keys and verification on read -------------------------------------------------
def _tiny_rotation_group(axis):
    """SO(2) about ``axis``, its generator scaled to 1e-13: below the 12 decimals of ``rep.digest``."""
    J = np.zeros((3, 3))
    i, j = [k for k in range(3) if k != axis]
    J[i, j], J[j, i] = -1.0, 1.0
    return cn.groups.Group(lie_algebra=[1e-13 * J])


def _invariant_count(rep):
    """dim of the invariants of rotations about one axis on (R³)^⊗6, by counting weights: tuples of
    m_i in {-1, 0, 1} (the eigenvalues of J/i on R³) summing to 0."""
    import itertools

    return sum(1 for t in itertools.product((-1, 0, 1), repeat=6) if sum(t) == 0)


def test_generators_below_the_digest_rounding_get_their_own_files(folder):
    """V**6 of rotations about x and about z (generators 1e-13·J) share ``rep.digest`` but not a cache file."""
    rx, rz = (cn.V(_tiny_rotation_group(axis)) ** 6 for axis in (0, 2))
    assert rx.digest == rz.digest and disk_cache.exact_key(rx) != disk_cache.exact_key(rz)
    qx = np.asarray(equivariant_basis(rx))
    cache_clear()  # a second process: nothing in memory, only the files
    qz = np.asarray(equivariant_basis(rz))
    assert len(files(folder)) == 2
    assert qx.shape[1] == qz.shape[1] == _invariant_count(rz) == 141
    # the independent truth for z: invariant vectors are supported on coordinates of total weight 0
    # in the eigenbasis; here checked directly: dρ(Jz) annihilates qz, and qx is not annihilated
    Jz = rz.G.lie_algebra[0]
    assert np.abs(rz.drho(Jz) @ qz).max() < 1e-12 * 1e-13
    assert np.abs(rz.drho(Jz) @ qx).max() > 1e-3 * 1e-13


def test_minus_zero_and_zero_generators_share_a_key():
    J = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    negzero = J.copy()
    negzero[2, 2] = -0.0
    a, b = (cn.V(cn.groups.Group(lie_algebra=[m])) ** 2 for m in (J, negzero))
    assert disk_cache.exact_key(a) == disk_cache.exact_key(b)


def _rewrite(path, change):
    """Load an .npz, change its arrays, recompute the checksum (as a forger can), write it back."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = {k: arrays.pop(k) for k in list(arrays) if k.startswith("meta_")}
    change(arrays)
    meta["meta_checksum"] = np.array(disk_cache._checksum(arrays))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays, **meta)


@pytest.mark.parametrize("forgery", ["rotated-coordinates", "other-group", "not-orthonormal"])
def test_forged_dense_file_with_valid_checksum_is_recomputed(folder, forgery):
    rep = big_dense_rep()
    truth = np.asarray(equivariant_basis(rep))
    (path,) = files(folder)
    Jz = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    Vz = cn.V(cn.groups.Group(lie_algebra=[Jz]))  # rotations about z only: more invariants than SO(3)
    other = np.asarray(equivariant_basis(Vz**3 >> Vz**3))

    def change(arrays):
        q = arrays["dense"]
        if forgery == "rotated-coordinates":
            arrays["dense"] = np.roll(q, 1, axis=0)  # orthonormal, not equivariant
        elif forgery == "other-group":
            arrays["dense"] = other[:, -q.shape[1] :]  # orthonormal, invariant under Jz only
        else:
            arrays["dense"] = 1.5 * q  # equivariant, not orthonormal

    _rewrite(path, change)
    cache_clear()
    assert disk_cache._read(path, rep, "dense") is None
    again = np.asarray(equivariant_basis(rep))
    assert np.array_equal(again, truth)
    cache_clear()
    assert disk_cache._read(path, rep, "dense") is not None  # rewritten whole


def test_forged_orbit_file_is_recomputed(folder):
    W = cn.V(S(5))
    rep = W**2 >> W**2
    truth = np.asarray(equivariant_basis(rep))
    (path,) = files(folder)

    def change(arrays):
        rows = arrays["orbit_rows"].copy()
        rows[[0, -1]] = rows[[-1, 0]]  # swap two coordinates between orbits: still a partition, not invariant
        arrays["orbit_rows"] = rows

    _rewrite(path, change)
    cache_clear()
    assert disk_cache._read(path, rep, "orbit") is None
    assert np.array_equal(np.asarray(equivariant_basis(rep)), truth)


def test_forged_block_bundle_is_recomputed(folder):
    V = cn.V(SO(3))
    rep = (V**0 + V) >> (V + V**2)
    truth = np.asarray(equivariant_basis(rep))
    (path,) = [p for p in files(folder) if p.stem.endswith("-block")]
    _rewrite(path, lambda arrays: arrays.__setitem__("dense", np.roll(arrays["dense"], 1)))
    cache_clear()
    assert np.array_equal(np.asarray(equivariant_basis(rep)), truth)


def test_a_failed_write_leaves_no_partial_file(folder, monkeypatch):
    """Writes go to a temporary file renamed into place: a write that dies half-way leaves the target untouched."""
    rep = big_dense_rep()
    q = np.asarray(equivariant_basis(rep))
    (path,) = files(folder)
    good = path.read_bytes()
    real_savez = np.savez

    def dying_savez(fh, **arrays):
        real_savez(fh, **arrays)
        fh.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", dying_savez)
    disk_cache._write(path, rep, "dense", q)
    assert path.read_bytes() == good
    assert not [p for p in folder.iterdir() if p.suffix == ".tmp"]


def _write_many(folder, times):
    os.environ["CONSTRAINNET_CACHE_DIR"] = folder
    rep = big_dense_rep()
    q = np.asarray(equivariant_basis(rep))
    key = disk_cache.exact_key(rep)
    path = disk_cache._path(rep, "dense", key)
    for _ in range(times):
        disk_cache._write(path, rep, "dense", q, key=key)
    return True


@pytest.mark.slow
def test_readers_never_see_a_torn_file(folder):
    """Two processes rewrite one key over and over while this one reads: every read after the first write is whole."""
    rep = big_dense_rep()
    truth = np.asarray(equivariant_basis(rep))
    (path,) = files(folder)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        writers = pool.starmap_async(_write_many, [(str(folder), 40), (str(folder), 40)])
        reads = 0
        while not writers.ready() or reads < 20:
            got = disk_cache._read(path, rep, "dense")
            assert got is not None and np.array_equal(got, truth)
            reads += 1
        assert writers.get() == [True, True]
    assert len(files(folder)) == 1
    assert not [p for p in folder.iterdir() if p.suffix == ".tmp"]

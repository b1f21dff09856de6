"""Of several processes (or threads) missing one cache entry at once, one solves and the others wait and read its file."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import constrainnet as cn
from constrainnet.groups import SO
from constrainnet.solver import cache_clear, disk_cache
from constrainnet.solver.dense import dense_basis
from constrainnet.solver.file_lock import exclusive


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTRAINNET_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("CONSTRAINNET_CACHE", raising=False)
    cache_clear()
    yield tmp_path
    cache_clear()


def test_a_waiter_reads_the_holders_file_instead_of_solving(folder):
    V = cn.V(SO(3))
    rep = V**3 >> V**3  # 729 coordinates: cached on disk
    truth = np.asarray(dense_basis(rep))
    path = disk_cache._path(rep, "dense", disk_cache.exact_key(rep))
    calls, result = [], {}

    def compute():
        calls.append(1)
        return truth

    waiter = threading.Thread(target=lambda: result.setdefault("basis", disk_cache.load_or_compute(rep, "dense", compute)))
    with exclusive(path):  # this "process" is solving
        waiter.start()
        waiter.join(timeout=1.0)
        assert waiter.is_alive(), "the waiter did not wait for the lock"
        assert calls == []
        disk_cache._write(path, rep, "dense", truth)
    waiter.join(timeout=60)
    assert not waiter.is_alive()
    assert calls == []  # it read the file written under the lock
    np.testing.assert_array_equal(np.asarray(result["basis"]), truth)


def test_lock_is_released_when_the_body_raises(folder):
    path = folder / "entry.npz"
    with pytest.raises(RuntimeError):
        with exclusive(path):
            raise RuntimeError("solver failed")
    done = threading.Event()
    thread = threading.Thread(target=lambda: (exclusive(path).__enter__(), done.set()))
    thread.start()
    thread.join(timeout=30)
    assert done.is_set()


def test_read_only_folder_solves_without_a_lock(tmp_path):
    missing = tmp_path / "file-not-a-folder"
    missing.write_text("x")
    with exclusive(missing / "entry.npz"):  # its folder cannot be created: no lock, no error
        pass

"""A disk cache of solved leaf bases: versioned, keyed by digest, written atomically, verified on read.

Files live in ``$CONSTRAINNET_CACHE_DIR`` or else the user's cache directory
(``$XDG_CACHE_HOME/constrainnet``, ``~/.cache/constrainnet``; on Windows
``%LOCALAPPDATA%\\constrainnet``); ``CONSTRAINNET_CACHE=0`` turns the cache off.
Each basis is one ``.npz`` of plain arrays (never pickled), named by the
format version, the rep's digest (its structure and its group's generators)
and the strategy. A file is trusted only if it loads without pickle, carries
the same format version, digest, rep text and shape, and its checksum matches
its arrays; anything else — truncated, corrupt, stale or mismatched — is
ignored and the basis recomputed (and the file rewritten). Writes go to a
temporary file in the same folder and are renamed into place, so two
processes writing the same key leave one whole file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse

from ..reps import Rep

__all__ = ["CACHE_FORMAT_VERSION", "MIN_CACHED_SIZE", "cache_dir", "enabled", "load_or_compute"]

# Bumped whenever the canonical form or the file layout changes: old files are then never read.
CACHE_FORMAT_VERSION = 1

# Leaves smaller than this solve in well under a millisecond: not worth a file.
MIN_CACHED_SIZE = 256


def enabled() -> bool:
    """False when ``CONSTRAINNET_CACHE=0`` (or ``false``/``off``)."""
    return os.environ.get("CONSTRAINNET_CACHE", "1").strip().lower() not in ("0", "false", "off", "no")


def cache_dir() -> Path:
    """The folder of the disk cache (not created here)."""
    override = os.environ.get("CONSTRAINNET_CACHE_DIR")
    if override:
        return Path(override)
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "constrainnet"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "constrainnet"


def _path(rep: Rep, strategy: str) -> Path:
    return cache_dir() / f"v{CACHE_FORMAT_VERSION}-{rep.digest:016x}-{strategy}.npz"


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def _to_arrays(basis: Any) -> dict[str, np.ndarray]:
    if scipy.sparse.issparse(basis):
        csc = scipy.sparse.csc_matrix(basis)
        return {"data": csc.data, "indices": csc.indices.astype(np.int64), "indptr": csc.indptr.astype(np.int64), "shape": np.array(csc.shape, dtype=np.int64)}
    return {"dense": np.asarray(basis, dtype=np.float64)}


def _from_arrays(arrays: dict[str, np.ndarray]) -> Any:
    if "dense" in arrays:
        out = np.array(arrays["dense"], dtype=np.float64)
        out.setflags(write=False)
        return out
    shape = tuple(int(s) for s in arrays["shape"])
    return scipy.sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)


def _read(path: Path, rep: Rep, strategy: str) -> Any | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    meta = {k: stored.pop(k, None) for k in ("meta_version", "meta_digest", "meta_rep", "meta_strategy", "meta_checksum")}
    try:
        ok = (
            int(meta["meta_version"]) == CACHE_FORMAT_VERSION
            and str(meta["meta_digest"]) == f"{rep.digest:016x}"
            and str(meta["meta_rep"]) == repr(rep)
            and str(meta["meta_strategy"]) == strategy
            and str(meta["meta_checksum"]) == _checksum(stored)
        )
        basis = _from_arrays(stored) if ok else None
    except (TypeError, ValueError, KeyError):
        return None
    if basis is None or basis.shape[0] != rep.size:
        return None
    return basis


def _write(path: Path, rep: Rep, strategy: str, basis: Any) -> None:
    arrays = _to_arrays(basis)
    meta = {
        "meta_version": np.array(CACHE_FORMAT_VERSION),
        "meta_digest": np.array(f"{rep.digest:016x}"),
        "meta_rep": np.array(repr(rep)),
        "meta_strategy": np.array(strategy),
        "meta_checksum": np.array(_checksum(arrays)),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays, **meta)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        return  # a read-only or full disk only costs the cache, never the solve


def load_or_compute(rep: Rep, strategy: str, compute: Callable[[], Any]) -> Any:
    """The basis of ``rep`` by ``strategy`` from the disk cache, or computed (and stored).

    Reps smaller than :data:`MIN_CACHED_SIZE` and a disabled cache go straight to ``compute``.
    """
    if not enabled() or rep.size < MIN_CACHED_SIZE:
        return compute()
    path = _path(rep, strategy)
    basis = _read(path, rep, strategy)
    if basis is not None:
        return basis
    basis = compute()
    _write(path, rep, strategy, basis)
    return basis

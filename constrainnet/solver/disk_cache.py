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

import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse

from ..reps import Rep

__all__ = ["CACHE_FORMAT_VERSION", "MIN_CACHED_SIZE", "cache_dir", "enabled", "load_or_compute", "load_or_compute_all"]

# Bumped whenever the canonical form or the file layout changes: old files are then never read.
CACHE_FORMAT_VERSION = 2  # 2: CRC-32 checksums, orbit bases stored as their row indices only

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
    # CRC-32 detects the damage a cache meets (truncation, bit rot, a torn write)
    # at several GB/s; the file is not a security boundary (it is never unpickled)
    crc = 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(name.encode() + str(a.dtype).encode() + str(a.shape).encode(), crc)
        crc = zlib.crc32(memoryview(a).cast("B") if a.size else b"", crc)
    return f"{crc:08x}"


def _is_orbit_basis(csc: scipy.sparse.csc_matrix) -> bool:
    """One entry per row, each 1/sqrt(its column's size): normalised orbit indicators."""
    if csc.nnz != csc.shape[0]:
        return False
    sizes = np.diff(csc.indptr)
    return bool(np.array_equal(csc.data, np.repeat(1.0 / np.sqrt(sizes), sizes)))


def _to_arrays(basis: Any, prefix: str = "") -> dict[str, np.ndarray]:
    if scipy.sparse.issparse(basis):
        csc = scipy.sparse.csc_matrix(basis)
        if _is_orbit_basis(csc) and csc.shape[0] < 2**31:
            # the values follow from the column sizes: store the row indices only
            arrays = {"orbit_rows": csc.indices.astype(np.int32), "orbit_indptr": csc.indptr.astype(np.int64)}
            return {prefix + k: v for k, v in arrays.items()}
        arrays = {"data": csc.data, "indices": csc.indices.astype(np.int64), "indptr": csc.indptr.astype(np.int64), "shape": np.array(csc.shape, dtype=np.int64)}
    else:
        arrays = {"dense": np.asarray(basis, dtype=np.float64)}
    return {prefix + k: v for k, v in arrays.items()}


def _from_arrays(arrays: dict[str, np.ndarray], prefix: str = "") -> Any:
    if prefix + "orbit_rows" in arrays:
        rows, indptr = arrays[prefix + "orbit_rows"], arrays[prefix + "orbit_indptr"]
        sizes = np.diff(indptr)
        if len(rows) != indptr[-1] or np.any(sizes <= 0):
            raise ValueError("orbit basis: inconsistent row indices and column pointers")
        data = np.repeat(1.0 / np.sqrt(sizes), sizes)
        return scipy.sparse.csc_matrix((data, rows, indptr), shape=(len(rows), len(sizes)))
    if prefix + "dense" in arrays:
        out = np.asarray(arrays[prefix + "dense"], dtype=np.float64)  # freshly read: no copy
        out.setflags(write=False)
        return out
    shape = tuple(int(s) for s in arrays[prefix + "shape"])
    return scipy.sparse.csc_matrix((arrays[prefix + "data"], arrays[prefix + "indices"], arrays[prefix + "indptr"]), shape=shape)


def _bundle_to_arrays(solved: list[tuple[Any, str]]) -> dict[str, np.ndarray]:
    """Leaf bases as a few flat arrays (each member of an .npz costs a read): dense values
    concatenated, sparse ones as concatenated CSC parts, with per-leaf shapes and offsets."""
    kinds, shapes, hows = [], [], []
    dense, data, indices, indptr = [], [], [], []
    for basis, how in solved:
        shapes.append(basis.shape)
        hows.append(how)
        if scipy.sparse.issparse(basis):
            csc = scipy.sparse.csc_matrix(basis)
            kinds.append((1, csc.nnz))
            data.append(csc.data)
            indices.append(csc.indices.astype(np.int64))
            indptr.append(csc.indptr.astype(np.int64))
        else:
            kinds.append((0, int(np.prod(basis.shape))))
            dense.append(np.asarray(basis, dtype=np.float64).ravel())

    def cat(parts: list, dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return {
        "kinds": np.array(kinds, dtype=np.int64).reshape(-1, 2),
        "shapes": np.array(shapes, dtype=np.int64).reshape(-1, 2),
        "hows": np.array(hows, dtype=str),
        "dense": cat(dense, np.float64),
        "data": cat(data, np.float64),
        "indices": cat(indices, np.int64),
        "indptr": cat(indptr, np.int64),
    }


def _bundle_from_arrays(arrays: dict[str, np.ndarray]) -> list[tuple[Any, str]]:
    out = []
    at = {"dense": 0, "data": 0, "indptr": 0}
    for (kind, count), (rows, cols), how in zip(arrays["kinds"], arrays["shapes"], arrays["hows"]):
        rows, cols, count = int(rows), int(cols), int(count)
        if kind == 0:
            q = np.array(arrays["dense"][at["dense"] : at["dense"] + count]).reshape(rows, cols)
            q.setflags(write=False)
            at["dense"] += count
        else:
            data = arrays["data"][at["data"] : at["data"] + count]
            indices = arrays["indices"][at["data"] : at["data"] + count]
            indptr = arrays["indptr"][at["indptr"] : at["indptr"] + cols + 1]
            q = scipy.sparse.csc_matrix((data, indices, indptr), shape=(rows, cols))
            at["data"] += count
            at["indptr"] += cols + 1
        out.append((q, str(how)))
    return out


def _read(path: Path, rep: Rep, strategy: str, decode: Callable[[dict], Any] = _from_arrays) -> Any | None:
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
        basis = decode(stored) if ok else None
    except (TypeError, ValueError, KeyError):
        return None
    if basis is None or (hasattr(basis, "shape") and basis.shape[0] != rep.size):
        return None
    return basis


def _write(path: Path, rep: Rep, strategy: str, basis: Any, encode: Callable[[Any], dict] = _to_arrays) -> None:
    arrays = encode(basis)
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


def load_or_compute_all(rep: Rep, strategy: str, sizes: list[int], compute: Callable[[], list]) -> list:
    """All the leaf bases of a structured rep in one file (one read for the whole rep), or computed.

    Used by the block strategy: every leaf of ``rep`` (of whatever size) is
    stored, with the name of the strategy that solved it, in one ``.npz``
    keyed by ``rep``, so a new process reads one file instead of solving the
    small leaves again. ``compute`` returns ``[(basis, strategy), ...]``;
    ``sizes`` are the leaves' sizes, checked against the stored row counts.
    """
    if not enabled():
        return compute()
    path = _path(rep, strategy)

    def decode(arrays: dict) -> list | None:
        solved = _bundle_from_arrays(arrays)
        return solved if [b.shape[0] for b, _ in solved] == list(sizes) else None

    bases = _read(path, rep, strategy, decode)
    if bases is not None:
        return bases
    bases = compute()
    _write(path, rep, strategy, bases, _bundle_to_arrays)
    return bases

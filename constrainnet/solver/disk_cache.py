"""A disk cache of solved leaf bases: versioned, keyed by exact generators, written atomically, verified on read.

Files live in ``$CONSTRAINNET_CACHE_DIR`` or else the user's cache directory
(``$XDG_CACHE_HOME/constrainnet``, ``~/.cache/constrainnet``; on Windows
``%LOCALAPPDATA%\\constrainnet``); ``CONSTRAINNET_CACHE=0`` turns the cache off.
Each basis is one ``.npz`` of plain arrays (never pickled), named by the
format version, the rep's exact key and its digest, and the strategy.

The exact key (:func:`exact_key`) hashes the rep's structure with the exact
float64 bytes of every group generator (little-endian, ``-0.0`` read as
``0.0``, the one value two bit patterns share). The rep's ``digest`` rounds
generators to 12 decimals (so a layer's fingerprint survives the last bit of
a cos/sin), which would give ``Group(lie_algebra=[1e-13 * Jx])`` and
``Group(lie_algebra=[1e-13 * Jz])`` one key: the cache never keys by it alone.

A file is trusted only if it loads without pickle, carries the same format
version, exact key, rep text and shape, its checksum matches its arrays, and
— since anyone can write a file with a matching checksum — its content passes
``verify`` (by default: the basis satisfies the constraints on the
generators and is orthonormal, :func:`constrainnet.solver.verify.basis_defect`).
Anything else — truncated, corrupt, stale, forged or mismatched — is ignored
and the basis recomputed (and the file rewritten). Writes go to a temporary
file in the same folder and are renamed into place (``os.replace``), so two
processes writing the same key leave one whole file and a reader never sees
a partial one; and a process that misses takes a lock on the entry
(:mod:`constrainnet.solver.file_lock`) before solving, so of several
processes that need one basis at once (the ranks of a ``torchrun`` job) one
solves and the others wait and read its file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse

from ..groups import Group
from ..reps import Rep
from .file_lock import exclusive
from .verify import basis_defect

__all__ = [
    "BASIS_STRATEGIES",
    "CACHE_FORMAT_VERSION",
    "MIN_CACHED_SIZE",
    "cache_dir",
    "enabled",
    "exact_key",
    "load_or_compute",
    "load_or_compute_all",
]

# Bumped whenever the canonical form, the key or the file layout changes: old files are then never read.
# 2: CRC-32 checksums, orbit bases stored as their row indices only; 3: keyed by exact generator bytes
CACHE_FORMAT_VERSION = 3

# Strategies whose values are bases of the rep: checked by basis_defect on read unless the caller passes verify.
BASIS_STRATEGIES = ("dense", "orbit", "iterative", "product")

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


def _update_group(h: "hashlib._Hash", G: Group) -> None:
    h.update(f"<{type(G).__name__} d={G.d}".encode())
    parts = list(getattr(G, "factors", ()))
    parent = getattr(G, "parent", None)
    if isinstance(parent, Group):
        parts.append(parent)
    for part in parts:
        _update_group(h, part)
    perms = G.permutations
    if perms is not None:
        arrays = [("perm", np.ascontiguousarray(perms, dtype="<i8"))]
    else:
        arrays = [("gens", np.ascontiguousarray(G.discrete_generators + 0.0, dtype="<f8"))]
    arrays.append(("lie", np.ascontiguousarray(G.lie_algebra + 0.0, dtype="<f8")))  # + 0.0: -0.0 becomes 0.0
    for name, a in arrays:
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    h.update(b">")


def _update_key(h: "hashlib._Hash", key: object) -> None:
    if isinstance(key, tuple):
        h.update(b"(")
        for k in key:
            _update_key(h, k)
        h.update(b")")
    elif isinstance(key, Group):
        _update_group(h, key)
    else:
        h.update(repr(key).encode() + b",")


def exact_key(rep: Rep) -> str:
    """A hex SHA-256 of the rep's structure and the exact bytes of its groups' generators.

    Unlike ``rep.digest`` (generators rounded to 12 decimals), two reps get
    one key only when their generators are bit for bit equal (up to the sign
    of zero): the key of the disk cache.

    Example:
        >>> import numpy as np, constrainnet as cn
        >>> from constrainnet.groups import Group
        >>> Jx, Jz = np.zeros((3, 3)), np.zeros((3, 3))
        >>> Jx[1, 2], Jx[2, 1], Jz[0, 1], Jz[1, 0] = -1, 1, -1, 1
        >>> a, b = (cn.V(Group(lie_algebra=[1e-13 * J])) ** 2 for J in (Jx, Jz))
        >>> a.digest == b.digest, exact_key(a) == exact_key(b)
        (True, False)
    """
    h = hashlib.sha256()
    _update_key(h, rep._key())
    return h.hexdigest()


def _path(rep: Rep, strategy: str, key: str) -> Path:
    return cache_dir() / f"v{CACHE_FORMAT_VERSION}-{key[:16]}-{rep.digest:016x}-{strategy}.npz"


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


def _read(
    path: Path,
    rep: Rep,
    strategy: str,
    decode: Callable[[dict], Any] = _from_arrays,
    verify: Callable[[Any], bool] | None = None,
    key: str | None = None,
) -> Any | None:
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    meta = {k: stored.pop(k, None) for k in ("meta_version", "meta_key", "meta_rep", "meta_strategy", "meta_checksum")}
    key = exact_key(rep) if key is None else key
    try:
        ok = (
            int(meta["meta_version"]) == CACHE_FORMAT_VERSION
            and str(meta["meta_key"]) == key
            and str(meta["meta_rep"]) == repr(rep)
            and str(meta["meta_strategy"]) == strategy
            and str(meta["meta_checksum"]) == _checksum(stored)
        )
        basis = decode(stored) if ok else None
    except (TypeError, ValueError, KeyError):
        return None
    if basis is None or (hasattr(basis, "shape") and basis.shape[0] != rep.size):
        return None
    if verify is None and strategy in BASIS_STRATEGIES:
        verify = lambda q: basis_defect(rep, q) is None  # noqa: E731
    return basis if verify is None or verify(basis) else None


def _write(path: Path, rep: Rep, strategy: str, basis: Any, encode: Callable[[Any], dict] = _to_arrays, key: str | None = None) -> None:
    arrays = encode(basis)
    meta = {
        "meta_version": np.array(CACHE_FORMAT_VERSION),
        "meta_key": np.array(exact_key(rep) if key is None else key),
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


def load_or_compute(rep: Rep, strategy: str, compute: Callable[[], Any], *, verify: Callable[[Any], bool] | None = None) -> Any:
    """The basis of ``rep`` by ``strategy`` from the disk cache, or computed (and stored).

    Reps smaller than :data:`MIN_CACHED_SIZE` and a disabled cache go straight to ``compute``.

    Args:
        rep: the rep, whose :func:`exact_key` names the file.
        strategy: the strategy's name, part of the file name.
        compute: returns the value on a miss (a basis: an array or scipy.sparse matrix).
        verify: ``verify(value)`` is True when a value read from disk may be
            used. ``None``: for a strategy of :data:`BASIS_STRATEGIES` the value
            is checked as a basis of ``rep``
            (:func:`~constrainnet.solver.verify.basis_defect`); any other
            value is returned after the file's own checks only, and the
            caller must certify it before use.

    Returns:
        The value, read from a file that passed every check, or computed.
    """
    if not enabled() or rep.size < MIN_CACHED_SIZE:
        return compute()
    key = exact_key(rep)
    path = _path(rep, strategy, key)
    basis = _read(path, rep, strategy, verify=verify, key=key)
    if basis is not None:
        return basis
    with exclusive(path):  # one process solves; the others wait here, then read its file
        basis = _read(path, rep, strategy, verify=verify, key=key)
        if basis is None:
            basis = compute()
            _write(path, rep, strategy, basis, key=key)
    return basis


def load_or_compute_all(
    rep: Rep,
    strategy: str,
    sizes: list[int],
    compute: Callable[[], list],
    *,
    verify: Callable[[list], bool] | None = None,
) -> list:
    """All the leaf bases of a structured rep in one file (one read for the whole rep), or computed.

    Used by the block strategy: every leaf of ``rep`` (of whatever size) is
    stored, with the name of the strategy that solved it, in one ``.npz``
    keyed by ``rep``, so a new process reads one file instead of solving the
    small leaves again. ``compute`` returns ``[(basis, strategy), ...]``;
    ``sizes`` are the leaves' sizes, checked against the stored row counts.

    Args:
        verify: ``verify([(basis, strategy), ...])`` is True when the bases
            read from disk may be used; ``None`` checks each as a basis of the
            corresponding leaf of :func:`~constrainnet.solver.blocks.block_structure`.
    """
    if not enabled():
        return compute()
    key = exact_key(rep)
    path = _path(rep, strategy, key)

    def decode(arrays: dict) -> list | None:
        solved = _bundle_from_arrays(arrays)
        return solved if [b.shape[0] for b, _ in solved] == list(sizes) else None

    if verify is None:
        verify = lambda solved: _leaves_verified(rep, solved)  # noqa: E731
    bases = _read(path, rep, strategy, decode, verify, key)
    if bases is not None:
        return bases
    with exclusive(path):  # one process solves; the others wait here, then read its file
        bases = _read(path, rep, strategy, decode, verify, key)
        if bases is None:
            bases = compute()
            _write(path, rep, strategy, bases, _bundle_to_arrays, key)
    return bases


def _leaves_verified(rep: Rep, solved: list) -> bool:
    from .blocks import block_structure

    leaves = [b.leaf for b in block_structure(rep)]
    return len(leaves) == len(solved) and all(basis_defect(leaf, q) is None for leaf, (q, _) in zip(leaves, solved))

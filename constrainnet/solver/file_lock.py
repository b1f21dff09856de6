"""An exclusive lock between processes on one cache entry, so that one process solves and the others wait and read.

Several processes that need the same basis at once (the ranks of a
``torchrun`` job on one machine, parallel test workers) would each solve it
and each write it. With :func:`exclusive` around "read again, else solve and
write", the first one solves while the others wait on the lock and then find
the file. The lock is POSIX ``flock`` on a ``.lock`` file beside the entry:
the kernel releases it when its holder exits or is killed, so a crashed
solver never blocks the others. Where ``flock`` is unavailable (Windows) or
the folder is read-only, the lock is skipped: every process then solves
itself, which costs time but never correctness (writes are atomic renames).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> entry = Path(tempfile.mkdtemp()) / "basis.npz"
    >>> with exclusive(entry):
    ...     _ = entry.write_bytes(b"solved")
    >>> entry.read_bytes()
    b'solved'
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

__all__ = ["exclusive"]


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (its ``<name>.lock`` sibling) for the body of the ``with``.

    Args:
        path: the cache entry to guard (need not exist; its folder is created).
    """
    try:
        import fcntl
    except ImportError:  # no flock here: unguarded, still correct
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent / (path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only cache folder
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

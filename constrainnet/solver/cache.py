"""A bounded, clearable in-memory cache of solved bases, keyed by rep value."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

__all__ = ["BoundedCache"]


class BoundedCache:
    """A least-recently-used map of at most ``maxsize`` entries.

    Keys are values (reps and strategy names), never ``id``s or ``hash()``
    of strings, so a rep built twice finds the same entry.
    """

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value for ``key``, computing and storing it on a miss."""
        if key in self._data:
            self.hits += 1
            self._data.move_to_end(key)
            return self._data[key]
        self.misses += 1
        value = compute()
        self._data[key] = value
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        self._data.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def info(self) -> dict:
        """Hits, misses, current and maximum size."""
        return {"hits": self.hits, "misses": self.misses, "size": len(self._data), "maxsize": self.maxsize}

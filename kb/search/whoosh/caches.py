"""The engine's process-wide caches: cachetools LRU caches, one lock each, bounded by
kb.config.SEARCH_CACHES (the one place their sizes are set; ``configure`` applies an
instance's own bounds, SEARCH_CACHE_MB for the arrays)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

from kb.config import SEARCH_CACHES

V = TypeVar("V")


# Seconds a thread waits for another one building the value it wants before building it
# too (a safeguard: builds take milliseconds to a few seconds, and never wait on each other
# in a cycle, but a stuck one must not stop every search behind it).
BUILD_WAIT = 30.0

# Every cache made, by name (one each).
_made: dict[str, Cache[Any]] = {}


class Cache(Generic[V]):
    """An LRU cache shared by threads: ``get`` / ``put`` / ``get_or_build`` under one lock.
    ``build`` runs outside it, once for threads asking for the same key at the same time:
    the others wait for that value (after a restart, the first searches on several
    threads at once would otherwise each build the same facet arrays, all of them slowed
    down, and meet the search time limit)."""

    def __init__(self, name: str, getsizeof: Callable[[Any], int] | None = None) -> None:
        self.name = name
        self._getsizeof = getsizeof
        self._items: LRUCache[Hashable, V] = LRUCache(SEARCH_CACHES[name], getsizeof=getsizeof)
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Event] = {}
        _made[name] = self

    @property
    def bound(self) -> int:
        """The cache's bound: bytes for a cache with a getsizeof, else entries."""
        return int(self._items.maxsize)

    def resize(self, bound: int) -> None:
        """Bound the cache anew (emptied when the bound changes)."""
        with self._lock:
            if bound != self._items.maxsize:
                self._items = LRUCache(bound, getsizeof=self._getsizeof)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            return self._items.get(key)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key not in self._items:
                # A value larger than the whole cache is not kept (ValueError).
                with contextlib.suppress(ValueError):
                    self._items[key] = value

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        waited = False
        while True:
            with self._lock:
                if key in self._items:
                    return self._items[key]
                building = self._building.get(key)
                if building is None or waited:
                    mine = building is None
                    if mine:
                        building = self._building[key] = threading.Event()
                    break
            # Another thread builds it: its value, once there (or, if it failed or the
            # value was not kept, this thread's turn to build).
            waited = not building.wait(BUILD_WAIT)
        try:
            value = build()
            self.put(key, value)
        finally:
            if mine:
                assert building is not None
                with self._lock:
                    self._building.pop(key, None)
                building.set()
        return value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)


def configure(bounds: Mapping[str, int]) -> None:
    """Apply an instance's bounds to the caches they name (the others keep theirs)."""
    unknown = set(bounds) - set(_made)
    if unknown:
        raise ValueError(f"no search cache named {', '.join(sorted(unknown))}")
    for name, bound in bounds.items():
        if bound < 1:
            raise ValueError(f"the bound of the {name} search cache must be positive, "
                             f"not {bound}")
        _made[name].resize(bound)


def bounds() -> dict[str, int]:
    """Each cache's bound now, by name."""
    return {name: cache.bound for name, cache in sorted(_made.items())}

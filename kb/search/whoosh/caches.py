"""The engine's process-wide caches: cachetools LRU caches, one lock each, bounded by
kb.config.SEARCH_CACHES (the one place their sizes are set)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

from kb.config import SEARCH_CACHES

V = TypeVar("V")


class Cache(Generic[V]):
    """An LRU cache shared by threads: ``get`` / ``put`` / ``get_or_build`` under one lock
    (``build`` runs outside it: two threads may build the same value, one is kept)."""

    def __init__(self, name: str, getsizeof: Callable[[Any], int] | None = None) -> None:
        self.name = name
        self._items: LRUCache[Hashable, V] = LRUCache(SEARCH_CACHES[name], getsizeof=getsizeof)
        self._lock = threading.Lock()

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
        with self._lock:
            if key in self._items:
                return self._items[key]
        value = build()
        self.put(key, value)
        return value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

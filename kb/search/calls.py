"""How many times the engine really searched, by kind, in this process: what a page costs
(a document page: at most one search for its snippets, none for similar documents already
found). The engine counts; kb.search.engine_calls reads. No engine imported here."""

from __future__ import annotations

import threading
from collections import Counter

_calls: Counter[str] = Counter()
_lock = threading.Lock()


def count(kind: str) -> None:
    with _lock:
        _calls[kind] += 1


def snapshot() -> dict[str, int]:
    with _lock:
        return dict(_calls)

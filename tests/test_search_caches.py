"""The engine's caches (kb.search.whoosh.caches) shared by a web worker's threads: a value
several threads ask for at once is built once (after a restart the first searches arrive
together, and each building the same facet arrays slowed them all past the time limit)."""

from __future__ import annotations

import threading

import pytest

from kb import config, search
from kb.extensions import db
from kb.search.whoosh.caches import Cache
from tests.conftest import make_app, same_instance

THREADS = 8


def test_threads_asking_for_the_same_value_at_once_build_it_once():
    cache: Cache[object] = Cache("facet")
    builds = 0
    changed = threading.Condition()

    def build() -> object:
        nonlocal builds
        with changed:
            builds += 1
            changed.notify_all()
            # Held until every thread has started a build of its own, which only happens
            # when they do not wait for this one (bounded, so the fixed cache passes).
            changed.wait_for(lambda: builds >= THREADS, timeout=2)
        return object()

    start = threading.Barrier(THREADS)
    got: list[object] = []

    def ask() -> None:
        start.wait()
        got.append(cache.get_or_build("key", build))

    workers = [threading.Thread(target=ask) for _ in range(THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert builds == 1
    assert len(got) == THREADS and all(value is got[0] for value in got)


def test_a_failed_build_leaves_the_next_caller_to_build():
    cache: Cache[str] = Cache("facet")

    def fail() -> str:
        raise OSError("disk")

    with pytest.raises(OSError):
        cache.get_or_build("key", fail)
    assert cache.get_or_build("key", lambda: "built") == "built"
    assert cache.get("key") == "built"


QUERIES = ("remittances", "remit*", "diaspora OR remittances", "remitances~1",
           "\"seasonal workers\"")


def test_an_instance_bounds_its_search_memory(app, client, upload, process, tmp_path,
                                              database_url):
    """SEARCH_CACHE_MB bounds the arrays each process keeps; searches answer the same
    whatever it is, even when it is too small to keep anything at all."""
    for n, text in enumerate(("Remittances from the diaspora to Moldova.",
                              "Seasonal workers send remittances home.",
                              "Diaspora engagement in Serbia.")):
        assert upload(text.encode(), f"d{n}.txt", title=f"Report {n}").status_code == 201
    process()
    assert search.cache_bounds()["arrays"] == config.SEARCH_CACHE_MB_DEFAULT * 1024 * 1024

    def answers(of):
        return [of.get("/api/v1/search", query_string={"q": q}).json for q in QUERIES]

    roomy = answers(client)
    assert all(a["total"] for a in roomy), roomy
    tiny = same_instance(app, SEARCH_CACHE_MB=0.0001)  # 104 bytes: no entry fits
    try:
        assert search.cache_bounds()["arrays"] == 104
        assert answers(tiny.test_client()) == roomy
    finally:
        with tiny.app_context():  # its own engine: no connection left open
            db.engine.dispose()
    with pytest.raises(ValueError, match="SEARCH_CACHE_MB must be a positive number"):
        make_app(tmp_path / "other", database_url, SEARCH_CACHE_MB=0)

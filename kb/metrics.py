"""Prometheus metrics for `GET /metrics`: counters the web processes keep (uploads,
downloads, searches, search time) and gauges read from the database and the index when
the page is scraped (documents, jobs, failures, index segments), so that they are right
whichever process answers.

Under `kb serve` the counters live in files of a folder under the instance
(``PROMETHEUS_MULTIPROC_DIR``, prometheus-client's multi-process mode) that every gunicorn
worker writes and any of them reads back; elsewhere (tests, the Flask development server)
each app keeps them in its own registry. prometheus-client picks the mode when a metric is
created, so they are made on first use, never at import.
"""

from __future__ import annotations

import functools
import hmac
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

from flask import current_app
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Select, func, select

from kb import context, search
from kb.errors import IndexUnavailable
from kb.extensions import db
from kb.models import Document, Job, utcnow

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a warm plain-word search (a few ms) to the 2 s SEARCH_TIME_LIMIT and past.
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# How a request came in: the web pages or the JSON API.
VIA = ("web", "api")
STATUSES = ("processing", "ready", "failed")
WORKFLOWS = ("submitted", "published", "returned", "withdrawn")

_lock = threading.Lock()
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class WebMetrics:
    """The counters of one app's web process."""

    registry: CollectorRegistry
    uploads: Counter
    downloads: Counter
    searches: Counter
    search_seconds: Histogram


def multiprocess_dir() -> str | None:
    """The folder of the multi-process counters, when `kb serve` set one."""
    return os.environ.get(MULTIPROC_ENV) or None


def use_multiprocess(folder: Path) -> None:
    """Empty ``folder`` and keep this process's counters (and its children's) there; call
    before gunicorn forks its workers and before the first metric is made."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    # prometheus-client chose its value class when first imported (create_app had
    # imported it already): choose again now that the folder is set.
    values.ValueClass = values.get_value_class()


def process_ended(pid: int) -> None:
    """Drop a dead web worker's live gauges (a gunicorn ``child_exit`` hook); its counters
    stay, so that totals never go down."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(pid, folder)


def web_metrics() -> WebMetrics:
    """This app's counters, made on first use."""
    found: WebMetrics | None = current_app.extensions.get("kb_metrics")
    if found is not None:
        return found
    with _lock:
        found = current_app.extensions.get("kb_metrics")
        if found is None:
            found = _make()
            current_app.extensions["kb_metrics"] = found
    return found


def _make() -> WebMetrics:
    registry = CollectorRegistry()
    made = WebMetrics(
        registry=registry,
        uploads=Counter("kb_uploads", "Files uploaded and stored (duplicates refused are "
                        "not counted), by web page or API.", ["via"], registry=registry),
        downloads=Counter("kb_downloads", "Original files downloaded (a range request for a "
                          "later part of a file is not a new download).", registry=registry),
        searches=Counter("kb_searches", "Searches asked for on the search page or the API.",
                         ["via"], registry=registry),
        search_seconds=Histogram(
            "kb_search_seconds", "Time of each full-text search, from the query to the "
            "database rows of its hits (search page, API, and a document page's snippets).",
            buckets=SEARCH_BUCKETS, registry=registry),
    )
    for via in VIA:  # every series present from the start, at 0
        made.uploads.labels(via=via)
        made.searches.labels(via=via)
    if multiprocess_dir() is None:
        registry.register(StateCollector())
    return made


def count_upload(via: str) -> None:
    """One more upload stored (``via``: "web" or "api")."""
    web_metrics().uploads.labels(via=via).inc()


def count_download() -> None:
    """One more original file downloaded."""
    web_metrics().downloads.inc()


def count_search(via: str) -> None:
    """One more search asked for (``via``: "web" or "api")."""
    web_metrics().searches.labels(via=via).inc()


def timed_search(function: Callable[P, R]) -> Callable[P, R]:
    """Observe the time of each call of a search function, finished or not (a timeout
    included)."""

    @functools.wraps(function)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        with web_metrics().search_seconds.time():
            return function(*args, **kwargs)

    return timed


class StateCollector(Collector):
    """Gauges counted at scrape time from the database and the index."""

    def collect(self) -> Iterable[Metric]:
        yield _by("kb_documents_by_status", "Documents by processing status.", "status",
                  STATUSES, select(Document.status, func.count()).group_by(Document.status))
        yield _by("kb_documents_by_workflow", "Documents by review workflow state.",
                  "workflow", WORKFLOWS,
                  select(Document.workflow, func.count()).group_by(Document.workflow))
        yield _by("kb_extraction_failures", "Documents whose extraction failed now, by "
                  "error code (a re-extraction that succeeds takes one off).", "error_code",
                  (), select(func.coalesce(Document.error_code, "unknown"), func.count())
                  .where(Document.status == "failed").group_by(Document.error_code))
        now = utcnow()
        jobs = {state: int(n) for state, n in db.session.execute(
            select(Job.state, func.count()).where(Job.state.in_(("queued", "running")))
            .group_by(Job.state))}
        yield GaugeMetricFamily("kb_jobs_queued", "Background jobs waiting for a worker "
                                "(retries waiting for their time included).",
                                value=jobs.get("queued", 0))
        yield GaugeMetricFamily("kb_jobs_running", "Background jobs a worker holds now.",
                                value=jobs.get("running", 0))
        oldest = db.session.scalar(select(func.min(Job.run_after)).where(
            Job.state == "queued", Job.run_after <= now))
        waited = (now - oldest) if oldest is not None else timedelta(0)
        yield GaugeMetricFamily("kb_jobs_oldest_queued_seconds", "Seconds the oldest job "
                                "due to run has waited for a worker (0: none waits).",
                                value=max(waited.total_seconds(), 0.0))
        try:
            segments = search.segment_count(context.index_dir())
        except IndexUnavailable:
            return  # no index: /healthz says why; the gauge is left out
        yield GaugeMetricFamily("kb_index_segments", "Segments of the search index (uploads "
                                "add small ones that merges gather).", value=segments)


def _by(name: str, documentation: str, label: str, known: Iterable[str],
        query: Select[str, int]) -> GaugeMetricFamily:
    counts = {str(k): int(n) for k, n in db.session.execute(query)}
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key in sorted({*known, *counts}):
        family.add_metric([key], counts.get(key, 0))
    return family


def exposition() -> bytes:
    """The metrics page: every process's counters and the gauges, in Prometheus's format."""
    mine = web_metrics()
    if multiprocess_dir() is None:
        return generate_latest(mine.registry)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(StateCollector())
    return generate_latest(registry)


def is_metrics_token(token: str) -> bool:
    """Whether ``token`` is the scrapers' METRICS_TOKEN (compared in constant time)."""
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return False
    return hmac.compare_digest(token.encode(), str(expected).encode())

"""The background worker: runs queued extraction and indexing jobs until stopped."""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

from flask import Flask

from kb.extensions import db
from kb.services import documents, isolation, leftovers, processing

log = logging.getLogger(__name__)


def run(app: Flask, *, once: bool = False) -> int:
    """Poll for jobs; with ``once`` stop when the queue is empty. Returns jobs run."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    if not once:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    name = documents.worker_name("worker")
    total = 0
    poll = float(app.config["WORKER_POLL_SECONDS"])
    batch = int(app.config["WORKER_BATCH"])
    while not stopping:
        with app.app_context():
            try:
                leftovers.sweep_when_due()  # at start, then hourly
                sandbox = isolation.shared_sandbox(isolation.limits_from(app.config))
                extractor = processing.configured_extractor(sandbox.run, app.config)
                ran = processing.process_pending(name, batch, extractor=extractor)
            except Exception:  # the worker loop is a process boundary: log, keep going
                log.exception("worker: a batch failed; its jobs will be retried")
                db.session.rollback()
                ran = 0
            finally:
                db.session.remove()
        total += ran
        if once:
            break
        if not ran:
            time.sleep(poll)
    return total

"""The background worker: runs queued extraction and indexing jobs until stopped.

Two lanes share the process: text (extract and index, in batches, the only index writer)
and OCR (one scanned PDF at a time, in a thread of its own), so that a slow or stuck scan
never holds up the text of other uploads. A heartbeat thread marks the worker and its
claimed jobs alive; jobs of a worker that died are given back by the next one.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

from flask import Flask

from kb.extensions import db
from kb.services import isolation, leftovers, processing, queue

log = logging.getLogger(__name__)

# Seconds a stopping worker waits for the OCR lane to end its current file.
OCR_STOP_WAIT = 5.0


def run(app: Flask, *, once: bool = False, parent: int | None = None) -> int:
    """Poll for jobs; with ``once`` stop when the queue is empty. Returns jobs run.

    With ``parent`` (the process id of `kb serve`), stop when that process ends."""
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    if not once:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    if parent is not None:
        queue.exit_with_parent(signal.SIGTERM)
        if os.getppid() != parent:  # it ended before we asked to be told
            return 0
    text_owner, ocr_owner = queue.this_process("worker"), queue.this_process("ocr")
    stale = float(app.config["WORKER_STALE_SECONDS"])
    with app.app_context():
        worker_id = queue.register(text_owner)
        log.info("worker started: process %s on %s%s", text_owner.pid, text_owner.host,
                 " (until the queue is empty)" if once else "")
        try:
            leftovers.sweep_when_due()  # at start (then hourly, from the text lane)
        except Exception:  # a process boundary: the sweep is housekeeping, never fatal
            log.exception("worker: the sweep of leftover files failed")
        db.session.remove()
    try:
        with queue.Heartbeat(app, [text_owner, ocr_owner], queue.beat_interval(stale),
                             worker_id):
            if once:
                total = _drain(app, text_owner, ocr_owner)
            else:
                lane = threading.Thread(target=_ocr_lane, args=(app, ocr_owner, stopping),
                                        name="kb-ocr-lane", daemon=True)
                lane.start()
                total = _text_lane(app, text_owner, stopping, parent)
                stopping.set()
                lane.join(timeout=OCR_STOP_WAIT)
            log.info("worker stopped: %d jobs run", total)
            return total
    finally:
        with app.app_context():
            queue.unregister(worker_id)
            db.session.remove()


def _text_lane(app: Flask, owner: queue.Owner, stopping: threading.Event,
               parent: int | None) -> int:
    """Extract and index batches until stopped."""
    total = 0
    poll = float(app.config["WORKER_POLL_SECONDS"])
    batch = int(app.config["WORKER_BATCH"])
    settings = processing.ocr_settings(app.config)
    failure: Exception | None = None
    while not stopping.is_set():
        if parent is not None and os.getppid() != parent:
            log.warning("worker: kb serve (process %s) has ended; stopping", parent)
            break
        with app.app_context():
            try:
                leftovers.sweep_when_due()  # hourly (the first ran at start)
                if failure is not None:  # jobs a failed batch could not put back itself
                    processing.give_back_held(owner, failure)
                sandbox = isolation.shared_sandbox(isolation.limits_from(app.config))
                ran = processing.process_batch(owner, batch, sandbox.run, settings)
                failure = None
            except Exception as e:  # the worker loop is a process boundary: log, keep going
                log.exception("worker: a batch failed; its jobs are back in the queue")
                db.session.rollback()
                failure, ran = e, 0
            finally:
                db.session.remove()
        total += ran
        if not ran:
            stopping.wait(poll)
    return total


def _ocr_lane(app: Flask, owner: queue.Owner, stopping: threading.Event) -> None:
    """Read scanned PDFs by OCR, one at a time, until stopped."""
    poll = float(app.config["WORKER_POLL_SECONDS"])
    settings = processing.ocr_settings(app.config)
    sandbox = isolation.Sandbox(isolation.limits_from(app.config))
    try:
        while not stopping.is_set():
            with app.app_context():
                try:
                    ran = processing.run_ocr_jobs(owner, sandbox.run, settings,
                                                  stop=stopping.is_set)
                except Exception:  # a lane is a process boundary: log, keep going
                    log.exception("worker: OCR failed; its job is back in the queue")
                    db.session.rollback()
                    ran = 0
                finally:
                    db.session.remove()
            if not ran:
                stopping.wait(poll)
    finally:
        sandbox.close()


def _drain(app: Flask, text_owner: queue.Owner, ocr_owner: queue.Owner) -> int:
    """Run both lanes in turn until neither finds work (`kb worker --once`)."""
    total = 0
    batch = int(app.config["WORKER_BATCH"])
    settings = processing.ocr_settings(app.config)
    limits = isolation.limits_from(app.config)
    ocr_box = isolation.Sandbox(limits)
    try:
        while True:
            with app.app_context():
                try:
                    sandbox = isolation.shared_sandbox(limits)
                    ran = processing.process_pending(text_owner, batch, sandbox.run, settings)
                    ran += processing.run_ocr_jobs(ocr_owner, ocr_box.run, settings)
                except Exception:  # a process boundary: log; the jobs are back in the queue
                    log.exception("worker: a batch failed; its jobs are back in the queue")
                    db.session.rollback()
                    ran = 0
                finally:
                    db.session.remove()
            total += ran
            if not ran:
                return total
    finally:
        ocr_box.close()

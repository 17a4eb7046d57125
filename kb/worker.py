"""The background worker: runs queued extraction and indexing jobs until stopped.

Three lanes share the process: text (extract and index, in batches, the only index
writer), OCR (one scanned PDF at a time, in a thread of its own), so that a slow or stuck
scan never holds up the text of other uploads, and mail (queued email, one message at a
time, in a thread of its own: a slow mail server holds up nothing else). A heartbeat
thread marks the worker and its claimed jobs alive; jobs of a worker that died are given
back by the next one.

A worker started without the index (`kb worker --no-index`, or WORKER_INDEXES false: on
a machine that does not hold the index) only extracts: it saves the text in the database
and hands each document over as an ``index`` job, which only a worker that writes the
index claims. `kb worker --concurrency N` runs N worker processes, of which only the
first writes the index, and starts again any that dies.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections import Counter
from types import FrameType

from flask import Flask

from kb.extensions import db
from kb.services import isolation, leftovers, mail, processing, queue, trash

log = logging.getLogger(__name__)

# Seconds a stopping worker waits for the OCR lane to end its current file.
OCR_STOP_WAIT = 5.0


def _stop_on_signals(stopping: threading.Event) -> None:
    """Set ``stopping`` on SIGTERM or SIGINT (Ctrl-C)."""
    signalled: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Once only, marked before Event.set: a second signal arriving while the first
        # handler is inside Event.set (which holds the event's lock) would set it again in
        # the same thread and wait for that lock for ever (seen with two SIGTERMs).
        if signalled:
            return
        signalled.append(signum)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def run(app: Flask, *, once: bool = False, parent: int | None = None,
        index: bool | None = None) -> Counter[str]:
    """Poll for jobs; with ``once`` stop when the queue is empty. Returns the jobs run by
    kind, and the documents written to the index ("indexed"); see ``summary``.

    With ``parent`` (the process id of `kb serve`), stop when that process ends. Without
    ``index`` (default: the WORKER_INDEXES setting), extract only and hand over."""
    if index is None:
        index = bool(app.config["WORKER_INDEXES"])
    stopping = threading.Event()
    if not once:
        _stop_on_signals(stopping)
    if parent is not None:
        queue.exit_with_parent(signal.SIGTERM)
        if os.getppid() != parent:  # it ended before we asked to be told
            return Counter()
    if not index:
        log.info("worker: extracting only; a worker that writes the index indexes the text")
    text_owner, ocr_owner = queue.this_process("worker"), queue.this_process("ocr")
    mail_owner = queue.this_process("mail")
    stale = float(app.config["WORKER_STALE_SECONDS"])
    with app.app_context():
        worker_id = queue.register(text_owner)
        log.info("worker started: process %s on %s%s", text_owner.pid, text_owner.host,
                 " (until the queue is empty)" if once else "")
        _housekeeping()  # at start (then from the text lane: hourly, daily)
        db.session.remove()
    try:
        with queue.Heartbeat(app, [text_owner, ocr_owner, mail_owner],
                             queue.beat_interval(stale), worker_id):
            if once:
                tally = _drain(app, text_owner, ocr_owner, mail_owner, index)
            else:
                ocr_tally: Counter[str] = Counter()
                mail_tally: Counter[str] = Counter()
                lane = threading.Thread(target=_ocr_lane,
                                        args=(app, ocr_owner, stopping, ocr_tally),
                                        name="kb-ocr-lane", daemon=True)
                mail_lane = threading.Thread(target=_mail_lane,
                                             args=(app, mail_owner, stopping, mail_tally),
                                             name="kb-mail-lane", daemon=True)
                lane.start()
                mail_lane.start()
                tally = _text_lane(app, text_owner, stopping, parent, index)
                stopping.set()
                lane.join(timeout=OCR_STOP_WAIT)
                mail_lane.join(timeout=OCR_STOP_WAIT)
                tally = tally + ocr_tally + mail_tally
            log.info("worker stopped: %s", summary(tally))
            return tally
    finally:
        with app.app_context():
            queue.unregister(worker_id)
            db.session.remove()


def summary(tally: Counter[str]) -> str:
    """The line `kb worker` prints when it stops: the jobs it ran, by kind, and the
    documents it wrote to the index."""
    kinds = ("extract", "index", "ocr")
    return (f"Ran {sum(tally[k] for k in kinds)} jobs ("
            + ", ".join(f"{k} {tally[k]}" for k in kinds)
            + f"); wrote {tally['indexed']} documents to the index."
            + (f" Sent {tally['email']} emails." if tally["email"] else ""))


def run_many(app: Flask, concurrency: int, index: bool | None = None) -> None:
    """Run ``concurrency`` worker processes until stopped (SIGTERM or Ctrl-C); only the
    first writes the index (one writer per machine), the others extract and hand over.
    A process that dies is started again, as `kb serve` does with its worker."""
    from kb.serve import WorkerSupervisor

    if index is None:
        index = bool(app.config["WORKER_INDEXES"])
    command = [sys.executable, "-m", "kb", "worker", "--parent", str(os.getpid())]
    supervisors = [WorkerSupervisor(command + ([] if index and n == 0 else ["--no-index"]))
                   for n in range(concurrency)]
    stopping = threading.Event()
    _stop_on_signals(stopping)
    try:
        for supervisor in supervisors:
            supervisor.start()
        while not stopping.wait(1.0):
            for supervisor in supervisors:
                supervisor.check()
    finally:
        for supervisor in supervisors:  # all at once: each finishes its batch meanwhile
            supervisor.signal_stop()
        for supervisor in supervisors:
            supervisor.stop()


def _text_lane(app: Flask, owner: queue.Owner, stopping: threading.Event,
               parent: int | None, index: bool) -> Counter[str]:
    """Extract and index batches (or only extract) until stopped."""
    tally: Counter[str] = Counter()
    poll = float(app.config["WORKER_POLL_SECONDS"])
    batch = int(app.config["WORKER_BATCH"])
    settings = processing.ocr_settings(app.config)
    failure: Exception | None = None
    while not stopping.is_set():
        if parent is not None and os.getppid() != parent:
            log.warning("worker: kb serve (process %s) has ended; stopping", parent)
            break
        with app.app_context():
            _housekeeping()
            try:
                if failure is not None:  # jobs a failed batch could not put back itself
                    processing.give_back_held(owner, failure)
                sandbox = isolation.shared_sandbox(isolation.limits_from(app.config))
                ran = processing.process_batch(owner, batch, sandbox.run, settings, index,
                                               tally)
                failure = None
            except Exception as e:  # the worker loop is a process boundary: log, keep going
                log.exception("worker: a batch failed; its jobs are back in the queue")
                db.session.rollback()
                failure, ran = e, 0
            finally:
                db.session.remove()
        if not ran:
            stopping.wait(poll)
    return tally


def _housekeeping() -> None:
    """The leftovers sweep (hourly) and the purge of the trash (daily), when due; a
    failure is logged and tried again later, never fatal to the worker."""
    try:
        leftovers.sweep_when_due()
    except Exception:  # a process boundary: the sweep is housekeeping, never fatal
        log.exception("worker: the sweep of leftover files failed")
        db.session.rollback()
    try:
        trash.purge_when_due()
    except Exception:  # a process boundary: the purge is housekeeping, never fatal
        log.exception("worker: purging the trash failed; it is tried again tomorrow")
        db.session.rollback()


def _ocr_lane(app: Flask, owner: queue.Owner, stopping: threading.Event,
              tally: Counter[str]) -> None:
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
            tally["ocr"] += ran
            if not ran:
                stopping.wait(poll)
    finally:
        sandbox.close()


def _mail_lane(app: Flask, owner: queue.Owner, stopping: threading.Event,
               tally: Counter[str]) -> None:
    """Send queued email, one message at a time, until stopped."""
    poll = float(app.config["WORKER_POLL_SECONDS"])
    failure: Exception | None = None
    while not stopping.is_set():
        with app.app_context():
            try:
                if failure is not None:  # the message it left claimed goes back
                    processing.give_back_held(owner, failure)
                    failure = None
                ran = mail.send_queued(owner, stop=stopping.is_set, tally=tally)
            except Exception as e:  # a lane is a process boundary: log, keep going
                log.exception("worker: sending email failed; the message is back in the queue")
                db.session.rollback()
                failure, ran = e, 0
            finally:
                db.session.remove()
        if not ran:
            stopping.wait(poll)


def _drain(app: Flask, text_owner: queue.Owner, ocr_owner: queue.Owner,
           mail_owner: queue.Owner, index: bool) -> Counter[str]:
    """Run the lanes in turn until none finds work (`kb worker --once`)."""
    tally: Counter[str] = Counter()
    batch = int(app.config["WORKER_BATCH"])
    settings = processing.ocr_settings(app.config)
    limits = isolation.limits_from(app.config)
    ocr_box = isolation.Sandbox(limits)
    try:
        while True:
            with app.app_context():
                try:
                    sandbox = isolation.shared_sandbox(limits)
                    ran = processing.process_pending(text_owner, batch, sandbox.run, settings,
                                                     index, tally)
                    ocr_ran = processing.run_ocr_jobs(ocr_owner, ocr_box.run, settings)
                    tally["ocr"] += ocr_ran
                    ran += ocr_ran + mail.send_queued(mail_owner, tally=tally)
                except Exception:  # a process boundary: log; the jobs are back in the queue
                    log.exception("worker: a batch failed; its jobs are back in the queue")
                    db.session.rollback()
                    ran = 0
                finally:
                    db.session.remove()
            if not ran:
                return tally
    finally:
        ocr_box.close()

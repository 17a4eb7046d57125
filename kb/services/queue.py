"""Who holds a job and whether that process still lives: claim identities, heartbeats,
the worker table, and the queue's health.

A claim names its holder by host, process id and the process's start time (a pid can
be reused; its start time tells the new process from the old). A holder beats while it
works; a job whose holder is gone, or whose heartbeat stopped, goes back in the queue.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select, update

from kb.extensions import db
from kb.models import Job, Worker, utcnow

log = logging.getLogger(__name__)

_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1
FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Owner:
    """A process that claims jobs: its kind (worker, ocr, import...), host, pid, start."""

    kind: str
    host: str
    pid: int
    started: int | None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.host}:{self.pid}"

    def claim_values(self, now: datetime | None = None) -> dict[str, Any]:
        """The Job columns a claim by this owner sets."""
        now = now or utcnow()
        return {"state": "running", "locked_by": self.name, "locked_host": self.host,
                "locked_pid": self.pid, "locked_started": self.started, "locked_at": now,
                "heartbeat_at": now}


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot; None when there is no
    such live process (a zombie has ended), or no /proc to tell."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name, in parentheses, may hold spaces: fields are counted after it.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def this_process(kind: str) -> Owner:
    """This process as the holder of the jobs it claims (``kind`` names its lane)."""
    return Owner(kind, os.uname().nodename, os.getpid(), process_start(os.getpid()))


def owner_gone(host: str | None, pid: int | None, started: int | None,
               locked_by: str | None = None) -> bool:
    """Whether the process that holds a claim is known to be dead: one of this machine's
    whose pid no longer runs, or runs a process started at another time. Another
    machine's holders are never judged here (their heartbeat is)."""
    if host is None and locked_by is not None:  # a claim made before claims named a start
        _kind, _, rest = locked_by.partition(":")
        host, _, raw_pid = rest.rpartition(":")
        pid = int(raw_pid) if raw_pid.isdigit() else None
    elif host is None:
        return True  # nobody holds it
    if host != os.uname().nodename or pid is None:
        return False
    if _PROC.joinpath("self", "stat").exists():
        current = process_start(pid)
        return current is None or (started is not None and current != started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def job_owner_gone(job: Job) -> bool:
    """Whether the holder of ``job`` is known to be dead (see ``owner_gone``)."""
    if job.locked_by is None and job.locked_host is None:
        return True
    return owner_gone(job.locked_host, job.locked_pid, job.locked_started, job.locked_by)


def exit_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when its parent ends (no-op elsewhere)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        log.warning("could not ask to be stopped with the parent process")


def register(owner: Owner) -> int:
    """Record a worker process as alive; returns its row's id. Rows of this host's dead
    workers are removed on the way."""
    for row in db.session.scalars(select(Worker).where(Worker.host == owner.host)):
        if owner_gone(row.host, row.pid, row.started):
            db.session.delete(row)
    db.session.execute(delete(Worker).where(Worker.host == owner.host, Worker.pid == owner.pid))
    # Other machines' workers that stopped long ago: no longer worth reporting.
    db.session.execute(delete(Worker).where(Worker.last_seen < utcnow() - FORGET_AFTER))
    row = Worker(host=owner.host, pid=owner.pid, started=owner.started)
    db.session.add(row)
    db.session.commit()
    return row.worker_id


def unregister(worker_id: int) -> None:
    """Remove a worker's row when it stops cleanly."""
    db.session.execute(delete(Worker).where(Worker.worker_id == worker_id))
    db.session.commit()


class Heartbeat:
    """A daemon thread that, every ``interval`` seconds, marks the running jobs of
    ``owners`` (and a worker row) as still being worked on."""

    def __init__(self, app: Flask, owners: Iterable[Owner], interval: float,
                 worker_id: int | None = None) -> None:
        with app.app_context():
            self._engine = db.engine
        self._names = [o.name for o in owners]
        self._interval = interval
        self._worker_id = worker_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-heartbeat", daemon=True)

    def start(self) -> None:
        """Start beating."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the claims stay; their holder releases or finishes them)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def beat(self) -> None:
        """Mark the owners' running jobs (and the worker row) as alive now."""
        now = utcnow()
        with self._engine.begin() as conn:
            conn.execute(update(Job).where(Job.state == "running",
                                           Job.locked_by.in_(self._names))
                         .values(heartbeat_at=now))
            if self._worker_id is not None:
                conn.execute(update(Worker).where(Worker.worker_id == self._worker_id)
                             .values(last_seen=now))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.beat()
            except Exception:  # a thread boundary: a busy or full database must not end it
                log.exception("heartbeat: could not record that this process is alive")


def beat_interval(stale_seconds: float) -> float:
    """How often a holder beats: several times within the stale limit."""
    return max(0.2, min(10.0, stale_seconds / 4))


@dataclass(frozen=True)
class QueueHealth:
    """The queue's state for /healthz: figures, and reasons when it is not well."""

    queued: int
    running: int
    oldest_queued_s: int | None
    workers_alive: int
    last_worker_seen_s: int | None
    waiting_for_disk: int
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"queued": self.queued, "running": self.running,
                "oldest_queued_s": self.oldest_queued_s, "workers_alive": self.workers_alive,
                "last_worker_seen_s": self.last_worker_seen_s,
                "waiting_for_disk": self.waiting_for_disk}


def health(stale_seconds: float, wait_alert_seconds: float) -> QueueHealth:
    """The queue's state, with a reason for each thing that needs a person's attention."""
    now = utcnow()
    counts: dict[str, int] = {state: n for state, n in db.session.execute(
        select(Job.state, func.count()).where(Job.state.in_(("queued", "running")))
        .group_by(Job.state))}
    queued, running = counts.get("queued", 0), counts.get("running", 0)
    oldest = db.session.scalar(select(func.min(Job.run_after)).where(
        Job.state == "queued", Job.run_after <= now))
    oldest_s = int((now - oldest).total_seconds()) if oldest is not None else None
    seen = db.session.scalars(select(Worker.last_seen)).all()
    alive = sum(1 for t in seen if t >= now - timedelta(seconds=stale_seconds))
    last_s = int((now - max(seen)).total_seconds()) if seen else None
    disk = db.session.execute(
        select(func.count(), func.max(Job.last_error)).where(
            Job.state.in_(("queued", "running")), Job.last_error_code == "disk-full")).one()
    reasons = []
    if not alive and last_s is not None:
        reasons.append(f"no worker seen for {last_s} s: uploads are not being processed "
                       "(`kb serve` restarts its worker; else start `kb worker`)")
    elif not alive and queued + running:
        reasons.append(f"no worker is running and {queued + running} jobs wait: start "
                       "`kb worker` (or `kb serve`, which runs one)")
    if oldest_s is not None and oldest_s > wait_alert_seconds:
        reasons.append(f"oldest queued job waited {oldest_s} s")
    if disk[0]:
        reasons.append(f"{disk[0]} jobs wait for disk space: {disk[1]}")
    return QueueHealth(queued, running, oldest_s, alive, last_s, disk[0], tuple(reasons))

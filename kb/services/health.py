"""The service's health, as `/healthz` reports it: one function per check.

A check returns what it saw and the reasons it found something wrong. The answer is
``ok`` with no reasons, ``degraded`` with reasons (kb still answers, someone should look),
or ``unavailable`` (HTTP 503) when the database or the index cannot answer.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from kb import context, search
from kb.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One check's answer: what it saw (JSON-ready), what is wrong, and whether kb can
    still answer at all."""

    name: str
    value: Any
    reasons: tuple[str, ...] = ()
    unavailable: bool = False


@dataclass(frozen=True)
class Health:
    """Every check's answer, and the verdict drawn from them."""

    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        return [r for c in self.checks for r in c.reasons]

    @property
    def status(self) -> str:
        if any(c.unavailable for c in self.checks):
            return "unavailable"
        return "degraded" if self.reasons else "ok"

    @property
    def http_status(self) -> int:
        return 503 if self.status == "unavailable" else 200

    def as_json(self) -> dict[str, Any]:
        """The `/healthz` answer: status, reasons, each check's value by name (and the
        usual ``error`` when unavailable)."""
        answer: dict[str, Any] = {"status": self.status, "reasons": self.reasons}
        if self.status == "unavailable":
            answer["error"] = " ".join(r for c in self.checks if c.unavailable
                                       for r in c.reasons)
        answer.update({c.name: c.value for c in self.checks})
        return answer


def database() -> Check:
    """The database answers a query."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        db.session.rollback()
        log.error("healthz: the database does not answer: %s", e)
        return Check("database", "unavailable", (
            "The database does not answer; the server's log says why.",), unavailable=True)
    return Check("database", "ok")


def index() -> Check:
    """The search index opens (its table of contents is read afresh)."""
    problem = search.problem(context.index_dir())
    if problem is not None:
        return Check("index", "unavailable", (problem,), unavailable=True)
    return Check("index", "ok")


def disk_space() -> Check:
    """The disks of the upload, instance and index folders have DISK_FREE_MIN_MB free."""
    minimum = int(current_app.config["DISK_FREE_MIN_MB"])
    folders = {"uploads": Path(current_app.config["UPLOAD_DIR"]),
               "instance": Path(current_app.config["INSTANCE_DIR"]),
               "index": context.index_dir()}
    seen: dict[str, Any] = {}
    low: dict[int, list[str]] = {}  # by device: one reason per disk
    free: dict[int, int] = {}
    reasons: list[str] = []
    for name, folder in folders.items():
        try:
            device = folder.stat().st_dev
            free[device] = shutil.disk_usage(folder).free // (1024 * 1024)
        except FileNotFoundError:
            if name != "index":  # a missing index is the index check's to report
                reasons.append(f"The {name} folder does not exist; run `kb init`.")
            continue
        seen[name] = {"free_mb": free[device]}
        if free[device] < minimum:
            low.setdefault(device, []).append(name)
    for device, names in low.items():
        reasons.append(
            f"Low disk space for the {' and '.join(names)} folder"
            f"{'s' if len(names) > 1 else ''}: {free[device]:,} MB free, under the "
            f"{minimum:,} MB of DISK_FREE_MIN_MB. Uploads and processing fail once the disk "
            "is full; free space or enlarge the disk.")
    return Check("disk", seen, tuple(reasons))


def work_queue() -> Check:
    """Jobs are being taken: a worker was seen lately, none waits too long or for disk."""
    from kb.services import queue

    jobs = queue.health(float(current_app.config["WORKER_STALE_SECONDS"]),
                        float(current_app.config["QUEUE_WAIT_ALERT_SECONDS"]))
    return Check("queue", jobs.as_dict(), tuple(jobs.reasons))


# The checks /healthz runs, in order; add a function here to add a check.
CHECKS: list[Callable[[], Check]] = [database, index, disk_space, work_queue]


def start_warnings() -> list[str]:
    """What `kb serve` says at start: the index's and the disks' reasons, if any."""
    return [r for check in (index, disk_space) for r in check().reasons]


def report() -> Health:
    """Run every check; one that needs the database when it is down says so."""
    found = []
    for check in CHECKS:
        try:
            found.append(check())
        except SQLAlchemyError as e:
            db.session.rollback()
            log.error("healthz: %s could not run: %s", check.__name__, e)
            found.append(Check(check.__name__, "unknown", (
                f"The {check.__name__} check could not run: the database does not answer.",)))
    return Health(tuple(found))

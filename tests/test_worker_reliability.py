"""Work is never stranded: jobs of a worker that died, of a batch that raised, of a holder
that stopped beating, and of an extraction child killed from outside go back in the queue
and get done."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from kb.extensions import db
from kb.models import Job, PageText, utcnow
from kb.services import queue
from tests.conftest import kb_env, wait_for

KB = str(Path(sys.executable).parent / "kb")


def worker_env(app: Flask, **extra: str) -> dict[str, str]:
    return kb_env(app, KB_WORKER_POLL_SECONDS="0.1", **extra)


@pytest.fixture
def start_worker(app: Flask) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start real `kb worker` processes; any still running at the end are killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([KB, "worker"], env=worker_env(app, **extra),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def children(pid: int, running: str = "") -> list[int]:
    """Live child processes of ``pid`` (whose command line holds ``running``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            cmdline = stat.with_name("cmdline").read_bytes().replace(b"\0", b" ")
            if running.encode() in cmdline:
                found.append(int(stat.parent.name))
    return found


def job_of(app: Flask, doc_id: int) -> Job:
    with app.app_context():
        job = db.session.query(Job).filter_by(doc_id=doc_id).order_by(Job.job_id.desc()).first()
        assert job is not None
        db.session.expunge(job)
        db.session.remove()
        db.engine.dispose()
        return job


def status(client: Any, doc_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/documents/{doc_id}").json  # type: ignore[no-any-return]


def stopped_extraction_child(app: Flask, client: Any, upload: Any, worker: int) -> int:
    """Have the worker read one upload (which starts its extraction child), then stop that
    child with SIGSTOP: the next file it is sent waits until the test decides."""
    first = upload(b"a first note on seasonal work", "first.txt").json["id"]
    wait_for("the first upload to be ready", lambda: status(client, first)["status"] == "ready")
    # Spawned by multiprocessing (beside its resource tracker).
    child = wait_for("the extraction child", lambda: children(worker, "spawn_main"))[0]
    os.kill(child, signal.SIGSTOP)
    return child


def test_a_killed_workers_job_is_finished_by_the_next_worker_at_once(
        app, client, upload, start_worker):
    first = start_worker()
    child = stopped_extraction_child(app, client, upload, first.pid)
    doc_id = upload(b"remittance corridors between Moldova and Italy", "r.txt").json["id"]
    wait_for("the worker to claim the upload",
             lambda: job_of(app, doc_id).state == "running")
    job = job_of(app, doc_id)
    assert (job.locked_host, job.locked_pid) == (os.uname().nodename, first.pid)
    assert job.locked_started == queue.process_start(first.pid)
    assert job.heartbeat_at is not None

    os.kill(first.pid, signal.SIGKILL)  # mid-job
    first.wait()
    # Its extraction child goes with it (it is told when its parent dies).
    wait_for("the orphaned extraction child to end", lambda: queue.process_start(child) is None,
             bound=10)

    start_worker()  # no 15 minutes: the dead worker's job is given back at once
    wait_for("the next worker to finish the upload",
             lambda: status(client, doc_id)["status"] == "ready", bound=30)
    assert client.get("/api/v1/search", query_string={"q": "corridors"}).json["total"] == 1
    assert job_of(app, doc_id).attempts == 1


def test_an_extraction_child_killed_from_outside_is_named_and_retried(
        app, client, upload, start_worker):
    worker = start_worker(KB_EXTRACT_TIMEOUT="600")
    child = stopped_extraction_child(app, client, upload, worker.pid)
    doc_id = upload(b"labour mobility partnerships in the Caucasus", "m.txt").json["id"]
    wait_for("the worker to claim the upload", lambda: job_of(app, doc_id).state == "running")

    os.kill(child, signal.SIGKILL)
    job = wait_for("the job back in the queue",
                   lambda: (j := job_of(app, doc_id)).state == "queued" and j, bound=30)
    assert "killed by signal 9, SIGKILL" in job.last_error
    assert job.last_error_code == "interrupted"
    assert "too much memory" not in job.last_error.lower()

    wait_for("the retry to succeed", lambda: status(client, doc_id)["status"] == "ready",
             bound=30)
    doc = status(client, doc_id)
    assert (doc["error"], doc["error_code"]) == (None, None)
    assert job_of(app, doc_id).attempts == 1


def test_a_batch_that_raises_puts_its_jobs_back_with_the_error(app, client, upload, process,
                                                              runner):
    ids = [upload(f"note {i} on return migration".encode(), f"n{i}.txt").json["id"]
           for i in range(3)]
    with app.app_context():  # the batch's saving of extracted text raises
        db.session.execute(db.text("DROP TABLE page_text"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    process()
    for doc_id in ids:
        job = job_of(app, doc_id)
        assert (job.state, job.attempts, job.locked_by) == ("queued", 1, None)
        assert "page_text" in job.last_error and job.last_error_code == "failed"
        assert status(client, doc_id)["status"] == "processing"

    with app.app_context():  # the table is back
        PageText.__table__.create(db.engine)
        db.session.remove()
        db.engine.dispose()
    deadline = time.monotonic() + 30
    while any(status(client, i)["status"] != "ready" for i in ids):  # after the back-off
        assert time.monotonic() < deadline, "the jobs were not retried"
        time.sleep(0.2)
        process()
    assert client.get("/api/v1/search", query_string={"q": "return"}).json["total"] == 3


def _claim_as(app: Flask, doc_id: int, owner: queue.Owner, heartbeat_age: float) -> None:
    with app.app_context():
        job = db.session.query(Job).filter_by(doc_id=doc_id).one()
        for key, value in owner.claim_values().items():
            setattr(job, key, value)
        job.heartbeat_at = utcnow() - timedelta(seconds=heartbeat_age)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_jobs_whose_holder_stopped_beating_are_given_back_whatever_its_host(
        app, client, upload, process):
    app.config["WORKER_STALE_SECONDS"] = 5.0
    elsewhere = queue.Owner("worker", "another-machine", 4242, 1234)
    silent = upload(b"diaspora bonds in Armenia", "d.txt").json["id"]
    beating = upload(b"diaspora engagement in Georgia", "g.txt").json["id"]
    _claim_as(app, silent, elsewhere, heartbeat_age=60)
    _claim_as(app, beating, elsewhere, heartbeat_age=1)
    process()
    assert status(client, beating)["status"] == "processing"  # alive elsewhere: left alone
    assert job_of(app, beating).state == "running"
    job = job_of(app, silent)
    assert job.state == "queued" and "no sign of life for over 5 s" in job.last_error
    deadline = time.monotonic() + 30
    while status(client, silent)["status"] != "ready":
        assert time.monotonic() < deadline, "the given-back job was not done"
        time.sleep(0.2)
        process()


def test_a_reused_pid_is_not_taken_for_the_holder(app, client, upload, process):
    """This very process's pid, with another start time: the holder is dead."""
    me = queue.this_process("worker")
    impostor = queue.Owner("worker", me.host, me.pid, (me.started or 0) + 1)
    doc_id = upload(b"circular migration schemes", "c.txt").json["id"]
    _claim_as(app, doc_id, impostor, heartbeat_age=0)
    process()
    assert job_of(app, doc_id).state == "queued"
    assert "stopped while working on it" in job_of(app, doc_id).last_error

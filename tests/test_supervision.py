"""`kb serve` watches its worker: a worker that dies is started again, the worker ends
with the server (even one killed by SIGKILL), and /healthz tells when no worker runs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from kb import serve as kb_serve
from kb.extensions import db
from kb.models import Worker, utcnow
from kb.services import queue
from tests.conftest import free_port, kb_env, wait_for

KB = str(Path(sys.executable).parent / "kb")


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = stat.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(stat.parent.name), cmdline))
    return found


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def worker(self) -> int | None:
        """The `kb worker` process under the server, if one runs."""
        found = [pid for pid, cmd in _children(self.proc.pid) if " kb worker" in cmd]
        return found[0] if found else None

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as res:
                return res.status, json.loads(res.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def upload(self, token: str, data: bytes, name: str) -> int:
        fields = MultiDict({"title": name, "file": FileStorage(io.BytesIO(data), name)})
        boundary, body = encode_multipart(fields)
        req = urllib.request.Request(
            self.url + "/api/v1/documents", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=30) as res:
            return int(json.loads(res.read())["id"])


@pytest.fixture
def served(app: Flask, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = kb_env(app, KB_WORKER_POLL_SECONDS="0.1")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([KB, "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "1"], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Served(proc, f"http://127.0.0.1:{port}", log)
    try:
        def up() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                return server.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_for("kb serve to answer", up)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_killed_worker_is_started_again_and_uploads_get_done(served, make_user):
    account = make_user("editor")
    first = wait_for("the worker", served.worker)
    wait_for("healthz ok with a worker seen",
             lambda: served.get("/healthz")[1]["queue"]["workers_alive"] == 1)
    os.kill(first, signal.SIGKILL)
    second = wait_for("a new worker", lambda: (pid := served.worker()) != first and pid,
                      bound=30)
    assert second != first
    doc_id = served.upload(account.token, b"temporary labour migration programmes", "t.txt")
    wait_for("the upload to be processed", lambda: served.get(
        f"/api/v1/documents/{doc_id}")[1]["status"] == "ready", bound=60)
    assert "ended with exit code" in served.log.read_text()


def test_the_worker_ends_when_the_server_is_killed(served):
    worker = wait_for("the worker", served.worker)
    os.kill(served.proc.pid, signal.SIGKILL)  # gunicorn's master, no chance to clean up
    served.proc.wait()
    wait_for("the orphaned worker to end", lambda: queue.process_start(worker) is None,
             bound=30)


def test_healthz_is_degraded_when_no_worker_runs(app, client, upload):
    doc_id = upload(b"a note waiting for a worker", "w.txt").json["id"]
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.json["status"] == "degraded"
    assert any("no worker is running" in r for r in res.json["reasons"])
    assert res.json["queue"]["queued"] == 1
    # A worker that was seen and went silent is named with how long ago.
    with app.app_context():
        db.session.add(Worker(host="h", pid=1, started=1,
                              last_seen=utcnow() - timedelta(seconds=600)))
        db.session.commit()
    res = client.get("/healthz")
    assert res.status_code == 200 and res.json["status"] == "degraded"
    assert any(r.startswith("no worker seen for 6") for r in res.json["reasons"])
    assert client.get(f"/api/v1/documents/{doc_id}").json["status"] == "processing"


def test_restarts_back_off_up_to_a_minute_and_reset_after_a_healthy_run():
    now = [0.0]
    supervisor = kb_serve.WorkerSupervisor(["false"], clock=lambda: now[0])
    supervisor.start()
    delays = []
    for _ in range(8):
        assert supervisor.proc is not None
        supervisor.proc.wait()
        supervisor.check()  # notices the death, schedules the restart
        assert supervisor.restart_at is not None
        delays.append(supervisor.restart_at - now[0])
        now[0] = supervisor.restart_at
        supervisor.check()  # restarts
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    supervisor.command = ["sleep", "5"]
    supervisor.proc.wait()
    supervisor.check()
    now[0] = supervisor.restart_at or 0
    supervisor.check()  # a long-running worker now
    now[0] += kb_serve.HEALTHY_AFTER
    supervisor.check()
    assert supervisor.delay == kb_serve.FIRST_RESTART
    supervisor.stop()

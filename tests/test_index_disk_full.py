"""A full index disk: the jobs wait with the error on them and on the document, /healthz
says so, and the documents are done by themselves once there is room again."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kb.extensions import db
from kb.models import Job
from tests.conftest import kb_env, make_app, tmpfs


@pytest.fixture
def small_index_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs, mounted for the test (root only)."""
    with tmpfs(tmp_path / "small", "size=8m") as mount:
        yield mount


@pytest.fixture
def full_app(tmp_path: Path, small_index_disk: Path,
             database_url: str | None) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url, INDEX_DIR=str(small_index_disk / "index"),
                   INDEX_LOCK_TIMEOUT=5.0)
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_worker_once(app: Flask) -> None:
    """`kb worker --once` in a process of its own (Whoosh leaves the files it could not
    flush to a full disk to the garbage collector: they stay in that process)."""
    env = kb_env(app, KB_INDEX_DIR=app.config["INDEX_DIR"])
    done = subprocess.run([str(Path(sys.executable).parent / "kb"), "worker", "--once"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def fill(folder: Path) -> Path:
    """Take every free byte of the file system under ``folder``."""
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_a_full_index_disk_is_reported_and_waited_out(full_app, small_index_disk):
    app = full_app
    client: FlaskClient = app.test_client()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["user", "add", "e@example.org", "--role", "editor",
                               "--password-stdin"], input="correct horse battery\n"
                         ).exit_code == 0
    token = runner.invoke(args=["token", "create", "e@example.org"]).output.strip()
    import io

    from werkzeug.datastructures import FileStorage

    from tests.conftest import post_multipart

    text = " ".join(f"remittance{i} corridor{i}" for i in range(300)).encode()
    res = post_multipart(client, "/api/v1/documents",
                         {"title": "Big note", "file": FileStorage(io.BytesIO(text), "b.txt")},
                         {"Authorization": f"Bearer {token}"})
    assert res.status_code == 201
    doc_id = res.json["id"]
    filler = fill(small_index_disk)
    run_worker_once(app)

    with app.app_context():
        job = db.session.query(Job).filter_by(doc_id=doc_id).one()
        assert (job.state, job.last_error_code) == ("queued", "disk-full")
        assert "disk is full" in (job.last_error or "")
        db.session.remove()
        db.engine.dispose()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["status"], doc["error_code"]) == ("processing", "disk-full")
    assert "Free space" in doc["error"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json["status"] == "degraded"
    assert any("wait for disk space" in r for r in health.json["reasons"])

    filler.unlink()  # room again: no one needs to do anything else
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/documents/{doc_id}").json["status"] != "ready":
        assert time.monotonic() < deadline, "the document was not done once space was back"
        time.sleep(0.2)
        run_worker_once(app)
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["error"], doc["error_code"]) == (None, None)
    assert client.get("/api/v1/search", query_string={"q": "corridor7"}).json["total"] == 1
    # the queue waits for nothing now (the 8 MB disk itself stays under DISK_FREE_MIN_MB)
    assert not any("wait for disk space" in r for r in client.get("/healthz").json["reasons"])

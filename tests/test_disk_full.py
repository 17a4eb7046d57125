"""A full upload folder: 507 with a message a person can act on, no partial file left, and
/healthz says the disk is low. The folder is a small tmpfs this test mounts (as root)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage

from tests.conftest import csrf_from, login, make_app, post_multipart, tmpfs

# Big enough to be refused by a 1 MB file system, small enough to stay under the limit.
BIG = b"migration data " * (2 * 1024 * 1024 // 15)


@pytest.fixture
def mount_options() -> str:
    return "size=1m"


@pytest.fixture
def uploads(tmp_path: Path, mount_options: str) -> Iterator[Path]:
    """An upload folder on a small tmpfs."""
    with tmpfs(tmp_path / "uploads", mount_options) as folder:
        yield folder


def _app(tmp_path: Path, uploads: Path, database_url: str | None) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url, UPLOAD_DIR=str(uploads))
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    yield app
    from kb.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path, uploads: Path, database_url: str | None) -> Iterator[Flask]:
    yield from _app(tmp_path, uploads, database_url)


def _stored(uploads: Path) -> list[Path]:
    return sorted(p for p in uploads.rglob("*") if p.is_file())


def test_full_upload_folder_answers_507_and_keeps_nothing(upload, uploads, client, editor):
    res = upload(BIG, "big.txt")
    assert res.status_code == 507, res.get_data(as_text=True)
    assert "no space left" in res.json["error"]
    assert "administrator must free disk space" in res.json["error"]
    assert _stored(uploads) == []  # no partial file in tmp/, nothing stored
    # Nothing was recorded either; a small file still fits and is accepted.
    assert upload(b"a small note on remittances", "small.txt").status_code == 201


def test_full_upload_folder_is_said_on_the_upload_form(client, editor, uploads):
    login(client, editor)
    page = client.get("/upload")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "title": "Big",
            "access": "public", "file": FileStorage(io.BytesIO(BIG), "big.txt")}
    res = post_multipart(client, "/upload", form)
    assert res.status_code == 507
    html = res.get_data(as_text=True)
    assert "no space left on the server" in html
    assert 'name="title"' in html  # the form again, to retry later
    assert _stored(uploads) == []


# Four inodes: the folder, tmp/, the staged upload and its first content-address folder;
# the second folder (ab/cd/) cannot be made, so storing fails after staging succeeded.
@pytest.mark.parametrize("mount_options", ["size=4m,nr_inodes=4"])
def test_full_store_after_staging_leaves_no_partial_file(upload, uploads):
    res = upload(b"a report on labour migration corridors", "report.txt")
    assert res.status_code == 507, res.get_data(as_text=True)
    assert "no space left" in res.json["error"]
    assert not any((uploads / "tmp").iterdir())


def test_healthz_reports_low_space_on_the_upload_disk(client, uploads):
    # The 1 MB tmpfs is far under the default DISK_FREE_MIN_MB; the instance's disk is not.
    res = client.get("/healthz")
    assert res.status_code == 200
    body = res.json
    assert body["status"] == "degraded"
    [reason] = body["reasons"]
    assert reason.startswith("Low disk space for the uploads folder: ")
    assert "free space or enlarge the disk" in reason
    assert body["disk"]["uploads"]["free_mb"] <= 1


def test_healthz_ok_when_space_is_above_the_configured_minimum(app, client, uploads):
    app.config["DISK_FREE_MIN_MB"] = 0
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.json["status"] == "ok" and res.json["reasons"] == []



@pytest.fixture
def small_instance_app(tmp_path: Path) -> Iterator[Flask]:
    """An app whose instance folder (database, index) is on a small tmpfs."""
    with tmpfs(tmp_path / "instance", "size=8m"):
        # SQLite in the instance folder, whatever the run: its disk is the one filled
        yield from _app(tmp_path, tmp_path / "store", None)


def test_full_instance_disk_refuses_an_upload_with_507(small_instance_app, tmp_path):
    # The database's disk is full: the upload's record cannot be written.
    runner = small_instance_app.test_cli_runner()
    res = runner.invoke(args=["user", "add", "ed@example.org", "--role", "editor",
                              "--password-stdin"], input="correct horse battery\n")
    assert res.exit_code == 0, res.output
    token = runner.invoke(args=["token", "create", "ed@example.org"]).output.strip()
    with (tmp_path / "instance" / "filler").open("wb", buffering=0) as filler, \
            contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()
    form = {"title": "Return migration",
            "file": FileStorage(io.BytesIO(b"return migration " * 500), "r.txt")}
    res = post_multipart(small_instance_app.test_client(), "/api/v1/documents", form,
                         {"Authorization": f"Bearer {token}"})
    assert res.status_code == 507, res.get_data(as_text=True)
    assert "no space left on the server's disk" in res.json["error"]

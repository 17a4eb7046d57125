"""Leftovers: old partial uploads are deleted and stored files no record names are moved to
quarantine (never deleted) by the worker's sweep at its start; `kb doctor` counts both."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

AGE = 600  # LEFTOVER_AGE_SECONDS in these tests


@pytest.fixture
def uploads(app) -> Path:
    app.config["LEFTOVER_AGE_SECONDS"] = AGE
    return Path(app.config["UPLOAD_DIR"])


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _blob(uploads: Path, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    path = uploads / sha[:2] / sha[2:4] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_worker_start_deletes_old_partial_uploads_only(runner, uploads):
    tmp = uploads / "tmp"
    tmp.mkdir(exist_ok=True)
    old, recent = tmp / "upload-crashed", tmp / "upload-under-way"
    old.write_bytes(b"the first megabytes of a cut-off upload")
    recent.write_bytes(b"an upload still arriving")
    _age(old, AGE + 60)
    _age(recent, AGE - 60)
    res = runner.invoke(args=["worker", "--once"])
    assert res.exit_code == 0, res.output
    assert not old.exists()
    assert recent.read_bytes() == b"an upload still arriving"


def test_worker_start_moves_old_unnamed_files_to_quarantine(runner, uploads, upload):
    res = upload(b"a recorded report on seasonal workers", "recorded.txt")
    assert res.status_code == 201
    sha = res.json["files"][0]["sha256"]
    named = uploads / sha[:2] / sha[2:4] / sha
    orphan = _blob(uploads, b"stored, then the server was killed before recording it")
    young = _blob(uploads, b"stored a moment ago, its record on the way")
    for path in (named, orphan):
        _age(path, AGE + 60)
    _age(young, AGE - 60)

    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    quarantined = uploads / "quarantine" / orphan.name
    assert not orphan.exists()
    assert quarantined.read_bytes() == b"stored, then the server was killed before recording it"
    assert named.exists() and young.exists()
    with runner.app.test_client().get(f"/documents/{res.json['id']}/download") as download:
        assert download.status_code == 200  # the recorded file is untouched

    doctor = runner.invoke(args=["doctor"])
    assert doctor.exit_code == 0, doctor.output
    assert "note: 1 stored files no record names" in doctor.output  # the young one
    assert f"note: 1 files in quarantine ({uploads / 'quarantine'})" in doctor.output


def test_a_trashed_documents_bytes_stay_until_it_is_purged(runner, uploads, upload, client,
                                                          editor, make_user):
    admin = make_user("admin")
    res = upload(b"a withdrawn study on circular migration", "study.txt")
    doc_id, sha = res.json["id"], res.json["files"][0]["sha256"]
    assert client.post(f"/api/v1/documents/{doc_id}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers).status_code == 204
    stored = uploads / sha[:2] / sha[2:4] / sha
    assert stored.exists()  # in the trash, the record still names them
    _age(stored, AGE + 60)
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert stored.exists() and not (uploads / "quarantine" / sha).exists()
    assert runner.invoke(args=["purge", str(doc_id)]).exit_code == 0
    assert not stored.exists() and not (uploads / "quarantine" / sha).exists()

"""`kb backup` while the repository is in use, and `kb restore` into a new instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from kb.extensions import db
from tests.conftest import make_app

THESAURUS = "en\tfr\nremittances\tenvois de fonds\n"


def new_app(root: Path, database_url: str | None) -> Flask:
    """An app whose secret key is generated into its instance folder (as in production),
    on the given database (SQLite in the instance folder when None)."""
    return make_app(root, database_url, SECRET_KEY=None)


def ok(runner: FlaskCliRunner, *args: str, code: int = 0) -> str:
    res = runner.invoke(args=list(args))
    assert res.exit_code == code, res.output
    return res.output


@pytest.fixture
def source(tmp_path: Path, database_url: str | None) -> Flask:
    """A repository in use: documents (one restricted to a group), users, a token, a
    thesaurus and audit events."""
    app = new_app(tmp_path / "source", database_url)
    runner = app.test_cli_runner()
    ok(runner, "init")
    return app


def upload(app: Flask, token: str, data: bytes, name: str, **meta: str) -> int:
    client = app.test_client()
    from tests.conftest import post_multipart

    res = post_multipart(client, "/api/v1/documents",
                         {"title": name, **meta, "file": _file(data, name)},
                         {"Authorization": f"Bearer {token}"})
    assert res.status_code == 201, res.get_data(as_text=True)
    return int(res.json["id"])


def _file(data: bytes, name: str) -> object:
    import io

    from werkzeug.datastructures import FileStorage

    return FileStorage(io.BytesIO(data), name)


def download(client: object, doc_id: int, auth: dict[str, str]) -> bytes:
    res = client.get(f"/documents/{doc_id}/download", headers=auth)  # type: ignore[attr-defined]
    try:
        assert res.status_code == 200
        return bytes(res.get_data())
    finally:
        res.close()


def fill(app: Flask, tmp_path: Path) -> tuple[str, list[int]]:
    runner = app.test_cli_runner()
    res = runner.invoke(args=["user", "add", "admin2@example.org", "--role", "admin",
                              "--password-stdin"], input="correct horse battery\n")
    assert res.exit_code == 0, res.output
    token = ok(runner, "token", "create", "admin2@example.org").strip()
    with app.app_context():
        from kb.services import groups

        groups.create_group("Moldova team", None)
        db.session.commit()
    ids = [
        upload(app, token, b"Remittances and diaspora bonds in Moldova.", "moldova.txt",
               countries="MDA"),
        upload(app, token, b"Circular migration of seasonal workers, Morocco.", "mar.txt",
               countries="MAR"),
        upload(app, token, b"Restricted remittances evaluation for the team.", "r.txt",
               access="restricted", groups="Moldova team"),
    ]
    thesaurus = tmp_path / "t.tsv"
    thesaurus.write_text(THESAURUS, encoding="utf-8")
    ok(runner, "thesaurus", "import", str(thesaurus))
    ok(runner, "worker", "--once")
    return token, ids


def test_a_restored_instance_is_the_same_repository(source, tmp_path, new_database):
    token, ids = fill(source, tmp_path)
    client = source.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    before = client.get("/api/v1/search", query_string={"q": "remittances"}, headers=auth).json
    audit_before = client.get("/admin/audit/export.csv", headers=auth).get_data(as_text=True)
    key_before = (tmp_path / "source" / "instance" / "secret_key").read_text()

    out = ok(source.test_cli_runner(), "backup", str(tmp_path / "backup"))
    assert out.splitlines()[-1].startswith("backup ")
    assert "3 documents, 3 stored files (3 new" in out.splitlines()[-1]

    target_db = new_database()
    target = new_app(tmp_path / "target", target_db)  # no `kb init`
    out = ok(target.test_cli_runner(), "restore", str(tmp_path / "backup"))
    assert "restored" in out.splitlines()[-1] and "3 indexed" in out.splitlines()[-1]
    with target.app_context():
        db.session.remove()
        db.engine.dispose()

    restored = new_app(tmp_path / "target", target_db)  # as the server would start on it
    assert (tmp_path / "target" / "instance" / "secret_key").read_text() == key_before
    assert restored.config["SECRET_KEY"] == key_before
    client = restored.test_client()
    after = client.get("/api/v1/search", query_string={"q": "remittances"}, headers=auth)
    assert after.status_code == 200  # the token's hash came back
    assert [r["id"] for r in after.json["results"]] == [r["id"] for r in before["results"]]
    assert after.json["total"] == before["total"] == 2
    for doc_id in ids:
        assert download(client, doc_id, auth) == download(source.test_client(), doc_id, auth)
    # the restricted one is still restricted: anonymous visitors do not see it
    assert client.get(f"/api/v1/documents/{ids[2]}").status_code == 404
    audit_after = client.get("/admin/audit/export.csv", headers=auth).get_data(as_text=True)
    assert audit_after.splitlines()[: len(audit_before.splitlines())] == \
        audit_before.splitlines()
    themes = client.get("/api/v1/themes", query_string={"q": "envois", "lang": "fr"}).json
    assert themes["themes"] == ["envois de fonds"]
    res = restored.test_cli_runner().invoke(args=["db", "current"])
    assert "(head)" in res.output
    with source.app_context():
        db.session.remove()
        db.engine.dispose()
    with restored.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_second_backup_copies_only_new_files(source, tmp_path):
    token, _ids = fill(source, tmp_path)
    runner = source.test_cli_runner()
    ok(runner, "backup", str(tmp_path / "backup"))
    again = ok(runner, "backup", str(tmp_path / "backup")).splitlines()[-1]
    assert "3 stored files (0 new, 0.0 MB copied)" in again
    upload(source, token, b"A fourth report on return migration.", "four.txt")
    third = ok(runner, "backup", str(tmp_path / "backup")).splitlines()[-1]
    assert "4 stored files (1 new" in third
    snapshots = sorted(p.name for p in (tmp_path / "backup" / "snapshots").iterdir())
    assert len(snapshots) == 3
    with source.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_damaged_backup_is_refused_naming_the_file(source, tmp_path, new_database):
    _token, _ids = fill(source, tmp_path)
    ok(source.test_cli_runner(), "backup", str(tmp_path / "backup"))
    blobs = sorted(p for p in (tmp_path / "backup" / "files").rglob("*") if p.is_file())
    damaged = blobs[0]
    damaged.write_bytes(damaged.read_bytes()[:-3] + b"xyz")

    target = new_app(tmp_path / "target", new_database())
    res = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    assert res.exit_code == 1
    assert "damaged" in res.output and damaged.name in res.output
    with target.app_context():
        from sqlalchemy import inspect

        assert inspect(db.engine).get_table_names() == []  # nothing restored
        db.session.remove()
        db.engine.dispose()
    assert not any(p.is_file() for p in (tmp_path / "target" / "uploads").rglob("*"))
    with source.app_context():
        db.session.remove()
        db.engine.dispose()


def test_restore_refuses_an_instance_in_use_and_an_incomplete_backup(source, tmp_path,
                                                                     new_database):
    fill(source, tmp_path)
    runner = source.test_cli_runner()
    ok(runner, "backup", str(tmp_path / "backup"))
    out = ok(runner, "restore", str(tmp_path / "backup"), code=1)
    assert "needs a new instance" in out and "already has tables" in out

    half = tmp_path / "half"
    (half / "snapshots" / ".20260101T000000Z.incomplete").mkdir(parents=True)
    (half / "snapshots" / "20260101T000000Z").mkdir()  # no manifest: never finished
    target = new_app(tmp_path / "target", new_database())
    out = ok(target.test_cli_runner(), "restore", str(half), code=1)
    assert "no complete backup" in out
    with target.app_context():
        db.session.remove()
        db.engine.dispose()
    with source.app_context():
        db.session.remove()
        db.engine.dispose()

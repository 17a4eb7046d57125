"""The `kb` command line: init, users, tokens, reindex, worker, help texts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KB = str(Path(sys.executable).parent / "kb")


def test_init_is_idempotent_and_creates_one_admin_once(tmp_path):
    env = {"KB_INSTANCE_DIR": str(tmp_path / "inst"), "KB_UPLOAD_DIR": str(tmp_path / "up"),
           "PATH": "/usr/bin:/bin"}
    first = subprocess.run([KB, "init"], env=env, capture_output=True, text=True, check=True)
    assert "email:    admin@kb.local" in first.stdout
    assert "password: " in first.stdout
    assert (tmp_path / "inst" / "kb.sqlite3").is_file()
    assert (tmp_path / "inst" / "index").is_dir()
    assert (tmp_path / "up").is_dir()
    assert (tmp_path / "inst" / "secret_key").stat().st_mode & 0o077 == 0
    second = subprocess.run([KB, "init"], env=env, capture_output=True, text=True, check=True)
    assert "password" not in second.stdout
    assert "Instance ready" in second.stdout


@pytest.mark.parametrize("command", [[], ["init"], ["user", "add"], ["token", "create"],
                                     ["import"], ["reindex"], ["serve"], ["worker"]])
def test_every_command_has_help(command):
    res = subprocess.run([KB, *command, "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    assert "Usage: kb" in res.stdout


def test_user_add_rejects_bad_input(runner):
    short = runner.invoke(args=["user", "add", "a@example.org", "--password-stdin"],
                          input="short\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    bad_role = runner.invoke(args=["user", "add", "a@example.org", "--role", "king"])
    assert bad_role.exit_code == 2
    ok = runner.invoke(args=["user", "add", "A@Example.org", "--password-stdin"],
                       input="long enough password\n")
    assert ok.exit_code == 0
    taken = runner.invoke(args=["user", "add", "a@example.org", "--password-stdin"],
                          input="long enough password\n")
    assert taken.exit_code == 1
    assert "exists already" in taken.output


def test_token_create_prints_only_the_token_and_stores_its_hash(app, runner, make_user):
    account = make_user("reader")
    res = runner.invoke(args=["token", "create", account.email, "--name", "laptop"])
    token = res.output.strip()
    assert res.output == token + "\n"
    assert token.startswith("kb_") and len(token) > 30
    with app.app_context():
        from kb.extensions import db

        rows = db.session.execute(db.text("SELECT * FROM api_token")).all()
    assert rows and not any(token in str(value) for row in rows for value in row)
    database = Path(app.instance_path) / "kb.sqlite3"
    if database.is_file():  # SQLite: nowhere in the file either
        assert token.encode() not in database.read_bytes()
    missing = runner.invoke(args=["token", "create", "nobody@example.org"])
    assert missing.exit_code == 1


def test_reindex_rebuilds_a_lost_index(app, runner, client, upload, process):
    upload(b"A study of circular migration and return.", "s.txt", title="Circular")
    process()
    assert client.get("/api/v1/search?q=circular").json["total"] == 1
    shutil.rmtree(app.config["INDEX_DIR"])
    res = runner.invoke(args=["init"])
    assert "Search index rebuilt: 1 documents." in res.output
    assert client.get("/api/v1/search?q=circular").json["total"] == 1
    res = runner.invoke(args=["reindex"])
    assert res.output.strip() == "Indexed 1 documents."
    hits = client.get("/api/v1/search?q=return").json
    assert hits["total"] == 1 and hits["results"][0]["snippets"][0]["page"] == 1


def test_worker_picks_up_metadata_edits(client, upload, process, editor):
    from tests.conftest import login

    doc_id = upload(b"Policy coherence for migration.", "p.txt", title="Coherence",
                    countries=["MAR"]).json["id"]
    process()
    login(client, editor)
    page = client.get(f"/documents/{doc_id}/edit").get_data(as_text=True)
    from tests.conftest import csrf_from

    res = client.post(f"/documents/{doc_id}/edit", data={
        "csrf_token": csrf_from(page), "title": "Coherence", "countries": ["TUN"],
        "access": "public", "themes": "Policy Coherence"})
    assert res.status_code == 302
    process()
    found = client.get("/api/v1/search", query_string={"country": "TUN"}).json
    assert [r["id"] for r in found["results"]] == [doc_id]
    assert found["results"][0]["themes"] == ["policy coherence"]
    assert client.get("/api/v1/search", query_string={"country": "MAR"}).json["total"] == 0


def test_an_unreachable_database_is_named_with_its_password_masked(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update({"KB_INSTANCE_DIR": str(tmp_path / "i"), "KB_UPLOAD_DIR": str(tmp_path / "u"),
                "KB_DATABASE_URL": "postgresql+psycopg://kb:s3cret-pw@127.0.0.1:1/kb"})
    res = subprocess.run([str(Path(sys.executable).parent / "kb"), "init"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "Error: the database postgresql+psycopg://kb:***@127.0.0.1:1/kb cannot be used" \
        in res.stderr
    assert "s3cret-pw" not in res.stderr + res.stdout
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "i" / "kb.sqlite3").exists()  # no fall-back to SQLite

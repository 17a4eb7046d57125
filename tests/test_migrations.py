"""Schema migrations: `kb init` builds and upgrades every instance with Alembic."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, inspect, text

from kb import migrate
from kb.extensions import db
from tests.conftest import make_app

FIRST = "0001_baseline"


def _app(tmp_path: Path, database_url: str | None) -> Flask:
    return make_app(tmp_path, database_url)


def test_the_models_and_the_migrations_agree(app):
    with app.app_context():
        assert migrate.differences() == []
        assert migrate.current_revision() == migrate.head_revision()


def test_kb_db_current_prints_alembics_own_answer(runner):
    res = runner.invoke(args=["db", "current"])
    assert res.exit_code == 0, res.output
    assert res.output.split() == [migrate_head(runner), "(head)"]


def migrate_head(runner) -> str:
    with runner.app.app_context():
        head = migrate.head_revision()
    assert head
    return head


def test_every_revision_goes_down_and_up_again(app, runner):
    res = runner.invoke(args=["db", "downgrade", "base"])
    assert res.exit_code == 0, res.output
    with app.app_context():
        assert inspect(db.engine).get_table_names() == ["alembic_version"]
    res = runner.invoke(args=["db", "upgrade"])
    assert res.exit_code == 0, res.output
    with app.app_context():
        assert migrate.differences() == []


def test_a_database_at_the_first_revision_is_upgraded_losing_nothing(tmp_path, database_url):
    app = _app(tmp_path, database_url)
    (tmp_path / "instance").mkdir()
    runner = app.test_cli_runner()
    res = runner.invoke(args=["db", "upgrade", FIRST])
    assert res.exit_code == 0, res.output
    url = app.config["DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:  # rows as the first revision's schema holds them
        conn.execute(text(
            'INSERT INTO "user" (user_id, email, password_hash, role, active, created_at, '
            "session_version) VALUES (7, 'old@example.org', 'x', 'editor', TRUE, "
            "'2020-01-02 03:04:05', 1)"))
        conn.execute(text(
            "INSERT INTO document (doc_id, title, summary, access, workflow, status, "
            "downloads, uploader_id, created_at, updated_at) VALUES (42, 'Lessons from "
            "Moldova', '', 'public', 'published', 'ready', 3, 7, '2020-01-02 03:04:05', "
            "'2020-01-02 03:04:05')"))
        conn.execute(text(
            "INSERT INTO stored_file (file_id, doc_id, version, filename, size, sha256, "
            "content_type, created_at) VALUES (5, 42, 1, 'lessons.pdf', 10, :sha, "
            "'application/pdf', '2020-01-02 03:04:05')"), {"sha": "a" * 64})
        conn.execute(text(
            "INSERT INTO page_text (file_id, page, text) VALUES (5, 1, 'Remittances.')"))
        conn.execute(text(
            "INSERT INTO job (job_id, doc_id, kind, state, attempts, run_after) VALUES "
            "(9, 42, 'extract', 'done', 1, '2020-01-02 03:04:05')"))
        conn.execute(text(
            "INSERT INTO audit_event (event_id, at, actor_id, actor_email, action, outcome) "
            "VALUES (3, '2020-01-02 03:04:05', 7, 'old@example.org', 'upload', 'success')"))
    engine.dispose()

    res = runner.invoke(args=["init"])
    assert res.exit_code == 0, res.output
    assert f"Database schema: {FIRST} ->" in res.output or migrate_head(runner) == FIRST
    with app.app_context():
        assert migrate.differences() == []
        from kb.models import AuditEvent, Document, User

        doc = db.session.get(Document, 42)
        assert doc is not None and doc.title == "Lessons from Moldova"
        assert doc.downloads == 3 and doc.current_file.filename == "lessons.pdf"
        # 0007_versions rebuilt stored_file on SQLite: its pages' text is still there.
        assert db.session.execute(text(
            "SELECT text FROM page_text WHERE file_id = 5")).scalar() == "Remittances."
        assert doc.current_file.public is False and doc.translation_of is None
        user = db.session.get(User, 7)
        assert user is not None and user.email == "old@example.org"
        assert db.session.get(AuditEvent, 3).action == "upload"
        from datetime import datetime

        from kb.models import HarvestRecord

        # 0005_harvest: the public document is harvestable from its last update on.
        record = db.session.get(HarvestRecord, 42)
        assert record is not None and not record.deleted
        assert record.datestamp == datetime(2020, 1, 2, 3, 4, 5)
        db.session.remove()
        db.engine.dispose()


def test_an_instance_made_before_migrations_is_recognised_not_recreated(app, upload,
                                                                         runner):
    """An instance `kb init` made with create_all (no alembic_version table), by a version
    that did not have the thesaurus tables yet, keeps its rows and gains what it lacks."""
    assert upload(b"Remittances and development in Kyrgyzstan.", "k.txt",
                  title="Kyrgyz remittances").status_code == 201
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(text("DROP TABLE concept_label"))
            conn.execute(text("DROP TABLE concept"))
        db.session.remove()
        db.engine.dispose()
        assert migrate.current_revision() is None

    res = runner.invoke(args=["init"])
    assert res.exit_code == 0, res.output
    assert "Database schema: new ->" in res.output
    assert "Created the first admin account" not in res.output  # its users are still there
    with app.app_context():
        assert migrate.differences() == []
        assert migrate.current_revision() == migrate.head_revision()
        from kb.models import Document

        titles = [d.title for d in db.session.scalars(db.select(Document))]
        assert titles == ["Kyrgyz remittances"]

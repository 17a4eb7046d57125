"""Sessions end on the server: sign-out kills a copied cookie, sessions expire when idle and
after their absolute lifetime, CSRF tokens do not outlive them, password changes and
disabled accounts end sessions and tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kb.extensions import db
from kb.models import UserSession
from kb.services import groups
from tests.conftest import csrf_from, login

START = datetime(2030, 1, 1, 9, 0)


class Clock:
    """The time the app reads (``CLOCK``), moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def clock(app):
    app.config["CLOCK"] = Clock()
    return app.config["CLOCK"]


def signed_in(client) -> bool:
    res = client.get("/profile")
    if res.status_code == 302:
        assert res.headers["Location"].startswith("/login")
        return False
    assert res.status_code == 200
    return True


def copy_of(client, app):
    """Another browser holding a copy of this one's cookies (as a thief would)."""
    thief = app.test_client()
    for name in ("session",):
        cookie = client.get_cookie(name)
        assert cookie is not None
        thief.set_cookie(name, cookie.value)
    return thief


def sign_out(client) -> None:
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


@pytest.fixture
def restricted_doc(app, upload, make_user):
    """A reader who is a member of a group, and a document restricted to that group."""
    reader = make_user("reader")
    with app.app_context():
        group = groups.create_group("Moldova team", actor=None)
        groups.add_member(group.group_id, reader.email, actor=None)
    res = upload(b"Remittance corridors, restricted notes.", "notes.txt", title="Notes",
                 access="restricted", groups="Moldova team")
    assert res.status_code == 201, res.json
    return reader, res.json["id"]


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(app, client, restricted_doc):
    reader, doc_id = restricted_doc
    login(client, reader)
    thief = copy_of(client, app)
    assert signed_in(thief)
    assert thief.get(f"/documents/{doc_id}").status_code == 200

    sign_out(client)

    assert not signed_in(client)
    assert not signed_in(thief)
    assert thief.get(f"/documents/{doc_id}").status_code == 404
    assert thief.get(f"/api/v1/documents/{doc_id}").status_code == 404
    assert thief.get(f"/documents/{doc_id}/download").status_code == 404
    # Signing in again opens a new session; the copy stays dead.
    login(client, reader)
    assert signed_in(client)
    assert not signed_in(thief)


def test_a_session_ends_after_its_idle_lifetime(app, client, clock, make_user):
    reader = make_user("reader")
    login(client, reader)
    idle = app.config["SESSION_IDLE_MINUTES"]
    assert idle == 120  # the documented default
    for _ in range(3):  # each request within the idle time keeps it going
        clock.advance(minutes=idle - 1)
        assert signed_in(client)
    clock.advance(minutes=idle + 1)
    assert not signed_in(client)
    # It stays ended, even once the clock is turned back.
    clock.at = START
    assert not signed_in(client)
    login(client, reader)
    assert signed_in(client)


def test_requests_within_a_minute_do_not_write_the_session(app, client, clock, make_user):
    login(client, make_user("reader"))

    def last_seen() -> datetime:
        with app.app_context():
            return db.session.scalars(db.select(UserSession.last_seen_at)).one()

    for _ in range(3):
        clock.advance(seconds=15)
        assert signed_in(client)
    assert last_seen() == START
    clock.advance(seconds=20)
    assert signed_in(client)
    assert last_seen() == START + timedelta(seconds=65)


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app, client, clock,
                                                                 make_user):
    reader = make_user("reader")
    login(client, reader)
    hours = app.config["SESSION_MAX_HOURS"]
    assert hours == 12  # the documented default
    for _ in range(hours * 2 - 1):
        clock.advance(minutes=30)
        assert signed_in(client)
    clock.advance(minutes=29)
    assert signed_in(client)
    clock.advance(minutes=2)
    assert not signed_in(client)


def test_lifetimes_are_configurable(app, client, clock, make_user):
    app.config.update(SESSION_IDLE_MINUTES=5, SESSION_MAX_HOURS=1)
    login(client, make_user("reader"))
    clock.advance(minutes=4)
    assert signed_in(client)
    clock.advance(minutes=6)
    assert not signed_in(client)


def test_csrf_tokens_do_not_outlive_the_session(app, client, make_user):
    reader = make_user("reader")
    before = csrf_from(client.get("/login").get_data(as_text=True))
    login(client, reader)
    # A token from before sign-in is refused after it...
    assert client.post("/profile/tokens", data={"name": "x", "csrf_token": before}
                       ).status_code == 400
    during = csrf_from(client.get("/profile").get_data(as_text=True))
    assert client.post("/profile/tokens", data={"name": "laptop", "csrf_token": during}
                       ).status_code == 200
    thief = copy_of(client, app)
    sign_out(client)
    # ...and one from the session is refused once it ended, with or without its cookie.
    assert client.post("/login", data={"email": reader.email, "password": reader.password,
                                       "csrf_token": during}).status_code == 400
    res = thief.post("/profile/tokens", data={"name": "stolen", "csrf_token": during})
    assert res.status_code == 302 and res.headers["Location"].startswith("/login")
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 12 * 3600


def test_password_change_ends_every_session_and_revokes_every_token(app, client, make_user):
    reader = make_user("reader")
    login(client, reader)
    before = copy_of(client, app)
    assert client.get("/api/v1/search", headers=reader.headers).status_code == 200
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    res = client.post("/profile/password", data={
        "csrf_token": token, "current_password": reader.password,
        "new_password": "plum orchard lantern 42", "confirm_password": "plum orchard lantern 42"})
    assert res.status_code == 302
    assert signed_in(client)  # this browser goes on, in a new session
    assert not signed_in(before)  # a copy of its old cookie does not
    assert client.get("/api/v1/search", headers=reader.headers).status_code == 401
    page = client.get("/profile").get_data(as_text=True)
    assert "revoked" in page and "active</td>" not in page


def test_sign_out_everywhere_ends_copied_cookies_too(app, client, make_user):
    reader = make_user("reader")
    login(client, reader)
    thief = copy_of(client, app)
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    client.post("/profile/sign-out-everywhere", data={"csrf_token": token})
    assert not signed_in(client)
    assert not signed_in(thief)


def test_ended_sessions_are_cleared_at_the_next_sign_in(app, client, make_user):
    reader = make_user("reader")
    for _ in range(4):
        login(client, reader)
        sign_out(client)
    login(client, reader)
    with app.app_context():
        rows = db.session.scalars(db.select(UserSession)).all()
        assert [r.ended_at for r in rows] == [None]


def test_the_migration_keeps_every_row_that_refers_to_a_user(tmp_path):
    """0002 drops user.session_version in place: a table copy would cascade-delete tokens
    and memberships (SQLite drops the old table with foreign keys on)."""
    from sqlalchemy import create_engine, inspect, text

    from kb import create_app, migrate

    app = create_app({"TESTING": True, "INSTANCE_DIR": str(tmp_path / "instance"),
                      "UPLOAD_DIR": str(tmp_path / "uploads"), "SECRET_KEY": "test-secret"})
    (tmp_path / "instance").mkdir()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0001_baseline"]).exit_code == 0
    engine = create_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys=ON"))
        conn.execute(text(
            "INSERT INTO user (user_id, email, password_hash, role, active, created_at, "
            "session_version) VALUES (7, 'old@example.org', 'x', 'reader', 1, "
            "'2020-01-02 03:04:05', 3)"))
        conn.execute(text("INSERT INTO api_token (token_id, user_id, token_hash, created_at) "
                          "VALUES (1, 7, :h, '2020-01-02 03:04:05')"), {"h": "b" * 64})
        conn.execute(text("INSERT INTO \"group\" (group_id, name, created_at) "
                          "VALUES (2, 'Board', '2020-01-02 03:04:05')"))
        conn.execute(text("INSERT INTO group_member (group_id, user_id) VALUES (2, 7)"))
        conn.execute(text(
            "INSERT INTO document (doc_id, title, summary, access, workflow, status, "
            "downloads, uploader_id, created_at, updated_at) VALUES (42, 'Notes', '', "
            "'public', 'published', 'ready', 0, 7, '2020-01-02 03:04:05', "
            "'2020-01-02 03:04:05')"))
    engine.dispose()
    res = runner.invoke(args=["init"])
    assert res.exit_code == 0, res.output
    with app.app_context():
        assert migrate.differences() == []
        columns = {c["name"] for c in inspect(db.engine).get_columns("user")}
        assert "session_version" not in columns
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM api_token")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM group_member")).scalar() == 1
            assert conn.execute(text("SELECT uploader_id FROM document")).scalar() == 7
        assert runner.invoke(args=["db", "downgrade", "0001_baseline"]).exit_code == 0
        columns = {c["name"] for c in inspect(db.engine).get_columns("user")}
        assert "session_version" in columns and "user_session" not in \
            inspect(db.engine).get_table_names()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM api_token")).scalar() == 1
        db.session.remove()
        db.engine.dispose()

"""Email, read from a real SMTP server (aiosmtpd on 127.0.0.1): editors hear of
submissions, uploaders of decisions, anyone of a forgotten password; the worker sends,
retries and, when it must, fails a message visibly."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from kb.extensions import db
from kb.models import AuditEvent, Job, utcnow
from kb.services import mail
from tests.conftest import Account, csrf_from, free_port, login, post_multipart
from tests.mailbox import Mailbox, running_mailbox

SITE = "https://kb.example.org"


class Clock:
    """The time the app reads (``CLOCK``), moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


@pytest.fixture
def mailing(app, mailbox):
    """The app sends its email to ``mailbox``; links start with SITE."""
    app.config.update(SMTP_URL=mailbox.url, SITE_URL=SITE, MAIL_FROM="kb@example.org")
    return mailbox


@pytest.fixture
def clock(app):
    app.config["CLOCK"] = Clock()
    return app.config["CLOCK"]


def email_jobs(app) -> list[Job]:
    with app.app_context():
        jobs = list(db.session.scalars(select(Job).where(Job.kind == "email")
                                       .order_by(Job.job_id)))
        db.session.expunge_all()
        return jobs


def audit_actions(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                         .order_by(AuditEvent.event_id)))
        db.session.expunge_all()
        return events


def submit(upload, contributor: Account, title: str = "Remittances in Moldova") -> int:
    res = upload(f"Remittances and diaspora investment: {title}.".encode(), "moldova.txt",
                 account=contributor, title=title, type="report", countries=["MDA"])
    assert res.status_code == 201, res.json
    return int(res.json["id"])


def test_a_submission_is_mailed_to_each_editor(app, mailing, editor, make_user, upload,
                                               process):
    editors = [editor, make_user("editor")]
    admin, contributor = make_user("admin"), make_user("contributor")
    doc_id = submit(upload, contributor)
    process()
    for editor in editors:
        got = mailing.wait_for(editor.email, "Remittances in Moldova")
        assert got.subject == "Submitted for review: Remittances in Moldova"
        assert got.mail["From"] == "kb@example.org"
        assert contributor.email in got.body
        assert f"{SITE}/documents/{doc_id}" in got.links()
        assert f"{SITE}/review" in got.links()
    assert mailing.to(admin.email) == []  # there are editors: admins are not bothered
    assert mailing.to(contributor.email) == []
    sent = email_jobs(app)
    assert [j.state for j in sent] == ["done", "done"]
    # Once sent, the database keeps who and what about, not the text.
    assert all("body" not in (j.payload or "") for j in sent)


def test_without_editors_the_admins_hear_of_a_submission(app, client, mailing, make_user,
                                                          process):
    admin, contributor = make_user("admin"), make_user("contributor")
    res = post_multipart(client, "/api/v1/documents", {
        "title": "Diaspora bonds", "file": FileStorage(io.BytesIO(b"Diaspora bonds."), "b.txt")},
        contributor.headers)
    assert res.status_code == 201, res.json
    process()
    assert mailing.wait_for(admin.email, "Diaspora bonds").subject \
        == "Submitted for review: Diaspora bonds"


def test_publish_and_return_are_mailed_to_the_uploader_with_the_comment(
        app, client, mailing, make_user, upload, process):
    editor, contributor = make_user("editor"), make_user("contributor")
    doc_id = submit(upload, contributor)
    process()
    res = client.post(f"/api/v1/documents/{doc_id}/return", headers=editor.headers,
                      data={"comment": "Please add the country annex, page 4."})
    assert res.status_code == 200
    process()
    returned = mailing.wait_for(contributor.email, "Returned to you")
    assert returned.subject == "Returned to you: Remittances in Moldova"
    assert "Please add the country annex, page 4." in returned.body
    assert f"{SITE}/documents/{doc_id}/edit" in returned.links()
    assert f"{SITE}/my/documents" in returned.links()

    res = client.post(f"/api/v1/documents/{doc_id}/publish", headers=editor.headers,
                      data={"comment": "Thank you, well done."})
    assert res.status_code == 200
    process()
    published = mailing.wait_for(contributor.email, "Published")
    assert published.subject == "Published: Remittances in Moldova"
    assert "Thank you, well done." in published.body
    assert f"{SITE}/documents/{doc_id}" in published.links()
    # The editor is not told of their own decisions.
    assert [m.subject for m in mailing.to(editor.email)] \
        == ["Submitted for review: Remittances in Moldova"]


def test_only_submissions_are_announced(app, mailing, editor, make_user, upload, process):
    upload(b"published at once", "mine.txt", title="Editor's own")  # the editor's
    process()
    assert mailing.messages == []
    assert email_jobs(app) == []
    submit(upload, make_user("contributor"), "A contributor's")
    process()
    assert [m.subject for m in mailing.to(editor.email)] \
        == ["Submitted for review: A contributor's"]


def test_without_an_smtp_url_nothing_is_sent_and_nothing_breaks(app, client, make_user,
                                                                upload, process):
    assert app.config["SMTP_URL"] is None
    editor, contributor = make_user("editor"), make_user("contributor")
    doc_id = submit(upload, contributor)
    process()
    assert client.post(f"/api/v1/documents/{doc_id}/return", headers=editor.headers,
                       data={"comment": "Add the annex"}).status_code == 200
    assert client.post(f"/api/v1/documents/{doc_id}/publish",
                       headers=editor.headers).status_code == 200
    process()
    login_page = client.get("/login").get_data(as_text=True)
    assert "Forgot your password?" not in login_page  # it could not work
    forgot = client.get("/forgot-password")
    assert forgot.status_code == 200
    assert "does not send email" in forgot.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Job).where(Job.kind == "email")).all() == []
        assert db.session.scalars(select(Job).where(Job.state == "failed")).all() == []


def test_an_unreachable_server_is_retried_then_the_job_fails_with_the_reason(
        app, clock, make_user, upload, process, caplog):
    nobody = free_port()  # nothing listens there
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{nobody}", SITE_URL=SITE)
    submit(upload, make_user("contributor"))
    process()
    [job] = email_jobs(app)
    assert (job.state, job.attempts) == ("queued", 1)
    assert f"Could not send through the mail server at 127.0.0.1:{nobody}" in job.last_error
    assert "refused" in job.last_error.lower()
    assert job.run_after > clock.at  # it waits before trying again
    process()  # not due yet: nothing happens
    assert email_jobs(app)[0].attempts == 1
    with caplog.at_level(logging.WARNING, logger="kb.services.mail"):
        for attempt in range(2, mail.MAX_ATTEMPTS + 1):
            clock.advance(hours=1)
            process()
            assert email_jobs(app)[0].attempts == attempt
    [job] = email_jobs(app)
    assert job.state == "failed"
    assert job.last_error_code == "mail-failed"
    assert "refused" in job.last_error.lower()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"email not sent after {mail.MAX_ATTEMPTS} attempts" in e for e in errors), errors


def test_a_message_waits_out_a_server_that_is_down(app, clock, editor, make_user, upload,
                                                    process):
    box = Mailbox()  # chosen, not yet started
    app.config.update(SMTP_URL=box.url, SITE_URL=SITE)
    submit(upload, make_user("contributor"))
    process()
    assert email_jobs(app)[0].state == "queued"
    box.start()
    try:
        clock.advance(minutes=1)
        process()
        assert box.wait_for(editor.email, "Submitted for review")
    finally:
        box.stop()
    [job] = email_jobs(app)
    assert (job.state, job.attempts, job.last_error) == ("done", 1, None)


def test_the_url_login_is_used_and_a_refused_one_fails_at_once(app, clock, editor, make_user,
                                                               upload, process):
    with Mailbox(users={"kb-sender": "s3cret:/@pass"}) as box:
        app.config.update(SMTP_URL=f"smtp://kb-sender:s3cret%3A%2F%40pass@127.0.0.1:{box.port}",
                          SITE_URL=SITE)
        submit(upload, make_user("contributor"), "First")
        process()
        assert box.wait_for(editor.email, "First").login == "kb-sender"
        app.config["SMTP_URL"] = f"smtp://kb-sender:wrong@127.0.0.1:{box.port}"
        submit(upload, make_user("contributor"), "Second")
        process()
    failed = email_jobs(app)[-1]
    assert (failed.state, failed.attempts) == ("failed", 1)  # a 5xx answer is final
    assert failed.last_error_code == "mail-refused"
    assert "535" in failed.last_error
    assert "wrong" not in failed.last_error  # the password is never repeated


# Forgot password


def ask_for_reset(client, email: str):
    page = client.get("/forgot-password")
    return client.post("/forgot-password", data={
        "email": email, "csrf_token": csrf_from(page.get_data(as_text=True))})


def reset_link(mailbox: Mailbox, email: str) -> str:
    got = mailbox.wait_for(email, "Choose a new password")
    [link] = [u for u in got.links() if "/reset-password" in u]
    assert link.startswith(f"{SITE}/reset-password?token=")
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def choose_password(client, path: str, password: str):
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post("/reset-password", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "token": re.search(r'name="token" type="hidden" value="([^"]+)"',
                           page.get_data(as_text=True)).group(1),
        "new_password": password, "confirm_password": password})


def test_a_reset_link_is_mailed_and_works_once(app, client, mailing, make_user, process):
    user = make_user("reader")
    assert "Forgot your password?" in client.get("/login").get_data(as_text=True)
    res = ask_for_reset(client, user.email.upper())  # as typed: any case
    assert res.status_code == 302 and res.headers["Location"] == "/login"
    flashed = client.get("/login").get_data(as_text=True)
    assert "If an account uses that address" in flashed
    process()
    path = reset_link(mailing, user.email)
    got = mailing.to(user.email)[0]
    assert "works once" in got.body and "2 hours" in got.body

    new = "violet kettle under seven bridges"
    res = choose_password(client, path, new)
    assert res.status_code == 302 and res.headers["Location"] == "/login"
    login(client, Account(user.email, new, user.role, user.token))
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    old = client.post("/login", data={"email": user.email, "password": user.password,
                                      "csrf_token": csrf_from(client.get("/login").get_data(
                                          as_text=True))})
    assert old.status_code == 401
    # Used once: the link says so, and changes nothing.
    again = client.get(path)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)
    assert audit_actions(app, "password-reset-requested")[0].outcome == "success"
    [done] = audit_actions(app, "password-reset")
    assert done.actor_email == user.email


def test_a_reset_ends_the_accounts_sessions_and_tokens(app, client, mailing, make_user,
                                                       process):
    user = make_user("contributor")
    other = app.test_client()
    login(other, user)
    assert other.get("/profile").status_code == 200
    ask_for_reset(client, user.email)
    process()
    assert choose_password(client, reset_link(mailing, user.email),
                           "violet kettle under seven bridges").status_code == 302
    assert other.get("/profile").status_code == 302  # signed out
    assert client.get("/api/v1/search", headers=user.headers).status_code == 401


def test_an_expired_link_is_refused(app, client, clock, mailing, make_user, process):
    user = make_user("reader")
    ask_for_reset(client, user.email)
    process()
    path = reset_link(mailing, user.email)
    clock.advance(hours=1, minutes=59)
    assert client.get(path).status_code == 200
    clock.advance(minutes=2)
    page = client.get(path)
    assert page.status_code == 400
    assert "expired" in page.get_data(as_text=True)
    res = client.post("/reset-password", data={
        "csrf_token": csrf_from(client.get("/forgot-password").get_data(as_text=True)),
        "token": urlsplit(path).query.removeprefix("token="),
        "new_password": "violet kettle under seven bridges",
        "confirm_password": "violet kettle under seven bridges"})
    assert res.status_code == 400
    login(client, user)  # the old password still works


def test_a_tampered_link_is_refused(app, client, mailing, make_user, process):
    user = make_user("reader")
    ask_for_reset(client, user.email)
    process()
    path = reset_link(mailing, user.email)
    assert client.get(path[:-3] + "abc").status_code == 400
    assert client.get("/reset-password").status_code == 400


def test_an_unknown_address_gets_the_same_answer(app, client, mailing, make_user, process):
    user = make_user("reader")
    known = ask_for_reset(client, user.email)
    known_page = client.get("/login").get_data(as_text=True)
    unknown = ask_for_reset(client, "nobody@example.org")
    unknown_page = client.get("/login").get_data(as_text=True)
    assert (known.status_code, known.headers["Location"]) \
        == (unknown.status_code, unknown.headers["Location"])

    def flash(html: str) -> str:
        return re.search(r'<p class="flash[^>]*>(.*?)</p>', html, re.S).group(1)

    assert flash(known_page) == flash(unknown_page)
    process()
    assert [m.recipients for m in mailing.messages] == [(user.email,)]
    attempts = audit_actions(app, "password-reset-requested")
    assert [(e.actor_email, e.outcome) for e in attempts] == [
        (user.email, "success"), ("nobody@example.org", "failure")]


def test_forgot_password_is_rate_limited_per_address_and_per_client(app, client, mailing,
                                                                    make_user):
    user = make_user("reader")
    for _ in range(3):
        assert ask_for_reset(client, user.email).status_code == 302
    limited = ask_for_reset(client, user.email)
    assert limited.status_code == 429
    assert "Too many requests for a new password" in limited.get_data(as_text=True)
    # Other addresses from the same client go on, up to the client's own limit (10
    # requests answered an hour).
    for n in range(7):
        assert ask_for_reset(client, f"someone{n}@example.org").status_code == 302
    assert ask_for_reset(client, "someone-else@example.org").status_code == 429
    # Unknown addresses count exactly as known ones: the limit tells nothing either.
    assert len(audit_actions(app, "password-reset-requested")) == 10

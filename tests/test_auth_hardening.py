"""What the attacks on sign-in, caching and access found weak: unsafe `next` redirects, password
guessing through the profile, locking other people out, cached private answers, no HSTS,
group names shown to contributors, and hidden documents told apart from missing ones."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import event, select
from werkzeug.datastructures import FileStorage

from kb import policy
from kb.extensions import db
from kb.models import Document, DocumentGroup, User
from kb.services import accounts, groups
from tests.conftest import csrf_from, login, post_multipart
from tests.test_security import build_app

LIMITED = "Too many failed sign-in attempts"


def attempt(client, email, password, address="127.0.0.1", next_url=None):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"email": email, "password": password,
                             "csrf_token": csrf_from(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": address})


# The login form's `next`

HOSTILE_NEXT = [
    "//evil.example/x", "\\\\evil.example", "/\\evil.example", "http://evil.example/",
    "https:evil.example", "javascript:alert(1)", "/\r\nSet-Cookie: stolen=1",
    "/%0d%0aSet-Cookie: stolen=1", "/\t/evil.example", "/\n/evil.example", " //evil.example",
    "\x00/evil", "/\u2028/evil.example", "mailto:x@evil.example",
]


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_sign_in_redirects_only_to_this_site_whatever_next_says(client, make_user, next_url):
    account = make_user("reader")
    res = attempt(client, account.email, account.password, next_url=next_url)
    assert res.status_code == 302, res.get_data(as_text=True)[:300]
    location = res.headers["Location"]
    assert location == "/" or location.startswith("/") and not location.startswith("//")
    assert not any(ch in location for ch in "\r\n\t\\")
    assert urlsplit(location).netloc == ""
    assert not any("stolen" in c for c in res.headers.getlist("Set-Cookie"))


def test_a_path_on_this_site_is_kept_as_next(client, make_user):
    account = make_user("reader")
    res = attempt(client, account.email, account.password,
                  next_url="/search?q=миграция&country=MDA")
    assert res.status_code == 302
    assert res.headers["Location"].startswith("/search?q=")
    assert "country=MDA" in res.headers["Location"]


# Guessing the password through the profile


def change_password(client, current, new="plum orchard lantern 42", confirm=None):
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    return client.post("/profile/password", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "confirm_password": confirm or new})


def test_wrong_current_passwords_are_rate_limited_per_account(app, client, make_user):
    account = make_user("reader")
    login(client, account)
    # A weak new password is the user's mistake, not a guess: it does not count.
    for _ in range(6):
        assert change_password(client, account.password, "password1234").status_code == 400
    for n in range(5):
        assert change_password(client, f"guess number {n}").status_code == 400
    blocked = change_password(client, "guess number 6")
    assert blocked.status_code == 429
    assert "Too many wrong current passwords" in blocked.get_data(as_text=True)
    assert int(blocked.headers["Retry-After"]) >= 1
    # Even the right password waits now, and so does another session of the account...
    assert change_password(client, account.password).status_code == 429
    other = app.test_client()
    login(other, account)
    assert change_password(other, account.password).status_code == 429
    # ...but not another account.
    someone = make_user("reader")
    third = app.test_client()
    login(third, someone)
    assert change_password(third, someone.password).status_code == 302


# Someone else's failures do not lock you out


def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(client, make_user):
    victim = make_user("reader")
    for n in range(5):
        assert attempt(client, victim.email, f"guess {n}", address="10.0.0.1"
                       ).status_code == 401
    blocked = attempt(client, victim.email, victim.password, address="10.0.0.1")
    assert blocked.status_code == 429
    assert LIMITED in blocked.get_data(as_text=True)
    assert attempt(client, victim.email, victim.password, address="10.0.0.2"
                   ).status_code == 302


def test_guessing_from_many_addresses_meets_the_account_ceiling(tmp_path, make_user):
    app = build_app(tmp_path, LOGIN_LIMIT_ACCOUNT="12 per hour")
    client = app.test_client()
    for n in range(12):
        address = f"10.0.{n // 4}.{n % 4 + 1}"  # 4 failures from each of 3 addresses
        assert attempt(client, "target@example.org", f"guess {n}", address=address
                       ).status_code == 401
    assert attempt(client, "target@example.org", "guess", address="10.9.9.9"
                   ).status_code == 429


# Caching


def no_store(res) -> bool:
    return "no-store" in res.headers.get("Cache-Control", "")


def test_answers_for_someone_are_never_cached_public_ones_may_be(app, client, make_user,
                                                                 upload, process):
    doc_id = upload(b"Public remittance notes.", "public.txt", title="Public").json["id"]
    process()
    reader = make_user("reader")
    admin = make_user("admin")
    anonymous = [client.get("/"), client.get("/api/v1/search?q=remittance"),
                 client.get(f"/documents/{doc_id}"), client.get(f"/api/v1/documents/{doc_id}")]
    with client.get(f"/documents/{doc_id}/download") as res:
        anonymous.append(res)
    with client.get("/static/kb.css") as res:
        anonymous.append(res)
    assert [r.status_code for r in anonymous] == [200] * 6
    assert not any(no_store(r) for r in anonymous)

    token_answers = [client.get("/api/v1/search?q=remittance", headers=reader.headers),
                     client.get(f"/api/v1/documents/{doc_id}", headers=reader.headers)]
    with client.get(f"/documents/{doc_id}/download", headers=reader.headers) as res:
        token_answers.append(res)
    assert all(no_store(r) for r in token_answers)

    login(client, reader)
    signed_in = [client.get("/"), client.get("/api/v1/search?q=remittance"),
                 client.get(f"/documents/{doc_id}"), client.get(f"/api/v1/documents/{doc_id}"),
                 client.get("/api/v1/documents/424242"), client.get("/profile")]
    with client.get(f"/documents/{doc_id}/download") as res:
        signed_in.append(res)
    assert all(no_store(r) for r in signed_in), [r.request.path for r in signed_in
                                                 if not no_store(r)]
    with client.get("/static/kb.css") as css:
        assert not no_store(css)

    admin_client = client.application.test_client()
    login(admin_client, admin)
    with admin_client.get("/admin/audit/export.csv") as export:
        assert export.status_code == 200 and no_store(export)


# HSTS


def test_hsts_is_sent_over_https_only(app, client):
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    with client.get("/static/kb.css", base_url="https://localhost") as css:
        assert "Strict-Transport-Security" in css.headers
    assert "Strict-Transport-Security" not in client.get("/").headers
    app.config["HSTS_SECONDS"] = 0
    assert "Strict-Transport-Security" not in client.get("/", base_url="https://localhost"
                                                         ).headers


def test_hsts_follows_a_trusted_proxys_scheme(tmp_path):
    app = build_app(tmp_path, TRUST_PROXY=1)
    res = app.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
    assert res.headers["Strict-Transport-Security"] == "max-age=31536000"


# Group names


def test_contributors_see_and_choose_only_their_own_groups(app, client, make_user, editor):
    contributor = make_user("contributor")
    with app.app_context():
        mine = groups.create_group("Moldova team", actor=None)
        groups.create_group("Secret steering board", actor=None)
        groups.add_member(mine.group_id, contributor.email, actor=None)

    login(client, contributor)
    page = client.get("/upload").get_data(as_text=True)
    assert "Moldova team" in page and "Secret steering board" not in page

    def api_upload(name, account, data):
        return post_multipart(client, "/api/v1/documents", {
            "title": "Notes", "access": "restricted", "groups": name,
            "file": FileStorage(io.BytesIO(data), "notes.txt")}, account.headers)

    hidden = api_upload("Secret steering board", contributor, b"first")
    missing = api_upload("No such board", contributor, b"second")
    assert hidden.status_code == missing.status_code == 400
    assert (hidden.json["error"].replace("Secret steering board", "X")
            == missing.json["error"].replace("No such board", "X"))
    ok = api_upload("Moldova team", contributor, b"third")
    assert ok.status_code == 201, ok.json
    edit = client.get(f"/documents/{ok.json['id']}/edit").get_data(as_text=True)
    assert "Moldova team" in edit and "Secret steering board" not in edit

    other = app.test_client()
    login(other, editor)
    page = other.get("/upload").get_data(as_text=True)
    assert "Moldova team" in page and "Secret steering board" in page
    assert api_upload("Secret steering board", editor, b"fourth").status_code == 201


# A hidden document and a missing id take the same path


@contextmanager
def statements(app):
    """The SQL statements the app sends while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


ENDPOINTS = ["/documents/{}", "/api/v1/documents/{}", "/documents/{}/download",
             "/api/v1/documents/{}/similar"]


def test_hidden_and_missing_documents_cost_the_same_statements(app, client, make_user, upload,
                                                                process):
    reader = make_user("reader")
    internal = upload(b"Internal remittance notes.", "internal.txt", title="Internal",
                      access="internal").json["id"]
    with app.app_context():
        groups.create_group("Board", actor=None)
    restricted = upload(b"Board remittance notes.", "board.txt", title="Board",
                        access="restricted", groups="Board").json["id"]
    process()
    missing = 424242

    signed_in = app.test_client()
    login(signed_in, reader)
    cases = [("anonymous", client, {}, internal), ("token", client, reader.headers, restricted),
             ("session", signed_in, {}, restricted)]
    for who, browser, headers, hidden in cases:
        for url in ENDPOINTS:
            answers = []
            for doc_id in (hidden, missing, hidden):
                with statements(app) as seen:
                    res = browser.get(url.format(doc_id), headers=headers)
                    res.close()
                answers.append((res.status_code, seen))
            (hidden_status, hidden_sql), (missing_status, missing_sql), again = answers
            assert hidden_status == missing_status == 404, (who, url)
            assert hidden_sql == missing_sql == again[1], (who, url)
            assert sum("FROM document" in s for s in hidden_sql) == 1, (who, url, hidden_sql)


def test_the_page_query_admits_exactly_whom_can_view_admits(app, make_user):
    """kb.policy's SQL condition and its Python check agree on every kind of document."""
    accounts_made = {role: make_user(role) for role in ("reader", "contributor", "editor")}
    with app.app_context():
        member = groups.create_group("Members", actor=None)
        other = groups.create_group("Others", actor=None)
        groups.add_member(member.group_id, accounts_made["reader"].email, actor=None)
        users = {role: accounts.find_user(a.email) for role, a in accounts_made.items()}
        users["anonymous"] = AnonymousUserMixin()
        disabled = accounts.find_user(accounts_made["reader"].email)
        for access in ("public", "internal", "restricted"):
            for workflow in ("published", "submitted", "returned", "withdrawn"):
                for uploader in (None, users["contributor"].user_id):
                    for group_id in (member.group_id, other.group_id):
                        db.session.add(Document(
                            title=f"{access} {workflow}", access=access, workflow=workflow,
                            uploader_id=uploader,
                            group_rows=[DocumentGroup(group_id=group_id)]))
        db.session.commit()
        docs = db.session.scalars(select(Document)).all()
        for who, user in users.items():
            expected = {d.doc_id for d in docs if policy.can_view(user, d)}
            found = set(db.session.scalars(select(Document.doc_id).where(
                policy.viewable_documents_clause(user))))
            assert found == expected, who
            assert expected, who
        disabled.active = False
        assert set(db.session.scalars(select(Document.doc_id).where(
            policy.viewable_documents_clause(disabled)))) == {
            d.doc_id for d in docs if policy.can_view(disabled, d)}
        db.session.rollback()
        assert isinstance(users["editor"], User)


def test_a_hidden_document_page_says_no_more_than_a_missing_one(client, upload):
    hidden = upload(b"Internal notes.", "internal.txt", title="Quite secret title",
                    access="internal").json["id"]
    answers = [client.get(f"/documents/{doc_id}") for doc_id in (hidden, 424242)]
    bodies = [re.sub(r'value="[^"]+"', "", a.get_data(as_text=True))
              .replace(f"/documents/{doc_id}", "/documents/ID")
              for a, doc_id in zip(answers, (hidden, 424242), strict=True)]
    assert [a.status_code for a in answers] == [404, 404]
    assert bodies[0] == bodies[1]

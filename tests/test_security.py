"""Protections a user or an attacker notices: sign-in limits, cookie flags, security headers
on every kind of answer, downloads that never run as pages, revoked tokens refused."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas
from sqlalchemy import select

from kb.extensions import db
from kb.models import StoredFile
from kb.security import PAGE_CSP
from tests.conftest import csrf_from, login, make_app

LIMITED = "Too many failed sign-in attempts"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def attempt(client, email, password, address="127.0.0.1", **kwargs):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address}, **kwargs)
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))},
                       environ_base={"REMOTE_ADDR": address}, **kwargs)


def build_app(tmp_path, **config):
    """An app with extra configuration, initialised like the `app` fixture's (on SQLite:
    these tests are about the web layer)."""
    app = make_app(tmp_path, None, INSTANCE_DIR=str(tmp_path / "instance2"),
                   UPLOAD_DIR=str(tmp_path / "uploads2"), **config)
    assert app.test_cli_runner().invoke(args=["init"]).exit_code == 0
    return app


def tiny_pdf() -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, "Remittance corridors pilot")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


# Sign-in rate limits


def test_failed_sign_ins_are_limited_per_account(client, make_user):
    account = make_user("reader")
    for n in range(5):
        email = account.email.upper() if n % 2 else account.email  # case does not matter
        assert attempt(client, email, f"wrong guess {n}").status_code == 401
    blocked = attempt(client, account.email, account.password)
    assert blocked.status_code == 429
    assert LIMITED in blocked.get_data(as_text=True)
    assert 1 <= int(blocked.headers["Retry-After"]) <= 61  # the window is a minute
    # Another account from the same address is not locked out.
    other = make_user("reader")
    assert attempt(client, other.email, other.password).status_code == 302


def test_unknown_and_known_accounts_get_the_same_answers(client, make_user):
    account = make_user("reader")
    answers = {}
    for email in (account.email, "ghost@example.org"):
        failures = [attempt(client, email, "not the password") for _ in range(5)]
        blocked = attempt(client, email, "not the password")
        answers[email] = ([r.status_code for r in failures], blocked.status_code,
                          re.sub(r'value="[^"]+"', "", blocked.get_data(as_text=True)))
        assert "Wrong email or password." in failures[0].get_data(as_text=True)
    assert answers[account.email] == answers["ghost@example.org"]
    assert answers[account.email][:2] == ([401] * 5, 429)


def test_failed_sign_ins_are_limited_per_address(client, make_user):
    account = make_user("reader")
    for n in range(20):
        res = attempt(client, f"guess{n}@example.org", "wrong password", address="10.0.0.1")
        assert res.status_code == 401
    blocked = attempt(client, account.email, account.password, address="10.0.0.1")
    assert blocked.status_code == 429
    assert LIMITED in blocked.get_data(as_text=True)
    assert attempt(client, account.email, account.password, address="10.0.0.2"
                   ).status_code == 302


def test_successful_sign_ins_do_not_count(client, make_user):
    account = make_user("reader")
    for _ in range(8):
        assert attempt(client, account.email, account.password).status_code == 302


def test_limits_are_configurable(tmp_path):
    app = build_app(tmp_path, LOGIN_LIMIT_ACCOUNT="2 per hour")
    client = app.test_client()
    assert attempt(client, "a@example.org", "wrong one").status_code == 401
    assert attempt(client, "a@example.org", "wrong two").status_code == 401
    assert attempt(client, "a@example.org", "wrong three").status_code == 429


# Cookies


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_session_cookie_is_httponly_lax_and_secure_only_over_https(client, make_user):
    account = make_user("reader")
    plain = session_cookie(attempt(client, account.email, account.password))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain
    assert "Secure" not in plain

    secure_client = client.application.test_client()
    page = secure_client.get("/login", base_url="https://localhost")
    res = secure_client.post(
        "/login", base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it over HTTPS
        data={"email": account.email, "password": account.password,
              "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert res.status_code == 302
    cookie = session_cookie(res)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("trust", [0, 1])
def test_forwarded_proto_counts_only_behind_a_trusted_proxy(tmp_path, trust):
    app = build_app(tmp_path, TRUST_PROXY=trust)
    res = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert ("Secure" in session_cookie(res)) is bool(trust)


# Security headers


def assert_headers(res, csp=PAGE_CSP):
    assert res.headers["Content-Security-Policy"] == csp
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Referrer-Policy"] == "same-origin"
    assert res.headers["X-Frame-Options"] == "DENY"


def test_pages_api_answers_and_errors_carry_the_security_headers(client, make_user):
    assert "unsafe-inline" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    account = make_user("reader")
    with client.get("/static/kb.css") as css:
        assert_headers(css)
    for res in (client.get("/"), client.get("/login"),
                client.get("/api/v1/search?q=migration"), client.get("/api/v1/taxonomy"),
                client.get("/healthz"), client.get("/no/such/page"),
                client.get("/api/v1/documents/424242"),
                attempt(client, account.email, "wrong password"),
                client.get("/api/v1/search", headers={"Authorization": "Bearer kb_forged"})):
        assert_headers(res)
    missing = client.get("/api/v1/documents/424242")
    assert missing.status_code == 404 and missing.is_json
    login(client, account)
    assert_headers(client.get("/profile"))


def test_templates_have_no_inline_scripts_or_styles():
    """The CSP forbids inline code: a template that used it would break in browsers. (A
    JSON or JSON-LD data block is no code: browsers never run it, and the CSP does not
    apply; base.html's translated script messages are one.)"""
    for path in TEMPLATES.rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for pattern in (r"<script(?![^>]*\s(src=|type=\"application/(ld\+)?json\"))", r"<style",
                        r"\sstyle=", r"\son[a-z]+=", r"javascript:"):
            assert not re.search(pattern, html, re.I), f"{path.name}: {pattern}"


def test_downloads_are_sandboxed_pdfs_inline_everything_else_attached(
        app, client, upload, process):
    pdf_id = upload(tiny_pdf(), "Pilot report.pdf", title="Pilot").json["id"]
    text_id = upload(b"<html><script>alert(1)</script></html>", "page.html",
                     title="Page").json["id"]
    process()
    with client.get(f"/documents/{pdf_id}/download") as pdf:
        assert pdf.status_code == 200
        assert_headers(pdf, csp="sandbox")
        assert pdf.headers["Content-Type"] == "application/pdf"
        assert pdf.headers["Content-Disposition"].startswith("inline;")
        assert 'filename="Pilot report.pdf"' in pdf.headers["Content-Disposition"]
    with client.get(f"/documents/{text_id}/download") as text:
        assert_headers(text, csp="sandbox")
        assert text.headers["Content-Disposition"].startswith("attachment;")
        assert not text.headers["Content-Type"].startswith("text/html")
    with client.get(f"/documents/{pdf_id}/download", headers={"Range": "bytes=0-9"}) as part:
        assert part.status_code == 206
        assert_headers(part, csp="sandbox")

    # Even a file recorded as HTML is never served as HTML.
    with app.app_context():
        stored = db.session.scalar(select(StoredFile).where(StoredFile.doc_id == text_id))
        stored.content_type = "text/html"
        db.session.commit()
    with client.get(f"/documents/{text_id}/download") as html:
        assert html.status_code == 200
        assert html.headers["Content-Type"] == "application/octet-stream"
        assert html.headers["Content-Disposition"].startswith("attachment;")
        assert_headers(html, csp="sandbox")
    # The 404 of a download is one of our pages, with the page policy.
    assert_headers(client.get("/documents/424242/download"))


def test_a_revoked_token_is_refused_everywhere_at_once(client, runner, make_user, upload,
                                                       process):
    doc_id = upload(b"internal notes on return", "n.txt", title="Notes",
                    access="internal").json["id"]
    process()
    account = make_user("reader")
    with client.get(f"/documents/{doc_id}/download", headers=account.headers) as ok:
        assert ok.status_code == 200
    token_id = runner.invoke(args=["token", "list", account.email]).output.splitlines()[1]
    runner.invoke(args=["token", "revoke", token_id.split()[0]])
    api = client.get(f"/api/v1/documents/{doc_id}", headers=account.headers)
    assert api.status_code == 401
    assert api.json == {"error": "The API token is not valid or was revoked."}
    with client.get(f"/documents/{doc_id}/download", headers=account.headers) as download:
        assert download.status_code == 401
    assert client.get("/api/v1/search", headers=account.headers).status_code == 401


def test_every_state_changing_route_refuses_a_session_without_csrf(app, client, make_user):
    """Walk the URL map: each POST/PUT/PATCH/DELETE route, reached with a signed-in admin's
    session but no CSRF token, is refused before it changes anything."""
    from tests.conftest import login

    login(client, make_user("admin"))
    values = {"doc_id": 1, "user_id": 1, "group_id": 1, "token_id": 1, "action": "publish",
              "change_id": 1, "version": 1, "code": "gcm-20"}
    checked = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if not methods or rule.endpoint in ("static", "oai.endpoint"):
            continue  # OAI-PMH's POST only reads (tests/test_oai.py), so it needs no token
        try:
            path = rule.build(values, append_unknown=False)[1]
        except ValueError:  # an action the route does not take: a suggestion's
            path = rule.build({**values, "action": "accept"}, append_unknown=False)[1]
        for method in methods:
            res = client.open(path, method=method, data={"title": "x", "email": "a@b.org"})
            body = res.get_data(as_text=True)
            assert res.status_code == 400, (rule.rule, method, res.status_code)
            assert "form expired" in body, (rule.rule, method)
            checked.append(rule.rule)
    assert len(checked) >= 12, checked
    from kb.extensions import db
    from kb.models import AuditEvent

    with app.app_context():
        changed = db.session.query(AuditEvent).filter(
            AuditEvent.action.notin_(["sign-in", "account-create", "token-create"])).count()
    assert changed == 0


@pytest.mark.parametrize(("value", "secure"), [("false", False), ("true", True)])
def test_kb_session_cookie_secure_is_read_as_a_yes_or_no(tmp_path, monkeypatch, value, secure):
    monkeypatch.setenv("KB_SESSION_COOKIE_SECURE", value)
    app = build_app(tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["user", "add", "r@example.org", "--password-stdin"],
                         input="correct horse battery\n").exit_code == 0
    cookie = session_cookie(attempt(app.test_client(), "r@example.org",
                                    "correct horse battery"))
    assert ("Secure" in cookie) is secure

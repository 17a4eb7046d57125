"""Logs: one line per request and per job step, as text or JSON, on standard error; unknown
settings warned about; no password, token or session value ever logged."""

from __future__ import annotations

import contextlib
import http.cookiejar
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from kb.logs import JsonFormatter
from tests.conftest import csrf_from, free_port, kb_env

KB = str(Path(sys.executable).parent / "kb")
BROKEN_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 9 0 R >>\n"


def _as_json(records: list[logging.LogRecord], logger: str) -> list[dict[str, Any]]:
    """Records of ``logger`` as the JSON format writes them."""
    fmt = JsonFormatter()
    return [json.loads(fmt.format(r)) for r in records if r.name == logger]


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line of a JSON log, parsed (fails on a line that is not JSON)."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise AssertionError(f"not a JSON line: {line!r}") from e
    for entry in lines:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
        assert entry["time"].endswith("Z")
        datetime.fromisoformat(entry["time"])
    return lines


def _user_id(app, email: str) -> int:
    from kb.services import accounts

    with app.app_context():
        user = accounts.find_user(email)
        assert user is not None
        return user.user_id


def test_every_request_is_logged_once_with_its_request_id(app, client, editor, caplog):
    caplog.set_level(logging.INFO)
    ok = client.get("/api/v1/search?q=passport+renewal",
                    headers={**editor.headers, "X-Request-ID": "proxy-4f2a.17"})
    assert ok.status_code == 200
    assert ok.headers["X-Request-ID"] == "proxy-4f2a.17"
    odd = client.get("/help/search", headers={"X-Request-ID": "not a token; " + "x" * 300})
    made = odd.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)  # ours instead
    missing = client.get("/no/such/page")
    refused = client.get("/api/v1/search", headers={"Authorization": "Bearer wrong-token-123"})
    assert refused.status_code == 401

    lines = _as_json(caplog.records, "kb.request")
    ids = [ok.headers["X-Request-ID"], made, missing.headers["X-Request-ID"],
           refused.headers["X-Request-ID"]]
    assert [line["request_id"] for line in lines] == ids  # each request once, in order
    search, page, not_found, unauthorised = lines
    assert search["route"] == "/api/v1/search"
    assert search["path"] == "/api/v1/search"  # never the query string
    assert (search["method"], search["status"]) == ("GET", 200)
    assert isinstance(search["duration_ms"], float) and search["duration_ms"] >= 0
    assert search["user_id"] == _user_id(app, editor.email)
    assert page["status"] == 200 and "user_id" not in page
    assert not_found["status"] == 404 and "route" not in not_found
    assert not_found["path"] == "/no/such/page"
    assert unauthorised["status"] == 401 and unauthorised["route"] == "/api/v1/search"
    text = caplog.text + json.dumps(lines)
    assert "passport" not in text and "wrong-token-123" not in text


def test_the_worker_logs_each_job_start_and_end_as_json(app, upload):
    good = upload(b"remittances and diaspora bonds", "good.txt").json["id"]
    bad = upload(BROKEN_PDF, "broken.pdf", title="Broken").json["id"]
    res = subprocess.run([KB, "worker", "--once"], env=kb_env(app, KB_LOG_FORMAT="json"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = _json_lines(res.stderr)

    from kb.extensions import db
    from kb.models import Job

    with app.app_context():
        job_of = {j.doc_id: j.job_id for j in db.session.query(Job)}
    jobs = [line for line in lines if "job_id" in line]
    for doc_id in (good, bad):
        mine = [line for line in jobs if line["doc_id"] == doc_id]
        assert {line["job_id"] for line in mine} == {job_of[doc_id]}
        assert [m for m in mine if "started" in m["message"]], mine
    ready = [line for line in jobs if line["doc_id"] == good and "ready" in line["message"]]
    assert [line["level"] for line in ready] == ["INFO"]
    failed = [line for line in jobs if line["doc_id"] == bad and "failed" in line["message"]]
    assert [(line["level"], line["error_code"]) for line in failed] == [("WARNING", "corrupt")]
    # What the PDF reader logged in the extraction child names the job too.
    reader = [line for line in lines if line["logger"].startswith("pypdf")]
    assert reader and all((line["doc_id"], line["job_id"]) == (bad, job_of[bad])
                          for line in reader), reader


def test_retries_and_final_failures_are_logged_with_the_job(app, upload, process, caplog):
    from kb.extensions import db
    from kb.models import Job, utcnow
    from kb.search.whoosh.index import writer
    from kb.services.processing import MAX_ATTEMPTS

    caplog.set_level(logging.INFO)
    app.config["INDEX_LOCK_TIMEOUT"] = 0.2
    doc_id = upload(b"circular migration and seasonal work", "s.txt").json["id"]
    with writer(Path(app.config["INDEX_DIR"]), timeout=1.0):  # someone else is writing
        process()
        with app.app_context():
            job = db.session.query(Job).filter_by(doc_id=doc_id).one()
            job_id = job.job_id
            job.attempts, job.run_after = MAX_ATTEMPTS - 1, utcnow()  # due now
            db.session.commit()
        process()
    lines = [line for line in _as_json(caplog.records, "kb.services.processing")
             if line.get("job_id") == job_id]
    assert all(line["doc_id"] == doc_id for line in lines)
    retried = [line for line in lines if "trying again" in line["message"]]
    assert [line["level"] for line in retried] == ["WARNING"]
    failed = [line for line in lines if "failed after" in line["message"]]
    assert [(line["level"], line["error_code"]) for line in failed] == [("ERROR", "index-failed")]


def test_kb_import_logs_each_document_as_json(app, tmp_path):
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "a.txt").write_text("labour mobility partnerships")
    (folder / "b.pdf").write_bytes(BROKEN_PDF)
    res = subprocess.run([KB, "import", str(folder), "--workers", "1"],
                         env=kb_env(app, KB_LOG_FORMAT="json"), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1, res.stderr  # b.pdf could not be read
    # The progress bar shares standard error (its label alone when it is not a terminal).
    lines = _json_lines("\n".join(line for line in res.stderr.splitlines()
                                  if line.strip() != "Importing"))
    jobs = {line["doc_id"]: line for line in lines if "job_id" in line}
    assert len(jobs) == 2
    assert sorted((line["level"], line.get("error_code")) for line in jobs.values()) == [
        ("INFO", None), ("WARNING", "corrupt")]
    assert any(line["message"] == "import: imported 1, skipped 0 as duplicates, failed 1"
               for line in lines)
    [bad] = [doc_id for doc_id, line in jobs.items() if line.get("error_code") == "corrupt"]
    reader = [line for line in lines if line["logger"].startswith("pypdf")]
    assert reader and all(line["doc_id"] == bad for line in reader), reader


def test_unknown_settings_are_warned_about_once_each_by_name(app):
    instance = Path(app.config["INSTANCE_DIR"])
    (instance / "config.py").write_text("MAX_UPLOADS_MB = 5\nSESSION_COOKIE_SECURE = False\n")
    env = kb_env(app, KB_NO_SUCH_SETTING="1", KB_MAX_UPLOAD_MB="50")
    res = subprocess.run([KB, "db", "current"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "Unknown configuration" in line]
    assert len(warnings) == 2, res.stderr
    assert sum("KB_NO_SUCH_SETTING" in w for w in warnings) == 1
    assert sum("MAX_UPLOADS_MB" in w for w in warnings) == 1
    for line in warnings:  # the default format: time, level, logger, message
        assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z WARNING kb\.config: ", line), line
    for known in ("KB_MAX_UPLOAD_MB", "SESSION_COOKIE_SECURE", "KB_SECRET_KEY"):
        assert known not in res.stderr


def _wait(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}; log:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)


class _Browser:
    """A client with cookies against a real server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf_tokens: list[str] = []
        self.cookies: set[str] = set()

    def open(self, path: str, data: dict[str, str] | bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if isinstance(data, dict) else data
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as res:
                status, text = res.status, res.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        self.cookies |= {c.value for c in self.jar}
        return status, text

    def form(self, page: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
        _status, text = self.open(page)
        token = csrf_from(text)
        self.csrf_tokens.append(token)
        return self.open(path, {**fields, "csrf_token": token})


def test_a_full_run_logs_no_password_token_or_session_value(app, tmp_path):
    env = kb_env(app, KB_LOG_FORMAT="json", KB_DISK_FREE_MIN_MB="0",
                 KB_WORKER_POLL_SECONDS="0.1")
    stderr: list[str] = []

    def kb(*args: str, stdin: str = "") -> str:
        done = subprocess.run([KB, *args], env=env, input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        stderr.append(done.stderr)
        return done.stdout

    email = "flow@example.org"
    password, wrong = "violet tangerine harbour 71", "cobalt heron meadow 93"
    new_password = "amber walrus lantern 58"
    kb("user", "add", email, "--role", "editor", "--password-stdin", stdin=password + "\n")
    cli_token = kb("token", "create", email).strip()
    port = free_port()
    log_path = tmp_path / "serve.log"
    browser = _Browser(f"http://127.0.0.1:{port}")
    with log_path.open("wb") as out:
        server = subprocess.Popen([KB, "serve", "--port", str(port), "--workers", "1"],
                                  env=env, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait(lambda: _answers(port), 60, "kb serve did not answer", log_path)
            status, _ = browser.form("/login", "/login", {"email": email, "password": wrong})
            assert status == 401
            status, _ = browser.form("/login", "/login", {"email": email, "password": password})
            assert status == 200  # redirected to the home page, signed in
            status, page = browser.form("/profile", "/profile/tokens", {"name": "laptop"})
            match = re.search(r'id="new-token"[^>]* value="([^"]+)"', page)
            assert status == 200 and match, page
            web_token = match.group(1)

            boundary, body = encode_multipart({
                "title": "Remittance corridors",
                "file": FileStorage(io.BytesIO(b"remittance corridors of the Sahel"), "r.txt")})
            status, text = browser.open("/api/v1/documents", body, {
                "Authorization": f"Bearer {cli_token}", "X-Request-ID": "flow-upload",
                "Content-Type": f"multipart/form-data; boundary={boundary}"})
            assert status == 201, text
            doc_id = json.loads(text)["id"]

            def ready() -> bool:
                _status, text = browser.open(f"/api/v1/documents/{doc_id}",
                                             headers={"Authorization": f"Bearer {web_token}"})
                return json.loads(text)["status"] == "ready"

            _wait(ready, 60, "the upload was not processed", log_path)
            status, text = browser.open("/api/v1/search?q=corridors", headers={
                "Authorization": f"Bearer {web_token}", "X-Request-ID": "flow-search"})
            assert status == 200 and json.loads(text)["total"] == 1
            status, _ = browser.form("/profile", "/profile/password", {
                "current_password": password, "new_password": new_password,
                "confirm_password": new_password})
            assert status == 200  # redirected to the profile page
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)

    log = log_path.read_text() + "".join(stderr)
    # What the session cookie holds, readable with the secret key: its server-side session
    # secret and the raw CSRF token.
    serializer = app.session_interface.get_signing_serializer(app)
    inside: list[str] = []
    for cookie in browser.cookies:
        with contextlib.suppress(Exception):
            data = serializer.loads(cookie)
            inside += [str(v) for k, v in data.items() if k in ("kb_session", "csrf_token")]
    assert len(browser.cookies) >= 2 and len(inside) >= 2
    secrets = [password, wrong, new_password, cli_token, web_token, *browser.cookies,
               *browser.csrf_tokens, *inside]
    for secret in secrets:
        for form in {secret, urllib.parse.quote(secret), urllib.parse.quote_plus(secret)}:
            assert form not in log, f"a secret is in the log: {form!r}"

    lines = _json_lines(log)  # every line, the server's and the commands', is JSON
    requests = [line for line in lines if line["logger"] == "kb.request"]
    assert not [line for line in lines if line["logger"].startswith("gunicorn.access")]
    for line in requests:
        assert {"request_id", "method", "path", "status", "duration_ms"} <= line.keys()
    by_id = {rid: [r for r in requests if r["request_id"] == rid]
             for rid in ("flow-upload", "flow-search")}
    [upload], [search] = by_id["flow-upload"], by_id["flow-search"]
    user_id = _user_id(app, email)
    assert (upload["method"], upload["route"], upload["status"], upload["user_id"]) == (
        "POST", "/api/v1/documents", 201, user_id)
    assert (search["route"], search["status"], search["user_id"]) == (
        "/api/v1/search", 200, user_id)
    logins = [(r["method"], r["status"]) for r in requests if r["route"] == "/login"]
    assert ("POST", 401) in logins and ("POST", 302) in logins
    assert [r["status"] for r in requests if r["route"] == "/profile/password"] == [302]
    jobs = [line for line in lines if line.get("doc_id") == doc_id and "job_id" in line]
    assert any("started" in j["message"] for j in jobs)
    assert any("ready" in j["message"] for j in jobs)


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False

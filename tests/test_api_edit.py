"""Editing through the API: PATCH (JSON or a form, partial, ETag and If-Match), DELETE and
a contributor's submit, each against every role, through HTTP with real tokens."""

from __future__ import annotations

from typing import Any

import pytest

from kb.extensions import db
from kb.services import groups as groups_service
from tests.conftest import csrf_from, login

FULL = {"title": "Remittance corridors of Moldova", "summary": "Where the money goes.",
        "countries": ["MDA"], "agencies": ["IOM"], "themes": ["remittances", "diaspora"],
        "type": "report", "language": "en", "year": "2014", "phase": "phase-2",
        "access": "internal"}
KEPT = ("summary", "countries", "agencies", "themes", "type", "language", "phase", "access")


@pytest.fixture
def people(make_user, editor) -> dict[str, Any]:
    return {"anonymous": None, "reader": make_user("reader"),
            "uploader": make_user("contributor"), "other": make_user("contributor"),
            "editor": editor, "admin": make_user("admin")}


def headers(account: Any, **more: str) -> dict[str, str]:
    return {**(account.headers if account else {}), **more}


def patch(client, doc_id: int, account: Any, extra: dict[str, str] | None = None,
          **body: Any) -> Any:
    return client.patch(f"/api/v1/documents/{doc_id}", json=body,
                        headers=headers(account, **(extra or {})))


def made(upload, account: Any = None, text: bytes = b"Migration and development notes.",
         **meta: Any) -> int:
    res = upload(text, "notes.txt", account=account, **{**FULL, **meta})
    assert res.status_code == 201, res.json
    return int(res.json["id"])


def review(client, editor, doc_id: int, action: str, **form: str) -> None:
    res = client.post(f"/api/v1/documents/{doc_id}/{action}", data=form,
                      headers=editor.headers)
    assert res.status_code == 200, res.json


def test_patch_changes_only_the_fields_sent(client, upload, editor):
    doc_id = made(upload)
    before = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).json
    res = patch(client, doc_id, editor, title="Remittance corridors, revised", year=2016)
    assert res.status_code == 200, res.json
    assert (res.json["title"], res.json["year"]) == ("Remittance corridors, revised", 2016)
    after = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).json
    assert (after["title"], after["year"]) == ("Remittance corridors, revised", 2016)
    assert {k: after[k] for k in KEPT} == {k: before[k] for k in KEPT}
    # null empties an optional field; a list replaces the whole list.
    res = patch(client, doc_id, editor, phase=None, countries=["srb", "MDA"])
    assert (res.json["phase"], res.json["countries"]) == (None, ["SRB", "MDA"])
    assert res.json["themes"] == ["remittances", "diaspora"]


def test_patch_takes_a_form_urlencoded_or_multipart(client, upload, editor):
    doc_id = made(upload)
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data={"themes": ["labour migration; return", "skills"],
                             "language": "FR"})
    assert res.status_code == 200, res.json
    assert res.json["themes"] == ["labour migration", "return", "skills"]
    assert (res.json["language"], res.json["title"]) == ("fr", FULL["title"])
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data={"agencies": ["undp", "IOM"]}, content_type="multipart/form-data")
    assert res.status_code == 200, res.json
    assert res.json["agencies"] == ["UNDP", "IOM"]
    assert res.json["themes"] == ["labour migration", "return", "skills"]


def test_wrong_values_are_named_field_by_field_and_nothing_changes(client, upload, editor):
    doc_id = made(upload)
    before = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).json
    res = patch(client, doc_id, editor, title="", year="20x4", countries=["MDA", "XYZ"],
                language="english", access="secret", summary="Changed?")
    assert res.status_code == 400
    assert set(res.json["fields"]) == {"title", "year", "countries", "language", "access"}
    assert "XYZ" in res.json["fields"]["countries"]
    assert res.json["error"].startswith("Please correct the metadata")
    # The same answers as an upload's, field by field.
    res = patch(client, doc_id, editor, colour="blue")
    assert (res.status_code, res.json["fields"]) == (400, {"colour": "unknown field"})
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data={"colour": "blue", "title": "x"})
    assert (res.status_code, res.json["fields"]) == (400, {"colour": "unknown field"})
    res = patch(client, doc_id, editor, year={"from": 2014}, themes=[1, 2])
    assert res.status_code == 400 and set(res.json["fields"]) == {"year", "themes"}
    res = patch(client, doc_id, editor, access="restricted")
    assert res.status_code == 400 and set(res.json["fields"]) == {"groups"}
    # Never public because the access field came empty.
    for empty in (None, ""):
        res = patch(client, doc_id, editor, access=empty)
        assert res.status_code == 400 and set(res.json["fields"]) == {"access"}
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data="[1, 2]", content_type="application/json")
    assert res.status_code == 400 and "JSON object" in res.json["error"]
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data="{not json", content_type="application/json")
    assert res.status_code == 400
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data="title=x", content_type="text/plain")
    assert res.status_code == 400 and "as JSON" in res.json["error"]
    # Bounded: nesting past the parser's depth, and a body past 1 MB.
    res = client.patch(f"/api/v1/documents/{doc_id}", headers=editor.headers,
                       data="[" * 100_000, content_type="application/json")
    assert res.status_code == 400
    res = patch(client, doc_id, editor, summary="x" * (1024 * 1024))
    assert res.status_code == 413 and "1 MB" in res.json["error"]
    assert client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).json == before


def test_who_may_patch(client, upload, people):
    editor = people["editor"]
    public = made(upload, access="public")
    submitted = made(upload, people["uploader"], text=b"A contributor's draft.")
    expected = {
        # (public, published by an editor), (submitted by the uploader)
        "anonymous": (401, 401), "reader": (403, 404), "uploader": (403, 200),
        "other": (403, 404), "editor": (200, 200), "admin": (200, 200),
    }
    for role, (on_public, on_submitted) in expected.items():
        account = people[role]
        got = (patch(client, public, account, summary=f"by {role}").status_code,
               patch(client, submitted, account, summary=f"by {role}").status_code)
        assert got == (on_public, on_submitted), role
    assert client.get(f"/api/v1/documents/{public}").json["summary"] == "by admin"
    # A hidden document and a missing one are answered alike.
    hidden = patch(client, submitted, people["reader"], title="x")
    missing = patch(client, 99999, people["reader"], title="x")
    assert hidden.json == missing.json == {"error": "No such document."}
    # Uploaders edit their own until it is published.
    review(client, editor, submitted, "publish")
    assert patch(client, submitted, people["uploader"], title="Late").status_code == 403
    res = client.get(f"/api/v1/documents/{submitted}", headers=editor.headers)
    assert res.json["title"] == FULL["title"]


def test_an_uploader_keeps_the_groups_an_editor_added(app, client, upload, people):
    with app.app_context():
        mine = groups_service.create_group("Chisinau office", None)
        theirs = groups_service.create_group("Belgrade office", None)
        groups_service.add_member(mine.group_id, people["uploader"].email, None)
        ids = (mine.group_id, theirs.group_id)
        db.session.remove()
    doc_id = made(upload, people["uploader"], access="restricted", groups=["Chisinau office"])
    res = patch(client, doc_id, people["editor"],
                groups=["Chisinau office", "Belgrade office"])
    assert sorted(res.json["groups"]) == sorted(ids)
    res = patch(client, doc_id, people["uploader"], title="Restricted, retitled")
    assert res.status_code == 200, res.json
    assert sorted(res.json["groups"]) == sorted(ids)
    # Naming a group they are not in is as unknown to them as a missing one.
    res = patch(client, doc_id, people["uploader"], groups=["Sarajevo office"])
    assert res.status_code == 400 and "groups" in res.json["fields"]


def test_the_etag_changes_with_each_edit_and_a_stale_if_match_is_412(client, upload, editor):
    doc_id = made(upload, access="public")
    url = f"/api/v1/documents/{doc_id}"
    first = client.get(url, headers=editor.headers)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and client.get(url).headers["ETag"] == etag
    res = patch(client, doc_id, editor, {"If-Match": etag}, title="Second title")
    assert res.status_code == 200, res.json
    assert res.headers["ETag"] != etag
    assert client.get(url).headers["ETag"] == res.headers["ETag"]
    # The first ETag is stale now: refused, and nothing changes.
    stale = patch(client, doc_id, editor, {"If-Match": etag}, title="Third title")
    assert stale.status_code == 412
    assert "changed since you read it" in stale.json["error"]
    weak = patch(client, doc_id, editor, {"If-Match": "W/" + res.headers["ETag"]},
                 title="Third title")
    assert weak.status_code == 412  # If-Match compares strong tags only
    assert client.get(url).json["title"] == "Second title"
    both = f'{etag}, {res.headers["ETag"]}'
    assert patch(client, doc_id, editor, {"If-Match": both}, year=2015).status_code == 200
    assert patch(client, doc_id, editor, {"If-Match": "*"}, year=2017).json["year"] == 2017
    # A review decision changes it too; a download does not.
    before = client.get(url).headers["ETag"]
    with client.get(f"/documents/{doc_id}/download") as download:
        assert download.status_code == 200
    assert client.get(url).headers["ETag"] == before
    review(client, editor, doc_id, "withdraw")
    assert client.get(url, headers=editor.headers).headers["ETag"] != before


def test_a_stale_if_match_is_not_told_to_who_may_not_see_or_edit(client, upload, people):
    submitted = made(upload, people["uploader"])
    public = made(upload, access="public", text=b"Another note.")
    stale = {"If-Match": '"0123"'}
    assert patch(client, submitted, people["other"], stale, title="x").status_code == 404
    assert patch(client, public, people["reader"], stale, title="x").status_code == 403


def test_an_edited_title_is_what_the_search_finds(client, upload, editor, process):
    doc_id = made(upload, access="public")
    process()
    assert client.get("/api/v1/search?q=title:quetzalcoatl").json["total"] == 0
    res = patch(client, doc_id, editor, title="Quetzalcoatl remittance corridors")
    assert res.status_code == 200
    process()  # the worker re-indexes: its queue is empty once this returns
    found = client.get("/api/v1/search?q=title:quetzalcoatl").json
    assert [r["id"] for r in found["results"]] == [doc_id]
    assert found["results"][0]["title"] == "Quetzalcoatl remittance corridors"
    assert client.get("/api/v1/search?q=title:moldova").json["total"] == 0


def test_a_session_edits_with_its_csrf_token(client, upload, editor):
    doc_id = made(upload)
    login(client, editor)
    refused = client.patch(f"/api/v1/documents/{doc_id}", json={"title": "Session edit"})
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    res = client.patch(f"/api/v1/documents/{doc_id}", json={"title": "Session edit"},
                       headers={"X-CSRFToken": token})
    assert res.status_code == 200 and res.json["title"] == "Session edit"


def test_who_may_delete(client, upload, people):
    editor = people["editor"]
    published = made(upload, access="public")
    withdrawn = made(upload, access="public", text=b"A withdrawn note.")
    review(client, editor, withdrawn, "withdraw")
    expected = {"anonymous": (401, 401), "reader": (403, 404), "uploader": (403, 404),
                "other": (403, 404), "editor": (403, 403)}
    for role, codes in expected.items():
        got = tuple(client.delete(f"/api/v1/documents/{doc_id}",
                                  headers=headers(people[role])).status_code
                    for doc_id in (published, withdrawn))
        assert got == codes, role
    admin = people["admin"]
    res = client.delete(f"/api/v1/documents/{published}", headers=admin.headers)
    assert res.status_code == 400 and "Withdraw the document first" in res.json["error"]
    assert client.get(f"/api/v1/documents/{published}").status_code == 200
    res = client.delete(f"/api/v1/documents/{withdrawn}", headers=admin.headers)
    assert (res.status_code, res.data) == (204, b"")
    assert client.get(f"/api/v1/documents/{withdrawn}",
                      headers=editor.headers).status_code == 404


def test_who_may_submit(client, upload, people):
    editor, uploader = people["editor"], people["uploader"]
    returned = made(upload, uploader)
    review(client, editor, returned, "return", comment="Add the annex.")
    public = made(upload, access="public", text=b"A published note.")
    # The editor uploaded the public one: theirs, but published, so nothing to resubmit.
    expected = {"anonymous": (401, 401), "reader": (403, 404), "other": (403, 404),
                "editor": (400, 403), "admin": (403, 403)}
    for role, codes in expected.items():
        got = tuple(client.post(f"/api/v1/documents/{doc_id}/submit",
                                headers=headers(people[role])).status_code
                    for doc_id in (public, returned))
        assert got == codes, role
    res = client.post(f"/api/v1/documents/{returned}/submit", headers=uploader.headers)
    assert res.status_code == 200, res.json
    assert res.json["workflow"] == "submitted"
    assert res.json["workflow_comment"] == "Add the annex."  # until the next decision
    again = client.post(f"/api/v1/documents/{returned}/submit", headers=uploader.headers)
    assert again.status_code == 400 and "already waiting" in again.json["error"]
    review(client, editor, returned, "publish")
    res = client.post(f"/api/v1/documents/{returned}/submit", headers=uploader.headers)
    assert res.status_code == 400 and "“Published”" in res.json["error"]

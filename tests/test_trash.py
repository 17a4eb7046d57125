"""The trash (issue 18 item 4): deleting moves a withdrawn document to a trash where only
admins see it; they restore it as it was or purge it; `kb purge` and the worker purge what
stayed longer than KB_TRASH_DAYS, deleting stored files no other record names and leaving
a tombstone: the document's address answers 410 Gone and harvesters are told it went."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from werkzeug.datastructures import FileStorage

from kb.extensions import db
from kb.models import StoredFile, utcnow
from tests.conftest import csrf_from, login, post_multipart

OAI = "{http://www.openarchives.org/OAI/2.0/}"
SECRET = b"Trashed zebra notes on seasonal migration from Moldova."


class Clock:
    """The time the app reads (app.config["CLOCK"]); tests move it, never sleep."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app) -> Clock:
    app.config["CLOCK"] = moved = Clock()
    return moved


@pytest.fixture
def roles(make_user):
    return {role: make_user(role) for role in ("reader", "contributor", "editor", "admin")}


@pytest.fixture
def trashed(app, client, roles, upload, process, clock):
    """A public published document (featured, searchable), withdrawn and deleted by an
    admin, and a public one that stays."""
    editor, admin = roles["editor"], roles["admin"]
    doc_id = upload(SECRET, "zebra.txt", account=editor, title="Zebra report",
                    countries=["MDA"], themes=["Seasonal work"]).json["id"]
    kept = upload(b"Another public report on remittances.", "kept.txt", account=editor,
                  title="Kept report").json["id"]
    process()
    browser = app.test_client()
    login(browser, editor)
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    browser.post(f"/documents/{doc_id}/feature", data={"action": "feature",
                                                        "csrf_token": csrf_from(page)})
    assert client.get("/api/v1/search", query_string={"q": "zebra"}).json["total"] == 1
    assert client.post(f"/api/v1/documents/{doc_id}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers).status_code \
        == 204
    process()
    return doc_id, kept


def _blob(app, doc_id: int) -> Path:
    with app.app_context():
        sha = db.session.scalar(db.select(StoredFile.sha256).where(StoredFile.doc_id == doc_id))
    return Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha[2:4] / sha


def _oai_ids(client) -> dict[int, bool]:
    root = etree.fromstring(client.get("/oai", query_string={
        "verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}).get_data())
    return {int(h.findtext(f"{OAI}identifier").rsplit(":", 1)[1]): h.get("status") == "deleted"
            for h in root.iter(f"{OAI}header")}


def test_nothing_in_the_trash_reaches_anyone_but_admins(app, client, roles, trashed):
    doc_id, kept = trashed
    for role in (None, "reader", "contributor", "editor", "admin"):
        client = app.test_client()
        headers = roles[role].headers if role else {}
        if role:
            login(client, roles[role])
        search = client.get("/api/v1/search", query_string={"q": "zebra"}, headers=headers)
        assert search.json["total"] == 0, role
        assert "Zebra" not in client.get("/search", query_string={"q": "zebra"}).get_data(
            as_text=True)
        assert all(s.get("doc_id") != doc_id for s in client.get(
            "/api/v1/suggest", query_string={"q": "Zeb"}, headers=headers).json["suggestions"])
        home = client.get("/").get_data(as_text=True)
        assert "Zebra report" not in home and "Kept report" in home, role
        browse = client.get("/browse/country/MDA").get_data(as_text=True)
        assert "Zebra report" not in browse, role
        assert client.get(f"/documents/{doc_id}/download").status_code == 404, role
        assert client.get(f"/documents/{doc_id}/thumbnail.png").status_code == 404, role
        assert client.get(f"/api/v1/documents/{doc_id}/similar",
                          headers=headers).status_code == 404
        if role in ("editor", "admin"):
            assert "Zebra report" not in client.get("/review").get_data(as_text=True)
        page = client.get(f"/documents/{doc_id}")
        api = client.get(f"/api/v1/documents/{doc_id}", headers=headers)
        if role == "admin":
            text = page.get_data(as_text=True)
            assert page.status_code == 200 and "In the trash, deleted on" in text
            assert "purged on" in text and "Restore" in text and "Purge now" in text
            assert api.status_code == 200 and api.json["trash"]["purge_at"]
        else:
            assert page.status_code == 404 and "Zebra" not in page.get_data(as_text=True)
            assert api.status_code == 404, role
    assert "Zebra" not in client.get("/sitemap.xml").get_data(as_text=True)
    # Harvesters: it was public, so they are told it went.
    assert _oai_ids(client) == {doc_id: True, kept: False}


def test_admins_list_the_trash_and_restore_a_document_as_it_was(app, client, roles, trashed,
                                                                  process):
    doc_id, _kept = trashed
    editor, admin = roles["editor"], roles["admin"]
    login(client, editor)
    assert client.get("/admin/trash").status_code == 403
    client = app.test_client()
    login(client, admin)
    listing = client.get("/admin/trash").get_data(as_text=True)
    assert "Zebra report" in listing and "Kept report" not in listing
    assert 'href="/admin/trash"' in client.get("/admin/users").get_data(as_text=True)
    # Restore: back, withdrawn as before, with its file and its history.
    res = client.post(f"/admin/trash/{doc_id}/restore", data={"csrf_token": csrf_from(listing)})
    assert res.status_code == 302
    assert f'data-doc="{doc_id}"' not in client.get("/admin/trash").get_data(as_text=True)
    doc = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers)
    assert doc.status_code == 200 and doc.json["workflow"] == "withdrawn"
    assert "trash" not in doc.json
    actions = [c["action"] for c in client.get(f"/api/v1/documents/{doc_id}/history",
                                               headers=editor.headers).json["changes"]]
    assert actions[:3] == ["untrash", "trash", "withdraw"] and "feature" in actions
    assert client.post(f"/api/v1/documents/{doc_id}/restore",
                       headers=editor.headers).json["workflow"] == "published"
    process()
    assert client.get("/api/v1/search", query_string={"q": "zebra"}).json["total"] == 1
    download = client.get(f"/documents/{doc_id}/download")
    assert download.status_code == 200
    download.close()
    assert _oai_ids(client)[doc_id] is False


def test_restore_through_the_api_is_for_admins(client, roles, trashed):
    doc_id, _kept = trashed
    for role in ("reader", "contributor", "editor"):
        assert client.post(f"/api/v1/documents/{doc_id}/restore",
                           headers=roles[role].headers).status_code == 404, role
    assert client.post(f"/api/v1/documents/{doc_id}/restore").status_code == 401
    res = client.post(f"/api/v1/documents/{doc_id}/restore", headers=roles["admin"].headers)
    assert res.status_code == 200 and res.json["workflow"] == "withdrawn"
    # Withdrawn now, not in the trash: the same route republishes it (editors), as before.
    res = client.post(f"/api/v1/documents/{doc_id}/restore", headers=roles["editor"].headers)
    assert res.status_code == 200 and res.json["workflow"] == "published"


def test_purge_leaves_a_tombstone_that_answers_410(app, client, runner, roles, trashed):
    doc_id, kept = trashed
    blob = _blob(app, doc_id)
    login(client, roles["admin"])
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert client.post(f"/admin/trash/{doc_id}/purge",
                       data={"csrf_token": csrf_from(page)}).status_code == 302
    assert not blob.exists() and _blob(app, kept).exists()
    for headers in ({}, roles["reader"].headers, roles["admin"].headers):
        assert client.get(f"/api/v1/documents/{doc_id}", headers=headers).status_code == 410
        assert client.get(f"/documents/{doc_id}/download", headers=headers).status_code == 410
    gone = client.get(f"/documents/{doc_id}")
    assert gone.status_code == 410 and "Zebra" not in gone.get_data(as_text=True)
    assert client.get("/documents/99999").status_code == 404
    assert _oai_ids(client) == {doc_id: True, kept: False}
    # Already purged: not in the trash any more.
    assert runner.invoke(args=["purge", str(doc_id)]).exit_code == 1
    assert "Zebra" not in client.get("/admin/trash").get_data(as_text=True)


def test_the_trash_is_purged_when_its_time_is_up(app, client, runner, roles, trashed, clock,
                                                 upload):
    doc_id, kept = trashed
    blob = _blob(app, doc_id)
    clock.now += timedelta(days=29, hours=23)
    res = runner.invoke(args=["purge"])
    assert res.exit_code == 0 and res.output.strip() == "Purged 0 documents."
    assert blob.exists()
    clock.now += timedelta(hours=2)
    # The worker purges at its start (then daily): the same as `kb purge`.
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    assert not blob.exists()
    assert client.get(f"/api/v1/documents/{doc_id}",
                      headers=roles["admin"].headers).status_code == 410
    assert client.get(f"/api/v1/documents/{kept}").status_code == 200
    # The same bytes can come back as a new document.
    assert upload(SECRET, "again.txt", title="Zebra again").status_code == 201


def test_a_shorter_configured_lifetime(app, runner, trashed, clock):
    doc_id, _kept = trashed
    app.config["TRASH_DAYS"] = 1
    clock.now += timedelta(days=1, seconds=1)
    res = runner.invoke(args=["purge"])
    assert res.exit_code == 0 and res.output.strip() == f"Purged 1 documents: {doc_id}."


def test_a_purged_documents_id_is_never_given_again(app, client, runner, roles, upload,
                                                     process):
    """The newest document, purged: the next upload gets another id (SQLite would give a
    new row the highest id plus one), so the purged address keeps answering 410 and
    harvesters keep their deleted record, never a different work under its id."""
    editor, admin = roles["editor"], roles["admin"]
    newest = upload(b"Newest zebra note.", "newest.txt", account=editor,
                    title="Newest zebra").json["id"]
    process()
    assert client.post(f"/api/v1/documents/{newest}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{newest}", headers=admin.headers).status_code \
        == 204
    assert runner.invoke(args=["purge", str(newest)]).exit_code == 0
    following = upload(b"A later note on remittances.", "later.txt", account=editor,
                       title="Later note").json["id"]
    assert following > newest
    assert client.get(f"/documents/{newest}").status_code == 410
    assert client.get(f"/documents/{following}").status_code == 200
    assert _oai_ids(client)[newest] is True


def test_uploading_a_trashed_documents_bytes_points_an_admin_to_the_trash(
        app, client, roles, trashed, upload):
    # The bytes stay stored until the purge, so the upload is refused as a duplicate: an
    # admin is told the document is in the trash (where they restore it), in their
    # language; an editor hears what they would of any document they may not see.
    doc_id, _kept = trashed
    editor, admin = roles["editor"], roles["admin"]
    answer = upload(SECRET, "again.txt", account=admin)
    assert answer.status_code == 409
    assert answer.json["id"] == doc_id and answer.json["in_trash"] is True
    assert f"in the trash, as document {doc_id}" in answer.json["error"]
    refused = upload(SECRET, "again.txt", account=editor)
    assert refused.status_code == 409
    assert refused.json == {"error": "This file is already in the repository."}
    browser = app.test_client()
    login(browser, admin)
    browser.set_cookie("kb_lang", "fr")
    page = browser.get("/upload").get_data(as_text=True)
    res = post_multipart(browser, "/upload", {
        "csrf_token": csrf_from(page), "title": "Again",
        "file": FileStorage(io.BytesIO(SECRET), "again.txt")})
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/trash")
    listing = browser.get(res.headers["Location"]).get_data(as_text=True)
    assert f"Ce fichier est dans la corbeille, comme document {doc_id}" in listing
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StoredFile).where(
            StoredFile.sha256 == db.select(StoredFile.sha256).where(
                StoredFile.doc_id == doc_id).scalar_subquery())) == 1

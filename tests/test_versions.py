"""File versions (issue 18 item 1): editors, admins and a document's uploader send a new
file to an existing document with a note; the document keeps every version, the current
one (the last) is what is read, indexed and downloaded; older versions are for those who
can edit the document, and for readers once an editor makes them public."""

from __future__ import annotations

import io
import re
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from kb import context
from kb.models import StoredFile
from tests.conftest import csrf_from, login, post_multipart

FIRST = b"First draft on seasonal labour migration: alpaca estimates."
SECOND = b"Final version after review on seasonal labour migration: bison estimates."
THIRD = b"Corrected version on seasonal labour migration: caribou estimates."
ROLES = ("reader", "contributor", "editor", "admin")


@pytest.fixture
def roles(make_user):
    return {role: make_user(role) for role in ROLES}


def send_version(client, doc_id, data, filename="v.txt", account=None, note=None):
    form = {"file": FileStorage(io.BytesIO(data), filename)}
    if note is not None:
        form["note"] = note
    return post_multipart(client, f"/api/v1/documents/{doc_id}/files", form,
                          account.headers if account else {})


def fetch(client, url, account=None):
    """Download ``url``: its status and bytes (the response closed: it holds the file)."""
    res = client.get(url, headers=account.headers if account else {})
    try:
        return res.status_code, res.data if res.status_code == 200 else b""
    finally:
        res.close()


def as_viewer(app, account):
    """A test client signed in as ``account`` (anonymous for None)."""
    browser = app.test_client()
    if account is not None:
        login(browser, account)
    return browser


@pytest.fixture
def published(app, client, roles, upload, process):
    """A public document sent by a contributor and published by an editor, whose version 2
    (the current one) an editor sent with a note."""
    contributor, editor = roles["contributor"], roles["editor"]
    doc_id = upload(FIRST, "draft.txt", account=contributor, title="Seasonal work",
                    access="public").json["id"]
    assert client.post(f"/api/v1/documents/{doc_id}/publish",
                       headers=editor.headers).status_code == 200
    process()
    res = send_version(client, doc_id, SECOND, "final.txt", editor,
                       note="final version after review")
    assert res.status_code == 201, res.json
    process()
    return doc_id


def test_a_new_version_becomes_the_current_file(app, client, roles, upload, process):
    editor = roles["editor"]
    doc_id = upload(FIRST, "draft.txt", account=editor, title="Seasonal work").json["id"]
    process()
    before = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers)
    res = send_version(client, doc_id, SECOND, "final.txt", editor,
                       note="final version after review")
    assert res.status_code == 201
    files = res.json["files"]
    assert [f["version"] for f in files] == [1, 2]
    assert [f["current"] for f in files] == [False, True]
    assert files[1]["note"] == "final version after review"
    assert files[1]["filename"] == "final.txt" and files[1]["size"] == len(SECOND)
    assert files[0]["download_url"].endswith(f"/documents/{doc_id}/download?version=1")
    assert res.json["status"] == "processing"
    process()
    after = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.json["status"] == "ready"
    # Searched, snippeted and downloaded: the current version; the older one on request.
    assert client.get("/api/v1/search", query_string={"q": "alpaca"}).json["total"] == 0
    found = client.get("/api/v1/search", query_string={"q": "bison"}).json
    assert found["total"] == 1 and "bison" in found["results"][0]["snippets"][0]["html"]
    assert fetch(client, f"/documents/{doc_id}/download") == (200, SECOND)
    assert fetch(client, f"/documents/{doc_id}/download?version=1", editor) == (200, FIRST)
    assert fetch(client, f"/documents/{doc_id}/download?version=3", editor)[0] == 404
    assert fetch(client, f"/documents/{doc_id}/download?version=x", editor)[0] == 404
    history = client.get(f"/api/v1/documents/{doc_id}/history", headers=editor.headers).json
    newest = history["changes"][0]
    assert newest["action"] == "new-version" and newest["note"] == "final version after review"
    assert newest["changes"]["file"] == ["1: draft.txt", "2: final.txt"]
    # The page lists both, newest first, the current one marked, with the sender.
    browser = as_viewer(app, editor)
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    rows = re.findall(r'data-version="(\d+)"', page)
    assert rows == ["2", "1"]
    assert 'data-version="2" data-current' in page
    assert "final version after review" in page and editor.email in page


def test_a_request_without_a_file_names_the_field(client, roles, upload):
    editor = roles["editor"]
    doc_id = upload(FIRST, "draft.txt", account=editor).json["id"]
    res = post_multipart(client, f"/api/v1/documents/{doc_id}/files", {"note": "x"},
                         editor.headers)
    assert res.status_code == 400 and "file" in res.json["fields"]
    res = send_version(client, doc_id, SECOND, account=editor, note="n" * 201)
    assert res.status_code == 400 and "note" in res.json["fields"]


def _sees(app, account, doc_id):
    """What one viewer gets: the versions on the page, in the API, and the status of
    downloading version 1 (older, non-public unless made so)."""
    browser = as_viewer(app, account)
    page = browser.get(f"/documents/{doc_id}")
    listed = re.findall(r'data-version="(\d+)"', page.get_data(as_text=True))
    api = browser.get(f"/api/v1/documents/{doc_id}").json
    return (page.status_code, listed, [f["version"] for f in api["files"]],
            fetch(browser, f"/documents/{doc_id}/download?version=1")[0])


def test_who_sees_which_version(app, client, roles, published, make_user):
    doc_id = published
    viewers = {"anonymous": None, **roles, "other contributor": make_user("contributor")}
    # The page lists versions where there is more than the current one to see, or a form
    # to send one (the uploader, whose new version will go back to review).
    private = {"anonymous": (200, [], [2], 404), "reader": (200, [], [2], 404),
               # The uploader of a published document no longer edits it.
               "contributor": (200, ["2"], [2], 404),
               "other contributor": (200, [], [2], 404),
               "editor": (200, ["2", "1"], [1, 2], 200), "admin": (200, ["2", "1"], [1, 2], 200)}
    for name, account in viewers.items():
        assert _sees(app, account, doc_id) == private[name], name
    # Readers never learn which older versions exist: none is named on their page.
    anonymous = app.test_client().get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "draft.txt" not in anonymous and roles["editor"].email not in anonymous
    # An editor makes version 1 public: everyone who sees the document may download it.
    browser = as_viewer(app, roles["editor"])
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    res = browser.post(f"/documents/{doc_id}/versions/1/public",
                       data={"action": "public", "csrf_token": csrf_from(page)})
    assert res.status_code == 302
    for name, account in viewers.items():
        status, listed, api, download = _sees(app, account, doc_id)
        assert (listed, api, download) == (["2", "1"], [1, 2], 200), name
    assert fetch(app.test_client(), f"/documents/{doc_id}/download?version=1") == (200, FIRST)
    # The sender's address stays for those who edit the document.
    anonymous = app.test_client().get(f"/documents/{doc_id}").get_data(as_text=True)
    assert roles["editor"].email not in anonymous
    # Only editors and admins choose; the current version follows the document.
    other = as_viewer(app, roles["contributor"])
    page = other.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert other.post(f"/documents/{doc_id}/versions/1/public",
                      data={"action": "private", "csrf_token": csrf_from(page)}
                      ).status_code == 403
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    browser.post(f"/documents/{doc_id}/versions/2/public",
                 data={"action": "public", "csrf_token": csrf_from(page)})
    assert "follows the document" in browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    browser.post(f"/documents/{doc_id}/versions/1/public",
                 data={"action": "private", "csrf_token": csrf_from(page)})
    assert _sees(app, None, doc_id) == private["anonymous"]
    audit = client.get(f"/api/v1/documents/{doc_id}/history",
                       headers=roles["admin"].headers).json["changes"]
    assert [c["action"] for c in audit[:2]] == ["version-private", "version-public"]


def test_who_may_send_a_version(app, client, roles, published, make_user, upload):
    doc_id = published
    assert send_version(client, doc_id, b"anonymous bytes").status_code == 401
    assert send_version(client, doc_id, b"reader bytes", account=roles["reader"]
                        ).status_code == 403
    assert send_version(client, doc_id, b"stranger bytes", account=make_user("contributor")
                        ).status_code == 403
    # A document the caller may not see: 404, as any other request about it.
    hidden = upload(b"Someone else's submission.", "r.txt",
                    account=make_user("contributor")).json["id"]
    assert send_version(client, hidden, b"reader bytes 2", account=roles["reader"]
                        ).status_code == 404
    assert send_version(client, 999999, b"x", account=roles["editor"]).status_code == 404
    assert send_version(client, doc_id, b"admin bytes", "a.txt", roles["admin"]
                        ).status_code == 201


def test_a_contributors_new_version_of_a_published_document_goes_back_to_review(
        app, client, roles, published, process):
    doc_id, contributor = published, roles["contributor"]
    browser = as_viewer(app, contributor)
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "data-version-review" in page and "publishes it again" in page
    assert "data-version-review" not in as_viewer(app, roles["editor"]).get(
        f"/documents/{doc_id}").get_data(as_text=True)
    res = browser.post(f"/documents/{doc_id}/versions", data={
        "file": (io.BytesIO(b"Corrected annex on camel herding."), "annex.txt"),
        "note": "corrected annex", "csrf_token": csrf_from(page)},
        content_type="multipart/form-data")
    assert res.status_code == 302
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "Version 3 stored" in page and "editor&#39;s review" in page
    doc = client.get(f"/api/v1/documents/{doc_id}", headers=roles["editor"].headers).json
    assert doc["workflow"] == "submitted" and doc["files"][-1]["note"] == "corrected annex"
    process()
    assert as_viewer(app, roles["reader"]).get(f"/documents/{doc_id}").status_code == 404
    assert client.get("/api/v1/search", query_string={"q": "camel"}).json["total"] == 0
    assert client.post(f"/api/v1/documents/{doc_id}/publish",
                       headers=roles["editor"].headers).status_code == 200
    process()
    assert fetch(client, f"/documents/{doc_id}/download")[1].startswith(b"Corrected annex")
    assert client.get("/api/v1/search", query_string={"q": "camel"}).json["total"] == 1
    # The web form without CSRF is refused, without a file says so.
    assert browser.post(f"/documents/{doc_id}/versions", data={"note": "x"}).status_code == 400


def test_duplicate_bytes(app, client, roles, upload, make_user):
    editor, contributor = roles["editor"], roles["contributor"]
    mine = upload(FIRST, "draft.txt", account=contributor).json["id"]
    res = send_version(client, mine, FIRST, "again.txt", contributor)
    assert res.status_code == 409
    assert res.json["error"] == "This file is already version 1 of this document."
    # Bytes of a document the contributor may not see: refused without naming it.
    hidden = upload(SECOND, "hidden.txt", account=make_user("contributor")).json["id"]
    res = send_version(client, mine, SECOND, "other.txt", contributor)
    assert res.status_code == 409 and str(hidden) not in res.get_data(as_text=True)
    # An editor attaches them (they may edit the other document): shared.
    res = send_version(client, mine, SECOND, "final.txt", editor)
    assert res.status_code == 201 and res.json["files"][-1]["filename"] == "final.txt"
    # A new document of bytes already stored stays refused, as before.
    assert upload(SECOND, "new.txt", account=editor).status_code == 409


def test_two_versions_sent_at_the_same_moment_are_both_kept(app, client, roles, upload,
                                                            process):
    """While one editor's version is being recorded, another editor's version of the same
    document is recorded first (a second request, run to its end at the moment the first
    one writes):
    both get 201, numbered one after the other, and nobody is asked to send again."""
    editor, other = roles["editor"], roles["admin"]
    doc_id = upload(FIRST, "draft.txt", account=editor, title="Seasonal work").json["id"]
    process()
    other_client = app.test_client()
    answers = []

    def meanwhile(session, _context, _instances):
        if not answers and any(isinstance(o, StoredFile) for o in session.new):
            answers.append(None)  # once: the other request's own flush passes by
            # Its own thread: a request of its own, with its own session and connection.
            thread = threading.Thread(target=lambda: answers.__setitem__(0, send_version(
                other_client, doc_id, SECOND, "theirs.txt", other,
                note="sent at the same moment")))
            thread.start()
            thread.join()

    event.listen(Session, "before_flush", meanwhile)
    try:
        res = send_version(client, doc_id, THIRD, "mine.txt", editor, note="mine")
    finally:
        event.remove(Session, "before_flush", meanwhile)
    assert answers[0].status_code == 201, answers[0].json
    assert [f["version"] for f in answers[0].json["files"]] == [1, 2]
    assert res.status_code == 201, res.json
    assert [(f["version"], f["filename"], f["note"]) for f in res.json["files"]] == [
        (1, "draft.txt", None), (2, "theirs.txt", "sent at the same moment"),
        (3, "mine.txt", "mine")]
    process()
    status, data = fetch(client, f"/documents/{doc_id}/download", editor)
    assert status == 200 and data == THIRD
    status, data = fetch(client, f"/documents/{doc_id}/download?version=2", editor)
    assert status == 200 and data == SECOND


def test_a_shared_file_survives_the_purge_of_one_document(app, client, runner, roles,
                                                          upload, process):
    editor, admin = roles["editor"], roles["admin"]
    shared = b"Final report uploaded by mistake as a separate document."
    mistaken = upload(shared, "final.txt", account=editor, title="Mistake").json["id"]
    draft = upload(FIRST, "draft.txt", account=editor, title="Report").json["id"]
    assert send_version(client, draft, shared, "final.txt", editor,
                        note="final version").status_code == 201
    process()
    sha = client.get(f"/api/v1/documents/{draft}", headers=editor.headers).json[
        "files"][-1]["sha256"]

    def trash_and_purge(doc_id, withdraw=True):
        if withdraw:
            res = client.post(f"/api/v1/documents/{doc_id}/withdraw", headers=editor.headers)
            assert res.status_code == 200, res.json
        assert client.delete(f"/api/v1/documents/{doc_id}",
                             headers=admin.headers).status_code == 204
        res = runner.invoke(args=["purge", str(doc_id)])
        assert res.exit_code == 0, res.output

    def stored():
        with app.app_context():
            return context.store().path_for(sha).is_file()

    trash_and_purge(mistaken)
    assert stored()
    assert fetch(client, f"/documents/{draft}/download?version=2", editor) == (200, shared)
    # In the trash and back: every version returns with it.
    assert client.post(f"/api/v1/documents/{draft}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{draft}", headers=admin.headers).status_code == 204
    assert client.get(f"/api/v1/documents/{draft}", headers=editor.headers).status_code == 404
    trashed = client.get(f"/api/v1/documents/{draft}", headers=admin.headers).json
    assert [f["version"] for f in trashed["files"]] == [1, 2]
    restored = client.post(f"/api/v1/documents/{draft}/restore", headers=admin.headers).json
    assert [f["version"] for f in restored["files"]] == [1, 2]
    assert stored()
    # The last document naming the bytes purged (withdrawn, as it was restored): they
    # leave the store.
    trash_and_purge(draft, withdraw=False)
    assert not stored()

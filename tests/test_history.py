"""A document's history (issue 18 item 3): each change of metadata, access, workflow or
extraction, with who, when and each field before and after; shown to editors, admins and
the uploader; an editor puts the metadata back as they were after a change, in one action
that is itself recorded."""

from __future__ import annotations

from tests.conftest import csrf_from, login


def _history(client, doc_id, account):
    return client.get(f"/api/v1/documents/{doc_id}/history", headers=account.headers)


def test_changes_are_recorded_and_shown_to_those_who_may_see_them(app, client, make_user,
                                                                   upload, process):
    contributor, editor = make_user("contributor"), make_user("editor")
    reader, admin = make_user("reader"), make_user("admin")
    doc_id = upload(b"Notes on return migration.", "notes.txt", account=contributor,
                    title="Draft notes", year="2019").json["id"]
    process()
    assert client.post(f"/api/v1/documents/{doc_id}/return", headers=editor.headers,
                       data={"comment": "Give the final title"}).status_code == 200
    browser = app.test_client()
    login(browser, contributor)
    form = csrf_from(browser.get(f"/documents/{doc_id}/edit").get_data(as_text=True))
    assert browser.post(f"/documents/{doc_id}/edit", data={
        "csrf_token": form, "title": "Final notes", "year": "2020", "access": "public",
        "language": "", "summary": ""}).status_code == 302
    assert client.post(f"/api/v1/documents/{doc_id}/publish",
                       headers=editor.headers).status_code == 200

    changes = _history(client, doc_id, contributor).json["changes"]
    assert [c["action"] for c in changes] == ["publish", "metadata-edit", "return"]
    edit = changes[1]
    assert edit["by"] == contributor.email
    assert edit["changes"]["title"] == ["Draft notes", "Final notes"]
    assert edit["changes"]["year"] == [2019, 2020]
    assert "access" not in edit["changes"]  # unchanged fields are not listed
    assert changes[0]["changes"]["workflow"] == ["returned", "published"]
    assert changes[2]["changes"]["comment"] == [None, "Give the final title"]

    # Who sees it: editors, admins and the uploader; not a reader, not a visitor.
    assert _history(client, doc_id, admin).status_code == 200
    assert _history(client, doc_id, reader).status_code == 403
    assert client.get(f"/api/v1/documents/{doc_id}/history").status_code == 403
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "History" in page and "Draft notes" in page and "Final notes" in page
    assert "Revert to this" not in page  # the uploader sees it, editors revert
    for account in (reader, None):
        other = app.test_client()
        if account:
            login(other, account)
        text = other.get(f"/documents/{doc_id}").get_data(as_text=True)
        assert "Final notes" in text and "Draft notes" not in text and "History" not in text


def test_an_editor_reverts_to_the_metadata_after_a_change(app, client, make_user, upload,
                                                          process):
    editor, contributor = make_user("editor"), make_user("contributor")
    doc_id = upload(b"A toolkit on diaspora engagement.", "toolkit.txt", account=editor,
                    title="Toolkit", year="2015").json["id"]
    process()
    browser = app.test_client()
    login(browser, editor)
    for title, year, access in (("Toolkit 2016", "2016", "public"),
                                ("Toolkit (internal)", "2016", "internal")):
        form = csrf_from(browser.get(f"/documents/{doc_id}/edit").get_data(as_text=True))
        assert browser.post(f"/documents/{doc_id}/edit", data={
            "csrf_token": form, "title": title, "year": year, "access": access,
            "language": "", "summary": ""}).status_code == 302
    first, _second = [c["change_id"] for c in _history(client, doc_id, editor).json["changes"]
                      ][::-1]
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert f"/history/{first}/revert" in page
    # No CSRF token, no revert; a contributor may not; a change of another document: 404.
    assert browser.post(f"/documents/{doc_id}/history/{first}/revert").status_code == 400
    assert client.post(f"/api/v1/documents/{doc_id}/history/{first}/revert",
                       headers=contributor.headers).status_code == 403
    assert client.post(f"/api/v1/documents/{doc_id}/history/999/revert",
                       headers=editor.headers).status_code == 404
    res = browser.post(f"/documents/{doc_id}/history/{first}/revert",
                       data={"csrf_token": csrf_from(page)})
    assert res.status_code == 302
    doc = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).json
    assert (doc["title"], doc["year"], doc["access"]) == ("Toolkit 2016", 2016, "public")
    latest = _history(client, doc_id, editor).json["changes"][0]
    assert latest["action"] == "revert" and str(first) in latest["note"]
    assert latest["changes"]["title"] == ["Toolkit (internal)", "Toolkit 2016"]
    assert latest["changes"]["access"] == ["internal", "public"]
    # Back to the first upload's state is not a change of the history: the original
    # upload is no entry; the revert of the revert is.
    res = client.post(f"/api/v1/documents/{doc_id}/history/{latest['change_id']}/revert",
                      headers=editor.headers)
    assert res.status_code == 400 and "already" in res.json["error"]

"""A duplicate upload names the document holding the bytes only to those who may see it."""

from __future__ import annotations

import io

import pytest

from kb.services import groups as groups_service
from tests.conftest import csrf_from, login

PUBLIC = b"a public report on remittances"
RESTRICTED = b"a restricted report on the Moldova diaspora"
DRAFT = b"a contributor's draft on seasonal work"


@pytest.fixture
def stored(app, make_user, editor, upload):
    """A public document, a restricted one (for a group) and a contributor's draft."""
    with app.app_context():
        groups_service.create_group("Moldova country team", None)
    author = make_user("contributor")
    ids = {
        "public": upload(PUBLIC, "public.txt").json["id"],
        "restricted": upload(RESTRICTED, "restricted.txt", access="restricted",
                             groups=["Moldova country team"]).json["id"],
        "draft": upload(DRAFT, "draft.txt", account=author).json["id"],
    }
    return ids, author


@pytest.mark.parametrize("data", [RESTRICTED, DRAFT])
def test_the_api_does_not_name_a_document_the_uploader_cannot_see(make_user, upload,
                                                                  stored, data):
    ids, _author = stored
    res = upload(data, "again.txt", account=make_user("contributor"))
    assert res.status_code == 409
    assert res.json == {"error": "This file is already in the repository."}


@pytest.mark.parametrize("data, who", [(PUBLIC, "stranger"), (DRAFT, "author"),
                                       (RESTRICTED, "editor")])
def test_the_api_names_a_document_the_uploader_can_see(make_user, editor, upload, stored,
                                                       data, who):
    ids, author = stored
    account = {"stranger": make_user("contributor"), "author": author, "editor": editor}[who]
    res = upload(data, "again.txt", account=account)
    assert res.status_code == 409
    key = {PUBLIC: "public", DRAFT: "draft", RESTRICTED: "restricted"}[data]
    assert res.json == {"error": "This file is already in the repository.", "id": ids[key]}


def post_form(client, data: bytes):
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    return client.post("/upload", data={"csrf_token": token, "title": "Again",
                                        "access": "public",
                                        "file": (io.BytesIO(data), "again.txt")})


def test_the_upload_form_leads_to_a_visible_duplicate_only(client, make_user, stored):
    ids, _author = stored
    login(client, make_user("contributor"))
    res = post_form(client, PUBLIC)
    assert res.status_code == 302
    assert res.headers["Location"] == f"/documents/{ids['public']}"
    for hidden in (RESTRICTED, DRAFT):
        res = post_form(client, hidden)
        html = res.get_data(as_text=True)
        assert res.status_code == 409
        assert "This file is already in the repository." in html
        assert "Location" not in res.headers
        assert f"/documents/{ids['restricted']}" not in html
        assert f"/documents/{ids['draft']}" not in html

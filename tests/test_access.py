"""The access matrix: every role against every access level and workflow state, through
every way in. Nothing leaks: hidden documents are 404 and their words appear nowhere."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kb.extensions import db
from kb.services import groups as groups_service


@dataclass(frozen=True)
class Doc:
    key: str
    word: str  # a word that occurs in this document only (title, theme and text)


DOCS = [Doc("public", "zanzibarite"), Doc("internal", "quokkalith"),
        Doc("restricted", "xylophonia"), Doc("submitted", "wombatose"),
        Doc("returned", "vortexium"), Doc("withdrawn", "umbrellite")]

def secret(doc: Doc) -> str:
    """A second word of the document's text that no test ever types into a query."""
    return doc.word[::-1] + "q"


ROLES = ["anonymous", "reader", "member", "contributor", "other-contributor", "editor",
         "admin"]


def can_see(role: str, key: str) -> bool:
    """What the policy promises, written out as a table a person can check."""
    if role in ("editor", "admin"):
        return True
    if key == "withdrawn":
        return False
    if key in ("submitted", "returned"):
        return role == "contributor"  # the uploader only
    if key == "public":
        return True
    if key == "internal":
        return role != "anonymous"
    return role == "member"  # restricted


def finds(role: str, key: str) -> bool:
    """Search never offers withdrawn documents, not even to editors."""
    return can_see(role, key) and key != "withdrawn"


def downloads(role: str, key: str) -> int:
    if not can_see(role, key):
        return 404
    return 403 if key == "withdrawn" else 200


@pytest.fixture
def world(app, client, make_user, upload, process):
    accounts = {role: make_user({"member": "reader", "other-contributor": "contributor"}
                                .get(role, role))
                for role in ROLES if role != "anonymous"}
    with app.app_context():
        from kb.models import User

        group = groups_service.create_group("Moldova country team", None)
        groups_service.add_member(group.group_id, accounts["member"].email, None)
        assert db.session.query(User).count() >= 6

    def make(doc: Doc, account: str, **meta):
        text = (f"Lessons learned about {doc.word} in migration planning, "
                f"{secret(doc)} included.").encode()
        res = upload(text, f"{doc.key}.txt", account=accounts[account],
                     title=f"Report on {doc.word}", themes=[doc.word], countries=["MDA"],
                     **meta)
        assert res.status_code == 201, res.json
        return res.json["id"]

    ids = {
        "public": make(DOCS[0], "editor"),
        "internal": make(DOCS[1], "editor", access="internal"),
        "restricted": make(DOCS[2], "editor", access="restricted",
                           groups=["moldova COUNTRY team"]),
        "submitted": make(DOCS[3], "contributor"),
        "returned": make(DOCS[4], "contributor"),
        "withdrawn": make(DOCS[5], "editor"),
    }
    editor = accounts["editor"].headers
    assert client.post(f"/api/v1/documents/{ids['returned']}/return", headers=editor,
                       data={"comment": "Add the annex"}).status_code == 200
    assert client.post(f"/api/v1/documents/{ids['withdrawn']}/withdraw",
                       headers=editor).status_code == 200
    process()
    return ids, accounts


def headers_for(accounts, role):
    return {} if role == "anonymous" else accounts[role].headers


@pytest.mark.parametrize("role", ROLES)
def test_every_way_in_agrees_with_the_policy(client, world, role):
    ids, accounts = world
    headers = headers_for(accounts, role)
    bodies: dict[str, list[str]] = {}

    def get(url, **kw):
        res = client.get(url, headers=headers, **kw)
        body = res.get_data(as_text=True)
        res.close()
        return res, body

    browse, body = get("/api/v1/search", query_string={"per_page": 100})
    visible_ids = {r["id"] for r in browse.json["results"]}
    assert visible_ids == {ids[d.key] for d in DOCS if finds(role, d.key)}
    assert browse.json["total"] == len(visible_ids)
    themes = {f["value"]: f["count"] for f in browse.json["facets"]["theme"]}
    assert themes == {d.word: 1 for d in DOCS if finds(role, d.key)}
    assert {f["value"]: f["count"] for f in browse.json["facets"]["country"]} == {
        "MDA": len(visible_ids)}
    bodies["browse"] = [body]
    page_html = get("/", query_string={"country": "MDA"})[1]
    bodies["browse page"] = [page_html]

    for doc in DOCS:
        doc_id = ids[doc.key]
        seen = []
        found, body = get("/api/v1/search", query_string={"q": doc.word})
        seen.append(body)
        assert found.json["total"] == (1 if finds(role, doc.key) else 0), doc
        if finds(role, doc.key):
            assert f"<mark>{doc.word}</mark>" in found.json["results"][0]["snippets"][0]["html"]
        prefix, body = get("/api/v1/search", query_string={"q": doc.word[:5] + "*"})
        seen.append(body)
        assert prefix.json["total"] == (1 if finds(role, doc.key) else 0)
        seen.append(get("/", query_string={"q": doc.word})[1])
        seen.append(get("/", query_string={"theme": doc.word})[1])

        expected = 200 if can_see(role, doc.key) else 404
        detail, body = get(f"/documents/{doc_id}", query_string={"q": doc.word})
        assert detail.status_code == expected, (doc, role)
        seen.append(body)
        api, body = get(f"/api/v1/documents/{doc_id}")
        assert api.status_code == expected, (doc, role)
        seen.append(body)
        if expected == 200:
            assert api.json["workflow"] == {"submitted": "submitted", "returned": "returned",
                                            "withdrawn": "withdrawn"}.get(doc.key, "published")
        download, body = get(f"/documents/{doc_id}/download")
        assert download.status_code == downloads(role, doc.key), (doc, role)
        seen.append(body)
        if not can_see(role, doc.key):
            # Answers echo what the user typed (the word); nothing else of the document
            # may appear: not its title, not another word of its text.
            for text in seen + bodies["browse"] + bodies["browse page"]:
                assert secret(doc) not in text, (doc, role)
                assert f"Report on {doc.word}" not in text, (doc, role)
            assert api.json == {"error": "No such document."}


@pytest.mark.parametrize("role", ["anonymous", "reader", "contributor"])
def test_only_editors_review(client, world, role):
    ids, accounts = world
    headers = headers_for(accounts, role)
    for action, key in (("publish", "submitted"), ("withdraw", "public"),
                        ("restore", "withdrawn")):
        res = client.post(f"/api/v1/documents/{ids[key]}/{action}", headers=headers)
        expected = {"anonymous": 401}.get(role, 403 if can_see(role, key) else 404)
        assert res.status_code == expected, (role, action)


def test_review_cycle_publish_return_resubmit_withdraw_restore(client, world, process):
    ids, accounts = world
    editor, contributor = accounts["editor"].headers, accounts["contributor"].headers
    doc_id = ids["submitted"]
    anonymous_finds = lambda: client.get(  # noqa: E731
        "/api/v1/search", query_string={"q": "wombatose"}).json["total"]
    assert anonymous_finds() == 0
    res = client.post(f"/api/v1/documents/{doc_id}/publish", headers=editor)
    assert res.json["workflow"] == "published"
    process()
    assert anonymous_finds() == 1
    no_comment = client.post(f"/api/v1/documents/{doc_id}/return", headers=editor)
    assert no_comment.status_code == 400
    client.post(f"/api/v1/documents/{doc_id}/return", headers=editor,
                data={"comment": "Please add the country annex"})
    process()
    assert anonymous_finds() == 0
    mine = client.get(f"/api/v1/documents/{doc_id}", headers=contributor).json
    assert (mine["workflow"], mine["workflow_comment"]) == ("returned",
                                                            "Please add the country annex")
    client.post(f"/api/v1/documents/{doc_id}/withdraw", headers=editor)
    process()
    assert client.get(f"/api/v1/documents/{doc_id}", headers=contributor).status_code == 404
    editor_search = client.get("/api/v1/search", query_string={"q": "wombatose"},
                               headers=editor).json
    assert editor_search["total"] == 0
    client.post(f"/api/v1/documents/{doc_id}/restore", headers=editor)
    process()
    assert anonymous_finds() == 1


def test_contributor_resubmits_a_returned_document_by_editing_it(client, world, process):
    from tests.conftest import csrf_from, login

    ids, accounts = world
    login(client, accounts["contributor"])
    doc_id = ids["returned"]
    page = client.get(f"/documents/{doc_id}/edit")
    assert page.status_code == 200
    res = client.post(f"/documents/{doc_id}/edit", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "title": "Report, with annex",
        "access": "public", "countries": ["MDA"], "resubmit": "1"})
    assert res.status_code == 302
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert doc["workflow"] == "submitted"
    other = accounts["other-contributor"]
    assert client.get(f"/api/v1/documents/{ids['public']}", headers=other.headers).status_code \
        == 200
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, other)
    assert client.get(f"/documents/{ids['public']}/edit").status_code == 403


def test_a_visitor_who_may_see_nothing_finds_nothing(client, upload, process):
    """Whoosh treats an empty filter as no filter at all: kb must not fall into that."""
    upload(b"internal planning notes", "n.txt", title="Plan", access="internal")
    process()
    found = client.get("/api/v1/search").json
    assert found["total"] == 0 and found["results"] == []
    assert all(not values for values in found["facets"].values())
    assert client.get("/api/v1/search?q=planning").json["total"] == 0

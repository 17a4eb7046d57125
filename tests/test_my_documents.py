"""Contributors' own space (My documents; Save and Resubmit on a returned document) and
the editors' review queue as a table sorted by date."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from kb.extensions import db
from kb.models import AuditEvent, Document
from tests.conftest import csrf_from, login


class Tables(HTMLParser):
    """The tables of a page: for each, its header cells (with aria-sort) and its rows,
    each row a list of (data-label, text) for its cells."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: list[dict[str, list]] = []
        self._cell: list[str] | None = None
        self._label: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"class": (a.get("class") or "").split(), "head": [],
                                "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell, self._label = [], a.get("data-label")
            if tag == "th":
                self.tables[-1]["head"].append({"aria-sort": a.get("aria-sort"), "text": ""})
                self.tables[-1]["rows"].pop()  # the header row is no data row
                self.tables[-1]["rows"].append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = " ".join("".join(self._cell).split())
            if tag == "th":
                self.tables[-1]["head"][-1]["text"] = text
            else:
                self.tables[-1]["rows"][-1].append((self._label, text))
            self._cell = None
        elif tag == "table" and self.tables:
            self.tables[-1]["rows"] = [r for r in self.tables[-1]["rows"] if r]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def with_class(self, name: str) -> list[dict[str, list]]:
        return [t for t in self.tables if name in t["class"]]


def rows_of(html: str, name: str) -> list[dict[str, str]]:
    """The rows of the page's tables of class ``name``, as {data-label: text}; every
    cell must have its data-label (phones show it above the cell)."""
    rows = []
    for table in Tables(html).with_class(name):
        for row in table["rows"]:
            assert all(label for label, _ in row), row
            rows.append(dict(row))
    return rows


@pytest.fixture
def people(app, client, make_user, upload, process):
    """Two contributors and an editor; the first contributor has a returned, a submitted
    and a withdrawn upload, the second one submitted upload, the editor one published."""
    alice, bob = make_user("contributor"), make_user("contributor")
    editor = make_user("editor")

    def up(account, title, text):
        res = upload(text.encode(), f"{title}.txt", account=account, title=title,
                     type="report", countries=["MDA", "JAM"])
        assert res.status_code == 201, res.json
        return res.json["id"]

    ids = {"returned": up(alice, "Alice returned", "a first text"),
           "submitted": up(alice, "Alice submitted", "a second text"),
           "withdrawn": up(alice, "Alice withdrawn", "a third text"),
           "bob": up(bob, "Bob submitted", "a fourth text"),
           "editor": up(editor, "Editor published", "a fifth text")}
    assert client.post(f"/api/v1/documents/{ids['returned']}/return", headers=editor.headers,
                       data={"comment": "Add the country annex\nand the 2016 figures."}
                       ).status_code == 200
    assert client.post(f"/api/v1/documents/{ids['withdrawn']}/withdraw",
                       headers=editor.headers).status_code == 200
    process()
    return {"alice": alice, "bob": bob, "editor": editor, "ids": ids}


def workflow_of(app, doc_id: int) -> str:
    with app.app_context():
        return db.session.get(Document, doc_id).workflow


def test_my_documents_lists_only_my_uploads_with_state_date_and_comment(app, client, people):
    login(client, people["alice"])
    page = client.get("/my/documents")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/my/documents"' in html  # in the navigation
    rows = rows_of(html, "my-documents")
    assert [r["Title"].split(" Change")[0].split(" Edit")[0] for r in rows] \
        == ["Alice submitted", "Alice returned"]  # newest first; not withdrawn, not others'
    by_title = {r["Title"].split(" Change")[0].split(" Edit")[0]: r for r in rows}
    returned = by_title["Alice returned"]
    assert returned["State"].startswith("Returned to the uploader")
    assert returned["Editor's comment"] == "Add the country annex and the 2016 figures."
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", returned["Uploaded"])
    assert "Change and resubmit" in returned["Title"]
    submitted = by_title["Alice submitted"]
    assert submitted["State"].startswith("Submitted, awaiting review")
    assert submitted["Editor's comment"] == "None"
    assert "Bob submitted" not in html and "Editor published" not in html
    assert "Alice withdrawn" not in html


def test_my_documents_is_for_those_who_upload(app, client, make_user):
    assert client.get("/my/documents").headers["Location"].startswith("/login")
    login(client, make_user("reader"))
    assert client.get("/my/documents").status_code == 403
    assert 'href="/my/documents"' not in client.get("/").get_data(as_text=True)


def test_a_returned_documents_edit_page_shows_the_comment_and_two_actions(app, client,
                                                                           people):
    login(client, people["alice"])
    html = client.get(f"/documents/{people['ids']['returned']}/edit").get_data(as_text=True)
    assert "Add the country annex\nand the 2016 figures." in html
    assert '<button type="submit" name="save">Save</button>' in html
    assert '<button type="submit" name="resubmit" value="1">Resubmit for review</button>' in html
    # Not returned: nothing to resubmit.
    other = client.get(f"/documents/{people['ids']['submitted']}/edit").get_data(as_text=True)
    assert 'name="resubmit"' not in other


def edit(client, doc_id: int, title: str, *buttons: str):
    page = client.get(f"/documents/{doc_id}/edit")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "title": title,
            "access": "public", "countries": ["MDA"]}
    data.update({b: "1" for b in buttons})
    return client.post(f"/documents/{doc_id}/edit", data=data)


def test_save_keeps_a_returned_document_returned(app, client, people):
    doc_id = people["ids"]["returned"]
    login(client, people["alice"])
    res = edit(client, doc_id, "Alice returned, with annex", "save")
    assert res.status_code == 302
    assert workflow_of(app, doc_id) == "returned"
    detail = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "Saved." in detail and "Alice returned, with annex" in detail
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.target_id == str(doc_id))).all()
    assert "metadata-edit" in actions and "resubmit" not in actions
    # Still in the uploader's hands, with the comment, on My documents.
    rows = rows_of(client.get("/my/documents").get_data(as_text=True), "my-documents")
    mine = next(r for r in rows if r["Title"].startswith("Alice returned, with annex"))
    assert mine["State"].startswith("Returned")


def test_resubmit_submits_and_is_audited(app, client, people):
    doc_id = people["ids"]["returned"]
    login(client, people["alice"])
    res = edit(client, doc_id, "Alice returned, with annex", "resubmit")
    assert res.status_code == 302
    assert workflow_of(app, doc_id) == "submitted"
    assert "Saved and resubmitted" in client.get(res.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "resubmit"))
    assert event is not None
    assert (event.actor_email, event.target_id) == (people["alice"].email, str(doc_id))
    # Resubmitting what is already submitted changes nothing and says why.
    again = edit(client, doc_id, "Alice returned, with annex", "resubmit")
    assert again.status_code == 400
    assert "already waiting for review" in again.get_data(as_text=True)
    # The editors see it waiting again.
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, people["editor"])
    rows = rows_of(client.get("/review").get_data(as_text=True), "review-table")
    assert "Alice returned, with annex" in [r["Title"] for r in rows]


def test_only_the_uploader_resubmits(app, client, people):
    login(client, people["bob"])
    assert client.get(f"/documents/{people['ids']['returned']}/edit").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    login(client, people["editor"])
    page = client.get(f"/documents/{people['ids']['returned']}/edit").get_data(as_text=True)
    assert 'name="resubmit"' not in page  # editors publish instead
    res = edit(client, people["ids"]["returned"], "Alice returned", "resubmit")
    assert res.status_code == 403
    assert workflow_of(app, people["ids"]["returned"]) == "returned"


def test_the_review_queue_is_a_table_sorted_by_date_both_ways(app, client, people):
    ids = people["ids"]
    with app.app_context():  # distinct upload days, in an order other than the ids'
        for key, day in (("submitted", 3), ("bob", 1), ("returned", 2)):
            db.session.execute(update(Document).where(Document.doc_id == ids[key])
                               .values(created_at=datetime(2024, 5, day, 9, 0)))
        db.session.commit()
    login(client, people["editor"])
    oldest = client.get("/review").get_data(as_text=True)
    submitted = [t for t in Tables(oldest).with_class("review-table")]
    assert [h["text"].split(" (")[0] for h in submitted[0]["head"]] == [
        "Thumbnail", "Title", "Uploader", "Date ▲", "Type", "Countries", "Size"]
    assert [h["aria-sort"] for h in submitted[0]["head"]] == [
        None, None, None, "ascending", None, None, None]
    rows = rows_of(oldest, "review-table")
    assert [r["Title"] for r in rows if r["Date"].startswith("2024")] == [
        "Bob submitted", "Alice submitted", "Alice returned"]  # submitted first, then returned
    bob = rows[0]
    assert bob == {"Thumbnail": "TXT", "Title": "Bob submitted",
                   "Uploader": people["bob"].email, "Date": "2024-05-01",
                   "Type": "Report", "Countries": bob["Countries"], "Size": "13 bytes"}
    assert "Moldova" in bob["Countries"] and "Jamaica" in bob["Countries"]
    assert 'href="/review?order=newest"' in oldest

    newest = client.get("/review?order=newest").get_data(as_text=True)
    head = Tables(newest).with_class("review-table")[0]["head"]
    assert [h["aria-sort"] for h in head if h["aria-sort"]] == ["descending"]
    assert [r["Title"] for r in rows_of(newest, "review-table")
            if r["Date"].startswith("2024")] == ["Alice submitted", "Bob submitted",
                                                 "Alice returned"]
    assert 'href="/review"' in newest  # back to oldest first

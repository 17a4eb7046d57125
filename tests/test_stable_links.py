"""A document's page keeps its address for ever: /documents/ID is canonical (what the
sitemap, OAI-PMH, the API and the page's rel=canonical give), pages link to the readable
/documents/ID/SLUG, a slug that is not the current title's redirects to it, and no slug
ever reveals or reaches a document the visitor may not see."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree, html

from tests.conftest import csrf_from, login

TITLE = "Remittances in Moldova: lessons learned"
SLUG = "remittances-in-moldova-lessons-learned"


@pytest.fixture
def add(upload: Callable[..., Any]) -> Callable[..., int]:
    def make(title: str, **meta: Any) -> int:
        text = f"Notes on migration and remittances: {title}"  # different bytes each
        res = upload(text.encode(), "notes.txt", title=title, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    return make


def canonical(res: Any) -> str:
    assert res.status_code == 200, res.status_code
    links = html.fromstring(res.get_data(as_text=True)).xpath("//head/link[@rel='canonical']")
    return str(links[0].get("href"))


def links_to(client: Any, url: str, doc_id: int) -> set[str]:
    """The addresses of a page's links to a document's page (not to its file)."""
    tree = html.fromstring(client.get(url).get_data(as_text=True))
    page = re.compile(rf"/documents/{doc_id}(/(?!download\b)[a-z0-9-]+)?(\?.*)?")
    hrefs = (str(a.get("href")) for a in tree.xpath("//main//a[@href]"))
    return {href for href in hrefs if page.fullmatch(href)}


def test_the_page_answers_at_its_id_and_at_its_slug_with_one_canonical(client, add, process):
    doc = add(TITLE)
    process()  # indexed, so that a search finds it
    url = f"http://localhost/documents/{doc}"
    assert canonical(client.get(f"/documents/{doc}")) == url
    assert canonical(client.get(f"/documents/{doc}/{SLUG}")) == url
    # Pages link to the readable address...
    assert links_to(client, "/", doc) == {f"/documents/{doc}/{SLUG}"}
    assert links_to(client, "/?q=remittances", doc) == {f"/documents/{doc}/{SLUG}?q=remittances"}
    assert links_to(client, "/browse/country/MDA", doc) == set()  # no country: not listed
    # ...while every channel outside gives the canonical one.
    sitemap = etree.fromstring(client.get("/sitemap.xml").data)
    assert [e.text for e in sitemap.iter("{*}loc")] == [url]
    assert client.get(f"/api/v1/documents/{doc}").json["url"] == url
    record = client.get("/oai", query_string={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                              "identifier": f"oai:localhost:{doc}"}).data
    assert url in [e.text for e in etree.fromstring(record).iter("{*}identifier")]


def test_a_browse_page_links_by_slug(client, add, process):
    doc = add(TITLE, countries="MDA")
    process()
    assert links_to(client, "/browse/country/MDA", doc) == {f"/documents/{doc}/{SLUG}"}


def test_an_old_or_wrong_slug_redirects_to_the_current_one(client, add, editor):
    doc = add(TITLE)
    login(client, editor)
    edit = client.get(f"/documents/{doc}/edit").get_data(as_text=True)
    res = client.post(f"/documents/{doc}/edit", data={
        "csrf_token": csrf_from(edit), "title": "Diaspora investment in Moldova",
        "access": "public"})
    assert res.status_code == 302
    new = f"/documents/{doc}/diaspora-investment-in-moldova"

    old = client.get(f"/documents/{doc}/{SLUG}", query_string={"q": "diaspora"})
    assert old.status_code == 308
    assert old.headers["Location"] == f"{new}?q=diaspora"
    for wrong in ("x", "Diaspora-Investment-In-Moldova", "%E2%80%A6", "a" * 300):
        res = client.get(f"/documents/{doc}/{wrong}")
        assert (res.status_code, res.headers["Location"]) == (308, new), wrong
    assert client.get(f"/documents/{doc}/{SLUG}", follow_redirects=True).request.path == new
    assert client.get(new).status_code == 200
    assert client.get(f"/documents/{doc}").status_code == 200  # the id alone, for ever


def test_titles_in_other_scripts_are_transliterated_and_bounded(client, add):
    cases = {
        "Методология: миграция и развитие в Кыргызстане":
            "metodologiya-migratsiya-i-razvitie-v-kyrgyzstane",
        "Évaluation finale : migration et développement en Tunisie":
            "evaluation-finale-migration-et-developpement-en-tunisie",
        "UN Children’s Fund — 2019 report": "un-childrens-fund-2019-report",
        "تقرير الهجرة": "tqryr-lhjrh",
        "Lessons learned " * 20: "lessons-learned-" * 3 + "lessons",
    }
    ids = {title: add(title) for title in cases}
    for title, slug in cases.items():
        assert len(slug) <= 60
        assert links_to(client, "/", ids[title]) == {f"/documents/{ids[title]}/{slug}"}, title
        assert client.get(f"/documents/{ids[title]}/{slug}").status_code == 200


def test_a_title_without_letters_or_named_like_a_route_links_by_id(client, add):
    blank = add("¿?¡! …")
    download = add("Download")
    edit = add("Edit")
    assert links_to(client, "/", blank) == {f"/documents/{blank}"}
    assert links_to(client, "/", download) == {f"/documents/{download}"}
    assert links_to(client, "/", edit) == {f"/documents/{edit}"}
    res = client.get(f"/documents/{blank}/anything")
    assert (res.status_code, res.headers["Location"]) == (308, f"/documents/{blank}")
    with client.get(f"/documents/{download}/download") as file:  # still the file
        assert file.status_code == 200
        assert file.headers["Content-Disposition"].startswith("attachment")


def test_a_hidden_or_unknown_document_is_404_whatever_the_slug(client, add, make_user):
    hidden = add("Internal notes on Moldova", access="internal")
    slug = "internal-notes-on-moldova"
    answers = [client.get(f"/documents/{doc}{tail}") for doc, tail in [
        (hidden, ""), (hidden, f"/{slug}"), (hidden, "/wrong"),
        (424242, ""), (424242, f"/{slug}"), (424242, "/wrong")]]
    assert [a.status_code for a in answers] == [404] * 6
    assert all("Location" not in a.headers for a in answers)
    # The language switch's CSRF token carries the second it was made: not the document.
    bodies = {re.sub(r'name="csrf_token" value="[^"]*"', "TOKEN",
                     re.sub(r"/documents/\d+(/[a-z-]+)?", "/documents/ID",
                            a.get_data(as_text=True))) for a in answers}
    assert len(bodies) == 1  # nothing tells a hidden document from a missing one
    assert "Internal notes" not in bodies.pop()
    # A signed-in reader may see it, and is redirected to its slug like anyone.
    login(client, make_user("reader"))
    res = client.get(f"/documents/{hidden}/wrong")
    assert (res.status_code, res.headers["Location"]) == (308, f"/documents/{hidden}/{slug}")

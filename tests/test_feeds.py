"""Atom feeds as a feed reader (feedparser) takes them: /feed.atom, the newest public
documents, and /search.atom, the newest of any search, linked from the pages that show
them; the OpenSearch description every page names, with its suggestions."""

from __future__ import annotations

import re
import urllib.robotparser
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from lxml import etree

OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

DOCS = [
    # title, text, metadata (uploaded in this order: the last is the newest)
    ("Remittances in Moldova", "Lessons learned on remittances and diaspora investment.",
     {"countries": ["MDA"], "agencies": ["IOM", "UNDP"], "type": "lessons-learned",
      "themes": ["remittances"], "year": "2012",
      "summary": "What the pilot learned about remittances."}),
    ("Diaspora mapping tool", "A methodology to map the diaspora of Moldova and Serbia.",
     {"countries": ["MDA", "SRB"], "agencies": ["SDC"], "type": "tool", "year": "2016"}),
    ("Labour migration in Serbia", "Evaluation of labour migration policy and remittances.",
     {"countries": ["SRB"], "agencies": ["UNDP"], "type": "evaluation", "year": "2015"}),
    # Old by its year, but added last: first in a feed all the same.
    ("Remittance survey of Moldova 1999", "Household survey of remittances in Moldova.",
     {"countries": ["MDA"], "agencies": ["IOM"], "year": "1999"}),
    ("Internal remittances note", "Internal remittances figures of Moldova.",
     {"countries": ["MDA"], "agencies": ["IOM"], "access": "internal"}),
]


@pytest.fixture
def corpus(upload: Callable[..., Any], process: Callable[[], None],
           make_user: Callable[[str], Any]) -> dict[str, int]:
    ids = {}
    for title, text, meta in DOCS:
        res = upload(text.encode(), f"{title}.txt", title=title, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        ids[title] = res.json["id"]
    # A contributor's upload waits for review: not public yet.
    res = upload(b"Submitted remittances study of Moldova.", "submitted.txt",
                 account=make_user("contributor"), title="Submitted remittances study",
                 countries=["MDA"])
    assert res.status_code == 201
    ids["Submitted remittances study"] = res.json["id"]
    process()
    return ids


def atom(client: Any, url: str, **kwargs: Any) -> Any:
    res = client.get(url, **kwargs)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(res.data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def titles(parsed: Any) -> list[str]:
    return [e.title for e in parsed.entries]


PUBLIC_NEWEST_FIRST = ["Remittance survey of Moldova 1999", "Labour migration in Serbia",
                       "Diaspora mapping tool", "Remittances in Moldova"]


def test_the_feed_holds_the_newest_public_documents_with_summary_and_enclosure(
        client, corpus):
    parsed = atom(client, "/feed.atom")
    assert titles(parsed) == PUBLIC_NEWEST_FIRST
    feed = parsed.feed
    assert feed.id == "http://localhost/feed.atom"
    assert feed.author == "IOM-UNDP Migration and Development Knowledge Repository"
    links = {link.rel: link for link in feed.links}
    assert links["self"].href == "http://localhost/feed.atom"
    assert links["alternate"].href == "http://localhost/"
    assert all(feed.updated_parsed >= e.updated_parsed for e in parsed.entries)

    doc_id = corpus["Remittances in Moldova"]
    entry = parsed.entries[-1]
    assert entry.id == entry.link == f"http://localhost/documents/{doc_id}"
    assert entry.summary == "What the pilot learned about remittances."
    assert [a.name for a in entry.authors] == ["International Organization for Migration",
                                               "United Nations Development Programme"]
    assert {(t.term, t.label) for t in entry.tags} == {
        ("MDA", "Moldova"), ("remittances", "remittances"),
        ("lessons-learned", "Lessons learned")}
    assert entry.published_parsed <= entry.updated_parsed
    (enclosure,) = entry.enclosures
    assert enclosure.href == f"http://localhost/documents/{doc_id}/download"
    assert enclosure.type == "text/plain"
    size = len(DOCS[0][1].encode())
    assert int(enclosure.length) == size
    # The enclosure is the file itself.
    with client.get(enclosure.href) as res:
        assert res.data == DOCS[0][1].encode()


def test_a_signed_in_reader_gets_the_same_public_feed(client, corpus, editor):
    """A feed URL is shared: whoever asks, it holds what an anonymous visitor sees."""
    anonymous = titles(atom(client, "/feed.atom"))
    assert titles(atom(client, "/feed.atom", headers=editor.headers)) == anonymous
    assert titles(atom(client, "/search.atom?q=remittances",
                       headers=editor.headers)) == titles(
        atom(client, "/search.atom?q=remittances"))
    assert not {"Internal remittances note", "Submitted remittances study"} & set(anonymous)


def test_a_search_feed_applies_the_words_and_filters_newest_first(client, corpus):
    parsed = atom(client, "/search.atom?q=remittances&country=MDA&sort=title&page=1")
    assert titles(parsed) == ["Remittance survey of Moldova 1999", "Remittances in Moldova"]
    assert parsed.feed.opensearch_totalresults == "2"
    assert "“remittances”, Moldova" in parsed.feed.title
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["alternate"] == "http://localhost/search?q=remittances&country=MDA"
    assert links["self"] == "http://localhost/search.atom?q=remittances&country=MDA"
    assert parsed.feed.id == links["self"]

    assert titles(atom(client, "/search.atom?country=SRB")) == [
        "Labour migration in Serbia", "Diaspora mapping tool"]
    assert titles(atom(client, "/search.atom")) == PUBLIC_NEWEST_FIRST
    assert titles(atom(client, "/search.atom?q=nothingmatchesthis")) == []


def test_feeds_are_bounded(client, upload):
    for n in range(22):
        assert upload(f"Report {n} on migration.".encode(), f"r{n}.txt",
                      title=f"Report {n}").status_code == 201
    assert len(atom(client, "/feed.atom").entries) == 20
    parsed = atom(client, "/feed.atom?per_page=3")
    assert titles(parsed) == ["Report 21", "Report 20", "Report 19"]
    assert len(atom(client, "/feed.atom?per_page=50").entries) == 22
    for bad in ("per_page=51", "per_page=0", "per_page=many"):
        assert client.get(f"/feed.atom?{bad}").status_code == 400, bad
        assert client.get(f"/search.atom?{bad}").status_code == 400, bad
    for bad in ("q=m*", "year_from=abc", "expand=perhaps", "q=" + "x" * 5000):
        assert client.get(f"/search.atom?{bad}").status_code == 400, bad


def test_text_xml_cannot_carry_is_replaced(client, corpus):
    parsed = atom(client, "/search.atom?q=remittances%01%0b")
    assert "\x01" not in parsed.feed.title


def test_feeds_can_be_cached_and_revalidated(app, client, corpus, upload, editor):
    res = client.get("/feed.atom")
    assert res.headers["Cache-Control"] == "public, max-age=300"
    etag, modified = res.headers["ETag"], res.headers["Last-Modified"]
    again = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    assert client.get("/feed.atom", headers={"If-Modified-Since": modified}
                      ).status_code == 304
    res = upload(b"A new report.", "new.txt", title="New report")
    assert res.status_code == 201
    changed = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert feedparser.parse(changed.data).entries[0].title == "New report"

    # An entry that goes makes the feed newer, not older: a reader's copy is not kept.
    # (HTTP dates count whole seconds: the withdrawal comes a few later.)
    modified = changed.headers["Last-Modified"]
    later = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=5)
    app.config["CLOCK"] = lambda: later
    assert client.post(f"/api/v1/documents/{res.json['id']}/withdraw",
                       headers=editor.headers).status_code == 200
    gone = client.get("/feed.atom", headers={"If-Modified-Since": modified})
    assert gone.status_code == 200
    assert "New report" not in titles(feedparser.parse(gone.data))

    search = client.get("/search.atom?q=remittances")
    assert search.headers["Cache-Control"] == "public, max-age=300"
    assert client.get("/search.atom?q=remittances", headers={
        "If-None-Match": search.headers["ETag"]}).status_code == 304
    # Signed in, the same public feed, but no cache keeps an answer made for a user.
    signed = client.get("/search.atom?q=remittances", headers=editor.headers)
    assert signed.data == search.data
    assert signed.headers["Cache-Control"] == "no-store"


def test_pages_link_their_feeds(client, corpus):
    home = client.get("/").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml" title="Newest documents" ' \
           'href="/feed.atom">' in home

    page = client.get("/search?q=remittances&country=MDA&sort=title&page=1&per_page=10")
    html = page.get_data(as_text=True)
    (head,) = re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]*'
                         r'href="([^"]+)"', html)
    (visible,) = re.findall(r'<a href="([^"]+)" type="application/atom\+xml" data-feed>Feed</a>',
                            html)
    assert head == visible == "/search.atom?q=remittances&amp;country=MDA"
    assert titles(atom(client, head.replace("&amp;", "&"))) == [
        "Remittance survey of Moldova 1999", "Remittances in Moldova"]

    browse = client.get("/browse/country/SRB").get_data(as_text=True)
    (feed,) = re.findall(r'href="([^"]+)" type="application/atom\+xml" data-feed', browse)
    assert titles(atom(client, feed)) == ["Labour migration in Serbia",
                                          "Diaspora mapping tool"]


def test_robots_keep_crawlers_out_of_search_feeds_only(client):
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(client.get("/robots.txt").get_data(as_text=True).splitlines())
    assert robots.can_fetch("*", "http://localhost/feed.atom")
    assert not robots.can_fetch("*", "http://localhost/search.atom?q=migration")


def test_the_recently_added_sort_puts_new_uploads_first(client, corpus):
    res = client.get("/api/v1/search", query_string={"sort": "added"})
    assert [r["title"] for r in res.json["results"]] == PUBLIC_NEWEST_FIRST
    page = client.get("/search?sort=added").get_data(as_text=True)
    assert '<option value="added" selected>Recently added</option>' in page


# ---------------------------------------------------------------------------------------
# OpenSearch


def description(client: Any) -> etree._Element:
    res = client.get("/opensearch.xml")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == \
        "application/opensearchdescription+xml; charset=utf-8"
    return etree.fromstring(res.data)


def test_every_page_names_the_search_engine(client, corpus):
    link = ('<link rel="search" type="application/opensearchdescription+xml" '
            'title="Migration KB" href="/opensearch.xml">')
    doc_id = corpus["Remittances in Moldova"]
    for url in ("/", "/search?q=remittances", f"/documents/{doc_id}", "/login",
                "/help/search", "/browse/country", "/documents/999999"):
        assert link in client.get(url).get_data(as_text=True), url
    root = description(client)
    short = root.findtext(f"{OPENSEARCH}ShortName")
    assert short == "Migration KB" and len(short) <= 16
    assert root.findtext(f"{OPENSEARCH}InputEncoding") == "UTF-8"
    assert root.findtext(f"{OPENSEARCH}Description")


def test_the_description_templates_are_working_searches(client, corpus):
    templates = {url.get("type"): url.get("template")
                 for url in description(client).iter(f"{OPENSEARCH}Url")}
    assert set(templates) == {"text/html", "application/atom+xml",
                              "application/x-suggestions+json",
                              "application/opensearchdescription+xml"}

    def fill(kind: str, terms: str) -> str:
        template = templates[kind]
        assert template.startswith("http://localhost/") and "{searchTerms}" in template
        return template.replace("{searchTerms}", terms).removeprefix("http://localhost")

    page = client.get(fill("text/html", "diaspora")).get_data(as_text=True)
    assert "Diaspora mapping tool" in page and "2 documents" in page
    assert titles(atom(client, fill("application/atom+xml", "diaspora"))) == [
        "Diaspora mapping tool", "Remittances in Moldova"]

    res = client.get(fill("application/x-suggestions+json", "remit"))
    assert res.headers["Content-Type"] == "application/x-suggestions+json; charset=utf-8"
    q, completions = res.json
    assert q == "remit"
    assert {"Remittances in Moldova", "Remittance survey of Moldova 1999"} <= set(completions)
    assert all(isinstance(c, str) for c in completions)


def test_suggestions_are_public_whoever_asks(client, corpus, editor):
    for headers in ({}, editor.headers):
        res = client.get("/opensearch/suggest?q=intern", headers=headers)
        assert "Internal remittances note" not in res.json[1]
        res = client.get("/opensearch/suggest?q=submitted", headers=headers)
        assert "Submitted remittances study" not in res.json[1]
    # The editor's own suggestions (the API's, for the site's search box) do list it.
    mine = client.get("/api/v1/suggest?q=intern", headers=editor.headers).json
    assert "Internal remittances note" in [s["text"] for s in mine["suggestions"]]
    assert client.get("/opensearch/suggest").json == ["", []]

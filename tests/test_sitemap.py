"""/sitemap.xml lists every public document page with its last change (an index of
numbered files past SITEMAP_PAGE_SIZE); /robots.txt points to it and keeps crawlers out
of search results and the API."""

from __future__ import annotations

import re
import urllib.robotparser
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lxml import etree

from kb.extensions import db
from tests.conftest import make_app

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
START = datetime(2024, 5, 1, 8, 30, 0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, database_url: str | None, clock: Clock) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url, CLOCK=clock, SITEMAP_PAGE_SIZE=2)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def add(upload: Callable[..., Any]) -> Callable[..., int]:
    def make(title: str, **meta: Any) -> int:
        res = upload(f"{title}: notes on migration.".encode(), f"{title}.txt", title=title,
                     **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    return make


def xml(client: Any, url: str) -> etree._Element:
    res = client.get(url)
    assert res.status_code == 200, url
    assert res.headers["Content-Type"] == "application/xml; charset=utf-8"
    root = etree.fromstring(res.data)
    for element in root.iter():
        assert etree.QName(element).namespace == SITEMAP
    return root


def entries(root: etree._Element) -> list[tuple[str, str]]:
    assert root.tag == f"{{{SITEMAP}}}urlset"
    return [(u.findtext(f"{{{SITEMAP}}}loc"), u.findtext(f"{{{SITEMAP}}}lastmod"))
            for u in root]


def test_the_sitemap_lists_public_pages_with_their_last_change(client, add, clock):
    first = add("First")
    add("Internal", access="internal")
    clock.now += timedelta(days=3, seconds=7)
    second = add("Second")
    root = xml(client, "/sitemap.xml")
    assert entries(root) == [
        (f"http://localhost/documents/{first}", "2024-05-01T08:30:00Z"),
        (f"http://localhost/documents/{second}", "2024-05-04T08:30:07Z")]


def test_past_its_page_size_the_sitemap_is_an_index_of_numbered_files(client, add, clock):
    ids = []
    for i in range(5):
        ids.append(add(f"Report {i}"))
        clock.now += timedelta(hours=1)
    index = xml(client, "/sitemap.xml")
    assert index.tag == f"{{{SITEMAP}}}sitemapindex"
    parts = [(s.findtext(f"{{{SITEMAP}}}loc"), s.findtext(f"{{{SITEMAP}}}lastmod"))
             for s in index]
    assert parts == [("http://localhost/sitemap-1.xml", "2024-05-01T09:30:00Z"),
                     ("http://localhost/sitemap-2.xml", "2024-05-01T11:30:00Z"),
                     ("http://localhost/sitemap-3.xml", "2024-05-01T12:30:00Z")]
    listed = [loc for n in (1, 2, 3) for loc, _ in entries(xml(client, f"/sitemap-{n}.xml"))]
    assert listed == [f"http://localhost/documents/{i}" for i in ids]
    assert client.get("/sitemap-4.xml").status_code == 404
    assert client.get("/sitemap-0.xml").status_code == 404


def robots_allows(rules: list[tuple[str, str]], path: str) -> bool:
    """RFC 9309: the longest matching rule wins (allow on a tie); * and $ as wildcards."""
    best: tuple[int, bool] = (-1, True)
    for kind, pattern in rules:
        regex = re.escape(pattern).replace(r"\*", ".*")
        if regex.endswith(r"\$"):
            regex = regex[:-2] + "$"
        if pattern and re.match(regex, path):
            allow = kind == "allow"
            if len(pattern) > best[0] or (len(pattern) == best[0] and allow):
                best = (len(pattern), allow)
    return best[1]


def test_robots_points_to_the_sitemap_and_keeps_crawlers_out_of_search(client, add):
    doc = add("A public report")
    res = client.get("/robots.txt")
    assert res.status_code == 200 and res.mimetype == "text/plain"
    text = res.get_data(as_text=True)
    assert "Sitemap: http://localhost/sitemap.xml" in text.splitlines()
    assert "/documents" not in text  # it names no document
    rules = [(k.strip().lower(), v.strip()) for k, _, v in
             (line.partition(":") for line in text.splitlines())
             if k.strip().lower() in ("allow", "disallow")]
    for path in ("/search", "/search?q=remittances", "/search.atom?q=diaspora",
                 "/search/export.bib?q=remittances", "/search/export.csv",
                 "/?q=remittances", "/?country=MDA&page=2", "/api/v1/search?q=x",
                 "/api/v1/documents/1"):
        assert not robots_allows(rules, path), path
    for path in ("/", f"/documents/{doc}", f"/documents/{doc}/download", "/sitemap.xml",
                 "/help/search"):
        assert robots_allows(rules, path), path

    # Python's own parser (no wildcards) must not read the rules as closing the site.
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    for path in ("/", f"/documents/{doc}", "/sitemap.xml"):
        assert parser.can_fetch("AnyBot", "http://localhost" + path), path
    assert not parser.can_fetch("AnyBot", "http://localhost/search?q=x")
    assert parser.site_maps() == ["http://localhost/sitemap.xml"]

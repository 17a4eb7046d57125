"""What search engines' crawlers read: /robots.txt and /sitemap.xml (every public,
published document page with its last change)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, url_for
from lxml import etree

from kb.services import harvest

bp = Blueprint("sitemap", __name__)

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


@bp.get("/robots.txt")
def robots() -> Response:
    """Crawlers: welcome on document pages, kept out of search results, their exports and
    the API."""
    lines = [
        "# Document pages are listed in the sitemap. Search results (/search, and the",
        "# home page with query parameters), their feeds and the API answer queries:",
        "# they are not pages to index.",
        "User-agent: *",
        "Disallow: /search",
        "Disallow: /search.atom",
        # A search's exports (/search/export.bib...): "/search" covers them; said for
        # whoever reads this file.
        "Disallow: /search/export.",
        # "/?*", not "/?": the same rule to RFC 9309 parsers, while Python's robotparser,
        # which drops a bare "?", would read "/?" as "Disallow: /" (the whole site).
        "Disallow: /?*",
        "Disallow: /api/",
        "",
        f"Sitemap: {url_for('sitemap.index', _external=True)}",
        "",
    ]
    return Response("\n".join(lines), mimetype="text/plain")


@bp.get("/sitemap.xml")
def index() -> Response:
    """The document pages, or, past SITEMAP_PAGE_SIZE of them, an index of numbered files."""
    size = _page_size()
    total = harvest.sitemap_count()
    if total <= size:
        return _urlset(0, size)
    entries = harvest.sitemap_entries(0, total)
    root = etree.Element(f"{{{SITEMAP}}}sitemapindex", nsmap={None: SITEMAP})
    for start in range(0, len(entries), size):
        item = etree.SubElement(root, f"{{{SITEMAP}}}sitemap")
        etree.SubElement(item, f"{{{SITEMAP}}}loc").text = url_for(
            "sitemap.part", number=start // size + 1, _external=True)
        etree.SubElement(item, f"{{{SITEMAP}}}lastmod").text = harvest.utc_text(
            max(stamp for _doc_id, stamp in entries[start:start + size]))
    return _xml(root)


@bp.get("/sitemap-<int:number>.xml")
def part(number: int) -> Response:
    """One file of the sitemap index (numbered from 1)."""
    size = _page_size()
    if number < 1 or (number - 1) * size >= max(harvest.sitemap_count(), 1):
        abort(404)
    return _urlset((number - 1) * size, size)


def _urlset(offset: int, limit: int) -> Response:
    root = etree.Element(f"{{{SITEMAP}}}urlset", nsmap={None: SITEMAP})
    for doc_id, stamp in harvest.sitemap_entries(offset, limit):
        item = etree.SubElement(root, f"{{{SITEMAP}}}url")
        etree.SubElement(item, f"{{{SITEMAP}}}loc").text = url_for(
            "documents.detail", doc_id=doc_id, _external=True)
        etree.SubElement(item, f"{{{SITEMAP}}}lastmod").text = harvest.utc_text(stamp)
    return _xml(root)


def _page_size() -> int:
    return max(1, min(int(current_app.config["SITEMAP_PAGE_SIZE"]), 50_000))


def _xml(root: etree._Element) -> Response:
    return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"),
                    content_type="application/xml; charset=utf-8")

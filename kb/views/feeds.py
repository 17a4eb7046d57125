"""Feeds and the browser's search box: /feed.atom (the newest public documents),
/search.atom (the newest of any search, so that a saved search is a feed), the OpenSearch
description /opensearch.xml and its suggestions.

None of these looks at who asks: a feed or a search engine entry is shared and read
without cookies, so each holds what an anonymous visitor may see, and may be cached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, json, request, url_for
from lxml import etree

from kb import taxonomy
from kb.models import Document
from kb.services import feeds, harvest, searching, suggestions
from kb.views.oai import NOT_XML
from kb.views.search import SEARCH_PARAMS, filter_label

bp = Blueprint("feeds", __name__)

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ATOM_TYPE = "application/atom+xml"
# How long a cache (a feed reader's, a proxy's) may keep a feed before asking again.
FEED_MAX_AGE = 300
SITE_NAME = "Migration & Development Knowledge Base"
# The name a browser lists the search engine under (OpenSearch: 16 characters at most).
SHORT_NAME = "Migration KB"
SUGGESTIONS_TYPE = "application/x-suggestions+json"


@bp.get("/feed.atom")
def latest() -> Response:
    """The newest public, published documents as an Atom feed."""
    feed = feeds.latest(feeds.entry_count(request.args.to_dict(flat=False)))
    return _atom(feed, title=f"{SITE_NAME}: newest documents",
                 self_url=url_for("feeds.latest", _external=True, **_size_arg()),
                 page_url=url_for("search.home", _external=True))


@bp.get("/search.atom")
def search() -> Response:
    """The newest public, published documents a search finds (the parameters of /search;
    newest first, whatever ``sort`` says; ``per_page`` up to 50 entries)."""
    args = request.args.to_dict(flat=False)
    feed = feeds.search(args)
    kept: dict[str, Any] = {k: v for k, v in args.items()
                            if k in SEARCH_PARAMS and k not in feeds.IGNORED}
    page_args = {k: v for k, v in kept.items() if k != "per_page"}
    return _atom(feed, title=_search_title(args),
                 self_url=url_for("feeds.search", _external=True, **kept),
                 page_url=url_for("search.index", _external=True, **page_args))


def _size_arg() -> dict[str, str]:
    size = request.args.get("per_page", "").strip()
    return {"per_page": size} if size else {}


def _search_title(args: dict[str, list[str]]) -> str:
    words = (args.get("q") or [""])[-1].strip()
    filters = [filter_label(name, searching.filter_value(name, v))
               for name in searching.FILTER_PARAMS for v in args.get(name, ()) if v.strip()]
    said = ", ".join([f"“{words}”"] * bool(words) + filters)
    return f"{SITE_NAME}: search{' for ' + said if said else ''}"


def _atom(feed: feeds.Feed, *, title: str, self_url: str, page_url: str) -> Response:
    nsmap: dict[str | None, str] = {None: ATOM}
    if feed.total is not None:
        nsmap["opensearch"] = OPENSEARCH
    root = etree.Element(f"{{{ATOM}}}feed", nsmap=nsmap)
    _text(root, "id", self_url)
    _text(root, "title", title)
    _text(root, "updated", harvest.utc_text(feed.updated))
    author = etree.SubElement(root, f"{{{ATOM}}}author")
    _text(author, "name", str(current_app.config["OAI_REPOSITORY_NAME"]))
    _link(root, "self", self_url, ATOM_TYPE)
    _link(root, "alternate", page_url, "text/html")
    _link(root, "search", url_for("feeds.opensearch", _external=True),
          "application/opensearchdescription+xml")
    if feed.total is not None:
        etree.SubElement(root, f"{{{OPENSEARCH}}}totalResults").text = str(feed.total)
        etree.SubElement(root, f"{{{OPENSEARCH}}}itemsPerPage").text = str(feed.per_page)
    labels = harvest.agency_labels()
    for entry in feed.entries:
        _entry(root, entry, labels)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    response = Response(body, content_type=f"{ATOM_TYPE}; charset=utf-8")
    # A search feed also changes when the index catches up with the database: only its
    # ETag tells; the feed of the newest documents is the database's alone.
    return _cacheable(response, feed.updated if feed.total is None else None)


def _entry(root: etree._Element, entry: feeds.Entry, agencies: dict[str, str]) -> None:
    doc = entry.doc
    page = url_for("documents.detail", doc_id=doc.doc_id, _external=True)
    item = etree.SubElement(root, f"{{{ATOM}}}entry")
    # The page's address: it never changes (issue 16, stable links).
    _text(item, "id", page)
    _text(item, "title", doc.title)
    _text(item, "updated", harvest.utc_text(entry.updated))
    _text(item, "published", harvest.utc_text(doc.created_at))
    for code in doc.agencies:
        _text(etree.SubElement(item, f"{{{ATOM}}}author"), "name", agencies.get(code, code))
    if doc.summary:
        _text(item, "summary", doc.summary).set("type", "text")
    for kind, code, text in _categories(doc):
        category = etree.SubElement(item, f"{{{ATOM}}}category")
        category.set("term", _clean(code))
        category.set("scheme", url_for("search.browse_list", kind=kind, _external=True))
        category.set("label", _clean(text))
    _link(item, "alternate", page, "text/html")
    current = doc.current_file
    if current is not None:
        _link(item, "enclosure",
              url_for("documents.download", doc_id=doc.doc_id, _external=True),
              current.content_type).set("length", str(current.size))


def _categories(doc: Document) -> list[tuple[str, str, str]]:
    found = [("country", c, taxonomy.label("country", c)) for c in doc.countries]
    found += [("theme", t, t) for t in doc.themes]
    if doc.doc_type:
        found.append(("type", doc.doc_type, taxonomy.label("type", doc.doc_type)))
    return found


def _text(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _clean(text)
    return element


def _clean(text: str) -> str:
    """The text without what XML 1.0 cannot carry (a title or a query may hold some)."""
    return NOT_XML.sub("\ufffd", text)


def _link(parent: etree._Element, rel: str, href: str, kind: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ATOM}}}link", rel=rel, href=href, type=kind)


def _cacheable(response: Response, changed: datetime | None) -> Response:
    """Validators and a lifetime: a reader asking again gets 304 while nothing changed."""
    response.add_etag()
    if changed is not None:
        response.last_modified = changed.replace(microsecond=0)
    response.cache_control.public = True
    response.cache_control.max_age = FEED_MAX_AGE
    response.make_conditional(request)  # 304 without a body when the reader's copy holds
    return response


@bp.get("/opensearch.xml")
def opensearch() -> Response:
    """The OpenSearch description: browsers offer kb as a search engine from it."""
    ns = f"{{{OPENSEARCH}}}"
    root = etree.Element(f"{ns}OpenSearchDescription", nsmap={None: OPENSEARCH})
    etree.SubElement(root, f"{ns}ShortName").text = SHORT_NAME
    etree.SubElement(root, f"{ns}Description").text = (
        f"Search the {SITE_NAME}: reports, tools and studies of the IOM-UNDP programme "
        "on migration and development.")
    etree.SubElement(root, f"{ns}InputEncoding").text = "UTF-8"
    terms = "{searchTerms}"
    # url_for would escape the braces of the template parameter: added after it.
    for kind, endpoint in (("text/html", "search.index"), (ATOM_TYPE, "feeds.search"),
                           (SUGGESTIONS_TYPE, "feeds.suggest")):
        etree.SubElement(root, f"{ns}Url", type=kind, method="get",
                         template=f"{url_for(endpoint, _external=True)}?q={terms}")
    etree.SubElement(root, f"{ns}Url", type="application/opensearchdescription+xml",
                     rel="self", template=url_for("feeds.opensearch", _external=True))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    response = Response(body,
                        content_type="application/opensearchdescription+xml; charset=utf-8")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.get("/opensearch/suggest")
def suggest() -> Response:
    """Completions for a browser's search box, in the OpenSearch suggestions format
    (["query", ["completion", ...]]): titles and themes of public documents, thesaurus
    labels."""
    q = request.args.get("q", "")
    found = suggestions.suggest(None, q, suggestions.DEFAULT_LIMIT)
    body = json.dumps([q, [s.text for s in found]], ensure_ascii=False)
    return Response(body, content_type=f"{SUGGESTIONS_TYPE}; charset=utf-8")

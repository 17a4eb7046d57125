"""Search as a service: the policy's filter, the engine, then database rows in hit order."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import select

from kb import context, metrics, policy, search, taxonomy, vocabularies
from kb.errors import QueryError
from kb.extensions import db
from kb.models import Agency, Document
from kb.services import thesaurus

log = logging.getLogger(__name__)

MAX_PER_PAGE = search.MAX_PER_PAGE
# Snippets a result shows at most (a document's own page shows more).
RESULT_SNIPPETS = 2
FILTER_PARAMS = ("country", "agency", "type", "theme", "language", "phase", "year",
                 *vocabularies.NAMES)


@dataclass(frozen=True)
class Version:
    """Another language version of a hit's work that the user may see."""

    doc_id: int
    language: str | None
    title: str


@dataclass(frozen=True)
class Found:
    hit: search.Hit
    doc: Document
    # The work's other versions the user may see (grouped searches only).
    versions: tuple[Version, ...] = ()


@dataclass(frozen=True)
class Page:
    request: search.SearchRequest
    result: search.SearchResult
    found: tuple[Found, ...]
    facet_labels: dict[str, dict[str, str]]
    # Thesaurus concepts found in the query and searched in their other languages too.
    expansions: tuple[thesaurus.Expansion, ...] = ()
    # False when the user turned expansion off (expand=0).
    expand: bool = True

    @property
    def pages(self) -> int:
        per = self.result.per_page
        return max(1, (self.result.total + per - 1) // per)


def _int(args: Mapping[str, Sequence[str]], name: str, default: int | None) -> int | None:
    values = [v for v in args.get(name, ()) if v.strip()]
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError as e:
        raise QueryError(_("%(name)s must be a whole number, not %(value)r", name=name,
                           value=values[-1])) from e


def expand_wanted(args: Mapping[str, Sequence[str]]) -> bool:
    """False when the request says expand=0 (or false, no, off)."""
    value = (args.get("expand") or ["1"])[-1].strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("", "1", "true", "yes", "on"):
        return True
    raise QueryError(_("expand must be 1 or 0, not %(value)r", value=value))


def filter_value(name: str, raw: str) -> str:
    """A filter parameter's value as the index holds it (themes folded, country codes in
    capitals); '' for a blank one."""
    value = raw.strip()
    if value and name == "theme":
        return taxonomy.normalise_theme(value)
    if value and name == "country":
        return taxonomy.normalise_country(value) or value
    if value and name in vocabularies.VOCABULARIES:
        return vocabularies.normalise(name, value) or value
    return value


def preferred_language() -> str | None:
    """The language a grouped search shows a work in: the reader's interface language.

    The language chosen with the switch or kept in the profile (kb.i18n), else the
    browser's Accept-Language, best match among the languages kb knows (a reader of
    Arabic finds Arabic versions though the interface is in English): every search
    takes its preferred language from here."""
    if not has_request_context():
        return None
    from kb import i18n

    chosen = i18n.explicit_choice()
    if chosen:
        return chosen
    known = [t.code for t in taxonomy.languages()]
    return request.accept_languages.best_match(known)


def translations_wanted(args: Mapping[str, Sequence[str]]) -> bool:
    """False (one result per work) unless the request says translations=all."""
    value = (args.get("translations") or ["grouped"])[-1].strip().lower()
    if value in ("", "grouped"):
        return False
    if value == "all":
        return True
    raise QueryError(_("translations must be grouped or all, not %(value)r", value=value))


def parse_request(args: Mapping[str, Sequence[str]], *, per_page: int = 20) -> search.SearchRequest:
    """A search request from query-string parameters (the API's and the page's alike)."""
    q = (args.get("q") or [""])[-1]
    filters: dict[str, tuple[str, ...]] = {}
    for name in FILTER_PARAMS:
        values = tuple(dict.fromkeys(
            value for value in (filter_value(name, v) for v in args.get(name, ())) if value))
        if values:
            filters[name] = values
    page = _int(args, "page", None)
    page = 1 if page is None else page
    size = _int(args, "per_page", None)
    size = per_page if size is None else size
    search.check_page(page, size)
    sort = (args.get("sort") or ["relevance"])[-1] or "relevance"
    if sort not in search.SORTS:
        raise QueryError(_("sort must be one of: %(sorts)s", sorts=", ".join(search.SORTS)))
    return search.SearchRequest(
        q=q, filters=filters,
        year_from=search.check_year("year_from", _int(args, "year_from", None)),
        year_to=search.check_year("year_to", _int(args, "year_to", None)),
        sort=sort, page=page, per_page=size,
        grouped=not translations_wanted(args), prefer_language=preferred_language(),
    )


def facet_labels(result: search.SearchResult) -> dict[str, dict[str, str]]:
    """Labels for every value a facet shows (agencies come from the database)."""
    rows = db.session.execute(select(Agency.code, Agency.label))
    agencies = {code: label for code, label in rows}
    labels: dict[str, dict[str, str]] = {}
    for name, pairs in result.facets.items():
        if name in ("country", "type", "phase", "language"):
            labels[name] = {v: taxonomy.label(name, v) for v, _ in pairs}
        elif name == "agency":
            labels[name] = {v: agencies.get(v, v) for v, _ in pairs}
        elif name in vocabularies.VOCABULARIES:
            labels[name] = {v: vocabularies.label(name, v) for v, _ in pairs}
        else:
            labels[name] = {v: v for v, _ in pairs}
    return labels


def expanded(req: search.SearchRequest) -> tuple[search.SearchRequest,
                                                 tuple[thesaurus.Expansion, ...]]:
    """The request with the thesaurus's other-language labels of the concepts a plain-word
    query names (``also``), and the function words of those labels' own language made
    quiet (``quiet``): Spanish "de" in "migración de retorno" must not find English texts
    that quote a Spanish name."""
    if not req.q.strip() or search.is_query_language(req.q):
        return req, ()
    found = tuple(thesaurus.expansions(req.q))
    if not found:
        return req, ()
    labels = tuple(dict.fromkeys(label for e in found for _, label in e.labels))
    quiet = tuple(dict.fromkeys(
        word for e in found for word in search.function_words(e.matched, e.lang)))
    return replace(req, also=labels, quiet=quiet), found


@metrics.timed_search
def run(user: object, req: search.SearchRequest, *, expand: bool = True,
        snippets: int = RESULT_SNIPPETS) -> Page:
    """Search what this user may see; plain-word queries also in the thesaurus's other
    languages unless ``expand`` is off; at most ``snippets`` snippets a hit."""
    found_concepts: tuple[thesaurus.Expansion, ...] = ()
    if expand:
        req, found_concepts = expanded(req)
    result = search.search(
        context.index_dir(), req, policy.visibility(user),
        snippets=snippets, surround=int(current_app.config["SNIPPET_SURROUND"]),
        time_limit=float(current_app.config["SEARCH_TIME_LIMIT"]),
    )
    ids = [h.doc_id for h in result.hits]
    query = select(Document).where(Document.doc_id.in_(ids))
    rows = {d.doc_id: d for d in db.session.scalars(query)}
    # The database is the source of truth: a hit whose row is gone or hidden is dropped.
    shown = [h for h in result.hits if h.doc_id in rows and policy.can_view(user, rows[h.doc_id])]
    versions = _versions(user, [rows[h.doc_id] for h in shown]) if req.grouped else {}
    found = tuple(Found(hit=h, doc=rows[h.doc_id],
                        versions=versions.get(rows[h.doc_id].translation_of or h.doc_id, ()))
                  for h in shown)
    return Page(request=req, result=result, found=found, facet_labels=facet_labels(result),
                expansions=found_concepts, expand=expand)


def _versions(user: object, docs: list[Document]) -> dict[int, tuple[Version, ...]]:
    """For each work of ``docs`` (by its key), its versions the user may see, but the one
    shown: one query for the page."""
    works = {d.translation_of or d.doc_id for d in docs}
    if not works:
        return {}
    shown = {d.doc_id for d in docs}
    rows = db.session.execute(
        select(Document.doc_id, Document.translation_of, Document.language, Document.title)
        .where((Document.doc_id.in_(works) | Document.translation_of.in_(works))
               & policy.viewable_documents_clause(user))
        .order_by(Document.language, Document.doc_id))
    out: dict[int, list[Version]] = {}
    for doc_id, translation_of, language, title in rows:
        if doc_id not in shown:
            out.setdefault(translation_of or doc_id, []).append(Version(doc_id, language, title))
    return {work: tuple(found) for work, found in out.items()}


# How many similar documents are listed by default, and at most.
SIMILAR_DEFAULT, SIMILAR_MAX = 5, 50


def similar(user: object, doc: Document, limit: int = SIMILAR_DEFAULT) -> list[Document]:
    """The documents nearest to ``doc`` by the words of its text, that this user may see."""
    ids = search.more_like(context.index_dir(), doc.doc_id, policy.visibility(user), limit)
    rows = {d.doc_id: d for d in db.session.scalars(
        select(Document).where(Document.doc_id.in_(ids)))}
    return [rows[i] for i in ids if i in rows and policy.can_view(user, rows[i])]


def warm() -> None:
    """Prepare this process's search for its first visitors (what an anonymous search needs:
    the anonymous visitors' filter, facet values, field lengths): run by each web worker
    as it starts, beside its first requests. A failure (no index yet, say) is logged: the
    first search then says what is wrong."""
    start = time.perf_counter()
    try:
        documents = search.warm(context.index_dir(), policy.visibility(None))
    except Exception as e:  # noqa: BLE001 - logged; searches report it themselves
        log.warning("search not warmed: %s: %s", type(e).__name__, e)
        return
    log.info("search warmed for the first visitors in %.2f s (documents in the index: %s)",
             time.perf_counter() - start, documents)

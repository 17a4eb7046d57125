"""Searching: the query language, filters, facets, sorting and page-aware snippets."""

from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import highlight, qparser, sorting
from whoosh import query as wq
from whoosh.searching import Hit as Hit_
from whoosh.searching import Results, Searcher

from kb.errors import QueryError
from kb.search.index import searchers
from kb.search.schema import FACET_FIELDS, build_schema

SORTS = ("relevance", "newest", "oldest", "title")

# Query-time boosts: metadata written by people says more than a match deep in the text.
FIELD_BOOSTS = {"title": 3.0, "summary": 2.0, "themes_text": 2.0, "body": 1.0}

# Filter parameters -> (index field, how several values combine inside the facet: OR).
FILTER_FIELDS = {
    "country": "country",
    "agency": "agency",
    "type": "type",
    "theme": "theme",
    "language": "language",
    "phase": "phase",
    "year": "year",
}


@dataclass(frozen=True)
class Visibility:
    """Which documents a user may find, as decided by ``kb.policy``.

    ``all_states``: every workflow state but withdrawn, whatever the access level (editors).
    Otherwise published documents of ``access_levels``, restricted ones of ``group_ids``,
    and the user's own uploads (``uploader_id``) in any state but withdrawn.
    """

    all_states: bool = False
    access_levels: frozenset[str] = frozenset()
    group_ids: frozenset[int] = frozenset()
    uploader_id: int | None = None

    def query(self) -> wq.Query:
        """The Whoosh filter: applied inside the search, so totals and facets are right."""
        not_withdrawn = wq.Not(wq.Term("workflow", "withdrawn"))
        if self.all_states:
            return wq.And([wq.Every(), not_withdrawn])
        allowed: list[wq.Query] = [wq.Term("access", a) for a in sorted(self.access_levels)]
        if self.group_ids:
            allowed.append(wq.And([
                wq.Term("access", "restricted"),
                wq.Or([wq.Term("groups", str(g)) for g in sorted(self.group_ids)]),
            ]))
        visible: list[wq.Query] = []
        if allowed:
            visible.append(wq.And([wq.Term("workflow", "published"), wq.Or(allowed)]))
        if self.uploader_id is not None:
            visible.append(wq.And([wq.Term("uploader", str(self.uploader_id)),
                                   not_withdrawn]))
        # Never NullQuery here: And() drops it while normalising, which would show everything.
        return wq.Or(visible) if visible else wq.Term("workflow", "-nothing-")


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    # Restrict to these documents (a document page showing its own snippets).
    doc_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Snippet:
    page: int
    html: str


@dataclass(frozen=True)
class Hit:
    doc_id: int
    score: float | None  # None when sorted by something other than relevance
    snippets: tuple[Snippet, ...]


@dataclass(frozen=True)
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: tuple[Hit, ...]
    facets: dict[str, list[tuple[str, int]]]


_schema = build_schema()


def _parser() -> qparser.QueryParser:
    parser = qparser.MultifieldParser(
        list(FIELD_BOOSTS), _schema, fieldboosts=FIELD_BOOSTS, group=qparser.AndGroup
    )
    parser.add_plugin(qparser.GtLtPlugin())
    return parser


_PARSER = _parser()


def _errors(q: wq.Query) -> list[str]:
    found = [str(q.error)] if getattr(q, "error", None) else []
    for child in q.children():
        found.extend(_errors(child))
    return found


def parse_query(text: str) -> wq.Query:
    """The user's query as a Whoosh query; an empty one matches every document."""
    text = text.strip()
    if not text:
        return wq.Every()
    q = _PARSER.parse(text)
    problems = _errors(q)
    if problems:
        raise QueryError(f"The query could not be understood ({problems[0]}). "
                         "Check field names, numbers and ranges, e.g. year:[2014 TO 2018].")
    return q


def _any_of(fieldname: str, values: tuple[str, ...]) -> wq.Query:
    if fieldname == "year":
        terms: list[wq.Query] = []
        for v in values:
            try:
                year = int(v)
            except ValueError as e:
                raise QueryError(f"year must be a number, not {v!r}") from e
            terms.append(wq.NumericRange("year", year, year))
        return wq.Or(terms)
    return wq.Or([wq.Term(fieldname, v) for v in values])


def _filter_query(req: SearchRequest, visibility: Visibility, skip: str | None) -> wq.Query:
    parts: list[wq.Query] = [visibility.query()]
    for name, values in req.filters.items():
        if values and name != skip:
            parts.append(_any_of(FILTER_FIELDS[name], values))
    if req.year_from is not None or req.year_to is not None:
        parts.append(wq.NumericRange("year", req.year_from, req.year_to))
    if req.doc_ids:
        parts.append(wq.Or([wq.Term("doc_id", d) for d in req.doc_ids]))
    return wq.And(parts)


def _sort_facet(sort: str) -> sorting.FacetType | None:
    if sort == "relevance":
        return None
    if sort == "title":
        return sorting.FieldFacet("sort_title")
    reverse = sort == "newest"
    return sorting.MultiFacet([
        sorting.FieldFacet("sort_year", reverse=reverse),
        sorting.FieldFacet("sort_created", reverse=reverse),
    ])


def _facets(names: list[str]) -> dict[str, sorting.FacetType]:
    return {
        name: sorting.FieldFacet(FACET_FIELDS[name], allow_overlap=True, maptype=sorting.Count)
        for name in names
    }


def _counts(results: Results, names: list[str]) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        counts = results.groups(name)
        pairs = [(k.decode("utf-8"), n) for k, n in counts.items() if k and n]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        out[name] = pairs
    return out


class _Fragments(highlight.Formatter):
    """Hands back the fragments themselves; ``render`` turns one into escaped HTML."""

    def _text(self, text: str) -> str:
        return html.escape(text, quote=False)

    def format_token(self, text: str, token: object, replace: bool = False) -> str:
        ttext = highlight.get_text(text, token, replace)
        return "<mark>" + html.escape(ttext, quote=False) + "</mark>"

    def format(self, fragments: list[highlight.Fragment],
               replace: bool = False) -> list[highlight.Fragment]:
        return list(fragments)

    def render(self, fragment: highlight.Fragment) -> str:
        return str(self.format_fragment(fragment, replace=False))


# Fragments considered per hit before choosing the ones shown.
_CANDIDATES = 50


def _snippets(hit: Hit_, body: str, surround: int, count: int) -> list[Snippet]:
    """The best fragments of a hit, earlier pages first on ties, one per page where possible."""
    formatter = _Fragments()
    hl = highlight.Highlighter(
        fragmenter=highlight.PinpointFragmenter(
            maxchars=2 * surround + 60, surround=surround, autotrim=True, charlimit=None
        ),
        formatter=formatter,
    )
    starts = hit.get("page_starts") or [0]
    fragments = hl.highlight_hit(hit, "body", text=body, top=_CANDIDATES)
    ranked = sorted(fragments, key=lambda f: (-len(f.matches), f.startchar))
    chosen: list[highlight.Fragment] = []
    pages: set[int] = set()
    for fragment in ranked:  # first the best fragment of each page
        page = _page_of(fragment, starts)
        if page not in pages and len(chosen) < count:
            chosen.append(fragment)
            pages.add(page)
    for fragment in ranked:  # then fill up with the next best
        if len(chosen) >= count:
            break
        if fragment not in chosen:
            chosen.append(fragment)
    chosen.sort(key=lambda f: f.startchar)
    return [Snippet(page=_page_of(f, starts), html=formatter.render(f)) for f in chosen]


def _page_of(fragment: highlight.Fragment, starts: list[int]) -> int:
    """The page of a fragment's first match: its surrounding text may begin on the page
    before (short pages such as slides and sheets)."""
    first = min((m.startchar for m in fragment.matches), default=fragment.startchar)
    return bisect_right(starts, first)


# Filters that a searcher has already turned into sets of document numbers: Whoosh
# rebuilds a query filter's bitset on every search otherwise (see WHOOSH.md).
_FILTER_CACHE_SIZE = 64


def _cached_filter(searcher: Searcher, filt: wq.Query) -> set[int]:
    cache: dict[wq.Query, set[int]] = searcher.__dict__.setdefault("_kb_filters", {})
    docs = cache.get(filt)
    if docs is None:
        if len(cache) >= _FILTER_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        # Never an empty set: Whoosh's collector tests the filter's truth, so an empty one
        # means "no filter" and would show every document. -1 is no document number.
        docs = cache[filt] = set(searcher.docs_for_query(filt)) or {-1}
    return docs


def search(
    index_dir: Path,
    req: SearchRequest,
    visibility: Visibility,
    load_bodies: Callable[[list[int]], dict[int, str]],
    *,
    snippets: int = 3,
    surround: int = 90,
) -> SearchResult:
    """Run one search: ids in hit order with snippets, the total and every facet's counts."""
    if req.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}")
    unknown = set(req.filters) - set(FILTER_FIELDS)
    if unknown:
        raise QueryError(f"unknown filter: {', '.join(sorted(unknown))}")
    q = parse_query(req.q)
    searcher = searchers.get(index_dir)
    filt = _cached_filter(searcher, _filter_query(req, visibility, skip=None))
    sortedby = _sort_facet(req.sort)
    # Counts of a facet in use are taken without its own filter, so that the other values
    # stay on offer (several values in one facet mean OR); the others come with the page.
    plain = [n for n in FACET_FIELDS if not req.filters.get(n)]
    results = searcher.search_page(
        q, req.page, pagelen=req.per_page, filter=filt, sortedby=sortedby,
        reverse=False, terms=True, groupedby=_facets(plain) or None,
    )
    facets = _counts(results.results, plain)
    for name in FACET_FIELDS:
        if req.filters.get(name):
            others = searcher.search(
                q, filter=_cached_filter(searcher, _filter_query(req, visibility, skip=name)),
                groupedby=_facets([name]), limit=1,
            )
            facets.update(_counts(others, [name]))
    total = results.total
    relevance = sortedby is None
    hits: list[Hit] = []
    wanted = [
        hit for hit in results
        if snippets and results.results.has_matched_terms()
        and any(fname == "body" for fname, _ in hit.matched_terms())
    ]
    # One database round trip for the texts of the page's hits, not one per hit.
    bodies = load_bodies([int(hit["doc_id"]) for hit in wanted]) if wanted else {}
    for hit in results:
        doc_id = int(hit["doc_id"])
        found: list[Snippet] = []
        if doc_id in bodies:
            found = _snippets(hit, bodies[doc_id], surround, snippets)
        score = float(hit.score) if relevance and hit.score is not None else None
        hits.append(Hit(doc_id=doc_id, score=score, snippets=tuple(found)))
    return SearchResult(
        total=total, page=req.page, per_page=req.per_page, hits=tuple(hits),
        facets={name: facets[name] for name in FACET_FIELDS},
    )

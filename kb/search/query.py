"""Searching: the query language, filters, facets, sorting and page-aware snippets."""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import highlight, sorting
from whoosh import query as wq
from whoosh.searching import Hit as Hit_
from whoosh.searching import Results, Searcher

from kb.errors import QueryError
from kb.search.analysis import OTHER, WORD_PATTERN
from kb.search.index import searchers
from kb.search.parsing import (
    Understood,
    expansion_query,
    natural_weights,
    understand,
    weighted_query,
)
from kb.search.ranking import (
    FEEDBACK_DOCS,
    FEEDBACK_FIELDS,
    FEEDBACK_WEIGHT,
    FeedbackDoc,
    feedback_weights,
)
from kb.search.schema import (
    FACET_FIELDS,
    SPELL_FIELD,
    TEXT_FIELDS,
    TEXT_LANGUAGES,
    VECTOR_FIELDS,
    text_field,
)

SORTS = ("relevance", "newest", "oldest", "title")

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
    # Thesaurus labels to search as well, below the user's own words (kb.services.thesaurus).
    also: tuple[str, ...] = ()
    # Offer a corrected query when this one finds little.
    spelling: bool = True


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
    # A corrected query built from the index's words that finds more, or None.
    did_you_mean: str | None = None
    # True when the query held nothing to search for (only common words, punctuation).
    nothing_to_search: bool = False


def parse_query(text: str, langs: Sequence[str] = TEXT_LANGUAGES) -> wq.Query:
    """The user's query as a Whoosh query; an empty one matches every document."""
    return understand(text, langs).query


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


class _TextFragmenter(highlight.PinpointFragmenter):
    """Fragments of the text alone: the body field also indexes the metadata after it."""

    def fragment_matches(self, text: str, tokens: list[object]) -> object:
        end = len(text)
        return super().fragment_matches(text, [t for t in tokens
                                               if t.endchar <= end])  # type: ignore[attr-defined]


# Fragments considered per hit before choosing the ones shown.
_CANDIDATES = 50


def _snippets(hit: Hit_, fieldname: str, body: str, surround: int,
              count: int) -> list[Snippet]:
    """The best fragments of a hit, earlier pages first on ties, one per page where possible."""
    formatter = _Fragments()
    hl = highlight.Highlighter(
        fragmenter=_TextFragmenter(
            maxchars=2 * surround + 60, surround=surround, autotrim=True, charlimit=None
        ),
        formatter=formatter,
    )
    starts = hit.get("page_starts") or [0]
    fragments = hl.highlight_hit(hit, fieldname, text=body, top=_CANDIDATES)
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


def languages(searcher: Searcher) -> tuple[str, ...]:
    """The analysis languages the index holds text in (all of them when it is empty)."""
    cache = searcher.__dict__
    found = cache.get("_kb_languages")
    if found is None:
        reader = searcher.reader()
        found = tuple(
            lang for lang in TEXT_LANGUAGES
            if any(reader.field_length(text_field(name, lang)) for name in TEXT_FIELDS)
        ) or TEXT_LANGUAGES
        cache["_kb_languages"] = found
    return found


def _with_feedback(searcher: Searcher, understood: Understood, q: wq.Query,
                   filt: set[int]) -> wq.Query:
    """The query with the words its first results share (kb.search.ranking) added."""
    first = searcher.search(q, limit=FEEDBACK_DOCS, filter=filt)
    docs = [FeedbackDoc(hit.docnum, float(hit.score or 0), hit.get("text_lang") or OTHER)
            for hit in first]
    weight = FEEDBACK_WEIGHT * max(sum(terms.values()) for terms in understood.weights.values())
    extra = feedback_weights(searcher, docs, weight, VECTOR_FIELDS)
    return wq.AndMaybe(q, weighted_query(extra, FEEDBACK_FIELDS)) if extra else q


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
    searcher = searchers.get(index_dir)
    langs = languages(searcher)
    understood = understand(req.q, langs)
    q = understood.query
    if req.also and not understood.empty:
        extra = expansion_query(req.also, langs)
        q = wq.Or([q, extra]) if extra is not None else q
    elif req.also:
        q = expansion_query(req.also, langs) or q
    filt = _cached_filter(searcher, _filter_query(req, visibility, skip=None))
    sortedby = _sort_facet(req.sort)
    relevance = sortedby is None
    # The user's words decide what matches; feedback only reorders (wq.AndMaybe).
    ranked = q
    if understood.weights and relevance and not req.doc_ids:
        ranked = _with_feedback(searcher, understood, q, filt)
    # Counts of a facet in use are taken without its own filter, so that the other values
    # stay on offer (several values in one facet mean OR); the others come with the page.
    plain = [n for n in FACET_FIELDS if not req.filters.get(n)]
    results = searcher.search_page(
        ranked, req.page, pagelen=req.per_page, filter=filt, sortedby=sortedby,
        reverse=False, terms=ranked is q, groupedby=_facets(plain) or None,
    )
    facets = _counts(results.results, plain)
    for name in FACET_FIELDS:
        if req.filters.get(name):
            others = searcher.search(
                q, filter=_cached_filter(searcher, _filter_query(req, visibility, skip=name)),
                groupedby=_facets([name]), limit=1,
            )
            facets.update(_counts(others, [name]))
    page_hits = list(results)
    found = _page_snippets(searcher, q, ranked is not q, page_hits, load_bodies,
                           surround, snippets)
    hits = tuple(
        Hit(doc_id=int(hit["doc_id"]),
            score=float(hit.score) if relevance and hit.score is not None else None,
            snippets=tuple(found.get(hit.docnum, ())))
        for hit in page_hits
    )
    suggestion = None
    if req.spelling and req.q.strip() and results.total < _FEW and not req.doc_ids:
        suggestion = did_you_mean(searcher, req.q, langs, filt, results.total)
    return SearchResult(
        total=results.total, page=req.page, per_page=req.per_page, hits=hits,
        facets={name: facets[name] for name in FACET_FIELDS},
        did_you_mean=suggestion, nothing_to_search=understood.empty,
    )


def _page_snippets(searcher: Searcher, q: wq.Query, again: bool, page_hits: list[Hit_],
                   load_bodies: Callable[[list[int]], dict[int, str]],
                   surround: int, count: int) -> dict[int, list[Snippet]]:
    """Snippets of the page's hits, keyed by document number, from the user's words only.

    With ``again`` (the page was ranked with feedback words) the user's query is run once
    more over the page's documents alone, so that only the user's words are marked.
    """
    if not count or not page_hits:
        return {}
    hits = page_hits
    if again:
        rerun = searcher.search(q, filter={h.docnum for h in page_hits}, terms=True,
                                limit=len(page_hits))
        hits = list(rerun)
    wanted = [
        hit for hit in hits
        if hit.results.has_matched_terms()
        and any(fname.startswith("body_") for fname, _ in hit.matched_terms())
    ]
    # One database round trip for the texts of the page's hits, not one per hit.
    bodies = load_bodies([int(hit["doc_id"]) for hit in wanted]) if wanted else {}
    out: dict[int, list[Snippet]] = {}
    for hit in wanted:
        body = bodies.get(int(hit["doc_id"]))
        if body is not None:
            fieldname = text_field("body", hit.get("text_lang") or "xx")
            out[hit.docnum] = _snippets(hit, fieldname, body, surround, count)
    return out


# Fewer hits than this and a corrected query is looked for.
_FEW = 3
_WORDS = re.compile(WORD_PATTERN)


def did_you_mean(searcher: Searcher, text: str, langs: Sequence[str], filt: set[int],
                 total: int) -> str | None:
    """The query with unknown words replaced by the nearest indexed ones, if it finds more.

    Only words the user may find are offered: the corrected query is run under the user's
    filter, so a word that only occurs in documents hidden from them is never suggested.
    """
    from kb.search.parsing import is_query_language

    if is_query_language(text):
        return None
    reader = searcher.reader()
    corrector = searcher.corrector(SPELL_FIELD)
    changed = False
    out: list[str] = []
    for word in _WORDS.findall(text):
        lower = word.lower()
        if len(lower) > 3 and not lower.isdigit() and not reader.doc_frequency(SPELL_FIELD, lower):
            found = corrector.suggest(lower, limit=1, maxdist=2, prefix=1)
            if found and found[0] != lower:
                out.append(found[0])
                changed = True
                continue
        out.append(word)
    if not changed:
        return None
    corrected = " ".join(out)
    weights = natural_weights(corrected, langs)
    if not weights:
        return None
    better = searcher.search(weighted_query(weights), filter=filt, limit=1)
    return corrected if len(better) > total else None


def more_like(index_dir: Path, doc_id: int, visibility: Visibility, limit: int = 5) -> list[int]:
    """The documents nearest to one, by the words that characterise its text, that the
    user may see (the document itself excluded)."""
    searcher = searchers.get(index_dir)
    docnum = searcher.document_number(doc_id=doc_id)
    if docnum is None:
        return []
    stored = searcher.stored_fields(docnum)
    fieldname = text_field("body", stored.get("text_lang") or "xx")
    if not searcher.has_vector(docnum, fieldname):
        return []
    keys = searcher.key_terms([docnum], fieldname, numterms=25)
    if not keys:
        return []
    q = wq.Or([wq.Term(fieldname, word, boost=weight) for word, weight in keys])
    filt = _cached_filter(searcher, _filter_query(SearchRequest(), visibility, skip=None))
    results = searcher.search(q, limit=limit, filter=filt, mask={docnum})
    return [int(hit["doc_id"]) for hit in results]

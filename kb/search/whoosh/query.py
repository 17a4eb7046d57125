"""Searching: the query language, filters, facets, sorting and page-aware snippets."""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flask_babel import gettext
from whoosh import collectors, highlight, sorting
from whoosh import query as wq
from whoosh.analysis import Token
from whoosh.searching import Results, Searcher
from whoosh.support.levenshtein import levenshtein

from kb.errors import QueryError
from kb.search import calls
from kb.search.types import (
    SORTS,
    Hit,
    SearchRequest,
    SearchResult,
    Snippet,
    Visibility,
    check_page,
    check_year,
)
from kb.search.whoosh import arrays, bounds, internals, ranking
from kb.search.whoosh.analysis import OTHER, WORD_PATTERN
from kb.search.whoosh.index import searchers
from kb.search.whoosh.parsing import (
    expansion_query,
    natural_weights,
    understand,
    weighted_query,
)
from kb.search.whoosh.ranking import (
    FEEDBACK_FIELDS,
    RERANK_DEPTH,
    FeedbackDoc,
    Scorer,
    feedback_weights,
)
from kb.search.whoosh.schema import (
    BODY_COLUMN,
    FACET_FIELDS,
    FLAT_FIELDS,
    SPELL_FIELD,
    TEXT_FIELDS,
    TEXT_LANGUAGES,
    WORK_COLUMN,
    text_field,
)

# "newest" and "oldest" go by the year of publication; "added" by when a document came into
# the repository, most recent first (what a feed of a search wants: a new upload appears on
# top whatever year it was written).
# Filter parameters -> (index field, how several values combine inside the facet: OR).
FILTER_FIELDS = {
    "country": "country",
    "agency": "agency",
    "type": "type",
    "theme": "theme",
    "language": "language",
    "phase": "phase",
    "year": "year",
    "gcm": "gcm",
    "sdg": "sdg",
    "area": "area",
}


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
                raise QueryError(gettext("year must be a number, not %(value)r", value=v)) from e
            check_year("year", year)
            terms.append(wq.NumericRange("year", year, year))
        return wq.Or(terms)
    return wq.Or([wq.Term(fieldname, v) for v in values])


def visibility_query(v: Visibility) -> wq.Query:
    """The Whoosh filter of what ``v`` may find: applied inside the search, so totals and
    facets are right."""
    not_withdrawn = wq.Not(wq.Term("workflow", "withdrawn"))
    if v.all_states:
        return wq.And([wq.Every(), not_withdrawn])
    allowed: list[wq.Query] = [wq.Term("access", a) for a in sorted(v.access_levels)]
    if v.group_ids:
        allowed.append(wq.And([
            wq.Term("access", "restricted"),
            wq.Or([wq.Term("groups", str(g)) for g in sorted(v.group_ids)]),
        ]))
    visible: list[wq.Query] = []
    if allowed:
        visible.append(wq.And([wq.Term("workflow", "published"), wq.Or(allowed)]))
    if v.uploader_id is not None:
        visible.append(wq.And([wq.Term("uploader", str(v.uploader_id)),
                               not_withdrawn]))
    # Never NullQuery here: And() drops it while normalising, which would show everything.
    return wq.Or(visible) if visible else wq.Term("workflow", "-nothing-")


def _filter_query(req: SearchRequest, visibility: Visibility, skip: str | None) -> wq.Query:
    parts: list[wq.Query] = [visibility_query(visibility)]
    for name, values in req.filters.items():
        if values and name != skip:
            parts.append(_any_of(FILTER_FIELDS[name], values))
    if (req.year_from is not None or req.year_to is not None) and skip != "year":
        parts.append(wq.NumericRange("year", req.year_from, req.year_to))
    if req.doc_ids:
        parts.append(wq.Or([wq.Term("doc_id", d) for d in req.doc_ids]))
    return wq.And(parts)


def _later_first(_searcher: Searcher, docnum: int) -> int:
    return -docnum


def _sort_facet(sort: str) -> sorting.FacetType | None:
    if sort == "relevance":
        return None
    if sort == "title":
        return sorting.FieldFacet("sort_title")
    if sort == "added":
        # The index keeps whole seconds: among documents added in the same one (an
        # import), the one indexed last comes first.
        return sorting.MultiFacet([sorting.FieldFacet("sort_created", reverse=True),
                                   sorting.FunctionFacet(_later_first)])
    reverse = sort == "newest"
    return sorting.MultiFacet([
        sorting.FieldFacet("sort_year", reverse=reverse),
        sorting.FieldFacet("sort_created", reverse=reverse),
    ])


class _FacetCounting(collectors.WrappingCollector):
    """Counts the facet values of every document it collects (several per document for
    multi-valued facets), then hands the document on."""

    def __init__(self, child: collectors.Collector, names: list[str]) -> None:
        super().__init__(child)
        self.names = names
        self.counts: dict[str, Counter[bytes]] = {name: Counter() for name in names}
        self._columns: list[tuple[Counter[bytes], list[list[bytes]]]] = []

    def set_subsearcher(self, subsearcher: Searcher, offset: int) -> None:
        super().set_subsearcher(subsearcher, offset)
        reader = subsearcher.reader()
        self._columns = [(self.counts[name], arrays.column_values(reader, FACET_FIELDS[name]))
                         for name in self.names]

    def collect(self, sub_docnum: int) -> object:
        for counts, values in self._columns:
            for value in values[sub_docnum]:
                counts[value] += 1
        return self.child.collect(sub_docnum)


class _TimedFilter(collectors.FilterCollector):
    """Lets through the documents of ``allow`` only, looking at the deadline at each
    segment and every CHECK_EVERY matches (Whoosh's TimeLimitCollector needs SIGALRM,
    which only the main thread may use)."""

    def __init__(self, child: collectors.Collector, allow: set[int],
                 deadline: bounds.Deadline) -> None:
        super().__init__(child, allow=allow)
        self.deadline = deadline

    def set_subsearcher(self, subsearcher: Searcher, offset: int) -> None:
        self.deadline.check()
        super().set_subsearcher(subsearcher, offset)

    def collect_matches(self) -> None:
        child = self.child
        allow = internals.allowed(self)
        offset = self.offset
        check = self.deadline.check
        every = bounds.CHECK_EVERY
        filtered = 0
        for n, sub_docnum in enumerate(child.matches(), 1):
            if not n % every:
                check()
            if allow is not None and offset + sub_docnum not in allow:
                filtered += 1
                continue
            child.collect(sub_docnum)
        self.filtered_count += filtered


def _collect(searcher: Searcher, q: wq.Query, limit: int, filt: set[int], facets: list[str],
             sortedby: sorting.FacetType | None,
             deadline: bounds.Deadline) -> tuple[Results, dict[str, Counter[bytes]]]:
    """The first ``limit`` matches allowed by ``filt``, their total, and facet counts over
    all of them."""
    if sortedby is None:
        # No block-quality skipping and no matcher replacement (replace=0): Whoosh otherwise
        # drops OR branches that cannot reach the top, and totals and facet counts shrink
        # (seen at 15,000 documents: 3,837 counted of 13,276 matching).
        inner: collectors.Collector = collectors.TopCollector(
            limit=limit, usequality=False, replace=0)
    else:
        inner = collectors.SortingCollector(sortedby, limit=limit)
    counting = _FacetCounting(inner, facets)
    outer = _TimedFilter(counting, filt, deadline)
    searcher.search_with_collector(q, outer)
    return outer.results(), counting.counts


def _counts(counted: dict[str, Counter[bytes]],
            selected: dict[str, tuple[str, ...]]) -> dict[str, list[tuple[str, int]]]:
    """Each facet's values by count, most first; a selected value is always there, at 0
    when nothing matches it any more (so that a page can show it checked, to uncheck)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name, counts in counted.items():
        pairs = [(k.decode("utf-8"), n) for k, n in counts.items() if k and n]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        shown = {value for value, _ in pairs}
        pairs.extend((value, 0) for value in selected.get(name, ()) if value not in shown)
        out[name] = pairs
    return out


def _in_use(req: SearchRequest, name: str) -> bool:
    """Whether the request filters by facet ``name`` (the year range counts for "year")."""
    if name == "year" and (req.year_from is not None or req.year_to is not None):
        return True
    return bool(req.filters.get(name))


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

    def fragment_matches(self, text: str,
                         tokens: list[Token]) -> Iterator[highlight.Fragment]:
        end = len(text)
        matches = [t for t in tokens if t.endchar <= end]
        return super().fragment_matches(text, matches)


def _snippets(tokens: list[Token], starts: list[int], body: str, surround: int,
              count: int) -> list[Snippet]:
    """The best fragments around the matched words ``tokens`` of one text: earlier pages
    first on ties, one per page where possible, never two that read the same (a running
    header repeated on every page)."""
    formatter = _Fragments()
    fragmenter = _TextFragmenter(maxchars=2 * surround + 60, surround=surround,
                                 autotrim=True, charlimit=None)
    fragments = list(fragmenter.fragment_matches(body, tokens))
    ranked = sorted(fragments, key=lambda f: (-len(f.matches), f.startchar))
    chosen: list[highlight.Fragment] = []
    pages: set[int] = set()
    texts: set[str] = set()

    def take(fragment: highlight.Fragment) -> None:
        chosen.append(fragment)
        pages.add(_page_of(fragment, starts))
        texts.add(_normalised(body[fragment.startchar:fragment.endchar]))

    for fragment in ranked:  # first the best fragment of each page
        if len(chosen) >= count:
            break
        if _page_of(fragment, starts) not in pages \
                and _normalised(body[fragment.startchar:fragment.endchar]) not in texts:
            take(fragment)
    for fragment in ranked:  # then fill up with the next best
        if len(chosen) >= count:
            break
        if fragment not in chosen \
                and _normalised(body[fragment.startchar:fragment.endchar]) not in texts:
            take(fragment)
    chosen.sort(key=lambda f: f.startchar)
    return [Snippet(page=_page_of(f, starts), html=formatter.render(f)) for f in chosen]


_NON_WORD = re.compile(r"\W+")


def _normalised(text: str) -> str:
    """A fragment's words as compared for sameness: case, spacing and punctuation aside."""
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


# At most this many of a query's words are looked up in a hit's text (a short prefix can
# stand for thousands of words).
_MAX_HIGHLIGHT_TERMS = 200


def _query_words(searcher: Searcher, q: wq.Query) -> dict[str, list[bytes]]:
    """The indexed words of the query in each body field, prefixes and fuzzy words
    expanded to the words they match."""
    # Not Query.existing_terms: it reuses its ``fieldname`` argument as a loop variable and
    # so drops the leaves of every field but the first one it meets.
    reader = searcher.reader()
    schema = searcher.schema
    words: dict[str, list[bytes]] = {}
    for leaf in q.leaves():
        if not (leaf.field() or "").startswith("body_"):
            continue
        for fieldname, text in leaf.expanded_terms(reader, phrases=True):
            bucket = words.setdefault(fieldname, [])
            btext = schema[fieldname].to_bytes(text)
            if len(bucket) < _MAX_HIGHLIGHT_TERMS and btext not in bucket \
                    and arrays.doc_frequency(searcher, fieldname, btext):
                bucket.append(btext)
    return words


def _match_tokens(searcher: Searcher, docnums: dict[str, list[int]],
                  words: dict[str, list[bytes]],
                  deadline: bounds.Deadline) -> dict[int, list[Token]]:
    """Where the query's words occur in each document's body field, from the stored
    character offsets (TEXT(chars=True)): no re-analysis of the text, and each word's
    postings read once, skipping to the page's documents only."""
    found: dict[int, list[Token]] = {}
    leaves = searcher.leaf_searchers()
    offsets = [offset for _, offset in leaves]
    for fieldname, wanted in docnums.items():
        # The postings of each word are read in the segments of the page's hits only.
        by_segment: dict[int, list[int]] = {}
        for docnum in sorted(wanted):
            by_segment.setdefault(bisect_right(offsets, docnum) - 1, []).append(docnum)
        for i, segment_docs in by_segment.items():
            sub, offset = leaves[i]
            reader = sub.reader()
            locals_ = np.array(segment_docs, dtype=np.int64) - offset
            for btext in words.get(fieldname, ()):
                deadline.check()
                # Which of the hits hold the word, from its postings (kept as arrays):
                # Whoosh's own are read only for those, to get the places.
                ids, _ = arrays.postings(reader, fieldname, btext)
                at = np.searchsorted(ids, locals_)
                holding = [docnum for docnum, i, local in
                           zip(segment_docs, at.tolist(), locals_.tolist(), strict=True)
                           if i < len(ids) and ids[i] == local]
                if not holding:
                    continue
                m = reader.postings(fieldname, btext)  # no scorer: only positions are read
                word = btext.decode("utf-8")
                for docnum in holding:
                    local = docnum - offset
                    if m.is_active() and m.id() < local:
                        m.skip_to(local)
                    if not m.is_active():
                        break
                    if m.id() == local:
                        found.setdefault(docnum, []).extend(
                            Token(text=word, pos=pos, startchar=start, endchar=end)
                            for pos, start, end in m.value_as("characters"))
    for docnum, tokens in found.items():
        tokens.sort(key=lambda t: (t.startchar, -(t.endchar - t.startchar)))
        # The unaccented twin of a word shares its place: keep one token per place.
        found[docnum] = [t for i, t in enumerate(tokens)
                         if i == 0 or tokens[i - 1].startchar != t.startchar]
    return found


def _page_of(fragment: highlight.Fragment, starts: list[int]) -> int:
    """The page of a fragment's first match: its surrounding text may begin on the page
    before (short pages such as slides and sheets)."""
    first = min((m.startchar for m in fragment.matches), default=fragment.startchar)
    return bisect_right(starts, first)


# Filters already evaluated, for this state of the index (by every thread's searcher):
# Whoosh rebuilds a query filter's document set on every search otherwise (WHOOSH.md).
def _cached_mask(searcher: Searcher, filt: wq.Query) -> np.ndarray:
    """The filter as a boolean array over the searcher's documents (kb.search.whoosh.arrays)."""
    return arrays.shared(searcher, "mask", filt, lambda: arrays.query_mask(searcher, filt))


def _cached_filter(searcher: Searcher, filt: wq.Query) -> set[int]:
    """The filter as a set of document numbers, for Whoosh's collectors."""
    # Never an empty set: Whoosh's collector tests the filter's truth, so an empty one
    # means "no filter" and would show every document. -1 is no document number.
    return arrays.shared(searcher, "filter", filt, lambda: set(
        np.flatnonzero(_cached_mask(searcher, filt)).tolist()) or {-1})


@dataclass(frozen=True)
class _Works:
    """Each document's work (a dense number), language and whether it is a translation,
    for documents in a work of several versions in the index (``grouped``)."""

    work: np.ndarray  # work number of each document, -1 for none
    grouped: np.ndarray  # True for documents whose work has another version in the index
    translated: np.ndarray  # True for translations
    language: np.ndarray  # index into ``languages``, -1 for none
    languages: list[bytes]


def _works(searcher: Searcher) -> _Works | None:
    """The works of this index state; None when no document is a translation (then
    every document is its own work and nothing is grouped)."""
    def build() -> _Works | None:
        if not arrays.doc_frequency(searcher, "translated", b"yes"):
            return None
        n = searcher.doc_count_all()
        facet = arrays.shared_facet(searcher, WORK_COLUMN)
        work = np.full(n, -1, dtype=np.int64)
        work[facet.docs] = facet.values
        live = arrays.query_mask(searcher, wq.Every())
        sizes = np.bincount(work[live & (work >= 0)], minlength=len(facet.names))
        grouped = live & (work >= 0)
        grouped[grouped] = sizes[work[grouped]] > 1
        langs = arrays.shared_facet(searcher, FACET_FIELDS["language"])
        language = np.full(n, -1, dtype=np.int64)
        language[langs.docs] = langs.values
        translated = arrays.query_mask(searcher, wq.Term("translated", "yes"))
        return _Works(work, grouped, translated, language, langs.names)
    return arrays.shared(searcher, "works", None, build)


def _one_per_work(works: _Works, matched: np.ndarray, prefer: str | None,
                  scores: np.ndarray | None, *, by_language: bool = False) -> np.ndarray:
    """``matched`` (the visible matches) with one document per work: the one in
    ``prefer`` if any, else the original, else the best scoring (``scores``), else the
    first by document number (``by_language``: one per work and language). Hidden
    versions are never in ``matched``: they can neither stand for their work nor make it
    match."""
    members = np.flatnonzero(matched & works.grouped)
    if not len(members):
        return matched
    rank = np.where(works.translated[members], 2, 1)
    if prefer is not None:
        try:
            wanted = works.languages.index(prefer.encode("utf-8"))
        except ValueError:
            wanted = -2
        rank = np.where(works.language[members] == wanted, 0, rank)
    score = -scores[members] if scores is not None else np.zeros(len(members))
    keys = works.work[members]
    if by_language:  # one per work and language: what the language facet counts
        keys = keys * (len(works.languages) + 1) + works.language[members] + 1
    order = np.lexsort((members, score, rank, keys))
    ordered = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    out = matched.copy()
    out[members] = False
    out[members[order[first]]] = True
    return out


_LANGUAGE = "language"


def _work_languages(searcher: Searcher, works: _Works, matched: np.ndarray) -> Counter[bytes]:
    """The language facet of a grouped search: in how many works of ``matched`` (the
    visible matches, before grouping) each language has a version, so that choosing a
    language finds as many results as it says."""
    kept = _one_per_work(works, matched, None, None, by_language=True)
    return Counter(arrays.facet_counts(searcher, kept, FACET_FIELDS[_LANGUAGE]))


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


@dataclass
class _Ranked:
    """A hit by document number and score; stored fields are read only when needed."""

    docnum: int
    score: float | None
    _searcher: Searcher
    _stored: dict[str, object] | None = None

    def get(self, name: str) -> object:
        if self._stored is None:
            self._stored = self._searcher.stored_fields(self.docnum)
        return self._stored.get(name)


def search(
    index_dir: Path,
    req: SearchRequest,
    visibility: Visibility,
    *,
    snippets: int = 3,
    surround: int = 90,
    time_limit: float | None = None,
) -> SearchResult:
    """Run one search: ids in hit order with snippets, the total and every facet's counts;
    SearchTimeout once it has run ``time_limit`` seconds."""
    calls.count("search")
    deadline = bounds.Deadline(time_limit)
    if req.sort not in SORTS:
        raise QueryError(gettext("sort must be one of: %(sorts)s", sorts=", ".join(SORTS)))
    unknown = set(req.filters) - set(FILTER_FIELDS)
    if unknown:
        raise QueryError(gettext("unknown filter: %(names)s", names=", ".join(sorted(unknown))))
    check_page(req.page, req.per_page)
    check_year("year_from", req.year_from)
    check_year("year_to", req.year_to)
    searcher = searchers.get(index_dir)
    langs = languages(searcher)
    understood = understand(req.q, langs, quiet=frozenset(w.casefold() for w in req.quiet))
    q = understood.query
    if not understood.natural and bounds.needs_expansion(q):
        q = bounds.expand(searcher, q, deadline)
    deadline.check()
    if req.also and not understood.empty:
        extra = expansion_query(req.also, langs)
        q = wq.Or([q, extra]) if extra is not None else q
    elif req.also:
        q = expansion_query(req.also, langs) or q
    filtq = _filter_query(req, visibility, skip=None)
    filt = _cached_filter(searcher, filtq)
    sortedby = _sort_facet(req.sort)
    scorer = ranking.choose(q, by_relevance=sortedby is None,
                            within_documents=bool(req.doc_ids))
    relevance = scorer is not Scorer.NONE
    # Counts of a facet in use are taken without its own filter, so that the other values
    # stay on offer (several values in one facet mean OR; the year facet is counted
    # without the year range); the others come with the page.
    plain = [n for n in FACET_FIELDS if not _in_use(req, n)]
    used = [n for n in FACET_FIELDS if _in_use(req, n)]
    first = (req.page - 1) * req.per_page
    depth = first + req.per_page
    feedback = bool(understood.weights) and relevance and not req.doc_ids
    if feedback:
        depth = max(RERANK_DEPTH, depth)
    counted: dict[str, Counter[bytes]]
    works = _works(searcher) if req.grouped and not req.doc_ids else None
    # A grouped search's matches before grouping, for the language facet (by the facet
    # name whose filter they were taken without).
    by_language: dict[str, np.ndarray] = {}
    if scorer is Scorer.ARRAYS:
        # Every match scored at once (kb.search.whoosh.ranking.score).
        scored = ranking.score(searcher, q, deadline)
        visible = scored.matched & _cached_mask(searcher, filtq)
        if works is not None:
            by_language[_LANGUAGE] = visible
            visible = _one_per_work(works, visible, req.prefer_language, scored.scores)
        total = int(visible.sum())
        top = arrays.top(scored.scores, np.flatnonzero(visible), depth)
        counted = {n: Counter(arrays.facet_counts(searcher, visible, FACET_FIELDS[n]))
                   for n in plain}
        for name in used:
            others = scored.matched & _cached_mask(
                searcher, _filter_query(req, visibility, skip=name))
            if works is not None:
                by_language[name] = others
                others = _one_per_work(works, others, req.prefer_language, scored.scores)
            counted[name] = Counter(arrays.facet_counts(searcher, others, FACET_FIELDS[name]))
    else:
        if works is not None:
            filt, by_language[_LANGUAGE] = _representatives(
                searcher, works, q, filt, req.prefer_language, relevance, deadline)
        results, counted = _collect(searcher, q, depth, filt, plain, sortedby, deadline)
        total = len(results)
        top = [(float(score) if relevance else 0.0, docnum)
               for score, docnum in results.top_n]
        for name in used:
            others_set = _cached_filter(searcher, _filter_query(req, visibility, skip=name))
            if works is not None:
                others_set, by_language[name] = _representatives(
                    searcher, works, q, others_set, req.prefer_language, relevance, deadline)
            counted.update(_collect(searcher, q, 1, others_set, [name], None, deadline)[1])
    ranked = [_Ranked(docnum, score if relevance else None, searcher)
              for score, docnum in top]
    if feedback:
        # Feedback reorders the first RERANK_DEPTH results.
        deadline.check()
        by_docnum = {hit.docnum: hit for hit in ranked}
        top = ranking.rerank(
            searcher, understood.weights, top,
            lambda docnum: str(by_docnum[docnum].get("text_lang") or OTHER), deadline)
        for score, docnum in top:
            by_docnum[docnum].score = score
        ranked = [by_docnum[docnum] for _, docnum in top]
    page_hits = ranked[first:first + req.per_page]
    if works is not None:
        matched = by_language.get(_LANGUAGE)
        if matched is not None:
            counted[_LANGUAGE] = _work_languages(searcher, works, matched)
    facets = _counts(counted, req.filters)
    deadline.check()
    found = _page_snippets(searcher, q, page_hits, surround, snippets, deadline)
    hits = tuple(
        Hit(doc_id=int(str(hit.get("doc_id"))),
            score=float(hit.score) if relevance and hit.score is not None else None,
            snippets=tuple(found.get(hit.docnum, ())))
        for hit in page_hits
    )
    suggestion = None
    if req.spelling and req.q.strip() and total < _FEW and not req.doc_ids:
        # Words are offered from the documents the user may see (the access filter
        # alone); the corrected query must find more under all of the request's filters.
        allowed = _cached_mask(searcher, _filter_query(SearchRequest(), visibility, skip=None))
        per_work = None if works is None else (
            lambda found: int(_one_per_work(works, found, None, None).sum()))
        suggestion = did_you_mean(searcher, req.q, langs, allowed,
                                  _cached_mask(searcher, filtq), total, deadline, per_work)
    deadline.check()
    return SearchResult(
        total=total, page=req.page, per_page=req.per_page, hits=hits,
        facets={name: facets[name] for name in FACET_FIELDS},
        did_you_mean=suggestion, nothing_to_search=understood.empty,
        capped=understood.capped,
    )


def _representatives(searcher: Searcher, works: _Works, q: wq.Query, filt: set[int],
                     prefer: str | None, relevance: bool,
                     deadline: bounds.Deadline) -> tuple[set[int], np.ndarray]:
    """The documents of ``filt`` that ``q`` matches, one per work (``_one_per_work``), as
    a collector's filter (every match is collected first, with its score), and every
    match as a mask."""
    collector = collectors.UnlimitedCollector()
    searcher.search_with_collector(q, _TimedFilter(collector, filt, deadline))
    results = collector.results()
    matched = np.zeros(searcher.doc_count_all(), dtype=bool)
    scores = np.zeros(len(matched), dtype=np.float64) if relevance else None
    for score, docnum in results.top_n:
        matched[docnum] = True
        if scores is not None:
            scores[docnum] = score
    kept = _one_per_work(works, matched, prefer, scores)
    return set(np.flatnonzero(kept).tolist()) or {-1}, matched


def _page_snippets(searcher: Searcher, q: wq.Query, hits: list[_Ranked],
                   surround: int, count: int,
                   deadline: bounds.Deadline) -> dict[int, list[Snippet]]:
    """Snippets of the page's hits (marking the user's words), keyed by document number."""
    if not count or not hits:
        return {}
    fields: dict[str, list[int]] = {}
    for hit in hits:
        fieldname = text_field("body", str(hit.get("text_lang") or OTHER))
        fields.setdefault(fieldname, []).append(hit.docnum)
    matched = _match_tokens(searcher, fields, _query_words(searcher, q), deadline)
    wanted = [hit for hit in hits if hit.docnum in matched]
    # The bodies as they were indexed, from the index itself (schema.BODY_COLUMN).
    bodies = searcher.reader().column_reader(BODY_COLUMN) if wanted else None
    out: dict[int, list[Snippet]] = {}
    for hit in wanted:
        assert bodies is not None
        body = bodies[hit.docnum].decode("utf-8")
        starts = hit.get("page_starts") or [0]
        out[hit.docnum] = _snippets(matched[hit.docnum], starts,  # type: ignore[arg-type]
                                    body, surround, count)
    return out


# Fewer hits than this and a corrected query is looked for.
_FEW = 3
_WORDS = re.compile(WORD_PATTERN)


def did_you_mean(searcher: Searcher, text: str, langs: Sequence[str], visible: np.ndarray,
                 filtered: np.ndarray, total: int, deadline: bounds.Deadline,
                 count: Callable[[np.ndarray], int] | None = None) -> str | None:
    """The query with the words that no document the user may see holds replaced by the
    nearest words that one does (``visible``: the user's access filter), if it then finds
    more than ``total`` under the request's filters (``filtered``), counted as ``total``
    was (``count`` of the matches: works when the search groups translations; else
    documents).

    Every word offered occurs in a document the user may see: a word found only in
    hidden documents is never suggested, nor does it count as known.
    """
    from kb.search.whoosh.parsing import is_query_language

    if is_query_language(text):
        return None
    words = _WORDS.findall(text)[:bounds.MAX_WORDS]
    unknown = {w.lower() for w in words if len(w) > 3 and not w.isdigit()
               and not _visible_frequency(searcher, w.lower().encode("utf-8"), visible)}
    if not unknown or len(unknown) > bounds.MAX_CORRECTED_WORDS:
        return None  # so many unknown words are not a slip of the keyboard
    changed = False
    out: list[str] = []
    dfas: dict[tuple[str, int, int], object] = {}
    nearest: dict[str, str | None] = {}
    for word in words:
        deadline.check()
        lower = word.lower()
        if lower in unknown:
            if lower not in nearest:
                nearest[lower] = _nearest_visible(searcher, lower, visible, dfas, deadline)
            found = nearest[lower]
            if found is not None and found != lower:
                out.append(found)
                changed = True
                continue
        out.append(word)
    if not changed:
        return None
    corrected = " ".join(out)
    weights = natural_weights(corrected, langs)
    if not weights:
        return None
    scored = ranking.score(searcher, weighted_query(weights), deadline)
    found = scored.matched & filtered
    better = count(found) if count is not None else int(found.sum())
    return corrected if better > total else None


# A misspelt word is compared with the index words this many edits from it at most, that
# share its first letter (the corrector's usual settings).
_SPELL_DISTANCE = 2
_SPELL_PREFIX = 1


def _visible_frequency(searcher: Searcher, btext: bytes, visible: np.ndarray) -> int:
    """In how many documents the user may see (``visible``) a word of the spelling field
    occurs."""
    n = 0
    for sub, offset in searcher.leaf_searchers():
        ids = arrays.postings(sub.reader(), SPELL_FIELD, btext)[0]
        if len(ids):
            n += int(visible[ids + offset].sum())
    return n


def _nearest_visible(searcher: Searcher, word: str, visible: np.ndarray,
                     dfas: dict[tuple[str, int, int], object],
                     deadline: bounds.Deadline) -> str | None:
    """The index word nearest to ``word`` (fewest edits, then held by the most documents
    the user may see) that a document the user may see holds; None if there is none."""
    found: set[bytes] = set()
    for sub, _ in searcher.leaf_searchers():
        for n, btext in enumerate(bounds.fuzzy_words(
                sub.reader(), SPELL_FIELD, word, _SPELL_DISTANCE, _SPELL_PREFIX, dfas), 1):
            found.add(btext)
            if not n % bounds.CHECK_EVERY:
                deadline.check()
    by_distance: dict[int, list[str]] = {}
    for btext in found:
        candidate = btext.decode("utf-8")
        if candidate != word:
            by_distance.setdefault(levenshtein(candidate, word), []).append(candidate)
    for distance in sorted(by_distance):
        deadline.check()
        ranked = sorted(((_visible_frequency(searcher, c.encode("utf-8"), visible), c)
                         for c in by_distance[distance]), key=lambda fc: (-fc[0], fc[1]))
        if ranked and ranked[0][0]:
            return ranked[0][1]
    return None


def warm(index_dir: Path, visibility: Visibility) -> int:
    """Build, ahead of the first searches, what they all need and a fresh process lacks: a
    searcher, the facet values of every document (a search without words, counted and
    sorted by date), the filter of ``visibility`` and the field lengths BM25 reads for the
    languages the index holds. Returns the number of documents."""
    search(index_dir, SearchRequest(sort="newest", per_page=1, spelling=False), visibility,
           snippets=0)
    searcher = searchers.get(index_dir)
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        for lang in languages(searcher):
            for name in FEEDBACK_FIELDS + ("title",):
                arrays.lengths(reader, text_field(name, lang))
    for name in FACET_FIELDS:
        arrays.shared_facet(searcher, FACET_FIELDS[name])
    return searcher.doc_count()


# Words of a document that "more like this" searches for (Whoosh's key_terms default).
SIMILAR_TERMS = 25


def more_like(index_dir: Path, doc_id: int, visibility: Visibility, limit: int = 5) -> list[int]:
    """The documents nearest to one, by the words that characterise its text (its most
    frequent words weighted by idf, as relevance feedback takes them from the first
    results), that the user may see (the document itself excluded). Remembered for this
    state of the index: a document page shown again costs no search."""
    searcher = searchers.get(index_dir)
    return list(arrays.shared(searcher, "similar", (doc_id, visibility, limit),
                              lambda: _more_like(searcher, doc_id, visibility, limit)))


def _more_like(searcher: Searcher, doc_id: int, visibility: Visibility,
               limit: int) -> tuple[int, ...]:
    calls.count("more_like")
    docnum = searcher.document_number(doc_id=doc_id)
    if docnum is None:
        return ()
    lang = str(searcher.stored_fields(docnum).get("text_lang") or OTHER)
    words = feedback_weights(searcher, [FeedbackDoc(docnum, 1.0, lang)], 1.0, FLAT_FIELDS,
                             terms=SIMILAR_TERMS)
    if not words:
        return ()
    q = wq.Or([wq.Term(text_field(name, lang), term, boost=w)
               for lang, terms in words.items() for term, w in terms.items()
               for name in FLAT_FIELDS])
    scored = ranking.score(searcher, q)
    visible = scored.matched & _cached_mask(
        searcher, _filter_query(SearchRequest(), visibility, skip=None))
    visible[docnum] = False
    found = arrays.top(scored.scores, np.flatnonzero(visible), limit)
    return tuple(int(str(searcher.stored_fields(d).get("doc_id"))) for _, d in found)

"""A segment's postings, field lengths, facet values and filters as numpy arrays.

Whoosh scores a disjunction one document and one matcher at a time, in Python: exact
totals and facet counts (which need every match, not just the best ten) cost a few
microseconds per posting per matcher, tens of milliseconds for common words at 15,000
documents. Here a term's postings and its documents' field lengths come whole, as arrays
(kb.search.whoosh.ranking scores them in one vector operation), a filter is a boolean
mask, a total is a count, facets are counted with ``bincount`` over the documents' facet
values, and the first results are picked with a partial sort.

Whoosh remains the index. The body fields' postings are read from the flat arrays each
segment holds beside Whoosh's own (kb.search.whoosh.flat); other fields' postings, lengths
and columns are read from the segments once (a segment never changes; its deletions are
filtered by the caller's filter, which never holds a deleted document) and kept in a
size-bounded cache shared by the process's threads.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from whoosh import query as wq
from whoosh.matching.wrappers import FilterMatcher
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from kb.search.whoosh import flat, internals
from kb.search.whoosh.caches import Cache

# Whoosh stores a field's length in one byte; these are the lengths the bytes stand for.
_LENGTHS = np.array([byte_to_length(i) for i in range(256)], dtype=np.float64)

# Postings (of fields without flat arrays) and lengths read from segments, by (segment id,
# field, term), bounded by their bytes (kb.config.SEARCH_CACHES["arrays"]).
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float64)


# An entry's own cost counts too: a word absent from a segment is remembered empty.
_ENTRY_BYTES = 300
_cache: Cache[tuple[np.ndarray, ...]] = Cache(
    "arrays", getsizeof=lambda value: sum(a.nbytes for a in value) + _ENTRY_BYTES)


T = TypeVar("T")

# Values derived from one state of the index (filters as document sets, facet arrays),
# shared by the searchers of every thread that sees that state: built once per commit,
# not once per thread; one cache per kind, bounded in kb.config.SEARCH_CACHES.
_SHARED_KINDS = ("idf", "avgfl", "mask", "filter", "facet", "live", "works", "similar")
_shared: dict[str, Cache[Any]] = {kind: Cache(kind) for kind in _SHARED_KINDS}


def _state(searcher: Searcher) -> tuple[tuple[str | None, int], ...]:
    """The index state a searcher sees: its segments and how many documents each has
    deleted (a segment's deletions only grow, so the count names the set)."""
    found = searcher.__dict__.get("_kb_state")
    if found is None:
        found = tuple((segment_key(sub.reader()), sub.reader().segment().deleted_count()
                       if sub.reader().segment() is not None else 0)
                      for sub, _ in searcher.leaf_searchers())
        searcher.__dict__["_kb_state"] = found
    return found


def shared(searcher: Searcher, kind: str, key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, remembered for this state of the index across threads (``kind`` is
    one of _SHARED_KINDS)."""
    value: T = _shared[kind].get_or_build((_state(searcher), key), build)
    return value


def segment_key(reader: Any) -> str | None:
    segment = reader.segment()
    return None if segment is None else segment.segment_id()


def postings(reader: Any, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A term's document numbers in one segment (ascending) and their weights (term
    frequencies), deleted documents included: flat arrays where the segment has them
    (kb.search.whoosh.flat), else decoded from Whoosh's postings once and cached."""
    found_flat = flat.field(reader, fieldname)
    if found_flat is not None:
        return found_flat.postings(btext)
    seg = segment_key(reader)
    key = ("p", seg, fieldname, btext)
    found = _cache.get(key) if seg is not None else None
    if found is not None:
        return found[0], found[1]
    if _has_term(reader, fieldname, btext):
        ids, weights = _read_blocks(reader.postings(fieldname, btext))
        out = (np.concatenate(ids) if ids else _EMPTY_IDS, weights)
    else:  # remembered too: a word absent from a segment is asked for again
        out = (_EMPTY_IDS, _EMPTY_WEIGHTS)
    if seg is not None:
        _cache.put(key, out)
    return out


def doc_frequency(searcher: Searcher, fieldname: str, btext: bytes) -> int:
    """In how many documents of the searcher (deleted ones too, as Whoosh counts) a term
    occurs."""
    n = 0
    for sub, _ in searcher.leaf_searchers():
        reader = sub.reader()
        found = flat.field(reader, fieldname)
        n += found.doc_frequency(btext) if found is not None \
            else reader.doc_frequency(fieldname, btext)
    return n


# Fields with a small vocabulary (titles, summaries, themes, catalogue terms): their
# words in each segment are read once into a set, so that asking for a word that is not
# there (the usual case for a title field) costs a hash lookup, not a lookup on disk.
_LARGE_VOCABULARY = ("body_", "spell")
_lexicons: Cache[frozenset[bytes]] = Cache("lexicons")


def _has_term(reader: Any, fieldname: str, btext: bytes) -> bool:
    seg = segment_key(reader)
    if seg is None or fieldname.startswith(_LARGE_VOCABULARY):
        return (fieldname, btext) in reader
    words = _lexicons.get_or_build((seg, fieldname), lambda: frozenset(
        reader.lexicon(fieldname)) if fieldname in reader.schema else frozenset())
    return btext in words


def _read_blocks(m: Any) -> tuple[list[np.ndarray], np.ndarray]:
    """A leaf matcher's document numbers and weights, read a block at a time."""
    while isinstance(m, FilterMatcher):  # a segment's deleted documents: left to the filter
        m = m.child
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if internals.has_blocks(m):
        # Whoosh's block format (codec whoosh3): a block holds its document numbers (each
        # the difference to the one before, the first one absolute) and its weights as
        # None (all 1), one float, or one each.
        for block_ids, block_weights in internals.blocks(m):
            ids.append(np.cumsum(np.asarray(block_ids, dtype=np.int64)).astype(np.int32))
            if block_weights is None:
                weights.append(np.ones(len(block_ids), dtype=np.float64))
            elif isinstance(block_weights, float):
                weights.append(np.full(len(block_ids), block_weights, dtype=np.float64))
            else:
                weights.append(np.asarray(block_weights, dtype=np.float64))
    else:  # another codec: one posting at a time
        found, w = [], []
        while m.is_active():
            found.append(m.id())
            w.append(m.weight())
            m.next()
        ids.append(np.asarray(found, dtype=np.int32))
        weights.append(np.asarray(w, dtype=np.float64))
    return ids, (np.concatenate(weights) if weights else _EMPTY_WEIGHTS)


def locate(searcher: Searcher, docnum: int) -> tuple[Any, int]:
    """The segment reader holding a document of the searcher, and its number there."""
    leaves = searcher.leaf_searchers()
    i = bisect_right([offset for _, offset in leaves], docnum) - 1
    sub, offset = leaves[i]
    return sub.reader(), docnum - offset


def term_vector(searcher: Searcher, docnum: int, fieldname: str) -> tuple[np.ndarray, np.ndarray]:
    """A document's term vector: its terms (ascending bytes, numpy "S") and their term
    frequencies, from the flat arrays of its segment (empty for a field without them)."""
    reader, local = locate(searcher, docnum)
    found = flat.field(reader, fieldname)
    if found is None:
        return np.zeros(0, dtype="S1"), _EMPTY_WEIGHTS
    return found.vector(local)


def lengths(reader: Any, fieldname: str) -> np.ndarray:
    """The length of ``fieldname`` in each document of one segment, as BM25 sees it."""
    seg = segment_key(reader)
    key = ("l", seg, fieldname)
    found = _cache.get(key) if seg is not None else None
    if found is not None:
        return found[0]
    n = reader.doc_count_all()
    column = internals.length_column(reader, fieldname)
    if column is not None:
        raw = np.fromiter(iter(column), dtype=np.uint8, count=n)
        out = _LENGTHS[raw]
    else:
        out = np.array([reader.doc_field_length(d, fieldname, 0) or 0 for d in range(n)],
                       dtype=np.float64)
    if seg is not None:
        _cache.put(key, (out,))
    return out


# Facet values of each segment's documents, read once from the columns: a segment never
# changes (deleted documents simply stop matching the filter).
_columns: Cache[list[list[bytes]]] = Cache("columns")


def column_values(reader: Any, fieldname: str) -> list[list[bytes]]:
    """The values of a list column for each document of one segment."""
    seg = segment_key(reader)
    if seg is None:  # an empty index
        return [[] for _ in range(reader.doc_count_all())]
    def read() -> list[list[bytes]]:
        if reader.has_column(fieldname):
            return [list(v) for v in reader.column_reader(fieldname)]
        return [[] for _ in range(reader.doc_count_all())]

    return _columns.get_or_build((seg, fieldname), read)


@dataclass(frozen=True)
class _Facet:
    docs: np.ndarray  # document number of each (document, value) pair
    values: np.ndarray  # index into names
    names: list[bytes]


def _facet(searcher: Searcher, fieldname: str) -> _Facet:
    """A list column of every segment as (document, value) pairs, for this index state."""
    return shared(searcher, "facet", fieldname, lambda: _build_facet(searcher, fieldname))


def _build_facet(searcher: Searcher, fieldname: str) -> _Facet:
    docs: list[int] = []
    values: list[int] = []
    names: list[bytes] = []
    index: dict[bytes, int] = {}
    for sub, offset in searcher.leaf_searchers():
        for d, vs in enumerate(column_values(sub.reader(), fieldname), offset):
            for v in vs:
                i = index.get(v)
                if i is None:
                    i = index[v] = len(names)
                    names.append(v)
                docs.append(d)
                values.append(i)
    return _Facet(np.asarray(docs, dtype=np.int64), np.asarray(values, dtype=np.int64), names)


def shared_facet(searcher: Searcher, fieldname: str) -> _Facet:
    """A list column as (document, value) pairs: ``docs``, ``values`` (indexes into
    ``names``) and ``names``, for this index state."""
    return _facet(searcher, fieldname)


def facet_counts(searcher: Searcher, mask: np.ndarray, fieldname: str) -> dict[bytes, int]:
    """How many of the documents in ``mask`` hold each value of a list column."""
    facet = _facet(searcher, fieldname)
    if not facet.names:
        return {}
    counts = np.bincount(facet.values[mask[facet.docs]], minlength=len(facet.names))
    return {facet.names[i]: int(counts[i]) for i in np.flatnonzero(counts)}


def _live(searcher: Searcher) -> np.ndarray:
    """True for every document not deleted, for this state of the index."""
    def build() -> np.ndarray:
        out = np.ones(searcher.doc_count_all(), dtype=bool)
        for sub, offset in searcher.leaf_searchers():
            segment = sub.reader().segment()
            if segment is not None and segment.has_deletions():
                out[np.fromiter(segment.deleted_docs(), dtype=np.int64) + offset] = False
        return out
    return shared(searcher, "live", None, build)


def query_mask(searcher: Searcher, q: wq.Query) -> np.ndarray:
    """The documents a filter query matches (deleted ones never), as a boolean array
    over the searcher's documents: terms (numeric ranges as their terms) from their
    postings, AND, OR and NOT as array operations, anything else from Whoosh."""
    out = _evaluate(searcher, q) & _live(searcher)
    out.flags.writeable = False  # shared between threads (see ``shared``)
    return out


def _evaluate(searcher: Searcher, q: wq.Query) -> np.ndarray:
    n = searcher.doc_count_all()
    kind = type(q)
    if kind is wq.Every and not q.fieldname:
        return np.ones(n, dtype=bool)
    if kind is wq.Term and q.fieldname in searcher.schema:
        return _term_mask(searcher, q.fieldname, searcher.schema[q.fieldname].to_bytes(q.text))
    if kind is wq.And and q.subqueries:
        out = np.ones(n, dtype=bool)
        for sub_q in q.subqueries:
            out &= _evaluate(searcher, sub_q)
        return out
    if kind is wq.Or:
        out = np.zeros(n, dtype=bool)
        for sub_q in q.subqueries:
            out |= _evaluate(searcher, sub_q)
        return out
    if kind is wq.Not:
        return ~_evaluate(searcher, q.query)
    if kind is wq.NumericRange:  # the terms of its numeric trie
        simpler = q.simplify(searcher.reader())
        if type(simpler) is not wq.NumericRange:
            return _evaluate(searcher, simpler)
    if kind is wq.ConstantScoreQuery:
        return _evaluate(searcher, q.child)
    if kind is wq.TermRange and q.fieldname in searcher.schema:
        out = np.zeros(n, dtype=bool)
        for fieldname, text in q.expanded_terms(searcher.reader()):
            btext = text if isinstance(text, bytes) else \
                searcher.schema[fieldname].to_bytes(text)
            out |= _term_mask(searcher, fieldname, btext)
        return out
    return mask(searcher, set(searcher.docs_for_query(q)))


def _term_mask(searcher: Searcher, fieldname: str, btext: bytes) -> np.ndarray:
    out = np.zeros(searcher.doc_count_all(), dtype=bool)
    for sub, offset in searcher.leaf_searchers():
        out[postings(sub.reader(), fieldname, btext)[0] + offset] = True
    return out


def mask(searcher: Searcher, docnums: set[int]) -> np.ndarray:
    """A boolean array over the searcher's documents, True for ``docnums``."""
    out = np.zeros(searcher.doc_count_all(), dtype=bool)
    ids = np.fromiter(docnums, dtype=np.int64, count=len(docnums))
    out[ids[(ids >= 0) & (ids < len(out))]] = True
    out.flags.writeable = False  # shared between threads (see ``shared``)
    return out


def top(scores: np.ndarray, candidates: np.ndarray, limit: int) -> list[tuple[float, int]]:
    """The ``limit`` best (score, docnum) of ``candidates``: highest score first, lower
    document number first among equals (as Whoosh orders them)."""
    if not len(candidates) or limit <= 0:
        return []
    values = scores[candidates]
    if len(candidates) > limit:
        kth = np.partition(values, len(values) - limit)[len(values) - limit]
        keep = values >= kth
        candidates, values = candidates[keep], values[keep]
    order = np.lexsort((candidates, -values))[:limit]
    return [(float(values[i]), int(candidates[i])) for i in order]

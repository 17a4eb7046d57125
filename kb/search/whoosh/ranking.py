"""Ranking: the one path from a query to its documents' scores, and how it was tuned.

``choose`` decides which scorer ranks a search:
- ``Scorer.ARRAYS``: a disjunction (plain words, their thesaurus expansions, prefixes and
  phrases as its leaves) ranked by relevance: ``score`` computes every match's score at
  once over whole postings lists with numpy (kb.search.whoosh.arrays reads them), so that
  totals and facets count every match in milliseconds;
- ``Scorer.MATCHERS``: any other query ranked by relevance (AND, NOT, ranges), and a
  search within named documents (a document page's own snippets): Whoosh's matchers and
  collectors, weighted by ``Ranking``;
- ``Scorer.NONE``: sorted by a field, no scores.
Both scorers compute ``bm25`` with ``term_idf`` and ``avg_length``, the only BM25 here;
relevance feedback (``feedback_weights``, ``rerank``) and "more like this" add scores
computed with the same three, from a document's flat term vector or from postings
(``score_docs``). tests/test_search_arrays.py proves the scorers give the same scores,
and that these equal Whoosh's stock BM25F (whoosh.scoring) with this idf.

Tuned on CISI with bench/relevance.py (nDCG@10, MAP, recall@100), by principles that
carry over to other collections, never by per-query rules:
- Lucene's BM25 idf, log(1 + (N - n + 0.5) / (n + 0.5)), instead of Whoosh's
  log(N / (n + 1)) + 1, which gives words found in most documents too much weight;
- K1 = 1.5, B = 0.75: between Lucene's 1.2 and the 2.0 long reports may like (CISI
  nDCG@10 with everything else as below: 0.417 at 1.2, 0.428 at 1.5, 0.423 at 2.0);
- relevance feedback (RM3, with the usual settings: 10 documents, 10 words): the words
  that weigh most in the first results, each by its share of those documents' text and
  its idf, are added to the query with half the weight of the user's own words (CISI
  nDCG@10 about 0.40 without, 0.42-0.43 with; see bench/relevance.py --tune). It ranks
  documents that talk about the same thing in other words higher; it never adds
  documents (the user's words still decide what matches: totals and facets stay).
"""

from __future__ import annotations

import enum
import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from math import log
from typing import Any

import numpy as np
from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import Searcher

from kb.search.whoosh import arrays, flat
from kb.search.whoosh.bounds import CHECK_EVERY, NO_DEADLINE, Deadline, Expanded
from kb.search.whoosh.caches import Cache
from kb.search.whoosh.parsing import FIELD_BOOSTS
from kb.search.whoosh.schema import FLAT_FIELDS, text_field

K1 = 1.5
B = 0.75

# Feedback: how many of the first results are read, and how many of their words are added.
FEEDBACK_DOCS = 10
FEEDBACK_TERMS = 10
# Words of the first results whose idf is looked up (the most frequent ones).
CANDIDATES = 50
# The feedback words together weigh this many times the user's words.
FEEDBACK_WEIGHT = 0.5
# The fields the feedback words are looked for in (the body holds all text, see schema).
FEEDBACK_FIELDS = ("body",)
# How many of the first results feedback reorders (the rest keep their order, below).
RERANK_DEPTH = 30


# --- the formula ------------------------------------------------------------------------

def bm25(idf: Any, tf: Any, length: Any, avgfl: float) -> Any:
    """BM25 of a term in documents: its ``idf`` (``term_idf``), its frequency ``tf`` in
    each, the field's length there (as Whoosh stores it, in one byte) and on average
    (``avg_length``). Scalars or numpy arrays alike; Whoosh's own formula
    (whoosh.scoring.bm25) with this module's K1 and B."""
    if isinstance(tf, np.ndarray):
        tf = tf.astype(np.float64)  # flat weights are float32: compute as Whoosh does
    return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * length / avgfl)))


def lucene_idf(n: int, total: int) -> float:
    """Lucene's idf of a term found in ``n`` of ``total`` documents."""
    return log(1 + (total - n + 0.5) / (n + 0.5))


def term_idf(searcher: Searcher, fieldname: str, btext: bytes) -> float:
    """A term's idf over every segment (deleted documents counted, as Whoosh counts them),
    kept for this state of the index, for every thread."""
    parent = searcher.get_parent()
    return arrays.shared(parent, "idf", (fieldname, btext), lambda: lucene_idf(
        arrays.doc_frequency(parent, fieldname, btext), parent.doc_count_all()))


def word_idf(searcher: Searcher, fieldname: str, text: str) -> float:
    """``term_idf`` of a word as the field's analyser left it."""
    return term_idf(searcher, fieldname, searcher.schema[fieldname].to_bytes(text))


def avg_length(searcher: Searcher, fieldname: str) -> float:
    """The field's average length over the index (1 when it is empty)."""
    parent = searcher.get_parent()
    return float(arrays.shared(parent, "avgfl", fieldname,
                               lambda: parent.avg_field_length(fieldname) or 1))


class Ranking(scoring.WeightingModel):
    """Whoosh's weighting for its matchers (``Scorer.MATCHERS``): ``bm25`` with
    ``term_idf``, as ``score`` computes it."""

    def supports_block_quality(self) -> bool:
        return True

    def idf(self, searcher: Searcher, fieldname: str, text: bytes) -> float:
        return term_idf(searcher, fieldname, text)

    def scorer(self, searcher: Searcher, fieldname: str, text: bytes,
               qf: int = 1) -> scoring.BaseScorer:
        if not searcher.schema[fieldname].scorable:
            return scoring.WeightScorer.for_(searcher, fieldname, text)
        return _TermScorer(searcher, fieldname, text)


class _TermScorer(scoring.WeightLengthScorer):
    """One term's scores in Whoosh's matchers: ``bm25`` of its weight and field length."""

    def __init__(self, searcher: Searcher, fieldname: str, text: bytes) -> None:
        self.idf = term_idf(searcher, fieldname, text)
        self.avgfl = avg_length(searcher, fieldname)
        self.setup(searcher, fieldname, text)

    def _score(self, weight: float, length: float) -> float:
        return float(bm25(self.idf, weight, length, self.avgfl))


# --- which scorer -----------------------------------------------------------------------

class Scorer(enum.Enum):
    """The scorers a search can run (the module's docstring says when each does)."""

    ARRAYS = "arrays"
    MATCHERS = "matchers"
    NONE = "none"


def choose(q: wq.Query, *, by_relevance: bool, within_documents: bool = False) -> Scorer:
    """Which scorer ranks ``q``: none when sorted by a field; Whoosh's matchers for a
    search within named documents or a query that is not a disjunction; else the arrays."""
    if not by_relevance:
        return Scorer.NONE
    if within_documents or not _leaves(q):
        return Scorer.MATCHERS
    return Scorer.ARRAYS


# --- the arrays scorer ------------------------------------------------------------------

def _leaves(q: wq.Query) -> list[wq.Query] | None:
    """The disjuncts of an OR (nested ORs flattened), or None if ``q`` is not one."""
    if isinstance(q, wq.Or):
        out: list[wq.Query] = []
        for sub in q.subqueries:
            found = _leaves(sub)
            if found is None:
                return None
            out.extend(found)
        return out
    if isinstance(q, wq.Term):
        return [q]
    if isinstance(q, (wq.Phrase, wq.Prefix, wq.Wildcard, wq.FuzzyTerm, wq.Variations,
                      Expanded)):
        return [q]
    return None


def handles(q: wq.Query) -> bool:
    """True when ``q`` is a disjunction ``score`` scores (no AND, NOT, ranges)."""
    leaves = _leaves(q)
    return bool(leaves)


@dataclass
class Scored:
    """Every document's score for a query (0 where it does not match) and the matches."""

    scores: np.ndarray  # float64, one per document number of the searcher
    matched: np.ndarray  # bool


def score(searcher: Searcher, q: wq.Query, deadline: Deadline = NO_DEADLINE) -> Scored:
    """The BM25 scores of the disjunction ``q`` (see ``handles``) for every document;
    SearchTimeout past the ``deadline`` (looked at per term, never per document matched
    by a term)."""
    leaves = _leaves(q)
    if not leaves:
        raise ValueError("not a disjunction")
    n = searcher.doc_count_all()
    scores = np.zeros(n, dtype=np.float64)
    matched = np.zeros(n, dtype=bool)
    schema = searcher.schema
    terms = [leaf for leaf in leaves
             if type(leaf) is wq.Term and leaf.fieldname in schema
             and schema[leaf.fieldname].scorable]
    others = [leaf for leaf in leaves if not any(leaf is t for t in terms)]
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        for term in terms:
            deadline.check()
            fieldname = term.fieldname
            btext = schema[fieldname].to_bytes(term.text)
            ids, tf = arrays.postings(reader, fieldname, btext)
            if not len(ids):
                continue
            s = bm25(term_idf(searcher, fieldname, btext), tf,
                     arrays.lengths(reader, fieldname)[ids], avg_length(searcher, fieldname))
            where = ids + offset
            scores[where] += s * term.boost
            matched[where] = True
        if others:
            context = sub.context(weighting=searcher.weighting)
            for leaf in others:
                deadline.check()
                m = leaf.matcher(sub, context)
                n = 0
                while m.is_active():
                    d = m.id() + offset
                    scores[d] += m.score()
                    matched[d] = True
                    m.next()
                    n += 1
                    if not n % CHECK_EVERY:
                        deadline.check()
    return Scored(scores, matched)


# --- relevance feedback -----------------------------------------------------------------

def score_docs(searcher: Searcher, docnums: Sequence[int],
               terms: Iterable[tuple[str, str, float]]) -> dict[int, float]:
    """The summed scores of weighted (field, term, weight) in each of ``docnums``: from
    the documents' flat term vectors where their segment keeps them for the field (a few
    documents, many words), else by looking each word's postings up."""
    wanted = sorted(set(docnums))
    if not wanted:
        return {}
    schema = searcher.schema
    by_field: dict[str, list[tuple[bytes, float]]] = {}
    for fieldname, text, weight in terms:
        by_field.setdefault(fieldname, []).append((schema[fieldname].to_bytes(text), weight))
    total: dict[int, float] = {}
    for fieldname, words in by_field.items():
        for d, v in _vector_scores(searcher, wanted, fieldname, words).items():
            total[d] = total.get(d, 0.0) + v
    return {d: v for d, v in total.items() if v}


def _vector_scores(searcher: Searcher, docnums: list[int], fieldname: str,
                   words: list[tuple[bytes, float]]) -> dict[int, float]:
    weights = np.array([w for _, w in words], dtype=np.float64)
    idfs = np.array([term_idf(searcher, fieldname, btext) for btext, _ in words],
                    dtype=np.float64)
    avgfl = avg_length(searcher, fieldname)
    numbers: dict[str | None, np.ndarray] = {}  # by segment: the words' term numbers there
    out: dict[int, float] = {}
    elsewhere: list[int] = []  # in segments without flat arrays of the field
    for docnum in docnums:
        reader, local = arrays.locate(searcher, docnum)
        vectors = flat.field(reader, fieldname)
        if vectors is None:
            elsewhere.append(docnum)
            continue
        key = arrays.segment_key(reader)
        if key not in numbers:
            numbers[key] = np.array([vectors.find(btext) for btext, _ in words], dtype=np.int64)
        wanted = numbers[key]
        terms, tf = vectors.doc_vector(local)
        if not len(terms):
            continue
        at = np.searchsorted(terms, wanted)
        at[at >= len(terms)] = 0
        hit = (terms[at] == wanted) & (wanted >= 0)
        if not hit.any():
            continue
        length = float(arrays.lengths(reader, fieldname)[local])
        s = bm25(idfs[hit], tf[at[hit]], length, avgfl) * weights[hit]
        out[docnum] = float(s.sum())
    if elsewhere:
        out.update(_postings_scores(searcher, elsewhere, fieldname, words))
    return out


def _postings_scores(searcher: Searcher, docnums: list[int], fieldname: str,
                     words: list[tuple[bytes, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for docnum in docnums:
        reader, local = arrays.locate(searcher, docnum)
        for btext, weight in words:
            ids, tf = arrays.postings(reader, fieldname, btext)
            at = int(np.searchsorted(ids, local))
            if at < len(ids) and ids[at] == local:
                s = bm25(term_idf(searcher, fieldname, btext), tf[at:at + 1],
                         arrays.lengths(reader, fieldname)[local:local + 1],
                         avg_length(searcher, fieldname)) * weight
                out[docnum] = out.get(docnum, 0.0) + float(s[0])
    return out


@dataclass(frozen=True)
class FeedbackDoc:
    """One of the first results: its document number, score and the language of its text."""

    docnum: int
    score: float
    lang: str


def feedback_weights(searcher: Searcher, docs: Iterable[FeedbackDoc], total: float,
                     fields: Iterable[str],
                     terms: int = FEEDBACK_TERMS) -> dict[str, dict[str, float]]:
    """The ``terms`` words the first results share, weighted RM3-style, summing to ``total``.

    A word weighs by its share of each document's text (``fields``: the text fields that
    keep a term vector), the document's share of the scores, and the word's idf.
    """
    docs = [d for d in docs if d.score > 0]
    total_score = sum(d.score for d in docs)
    if not docs or total_score <= 0:
        return {}
    names = tuple(fields)
    weights: dict[tuple[str, str], float] = {}
    for doc in docs:
        share = doc.score / total_score
        for term, part in _profile(searcher, doc, names):
            key = (doc.lang, term)
            weights[key] = weights.get(key, 0.0) + part * share
    ranked = sorted(
        ((key, w * word_idf(searcher, f"body_{key[0]}", key[1]))
         for key, w in heapq.nlargest(CANDIDATES, weights.items(), key=lambda kv: kv[1])),
        key=lambda kv: -kv[1],
    )[:terms]
    norm = sum(w for _, w in ranked)
    out: dict[str, dict[str, float]] = {}
    for (lang, term), w in ranked:
        if w > 0:
            out.setdefault(lang, {})[term] = total * w / norm
    return out


# A document's most frequent words and their share of its text, kept for the next query
# that ranks it high: by segment and document number there (a segment never changes), so
# every thread's searcher shares them and they outlive commits that add other segments.
PROFILE_TERMS = 100
_profiles: Cache[tuple[tuple[str, float], ...]] = Cache("profiles")


def _profile(searcher: Searcher, doc: FeedbackDoc,
             names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    reader, local = arrays.locate(searcher, doc.docnum)
    segment = reader.segment()
    key = (segment.segment_id() if segment is not None else id(searcher),
           local, doc.lang, names)
    found = _profiles.get(key)
    if found is None:
        terms: list[bytes] = []
        parts: list[np.ndarray] = []
        for name in names:
            found_terms, found_weights = arrays.term_vector(searcher, doc.docnum,
                                                            f"{name}_{doc.lang}")
            terms.extend(found_terms.tolist())
            parts.append(found_weights)
        weights = np.concatenate(parts) if parts else np.zeros(0)
        if len(names) > 1:  # a word in several fields counts once, its weights summed
            merged: Counter[bytes] = Counter()
            for term, weight in zip(terms, weights.tolist(), strict=True):
                merged[term] += weight
            terms, weights = list(merged), np.asarray(list(merged.values()))
        length = float(weights.sum()) or 1.0
        # The heaviest first, ties in the vector's (alphabetical) order.
        order = np.lexsort((np.arange(len(weights)), -weights))[:PROFILE_TERMS]
        found = tuple((terms[i].decode("utf-8"), float(weights[i]) / length)
                      for i in order.tolist())
        _profiles.put(key, found)
    return found


def rerank(searcher: Searcher, weights: dict[str, dict[str, float]],
           top: list[tuple[float, int]], lang_of: Callable[[int], str],
           deadline: Deadline = NO_DEADLINE) -> list[tuple[float, int]]:
    """The first results (score, docnum) reordered with the words the best of them share:
    ``weights`` are the user's words by language (parsing.natural_weights); the feedback
    words weigh FEEDBACK_WEIGHT times the heaviest language's, are scored with ``bm25``
    (``score_docs``) and only add to the scores of the first RERANK_DEPTH results, whose
    order beyond that and whose matches the user's words decided. ``lang_of`` names the
    language of a document's text."""
    head = top[:RERANK_DEPTH]
    docs = [FeedbackDoc(docnum, score or 0.0, lang_of(docnum))
            for score, docnum in head[:FEEDBACK_DOCS]]
    weight = FEEDBACK_WEIGHT * max(sum(terms.values()) for terms in weights.values())
    extra = feedback_weights(searcher, docs, weight, FLAT_FIELDS)
    if not extra:
        return top
    deadline.check()
    bonus = score_docs(searcher, [docnum for _, docnum in head], [
        (text_field(name, lang), term, w * FIELD_BOOSTS[name])
        for lang, terms in extra.items() for term, w in terms.items()
        for name in FEEDBACK_FIELDS
    ])
    reranked = [((score or 0.0) + bonus.get(docnum, 0.0), docnum) for score, docnum in head]
    reranked.sort(key=lambda pair: -pair[0])  # stable: equal scores keep their order
    return reranked + top[RERANK_DEPTH:]

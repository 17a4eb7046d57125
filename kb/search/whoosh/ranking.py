"""Ranking: BM25 as measured on test collections, and relevance feedback for plain-word queries.

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

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from math import log

import numpy as np
from whoosh import scoring
from whoosh.searching import Searcher

from kb.search.whoosh import arrays
from kb.search.whoosh.caches import Cache

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


class Ranking(scoring.BM25F):
    """BM25F with Lucene's idf (see the module's docstring for the measurements)."""

    def __init__(self) -> None:
        super().__init__(B=B, K1=K1)

    def idf(self, searcher: Searcher, fieldname: str, text: bytes) -> float:
        parent = searcher.get_parent()
        n = arrays.doc_frequency(parent, fieldname, text)
        total = parent.doc_count_all()
        return log(1 + (total - n + 0.5) / (n + 0.5))


def idf(searcher: Searcher, fieldname: str, text: str) -> float:
    """Lucene's idf of a term (Ranking.idf), kept for this state of the index."""
    return arrays.idf(searcher, fieldname, searcher.schema[fieldname].to_bytes(text))


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
        ((key, w * idf(searcher, f"body_{key[0]}", key[1]))
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

"""Plain-word searches (kb.search.whoosh.arrays) give exactly what Whoosh's own scorer gives.

A real index in a temporary folder, written in several commits (several segments), with
words in more documents than one block of postings holds (128) and with replaced and
deleted documents: the totals and facet counts a user sees are counted by brute force
from the texts, and every document's score is compared with Whoosh scoring the same
query one document at a time.
"""

from __future__ import annotations

import ast
import math
import random
from collections import Counter
from pathlib import Path

import pytest
from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import Searcher

from kb import search
from kb.search.whoosh import arrays, ranking
from kb.search.whoosh.index import searchers
from kb.search.whoosh.parsing import understand
from kb.search.whoosh.query import visibility_query

WORDS = ["migration", "remittances", "diaspora", "labour", "border", "climate", "health"]
FILLER = ["the", "programme", "report", "national", "development", "strategy", "plan"]
COUNTRIES = ["MDA", "SRB", "TUN", "ECU"]
N = 420  # three commits of 140: every word is in more than one block of 128 postings


def _record(doc_id: int, rnd: random.Random) -> tuple[search.IndexRecord, str]:
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 12))]
    words += [rnd.choice(FILLER) for _ in range(rnd.randint(5, 200))]
    rnd.shuffle(words)
    text = " ".join(words)
    rec = search.IndexRecord(
        doc_id=doc_id, title=f"Note {doc_id}", summary="", doc_type="report",
        countries=(rnd.choice(COUNTRIES),), agencies=(), themes=(), language="en",
        year=2010 + doc_id % 8, phase=None, access="public", created_ts=doc_id,
        pages=(text,))
    return rec, text


@pytest.fixture(scope="module")
def collection(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[int, search.IndexRecord]]:
    index_dir = tmp_path_factory.mktemp("arrays") / "index"
    search.create(index_dir)
    rnd = random.Random(7)
    live: dict[int, search.IndexRecord] = {}
    for start in range(1, N + 1, 140):
        batch = [_record(i, rnd)[0] for i in range(start, start + 140)]
        search.write_records(index_dir, batch, timeout=10)
        live.update((r.doc_id, r) for r in batch)
    # Replaced (the old copy stays in its segment, deleted) and removed documents.
    replaced = [_record(i, rnd)[0] for i in range(5, N, 37)]
    search.write_records(index_dir, replaced, timeout=10)
    live.update((r.doc_id, r) for r in replaced)
    removed = list(range(3, N, 41))
    search.delete_documents(index_dir, removed, timeout=10)
    for doc_id in removed:
        live.pop(doc_id)
    return index_dir, live


def _holding(live: dict[int, search.IndexRecord], words: set[str]) -> list[search.IndexRecord]:
    return [r for r in live.values() if words & set(r.body().split())]


EVERYONE = search.Visibility(all_states=True)


@pytest.mark.parametrize("q", ["migration", "remittances diaspora", "border climate health"])
def test_totals_and_facets_count_every_matching_document(collection, q):
    index_dir, live = collection
    searcher = searchers.get(index_dir)
    assert len(searcher.reader().leaf_readers()) >= 3, "the test needs several segments"
    expected = _holding(live, set(q.split()))
    result = search.search(index_dir, search.SearchRequest(q=q, per_page=10), EVERYONE)
    assert result.total == len(expected) > 128
    assert dict(result.facets["country"]) == Counter(r.countries[0] for r in expected)
    assert dict(result.facets["year"]) == Counter(str(r.year) for r in expected)
    assert all(h.doc_id in {r.doc_id for r in expected} for h in result.hits)


def test_a_filter_narrows_the_total_and_keeps_the_other_values_of_its_facet(collection):
    index_dir, live = collection
    expected = _holding(live, {"labour"})
    req = search.SearchRequest(q="labour", filters={"country": ("MDA",)}, per_page=5)
    result = search.search(index_dir, req, EVERYONE)
    assert result.total == sum(1 for r in expected if r.countries == ("MDA",))
    # The facet in use is counted without its own filter: other countries stay on offer.
    assert dict(result.facets["country"]) == Counter(r.countries[0] for r in expected)
    assert dict(result.facets["year"]) == Counter(
        str(r.year) for r in expected if r.countries == ("MDA",))


@pytest.mark.parametrize("q", ["migration diaspora migration", "climate health border labour"])
def test_every_score_equals_whooshs_own(collection, q):
    index_dir, _ = collection
    searcher = searchers.get(index_dir)
    query = understand(q, ("en",)).query
    assert ranking.handles(query)
    scored = ranking.score(searcher, query)
    whoosh = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    # Deleted documents are left to the caller's filter (it never holds one).
    undeleted = set(searcher.reader().all_doc_ids())
    assert len(undeleted) < searcher.doc_count_all()
    assert set(whoosh) == {int(d) for d in scored.matched.nonzero()[0]} & undeleted
    for docnum, score in whoosh.items():
        assert scored.scores[docnum] == pytest.approx(score, rel=1e-9)


def test_queries_with_and_or_not_are_left_to_whoosh(collection):
    index_dir, live = collection
    assert not ranking.handles(wq.And([wq.Term("body_en", "migrat"), wq.Term("body_en", "border")]))
    result = search.search(index_dir, search.SearchRequest(q="migration AND NOT border"),
                           EVERYONE)
    expected = [r for r in live.values()
                if "migration" in r.body().split() and "border" not in r.body().split()]
    assert result.total == len(expected)


def test_documents_indexed_one_at_a_time_are_gathered_into_few_segments(tmp_path):
    index_dir = tmp_path / "index"
    search.create(index_dir)
    rnd = random.Random(3)
    for doc_id in range(1, 26):  # 25 uploads, one commit each
        search.write_records(index_dir, [_record(doc_id, rnd)[0]], timeout=10)
    search.delete_documents(index_dir, [2], timeout=10)
    searcher = searchers.get(index_dir)
    # Ten one-document segments are merged as the tenth arrives: 25 commits leave 7.
    assert len(searcher.reader().leaf_readers()) <= 7
    assert searcher.doc_count() == 24
    result = search.search(index_dir, search.SearchRequest(q="programme report national"),
                           EVERYONE)
    assert result.total == 24


def test_import_sized_segments_are_never_merged_by_a_commit(tmp_path):
    # Whoosh's default policy would merge these thirteen segments into one at the last
    # commit (a merge costs about what indexing them again does: minutes at 15,000).
    index_dir = tmp_path / "index"
    search.create(index_dir)
    for batch in range(13):
        search.write_records(index_dir, [
            search.IndexRecord(doc_id=batch * 100 + i, title=f"t{i}", summary="",
                               doc_type=None, countries=(), agencies=(), themes=(),
                               language="en", year=None, phase=None, access="public",
                               created_ts=0, pages=("migration",))
            for i in range(100)], timeout=10)
    reader = searchers.get(index_dir).reader()
    assert sorted(r.doc_count_all() for r, _ in reader.leaf_readers()) == [100] * 13


@pytest.mark.parametrize("q", [
    wq.NumericRange("year", 2012, 2014),
    wq.NumericRange("year", None, 2011),
    wq.Or([wq.NumericRange("year", 2011, 2011), wq.NumericRange("year", 2015, 2015)]),
    wq.And([wq.Term("country", "MDA"), wq.Not(wq.Term("year", 2013))]),
    visibility_query(search.Visibility(access_levels=frozenset({"public"}))),
    visibility_query(EVERYONE),
], ids=str)
def test_filters_hold_exactly_the_documents_whoosh_finds(collection, q):
    index_dir, _ = collection
    searcher = searchers.get(index_dir)
    found = {int(d) for d in arrays.query_mask(searcher, q).nonzero()[0]}
    assert found == set(searcher.docs_for_query(q))
    assert found  # a filter that finds nothing would prove little


def test_feedback_scores_equal_whooshs_with_and_without_term_vectors(collection):
    # body_en has flat term vectors (read for a few documents), title_en does not
    # (its postings are read instead).
    index_dir, _ = collection
    searcher = searchers.get(index_dir)
    docnums = sorted(searcher.reader().all_doc_ids())[::7]
    terms = [("body_en", "migrat", 0.7), ("body_en", "border", 1.3), ("title_en", "note", 2.0)]
    expected: Counter[int] = Counter()
    for fieldname, text, weight in terms:
        for hit in searcher.search(wq.Term(fieldname, text, boost=weight), limit=None):
            if hit.docnum in docnums:
                expected[hit.docnum] += hit.score
    got = ranking.score_docs(searcher, docnums, terms)
    assert set(got) == set(expected)
    for docnum, score in expected.items():
        assert got[docnum] == pytest.approx(score, rel=1e-9)


class _StockBM25F(scoring.BM25F):
    """Whoosh's own BM25F as it comes (whoosh.scoring), only its idf Lucene's, computed
    here from the reader's document frequencies."""

    def idf(self, searcher, fieldname, text):
        parent = searcher.get_parent()
        n = sum(sub.reader().doc_frequency(fieldname, text)
                for sub, _ in parent.leaf_searchers())
        return math.log(1 + (parent.doc_count_all() - n + 0.5) / (n + 0.5))


@pytest.mark.parametrize("q", ["migration diaspora migration", "border AND NOT climate",
                               '"labour migration" OR health'])
def test_kb_scores_equal_whooshs_stock_bm25f(collection, q):
    # The one BM25 (ranking.bm25) is Whoosh's formula: kb's matchers and arrays give the
    # scores Whoosh's stock scorer gives with the same idf, K1 and B.
    index_dir, _ = collection
    searcher = searchers.get(index_dir)
    query = understand(q, ("en",)).query
    stock = Searcher(searcher.reader(), weighting=_StockBM25F(B=ranking.B, K1=ranking.K1),
                     closereader=False)
    try:
        expected = {hit.docnum: hit.score for hit in stock.search(query, limit=None)}
    finally:
        stock.close()
    kb_matchers = {hit.docnum: hit.score for hit in searcher.search(query, limit=None)}
    assert expected and set(kb_matchers) == set(expected)
    for docnum, score in expected.items():
        assert kb_matchers[docnum] == pytest.approx(score, rel=1e-12)
    if ranking.handles(query):
        scored = ranking.score(searcher, query)
        for docnum, score in expected.items():
            assert scored.scores[docnum] == pytest.approx(score, rel=1e-9)


@pytest.mark.parametrize(("q", "sort", "within", "expected"), [
    ("migration diaspora", "relevance", False, ranking.Scorer.ARRAYS),
    ('"labour migration" OR heal*', "relevance", False, ranking.Scorer.ARRAYS),
    ("migration AND border", "relevance", False, ranking.Scorer.MATCHERS),
    ("migration NOT border", "relevance", False, ranking.Scorer.MATCHERS),
    ("migration diaspora", "relevance", True, ranking.Scorer.MATCHERS),
    ("migration diaspora", "newest", False, ranking.Scorer.NONE),
])
def test_one_function_chooses_the_scorer(q, sort, within, expected):
    query = understand(q, ("en",)).query
    assert ranking.choose(query, by_relevance=sort == "relevance",
                          within_documents=within) is expected


def test_both_scorers_rank_the_same_matches_alike(collection):
    # The same query scored by the arrays, and by Whoosh's matchers (a search within
    # named documents, here all of them): the same documents, total, order and scores.
    index_dir, live = collection
    q = "migration OR border"
    by_arrays = search.search(index_dir, search.SearchRequest(q=q, per_page=50), EVERYONE)
    by_matchers = search.search(index_dir, search.SearchRequest(
        q=q, per_page=50, doc_ids=tuple(sorted(live))), EVERYONE)
    assert by_arrays.total == by_matchers.total > 128
    assert by_arrays.facets == by_matchers.facets
    assert [h.doc_id for h in by_arrays.hits] == [h.doc_id for h in by_matchers.hits]
    for a, m in zip(by_arrays.hits, by_matchers.hits, strict=True):
        assert a.score == pytest.approx(m.score, rel=1e-9)


def _bm25_outside_ranking(source: str) -> list[str]:
    """Where a module computes BM25 itself: names Whoosh's scoring or the formula's K1."""
    found = []
    for node in ast.walk(ast.parse(source)):
        imported = (
            [f"{node.module}.{a.name}" for a in node.names]
            if isinstance(node, ast.ImportFrom) else
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        if "whoosh.scoring" in imported:
            found.append(f"line {node.lineno}: imports whoosh.scoring")
        elif isinstance(node, ast.Name) and node.id == "K1":
            found.append(f"line {node.lineno}: K1")
    return found


def test_bm25_is_computed_in_ranking_only():
    assert _bm25_outside_ranking("from whoosh import scoring\nK1 = 1.2\n") == [
        "line 1: imports whoosh.scoring", "line 2: K1"]
    package = Path(search.__file__).parent
    offenders = {
        str(path.relative_to(package)): found
        for path in package.rglob("*.py") if path.name != "ranking.py"
        for found in [_bm25_outside_ranking(path.read_text(encoding="utf-8"))] if found}
    assert offenders == {}

"""The flat copies of the body postings (kb.search.whoosh.flat) hold exactly what Whoosh holds.

A real index in a temporary folder: import batches, uploads one document at a time (which
the merge policy gathers into a merged segment), replaced and deleted documents. Every
body term's postings in every segment are compared with Whoosh's, every document's term
vector with the words its text analyses into, and searches over segments without the
flat arrays (written by Whoosh's own codec) with searches over segments that have them.
"""

from __future__ import annotations

import gc
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh import query as wq

from kb import search
from kb.search.whoosh import arrays as arrays_module
from kb.search.whoosh import flat, ranking
from kb.search.whoosh.index import searchers
from kb.search.whoosh.schema import to_fields

WORDS = ["migration", "remittances", "diaspora", "labour", "border", "climate", "health",
         "returnees", "integration", "skills", "pension", "consular", "statistics"]
BODY = "body_en"


def _record(doc_id: int, rnd: random.Random) -> search.IndexRecord:
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(1, 300))]
    words += [f"w{rnd.randint(0, 2000)}" for _ in range(rnd.randint(0, 40))]
    return search.IndexRecord(
        doc_id=doc_id, title=f"Note {doc_id}", summary="", doc_type="report",
        countries=("MDA",), agencies=(), themes=(), language="en", year=2015,
        phase=None, access="public", created_ts=doc_id, pages=(" ".join(words),))


def _build(index_dir: Path, rnd: random.Random) -> dict[int, search.IndexRecord]:
    search.create(index_dir)
    live: dict[int, search.IndexRecord] = {}
    for start in (1, 201):  # two import batches, words in more than one block (128)
        batch = [_record(i, rnd) for i in range(start, start + 200)]
        search.write_records(index_dir, batch, timeout=10)
        live.update((r.doc_id, r) for r in batch)
    for doc_id in range(401, 413):  # uploads: merged once ten are waiting
        rec = _record(doc_id, rnd)
        search.write_records(index_dir, [rec], timeout=10)
        live[doc_id] = rec
    replaced = [_record(i, rnd) for i in range(7, 400, 29)]
    search.write_records(index_dir, replaced, timeout=10)
    live.update((r.doc_id, r) for r in replaced)
    search.delete_documents(index_dir, list(range(3, 400, 31)), timeout=10)
    for doc_id in range(3, 400, 31):
        live.pop(doc_id)
    return live


@pytest.fixture(scope="module")
def collection(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[int, search.IndexRecord]]:
    index_dir = tmp_path_factory.mktemp("flat") / "index"
    return index_dir, _build(index_dir, random.Random(11))


def test_every_segments_postings_equal_whooshs(collection):
    index_dir, _ = collection
    readers = [r for r, _ in searchers.get(index_dir).reader().leaf_readers()]
    sizes = sorted(r.doc_count_all() for r in readers)
    assert any(10 <= s < 100 for s in sizes) and sizes.count(200) == 2, sizes  # merged, batches
    compared = 0
    for reader in readers:
        arrays = flat.field(reader, BODY)
        assert arrays is not None
        terms = list(reader.lexicon(BODY))
        assert arrays.terms.tolist() == terms
        for btext in terms:
            m = reader.postings(BODY, btext)
            ids, weights = list(m.all_ids()), []
            m = reader.postings(BODY, btext)
            while m.is_active():
                weights.append(m.weight())
                m.next()
            # Whoosh's matcher skips the segment's deleted documents; the flat arrays
            # keep them (as Whoosh's doc_frequency counts them) for the filter to drop.
            got_ids, got_weights = arrays.postings(btext)
            kept = [not reader.is_deleted(d) for d in got_ids.tolist()]
            assert got_ids[kept].tolist() == ids
            assert got_weights[kept].tolist() == weights
            assert arrays.doc_frequency(btext) == reader.doc_frequency(BODY, btext)
            compared += len(ids)
        assert len(arrays.postings(b"absent")[0]) == 0
    assert compared > 10_000
    assert not list(index_dir.glob("*" + flat.EXTENSION)), "kept inside the compound segment"


def test_term_vectors_hold_the_words_of_each_text(collection):
    index_dir, live = collection
    searcher = searchers.get(index_dir)
    analyse = searcher.schema[BODY].index
    for doc_id, rec in live.items():
        docnum = searcher.document_number(doc_id=doc_id)
        terms, weights = arrays_module.term_vector(searcher, docnum, BODY)
        expected = {btext: freq for btext, freq, _, _ in analyse(to_fields(rec)[BODY])}
        assert dict(zip(terms.tolist(), weights.tolist(), strict=True)) == expected
        assert terms.tolist() == sorted(expected)


def test_segments_without_flat_arrays_score_as_whoosh_does(collection, tmp_path):
    # The same documents written with Whoosh's own codec, which writes no flat arrays:
    # scoring falls back to Whoosh's postings and must give Whoosh's own scores.
    _, live = collection
    plain_dir = tmp_path / "plain"
    search.create(plain_dir)
    with whoosh_index.open_dir(str(plain_dir)).writer() as w:
        for rec in live.values():
            w.add_document(**to_fields(rec))
    searcher = searchers.get(plain_dir)
    assert flat.field(searcher.reader().leaf_readers()[0][0], BODY) is None
    for words in (["migrat"], ["pension", "consular"], ["returne", "skill", "w17"]):
        q = wq.Or([wq.Term(BODY, word) for word in words])
        expected = {hit.docnum: hit.score for hit in searcher.search(q, limit=None)}
        scored = ranking.score(searcher, q)
        assert set(np.flatnonzero(scored.matched).tolist()) == set(expected) != set()
        for docnum, score in expected.items():
            assert scored.scores[docnum] == pytest.approx(score, rel=1e-9)
        # Feedback's scoring of a few documents falls back to the postings as well.
        some = sorted(expected)[::5]
        got = ranking.score_docs(searcher, some, [(BODY, word, 1.0) for word in words])
        assert got == pytest.approx({d: expected[d] for d in some}, rel=1e-9)


def test_counted_words_of_a_vector_match_the_postings(collection):
    # A vector is the postings turned around: document d has term t with weight w
    # exactly when t's postings hold d with weight w.
    index_dir, _ = collection
    for reader, _ in searchers.get(index_dir).reader().leaf_readers():
        arrays = flat.field(reader, BODY)
        from_postings: Counter[tuple[int, bytes]] = Counter()
        for btext in arrays.terms.tolist():
            ids, weights = arrays.postings(btext)
            for d, w in zip(ids.tolist(), weights.tolist(), strict=True):
                from_postings[(d, btext)] = w
        from_vectors: Counter[tuple[int, bytes]] = Counter()
        for d in range(reader.doc_count_all()):
            terms, weights = arrays.vector(d)
            for t, w in zip(terms.tolist(), weights.tolist(), strict=True):
                from_vectors[(d, t)] = w
        assert from_vectors == from_postings


def test_replaced_segments_free_their_disk_space(tmp_path):
    # The arrays are views of the segments' memory maps: once `kb reindex` (a rebuild)
    # replaces the segments, searching again must let go of the deleted files.
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs Linux's /proc to see which files are mapped")
    index_dir = tmp_path / "index"
    live = _build(index_dir, random.Random(5))
    everyone = search.Visibility(all_states=True)
    req = search.SearchRequest(q="migration pension", per_page=10)
    assert search.search(index_dir, req, everyone).total > 0
    old = {p.name for p in index_dir.glob("*.seg")}

    def mapped_deleted() -> list[str]:
        return [line for line in maps.read_text().splitlines()
                if str(index_dir) in line and "(deleted)" in line]

    search.rebuild(index_dir, list(live.values()), timeout=10)
    assert not old & {p.name for p in index_dir.glob("*.seg")}, "the rebuild replaced them"
    assert search.search(index_dir, req, everyone).total > 0
    gc.collect()  # Whoosh's closed readers sit in reference cycles until a collection
    assert mapped_deleted() == []

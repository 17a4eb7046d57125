"""Search benchmark: 200 realistic searches through the JSON API, against SQLite FTS5.

Builds an instance holding the UN General Debate speeches (as bench/ingest.py does), or
reuses the one a previous run left in --workdir, then runs 200 searches of 1-4 words drawn
(fixed seed) from the corpus vocabulary (words of 4+ letters, frequency-weighted, without
the ~100 most frequent and without Whoosh's stop words), a third of them filtered by
country or year, each asking for facets and the top 10 with snippets, through
GET /api/v1/search on the Flask test client, after 10 warm-up searches.
Baseline in the same run: SQLite FTS5 ('porter unicode61') on the same texts and queries
(words ANDed as phrases, the filter as a WHERE), snippet() for the top 10 and the facets
country, year and type by GROUP BY over the matching set.

    .venv/bin/python bench/search.py [--limit N] [--workdir DIR]
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import _common as c
from flask.testing import FlaskClient

SEED = 20240601
QUERIES = 200
WARMUP = 10
SKIP_MOST_FREQUENT = 100
PER_PAGE = 10
WORD = re.compile(r"[^\W\d_]{4,}")


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]
    country: str | None = None
    year: int | None = None

    @property
    def q(self) -> str:
        return " ".join(self.words)

    def describe(self) -> str:
        f = f" [country={self.country}]" if self.country else ""
        f += f" [year={self.year}]" if self.year else ""
        return self.q + f


def vocabulary(speeches: Sequence[c.Speech]) -> Counter[str]:
    """Words of 4+ letters with their corpus frequency, minus the most frequent and stop
    words (Whoosh drops those, FTS5 does not: they would make the engines disagree)."""
    from whoosh.analysis import STOP_WORDS

    counts: Counter[str] = Counter()
    for s in speeches:
        counts.update(WORD.findall(s.text().lower()))
    for word, _ in counts.most_common(SKIP_MOST_FREQUENT):
        del counts[word]
    for word in STOP_WORDS:
        counts.pop(word, None)
    return counts


def make_queries(speeches: Sequence[c.Speech], n: int, seed: int = SEED) -> list[Query]:
    rng = random.Random(seed)
    vocab = vocabulary(speeches)
    words, weights = list(vocab), list(vocab.values())
    countries = sorted({s.country for s in speeches})
    years = sorted({s.year for s in speeches})
    queries = []
    for i in range(n):
        size = rng.randint(1, 4)
        chosen: list[str] = []
        while len(chosen) < size:
            w = rng.choices(words, weights)[0]
            if w not in chosen:
                chosen.append(w)
        country = year = None
        if i % 3 == 0:  # a third filtered, alternately by country and by year
            if (i // 3) % 2 == 0:
                country = rng.choice(countries)
            else:
                year = rng.choice(years)
        queries.append(Query(tuple(chosen), country, year))
    return queries


# --- kb, through HTTP on the Flask test client --------------------------------------------

def kb_search(client: FlaskClient, query: Query) -> int:
    params: dict[str, object] = {"q": query.q, "per_page": PER_PAGE}
    if query.country:
        params["country"] = query.country
    if query.year:
        params["year"] = query.year
    res = client.get("/api/v1/search", query_string=params)
    if res.status_code != 200:
        c.fail(f"kb search {query.describe()!r} answered {res.status_code}",
               res.get_data(as_text=True))
    body = res.get_json()
    if not {"country", "year", "type"} <= set(body["facets"]):
        c.fail(f"kb search {query.describe()!r} gave no facets")
    return int(body["total"])


# --- SQLite FTS5 baseline ------------------------------------------------------------------

def build_fts(path: Path, speeches: Sequence[c.Speech]) -> tuple[sqlite3.Connection, float]:
    if path.exists():
        path.unlink()
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, country UNINDEXED, "
                 "year UNINDEXED, type UNINDEXED, tokenize='porter unicode61')")
    with conn:
        conn.executemany("INSERT INTO docs(title, body, country, year, type) "
                         "VALUES (?, ?, ?, ?, ?)",
                         ((s.title, s.text(), s.country, s.year, c.DOC_TYPE)
                          for s in speeches))
    return conn, time.perf_counter() - start


def fts_search(conn: sqlite3.Connection, query: Query) -> int:
    """Total, top 10 with a snippet each, and the facets (a facet in use is counted without
    its own filter, as kb does, so that its other values stay on offer)."""
    match = " AND ".join('"' + w.replace('"', '""') + '"' for w in query.words)
    filters = {"country": query.country, "year": query.year}

    def where(skip: str | None = None) -> tuple[str, list[object]]:
        sql = "docs MATCH ?"
        params: list[object] = [match]
        for name, value in filters.items():
            if value is not None and name != skip:
                sql += f" AND {name} = ?"
                params.append(value)
        return sql, params

    sql, params = where()
    total = conn.execute(f"SELECT count(*) FROM docs WHERE {sql}", params).fetchone()[0]
    top = conn.execute(
        f"SELECT rowid, title, country, year, "
        f"snippet(docs, 1, '<mark>', '</mark>', '…', 32) FROM docs WHERE {sql} "
        f"ORDER BY rank LIMIT {PER_PAGE}", params).fetchall()
    assert len(top) == min(total, PER_PAGE)
    for facet in ("country", "year", "type"):
        fsql, fparams = where(skip=facet)
        conn.execute(f"SELECT {facet}, count(*) FROM docs WHERE {fsql} GROUP BY {facet} "
                     "ORDER BY count(*) DESC", fparams).fetchall()
    return int(total)


# --- driver --------------------------------------------------------------------------------

def timed_runs(run: Callable[[Query], int],
               queries: Sequence[Query]) -> tuple[list[float], list[int]]:
    latencies, totals = [], []
    for query in queries:
        start = time.perf_counter()
        totals.append(run(query))
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies, totals


def prepare(work: Path, limit: int | None) -> tuple[list[c.Speech], str]:
    """The instance's speeches: built now, or those of a previous run in ``work``."""
    if c.has_instance(work):
        speeches = c.read_manifest(work / c.CORPUS_DIR)
        if limit is not None and limit != len(speeches):
            c.fail(f"{work} holds an instance of {len(speeches)} speeches, not --limit {limit}; "
                   "use another --workdir")
        c.verify_searchable(work, speeches)
        return speeches, f"reused from --workdir {work}"
    imported = c.build_instance(work, limit)
    c.verify_searchable(work, imported.speeches)
    return imported.speeches, f"built now with `kb import` ({imported.timed.seconds:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    args = c.base_parser(__doc__.splitlines()[0]).parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    from kb import create_app
    from kb.extensions import db

    with c.workdir(args.workdir) as work:
        speeches, origin = prepare(work, args.limit)
        nbytes = c.text_bytes(speeches)
        queries = make_queries(speeches, WARMUP + QUERIES)
        warmup, measured = queries[:WARMUP], queries[WARMUP:]
        filtered = sum(1 for q in measured if q.country or q.year)

        app = create_app(c.app_config(work))
        client = app.test_client()
        try:
            timed_runs(lambda q: kb_search(client, q), warmup)
            kb_ms, kb_totals = timed_runs(lambda q: kb_search(client, q), measured)
        finally:
            with app.app_context():
                db.engine.dispose()

        conn, fts_build = build_fts(work / "fts5.sqlite3", speeches)
        try:
            timed_runs(lambda q: fts_search(conn, q), warmup)
            fts_ms, fts_totals = timed_runs(lambda q: fts_search(conn, q), measured)
        finally:
            conn.close()

        agree = sum(1 for a, b in zip(kb_totals, fts_totals, strict=True) if a == b)
        kb_p50, kb_p95 = c.percentile(kb_ms, 50), c.percentile(kb_ms, 95)
        fts_p50, fts_p95 = c.percentile(fts_ms, 50), c.percentile(fts_ms, 95)
        sizes = Counter(len(q.words) for q in measured)
        c.print_block("kb bench/search.py: searches through GET /api/v1/search vs SQLite FTS5", [
            ("machine", c.machine_line()),
            ("corpus", c.corpus_line(speeches, nbytes, args.limit)),
            ("instance", origin),
            ("queries", f"{len(measured)} after {len(warmup)} warm-up (seed {SEED}), each "
                        f"with facets and the top {PER_PAGE} with snippets"),
            ("query mix", f"1/2/3/4 words: {sizes[1]}/{sizes[2]}/{sizes[3]}/{sizes[4]}; "
                          f"{filtered} filtered by country or year"),
            ("kb latency", f"p50 {kb_p50:.1f} ms, p95 {kb_p95:.1f} ms, "
                           f"max {max(kb_ms):.1f} ms, mean {statistics.fmean(kb_ms):.1f} ms"),
            ("kb mean total hits", f"{statistics.fmean(kb_totals):.1f} "
                                   f"({sum(1 for t in kb_totals if t == 0)} queries found "
                                   "nothing)"),
            ("FTS5 latency", f"p50 {fts_p50:.1f} ms, p95 {fts_p95:.1f} ms, "
                             f"max {max(fts_ms):.1f} ms (index built in {fts_build:.1f} s, "
                             f"SQLite {sqlite3.sqlite_version})"),
            ("FTS5 mean total hits", f"{statistics.fmean(fts_totals):.1f} "
                                     f"(same total as kb for {agree}/{len(measured)} queries)"),
            ("kb/FTS5", f"p50 {kb_p50 / fts_p50:.1f}x, p95 {kb_p95 / fts_p95:.1f}x"),
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())

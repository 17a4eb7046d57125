"""Search benchmark: 200 realistic searches over HTTP against `kb serve`, against SQLite FTS5.

Two collections, each served by `kb serve` (a real subprocess on loopback, its default
settings: gunicorn workers and threads, the background worker beside):
  1. the UN General Debate speeches (1,555), imported with `kb import` as bench/ingest.py
     does (or reused from a previous run's --workdir);
  2. a 15,000-document collection: a copy of the first instance into which `kb import`
     adds variants of the speeches, each with a first line naming its variant (so that its
     SHA-256 differs) and varied metadata: another country, the year moved back, an agency
     and a document type in turn (see ``write_variants``).
On each: 200 searches of 1-4 words drawn (fixed seed) from the corpus vocabulary (words of
4+ letters, frequency-weighted, without the ~100 most frequent and without stop words), a
third of them filtered by country or year, each answered with the facets (country, agency,
type, year and the others kb counts) and the top 10 with snippets, through
GET /api/v1/search, one at a time on one keep-alive connection, after a warm-up of 10
searches on each of 4 concurrent connections (so every web worker has served some).
Latency is measured by the client: request sent to answer read and parsed. Each server
starts after os.sync(): a collection just imported is measured settled, not while the
kernel still writes it out.
Baseline in the same run: SQLite FTS5 ('porter unicode61') on the same texts and metadata,
in this process (no HTTP), with the same queries: the words ORed and ranked by bm25, as kb
treats plain words (none required, documents with more of them first), the filter as a
WHERE; snippet() for the top 10 and the facets country, agency, type and year by GROUP BY
over the matching set (a facet in use counted without its own filter, as kb does). Also
printed: FTS5 with every word required (AND), which matches far fewer documents.

    .venv/bin/python bench/search.py [--limit N] [--docs N] [--queries N] [--workdir DIR]
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c

SEED = 20240601
QUERIES = 200
WARMUP = 10
WARMUP_CONNECTIONS = 4
SKIP_MOST_FREQUENT = 100
PER_PAGE = 10
WORD = re.compile(r"[^\W\d_]{4,}")
LARGE = 15_000
TARGET_P95_MS = {"small": 50.0, "large": 100.0}
LARGE_DIR = "large"
VARIANT_DIR = "variants"


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


@dataclass(frozen=True)
class Doc:
    """One document of a collection as the FTS5 baseline stores it."""

    title: str
    text: str
    country: str
    year: int
    doc_type: str
    agency: str | None


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


# --- the 15,000-document collection ------------------------------------------------------

def variants(speeches: Sequence[c.Speech], count: int) -> list[tuple[str, Doc]]:
    """``count`` variants of the speeches: (file name, document).

    Variant v of speech i (v = 1, 2, ...: each speech once per round) starts with a line
    naming it, then the speech; its metadata: the country v places further in the sorted
    list of the corpus's countries, the year moved back by v, agency number i + v of kb's
    seed list and document type number i + v of kb's taxonomy.
    """
    from kb.taxonomy import AGENCY_SEED, DOCUMENT_TYPES

    countries = sorted({s.country for s in speeches})
    position = {code: i for i, code in enumerate(countries)}
    out = []
    for k in range(count):
        i, v = k % len(speeches), k // len(speeches) + 1
        s = speeches[i]
        country = countries[(position[s.country] + v) % len(countries)]
        year = s.year - v
        agency = AGENCY_SEED[(i + v) % len(AGENCY_SEED)].code
        doc_type = DOCUMENT_TYPES[(i + v) % len(DOCUMENT_TYPES)].code
        title = f"{country}: General Debate, session {s.session} ({year}), variant {v}"
        text = f"Variant {v} of {s.path.stem}, filed under {country} {year}.\n{s.text()}"
        out.append((f"{s.path.stem}_v{v}.txt", Doc(title, text, country, year, doc_type,
                                                    agency)))
    return out


def write_variants(folder: Path, docs: Sequence[tuple[str, Doc]]) -> None:
    """The variants as text files, with the manifest `kb import` reads."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["file", "title", "countries", "agencies", "year", "type"])
        for name, d in docs:
            (folder / name).write_text(d.text, encoding="utf-8")
            out.writerow([name, d.title, d.country, d.agency, d.year, d.doc_type])


def build_large(work: Path, speeches: Sequence[c.Speech],
                extra: Sequence[tuple[str, Doc]]) -> tuple[Path, str]:
    """The large instance in ``work/large``: built now (copy, then `kb import` of the
    variants) or reused when a previous run built one of the same size; its folder and
    how it was built."""
    large = work / LARGE_DIR
    stamp = large / "built.json"
    total = len(speeches) + len(extra)
    if stamp.exists():
        built = json.loads(stamp.read_text())
        if built["documents"] == total:
            return large, f"reused from --workdir ({built['how']})"
        c.fail(f"{large} holds {built['documents']} documents, not {total}; use another "
               "--workdir")
    if large.exists():
        shutil.rmtree(large)
    large.mkdir()
    for name in (c.INSTANCE_DIR, c.UPLOAD_DIR):
        shutil.copytree(work / name, large / name)
    write_variants(large / VARIANT_DIR, extra)
    env = c.instance_env(large)
    timed = c.timed_kb(["import", str(large / VARIANT_DIR), "--manifest",
                        str(large / VARIANT_DIR / "manifest.csv")], env, large,
                       large / "import")
    last = timed.stdout.strip().splitlines()[-1] if timed.stdout.strip() else ""
    if last != f"imported {len(extra)}, skipped 0 as duplicates, failed 0":
        c.fail(f"the variants' import ended with {last!r}", timed.stdout)
    shutil.rmtree(large / VARIANT_DIR)
    how = (f"the {len(speeches)} speeches' instance copied, then `kb import` of "
           f"{len(extra)} variants in {timed.seconds:.0f} s = "
           f"{len(extra) / timed.seconds:.1f} docs/s")
    stamp.write_text(json.dumps({"documents": total, "how": how}))
    return large, how


# --- kb, through HTTP against `kb serve` --------------------------------------------------

def params_of(query: Query) -> dict[str, object]:
    params: dict[str, object] = {"q": query.q, "per_page": PER_PAGE}
    if query.country:
        params["country"] = query.country
    if query.year:
        params["year"] = query.year
    return params


def kb_search(client: c.Http, query: Query) -> int:
    status, body = client.get("/api/v1/search", params_of(query))
    if status != 200:
        c.fail(f"kb search {query.describe()!r} answered {status}",
               body.decode("utf-8", "replace")[:2000])
    answer = json.loads(body)
    if not {"country", "agency", "type", "year"} <= set(answer["facets"]):
        c.fail(f"kb search {query.describe()!r} gave no facets")
    return int(answer["total"])


def warm_up(server: c.Server, queries: Sequence[Query]) -> None:
    """Searches on several connections at once, so that every worker has served some."""
    failures: list[BaseException] = []

    def run() -> None:
        # A thread's exception would only be printed; it is kept and raised below, so that
        # a failed warm-up stops the benchmark instead of measuring a cold server.
        try:
            client = server.client()
            for query in queries:
                kb_search(client, query)
            client.close()
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            failures.append(e)

    threads = [threading.Thread(target=run) for _ in range(WARMUP_CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"warm-up failed on {len(failures)} of {len(threads)} "
                         f"connections: {failures[0]!r}")


@dataclass(frozen=True)
class KbRun:
    latencies: list[float]
    totals: list[int]
    first_ms: float  # the first search after the server started
    floor_ms: float  # p50 of GET /api/v1/taxonomy: HTTP, Flask and JSON without a search
    server: str


def kb_run(work: Path, warmup: Sequence[Query], measured: Sequence[Query],
           settings: dict[str, Any]) -> KbRun:
    with c.serving(work, **settings) as server:
        client = server.client()
        start = time.perf_counter()
        kb_search(client, warmup[0])
        first_ms = (time.perf_counter() - start) * 1000
        warm_up(server, warmup)
        floor = []
        for _ in range(20):
            start = time.perf_counter()
            client.get("/api/v1/taxonomy")
            floor.append((time.perf_counter() - start) * 1000)
        latencies, totals = timed_runs(lambda q: kb_search(client, q), measured)
        client.close()
        return KbRun(latencies, totals, first_ms, statistics.median(floor), server.describe())


# --- SQLite FTS5 baseline ------------------------------------------------------------------

FACETS = ("country", "agency", "type", "year")


def build_fts(path: Path, docs: Sequence[Doc]) -> tuple[sqlite3.Connection, float]:
    if path.exists():
        path.unlink()
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, country UNINDEXED, "
                 "year UNINDEXED, type UNINDEXED, agency UNINDEXED, "
                 "tokenize='porter unicode61')")
    with conn:
        conn.executemany("INSERT INTO docs(title, body, country, year, type, agency) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         ((d.title, d.text, d.country, d.year, d.doc_type, d.agency)
                          for d in docs))
    return conn, time.perf_counter() - start


def fts_search(conn: sqlite3.Connection, query: Query, join: str = "OR") -> int:
    """Total, top 10 with a snippet each, and the facets (a facet in use is counted without
    its own filter, as kb does, so that its other values stay on offer). Words are ORed and
    ranked by bm25, as kb treats plain words (none is required, more rank higher); with
    ``join="AND"`` every word is required."""
    match = f" {join} ".join('"' + w.replace('"', '""') + '"' for w in query.words)
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
    for facet in FACETS:
        fsql, fparams = where(skip=facet)
        conn.execute(f"SELECT {facet}, count(*) FROM docs WHERE {fsql} AND {facet} IS NOT NULL "
                     f"GROUP BY {facet} ORDER BY count(*) DESC", fparams).fetchall()
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


def compare(label: str, work: Path, docs: Sequence[Doc], warmup: Sequence[Query],
            measured: Sequence[Query], target_ms: float,
            settings: dict[str, Any]) -> list[tuple[str, str]]:
    """Run the searches on kb (HTTP) and FTS5; the rows to print."""
    # The collection may just have been imported: its files are flushed to disk first, so
    # that the searches meet a settled collection, not the import's write-back.
    os.sync()
    kb = kb_run(work, warmup, measured, settings)
    conn, fts_build = build_fts(work / f"fts5-{label}.sqlite3", docs)
    try:
        timed_runs(lambda q: fts_search(conn, q), warmup)
        fts_ms, fts_totals = timed_runs(lambda q: fts_search(conn, q), measured)
        and_ms, and_totals = timed_runs(lambda q: fts_search(conn, q, "AND"), measured)
    finally:
        conn.close()
    agree = sum(1 for a, b in zip(kb.totals, fts_totals, strict=True) if a == b)
    kb_p50, fts_p50 = c.percentile(kb.latencies, 50), c.percentile(fts_ms, 50)
    kb_p95, fts_p95 = c.percentile(kb.latencies, 95), c.percentile(fts_ms, 95)
    return [
        (f"{label}: server", kb.server + "; started after os.sync()"),
        (f"{label}: kb latency", c.latency_line(kb.latencies)),
        (f"{label}: kb first search", f"{kb.first_ms:.0f} ms (cold: the first after start); "
                                      f"HTTP floor (GET /api/v1/taxonomy) p50 "
                                      f"{kb.floor_ms:.1f} ms"),
        (f"{label}: kb mean total hits", f"{statistics.fmean(kb.totals):.1f} "
                                         f"({sum(1 for t in kb.totals if t == 0)} queries "
                                         "found nothing)"),
        (f"{label}: FTS5 latency", c.latency_line(fts_ms) + f" (words ORed as kb's; "
                                   f"in-process, index built in {fts_build:.1f} s, SQLite "
                                   f"{sqlite3.sqlite_version})"),
        (f"{label}: FTS5 mean total hits", f"{statistics.fmean(fts_totals):.1f} (same total "
                                           f"as kb for {agree}/{len(measured)} queries)"),
        (f"{label}: FTS5 AND latency", c.latency_line(and_ms) + " (every word required: "
                                       f"mean total {statistics.fmean(and_totals):.1f})"),
        (f"{label}: kb/FTS5", f"p50 {kb_p50 / fts_p50:.1f}x, p95 {kb_p95 / fts_p95:.1f}x"),
        (f"{label}: target", c.verdict(kb_p95 < target_ms, f"kb p95 < {target_ms:.0f} ms")
         + "; " + c.verdict(kb_p95 <= fts_p95, "kb p95 <= FTS5 p95")),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=LARGE, metavar="N",
                        help=f"size of the large collection (default {LARGE}; 0: skip it)")
    parser.add_argument("--queries", type=int, default=QUERIES, metavar="N",
                        help=f"searches measured on each collection (default {QUERIES})")
    c.add_server_options(parser)
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    settings = c.server_settings(args)

    with c.workdir(args.workdir) as work:
        speeches, origin = c.prepare_instance(work, args.limit)
        nbytes = c.text_bytes(speeches)
        queries = make_queries(speeches, WARMUP + args.queries)
        warmup, measured = queries[:WARMUP], queries[WARMUP:]
        filtered = sum(1 for q in measured if q.country or q.year)
        sizes = Counter(len(q.words) for q in measured)
        originals = [Doc(s.title, s.text(), s.country, s.year, c.DOC_TYPE, None)
                     for s in speeches]
        rows = [
            ("corpus", c.corpus_line(speeches, nbytes, args.limit)),
            ("queries", f"{len(measured)} after {len(warmup)} warm-up (seed {SEED}) x "
                        f"{WARMUP_CONNECTIONS} connections, each with facets and the top "
                        f"{PER_PAGE} with snippets, one at a time"),
            ("query mix", f"1/2/3/4 words: {sizes[1]}/{sizes[2]}/{sizes[3]}/{sizes[4]}; "
                          f"{filtered} filtered by country or year"),
            ("small: collection", f"{len(speeches)} documents, instance {origin}"),
            *compare("small", work, originals, warmup, measured, TARGET_P95_MS["small"],
                     settings),
        ]
        if args.docs:
            extra = variants(speeches, max(args.docs - len(speeches), 1))
            large, how = build_large(work, speeches, extra)
            docs = originals + [d for _, d in extra]
            rows += [
                ("large: collection", f"{len(docs)} documents: {how}"),
                *compare("large", large, docs, warmup, measured, TARGET_P95_MS["large"],
                         settings),
            ]
        rows[:0] = [("machine", c.machine_line()), ("code", c.code_line())]
        c.print_block("kb bench/search.py: searches through GET /api/v1/search on `kb serve` "
                      "vs SQLite FTS5", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Relevance benchmark: the CISI collection through kb's own index and query code, vs FTS5.

Indexes the 1,460 CISI abstracts (title as the title, text as the one page) with
kb.search.create / write_records, then runs each judged query (76 of the 112 have
judgments in CISI.REL) as a natural-language search.

Measured, in the same run, with binary relevance from CISI.REL:
- kb (product): kb.search.search(...) exactly as the product runs it, the query text as
  typed (plain words: ranked OR, repeated words weighted, relevance feedback);
- Whoosh default (reference): Whoosh as it comes (StemmingAnalyzer, BM25F, the query
  parser with OR) on title + text, the query reduced to its words;
- FTS5 baseline: SQLite FTS5 (tokenize='porter unicode61') over title + text, the query
  as an OR of its quoted words, ranked by bm25().

nDCG@10 (binary gains, ideal = min(relevant, 10) hits), MAP over the top 100 (average
precision truncated at rank 100, divided by all relevant documents of the query) and
recall@100, each the mean over the judged queries.

    .venv/bin/python bench/relevance.py [--queries N] [--workdir DIR] [--tune]
"""

from __future__ import annotations

import argparse
import math
import re
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import _common as c

CISI = c.CORPORA / "cisi"
DEPTH = 100  # hits taken per query: MAP and recall are over the top 100
NDCG_AT = 10
WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Doc:
    doc_id: int
    title: str
    text: str


def _records(path: Path) -> list[tuple[int, dict[str, str]]]:
    """``.I n`` records of a SMART-format file: (id, {field letter: text})."""
    out: list[tuple[int, dict[str, str]]] = []
    current: dict[str, list[str]] | None = None
    key = ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^\.([A-Z])(?:\s+(\d+))?\s*$", line)
        if m and m.group(1) == "I":
            current = {}
            out.append((int(m.group(2)), current))  # type: ignore[arg-type]
            key = ""
        elif m and current is not None:
            key = m.group(1)
            current.setdefault(key, [])
        elif current is not None and key:
            current[key].append(line)
    return [(i, {k: "\n".join(v).strip() for k, v in f.items()}) for i, f in out]


def read_docs() -> list[Doc]:
    return [Doc(i, f.get("T", ""), f.get("W", "")) for i, f in _records(CISI / "CISI.ALL")]


def read_queries() -> dict[int, str]:
    return {i: f.get("W", "") for i, f in _records(CISI / "CISI.QRY")}


def read_qrels() -> dict[int, set[int]]:
    rel: dict[int, set[int]] = {}
    for line in (CISI / "CISI.REL").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rel.setdefault(int(parts[0]), set()).add(int(parts[1]))
    return rel


def plain_words(text: str) -> str:
    return " ".join(WORDS.findall(text))


# --- metrics ---------------------------------------------------------------------------

def ndcg(ranked: Sequence[int], relevant: set[int], k: int = NDCG_AT) -> float:
    dcg = sum(1 / math.log2(r + 2) for r, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def average_precision(ranked: Sequence[int], relevant: set[int], k: int = DEPTH) -> float:
    found, total = 0, 0.0
    for r, d in enumerate(ranked[:k]):
        if d in relevant:
            found += 1
            total += found / (r + 1)
    return total / len(relevant) if relevant else 0.0


def recall(ranked: Sequence[int], relevant: set[int], k: int = DEPTH) -> float:
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


@dataclass(frozen=True)
class Scores:
    ndcg: float
    map: float
    recall: float
    empty: int  # queries with no hit at all
    mean_hits: float  # hits returned, at most DEPTH
    seconds: float


def evaluate(run: Callable[[str], list[int]], queries: dict[int, str],
             qrels: dict[int, set[int]]) -> Scores:
    n, m, r, empty, hits = [], [], [], 0, 0
    start = time.perf_counter()
    for qid, text in queries.items():
        ranked = run(text)[:DEPTH]
        rel = qrels[qid]
        n.append(ndcg(ranked, rel))
        m.append(average_precision(ranked, rel))
        r.append(recall(ranked, rel))
        empty += not ranked
        hits += len(ranked)
    seconds = time.perf_counter() - start
    k = len(queries)
    return Scores(sum(n) / k, sum(m) / k, sum(r) / k, empty, hits / k, seconds)


# --- the three systems -----------------------------------------------------------------

def index_kb(index_dir: Path, docs: Sequence[Doc]) -> float:
    from kb.search import IndexRecord, create, write_records

    start = time.perf_counter()
    create(index_dir, fresh=True)  # a kept --workdir may hold a previous run's index
    write_records(index_dir, [
        IndexRecord(doc_id=d.doc_id, title=d.title, summary="", doc_type=None, countries=(),
                    agencies=(), themes=(), language="en", year=None, phase=None,
                    access="public", created_ts=0, pages=(d.text,))
        for d in docs
    ], timeout=30)
    return time.perf_counter() - start


def kb_runner(index_dir: Path,
              refused: list[str] | None = None) -> Callable[[str], list[int]]:
    """kb's search as the product runs it. A query kb refuses (QueryError: over its bounds,
    e.g. CISI query 67, whose quotes make it a query of 112 clauses where 64 are allowed)
    finds nothing, as it does for a user, and its message is added to ``refused``."""
    from kb.errors import QueryError
    from kb.search import SearchRequest, Visibility, search

    def run(text: str) -> list[int]:
        req = SearchRequest(q=text, per_page=DEPTH, spelling=False)
        try:
            res = search(index_dir, req, Visibility(all_states=True), snippets=0)
        except QueryError as e:
            if refused is not None:
                refused.append(str(e))
            return []
        return [h.doc_id for h in res.hits]

    return run


def whoosh_default(index_dir: Path, docs: Sequence[Doc]) -> tuple[Callable[[str], list[int]],
                                                                   Callable[[], None]]:
    """Whoosh as it comes: StemmingAnalyzer, default BM25F, the parser with OR (reference)."""
    from whoosh import fields, qparser
    from whoosh import index as whoosh_index
    from whoosh.analysis import StemmingAnalyzer

    index_dir.mkdir(parents=True, exist_ok=True)
    schema = fields.Schema(doc_id=fields.NUMERIC(int, stored=True),
                           title=fields.TEXT(analyzer=StemmingAnalyzer()),
                           text=fields.TEXT(analyzer=StemmingAnalyzer()))
    ix = whoosh_index.create_in(str(index_dir), schema)
    with ix.writer() as w:
        for d in docs:
            w.add_document(doc_id=d.doc_id, title=d.title, text=d.text)
    parser = qparser.MultifieldParser(["title", "text"], ix.schema, group=qparser.OrGroup)
    searcher = ix.searcher()

    def run(text: str) -> list[int]:
        results = searcher.search(parser.parse(plain_words(text)), limit=DEPTH)
        return [int(hit["doc_id"]) for hit in results]

    return run, searcher.close


def index_fts(db_path: Path, docs: Sequence[Doc]) -> tuple[sqlite3.Connection, float]:
    db_path.unlink(missing_ok=True)
    start = time.perf_counter()
    con = sqlite3.connect(db_path)
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(title, text, "
                "tokenize='porter unicode61')")
    con.executemany("INSERT INTO docs(rowid, title, text) VALUES (?, ?, ?)",
                    [(d.doc_id, d.title, d.text) for d in docs])
    con.commit()
    return con, time.perf_counter() - start


def fts_runner(con: sqlite3.Connection) -> Callable[[str], list[int]]:
    def run(text: str) -> list[int]:
        words = WORDS.findall(text)
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = con.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) "
                           "LIMIT ?", (match, DEPTH)).fetchall()
        return [r[0] for r in rows]

    return run


def tune(index_dir: Path, queries: dict[int, str],
         qrels: dict[int, set[int]]) -> list[tuple[str, Scores]]:
    """The product with one setting changed at a time: title boost, feedback weight."""
    from kb.search.whoosh import parsing, ranking

    out: list[tuple[str, Scores]] = []
    boost, weight = parsing.FIELD_BOOSTS["title"], ranking.FEEDBACK_WEIGHT
    try:
        for b in (0.0, 0.1, 0.25, 0.5, 1.0, 2.0):
            parsing.FIELD_BOOSTS["title"] = b
            out.append((f"title boost {b}", evaluate(kb_runner(index_dir), queries, qrels)))
        parsing.FIELD_BOOSTS["title"] = boost
        for w in (0.0, 0.25, 0.5, 1.0):
            ranking.FEEDBACK_WEIGHT = w
            out.append((f"feedback weight {w}", evaluate(kb_runner(index_dir), queries, qrels)))
    finally:
        parsing.FIELD_BOOSTS["title"], ranking.FEEDBACK_WEIGHT = boost, weight
    return out


# --- main ------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=None, metavar="N",
                        help="run only the first N judged queries (default: all)")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a temporary folder)")
    parser.add_argument("--tune", action="store_true",
                        help="also print nDCG@10 for other title boosts and feedback weights "
                             "(how kb.search's settings were chosen)")
    args = parser.parse_args()
    if not all((CISI / name).is_file() for name in ("CISI.ALL", "CISI.QRY", "CISI.REL")):
        print(f"skipped: {CISI} is absent (the shared corpora live in ../shared/corpora "
              "beside the repository, only on the team's machines); nothing was measured.")
        sys.exit(0)
    c.clean_environment()

    docs = read_docs()
    all_queries = read_queries()
    qrels = read_qrels()
    judged = {q: all_queries[q] for q in sorted(qrels) if q in all_queries}
    if args.queries is not None:
        if args.queries < 1:
            raise SystemExit("--queries must be at least 1")
        judged = dict(list(judged.items())[:args.queries])
    qrels = {q: qrels[q] for q in judged}
    scope = "all" if args.queries is None else f"--queries {args.queries}"

    with c.workdir(args.workdir) as work:
        index_dir = work / "index"
        kb_index_s = index_kb(index_dir, docs)
        con, fts_index_s = index_fts(work / "fts.sqlite3", docs)
        try:
            refused: list[str] = []
            kb = evaluate(kb_runner(index_dir, refused), judged, qrels)
            tuning = tune(index_dir, judged, qrels) if args.tune else []
            run_or, close = whoosh_default(work / "whoosh-default", docs)
            try:
                kb_or = evaluate(run_or, judged, qrels)
            finally:
                close()
            fts = evaluate(fts_runner(con), judged, qrels)
        finally:
            con.close()

    def line(s: Scores) -> str:
        return (f"nDCG@{NDCG_AT} {s.ndcg:.3f}, MAP@{DEPTH} {s.map:.3f}, "
                f"recall@{DEPTH} {s.recall:.3f}")

    def volume(s: Scores) -> str:
        return (f"{s.mean_hits:.1f} hits/query (max {DEPTH}), {s.empty} queries with none; "
                f"{len(judged)} queries in {s.seconds:.2f} s")

    for label, scores in tuning:
        print(f"tune: {label:42s} {line(scores)}")
    rel_total = sum(len(v) for v in qrels.values())
    c.print_block("Relevance: CISI, kb index vs SQLite FTS5 (binary relevance from CISI.REL)", [
        ("machine", c.machine_line()),
        ("corpus", f"CISI, {len(docs)} documents (title + text), {len(judged)} judged queries "
                   f"({scope}), {rel_total} relevant judgments"),
        ("queries", "query text (.W) as written (kb), as words (\\w+) (Whoosh, FTS5); "
                    f"top {DEPTH} per query; MAP = AP truncated at {DEPTH}"),
        ("kb index time", f"{kb_index_s:.2f} s (kb.search.create + write_records)"),
        ("FTS5 index time", f"{fts_index_s:.2f} s"),
        ("kb (product)", line(kb)),
        ("kb (product) hits", volume(kb)),
        ("kb (product) refused", f"{len(refused)} queries, scored as finding nothing"
                                 + (f" (first: {refused[0]})" if refused else "")),
        ("Whoosh default (reference)", line(kb_or)),
        ("Whoosh default hits", volume(kb_or)),
        ("FTS5 baseline", line(fts)),
        ("FTS5 baseline hits", volume(fts)),
        ("kb/FTS5 nDCG@10", f"{kb.ndcg / fts.ndcg:.2f} (product), "
                            f"{kb_or.ndcg / fts.ndcg:.2f} (Whoosh default)" if fts.ndcg else "n/a"),
    ])


if __name__ == "__main__":
    main()

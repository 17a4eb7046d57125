"""Capacity benchmark: how far one node goes, at 1,555, 15,000 and 50,000 documents.

One instance grows through the sizes: first `kb import` of the UN General Debate speeches
(1,555), then, for each larger size, `kb import` of as many more variants of them as it
takes (bench/search.py's ``variants``: a first line naming the variant, another country,
the year moved back, an agency and a document type in turn), so 50,000 grows from 15,000
and does not start from zero. With --workdir the instance and the figures of each size
measured (capacity.json) are kept: a later run prints the sizes already measured and
grows the instance on from the largest.
For each size:
  - import rate: documents a second of the `kb import` that grew it, timed as a
    subprocess from start to exit (every file stored, extracted, indexed, marked ready);
    the peak RSS (VmHWM) of its index writer (the `kb-index` child process that writes
    the Whoosh index) and of the importer itself;
  - disk: the index folder, the database (SQLite with its WAL) and the stored files, MB;
  - searches: bench/search.py's query mix (1-4 words, a third filtered by country or
    year, facets and the top 10 with snippets) through GET /api/v1/search on `kb serve`
    (started after os.sync()), one at a time after the same warm-up on 4 connections;
    p50 and p95 as the client measures them;
  - the peak RSS (VmHWM) of each gunicorn worker of `kb serve` after the searches, and
    of its background worker;
  - `kb reindex`: wall time, timed as a subprocess.
Before it starts, and again before each growth, it estimates the disk the largest size
takes (text bytes of the documents x DISK_FACTOR, or the footprint per document measured
so far, whichever is larger) and refuses to start when the file system has less free.
Baseline in the same run: the first size (1,555 by default); each larger size is printed
with its growth per 10x documents against it ((value / baseline) ** (1 / log10(size /
baseline size))): 10x for a figure that grows in proportion, 1x for a flat one.

    .venv/bin/python bench/capacity.py [--sizes 1555,15000,50000] [--queries N]
                                       [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import _common as c
import search as s

SIZES = (1555, 15_000, 50_000)
# Disk taken (index + database + stored files) per byte of imported text: 4.8 measured at
# 1,555 documents, 4.4 at 50,000 (2026-12-05), doubled for Whoosh's merges (a merge holds
# the old and new segments at once).
DISK_FACTOR = 9.0
RESULTS = "capacity.json"
VARIANTS = "variants"


@dataclass
class Figures:
    """What one size measured (kept in capacity.json)."""

    documents: int
    added: int
    import_s: float
    writer_mb: float
    importer_mb: float
    index_mb: float
    db_mb: float
    files_mb: float
    p50_ms: float
    p95_ms: float
    web_mb: list[float]
    bg_worker_mb: float
    reindex_s: float
    reindex_mb: float

    @property
    def rate(self) -> float:
        return self.added / self.import_s


def sizes_arg(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not sizes or sizes[0] < 2:
        raise argparse.ArgumentTypeError("sizes must be at least 2 documents")
    return sizes


def folder_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def footprint_mb(work: Path) -> tuple[float, float, float]:
    """Index, database (with its WAL) and stored files, in MB."""
    instance = work / c.INSTANCE_DIR
    database = sum(folder_mb(p) for p in instance.glob("kb.sqlite3*"))
    return folder_mb(instance / "index"), database, folder_mb(work / c.UPLOAD_DIR)


def document_count(work: Path) -> int:
    with sqlite3.connect(work / c.INSTANCE_DIR / "kb.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM document").fetchone()[0])


def check_disk(work: Path, speeches: Sequence[c.Speech], largest: int,
               measured_mb_per_doc: float) -> str:
    """Refuse (exit 1) when the file system lacks the space the largest size takes."""
    per_doc_mb = max(c.text_bytes(speeches) / len(speeches) * DISK_FACTOR / 2**20,
                     measured_mb_per_doc)
    have = document_count(work) if c.has_instance(work) else 0
    need_mb = per_doc_mb * (largest - have)
    free_mb = shutil.disk_usage(work).free / 2**20
    if free_mb < need_mb:
        c.fail(f"{largest:,} documents need about {need_mb:,.0f} MB more on {work} "
               f"({per_doc_mb:.3f} MB a document), and only {free_mb:,.0f} MB are free; "
               "free some space or give a --workdir on a larger file system.")
    return (f"{need_mb:,.0f} MB needed for {largest:,} documents ({per_doc_mb:.3f} MB a "
            f"document), {free_mb:,.0f} MB free")


def peak_of(tree: c.TreeMemory | None, prefix: str) -> float:
    """The largest own peak (VmHWM) of the sampled processes named ``prefix[...]``."""
    assert tree is not None
    return max((mb for name, mb in tree.peak_by_process.items() if name.startswith(prefix)),
               default=0.0)


def grow(work: Path, speeches: Sequence[c.Speech], have: int, size: int) -> c.Timed:
    """`kb import` of the documents that take the instance from ``have`` to ``size``."""
    if have == 0:  # the speeches themselves: the baseline size
        return c.import_speeches(work, speeches, f"import-{size}").timed
    extra = s.variants(speeches, size - len(speeches))[have - len(speeches):]
    folder = work / VARIANTS
    s.write_variants(folder, extra)
    timed = c.timed_kb(["import", str(folder), "--manifest", str(folder / "manifest.csv")],
                       c.instance_env(work), work, work / f"import-{size}")
    last = timed.stdout.strip().splitlines()[-1] if timed.stdout.strip() else ""
    if last != f"imported {len(extra)}, skipped 0 as duplicates, failed 0":
        c.fail(f"the import of {len(extra)} variants ended with {last!r}", timed.stdout)
    shutil.rmtree(folder)
    return timed


def searches(work: Path, queries: Sequence[s.Query],
             warmup: Sequence[s.Query]) -> tuple[list[float], list[float], float]:
    """Search latencies (ms) on `kb serve`; the web workers' and background worker's
    peak RSS (MB) after them."""
    os.sync()  # a collection just imported is measured settled
    with c.serving(work) as server:
        client = server.client()
        s.warm_up(server, warmup)
        latencies, _ = s.timed_runs(lambda q: s.kb_search(client, q), queries)
        client.close()
        web = sorted((c.hwm_mb(pid) for pid in server.web_workers()), reverse=True)
        bg = server.background_worker()
        return latencies, web, c.hwm_mb(bg) if bg else 0.0


def measure(work: Path, speeches: Sequence[c.Speech], have: int, size: int,
            warmup: Sequence[s.Query], queries: Sequence[s.Query]) -> Figures:
    timed = grow(work, speeches, have, size)
    if document_count(work) != size:
        c.fail(f"the instance holds {document_count(work)} documents, expected {size}")
    index_mb, db_mb, files_mb = footprint_mb(work)
    latencies, web, bg = searches(work, queries, warmup)
    reindex = c.timed_kb(["reindex"], c.instance_env(work), work, work / f"reindex-{size}")
    if reindex.stdout.strip() != f"Indexed {size} documents.":
        c.fail(f"kb reindex said {reindex.stdout.strip()!r}, expected {size} documents")
    return Figures(size, size - have, timed.seconds, peak_of(timed.tree, "kb-index"),
                   peak_of(timed.tree, "kb import"), index_mb, db_mb, files_mb,
                   c.percentile(latencies, 50), c.percentile(latencies, 95), web, bg,
                   reindex.seconds, reindex.peak_rss_mb)


def lines(f: Figures) -> list[tuple[str, str]]:
    n = f"{f.documents:,}"
    web = ", ".join(f"{mb:.0f}" for mb in f.web_mb)
    return [
        (f"{n}: import", f"{f.added:,} documents in {f.import_s:.1f} s = {f.rate:.1f} docs/s "
                         "(stored, extracted, indexed, ready)"),
        (f"{n}: import memory", f"index writer peak RSS {f.writer_mb:.0f} MB, importer "
                                f"{f.importer_mb:.0f} MB"),
        (f"{n}: disk", f"index {f.index_mb:.1f} MB, database {f.db_mb:.1f} MB, stored files "
                       f"{f.files_mb:.1f} MB"),
        (f"{n}: search", f"p50 {f.p50_ms:.1f} ms, p95 {f.p95_ms:.1f} ms (facets, snippets, "
                         "over HTTP)"),
        (f"{n}: serve memory", f"web workers' peak RSS {web} MB; background worker "
                               f"{f.bg_worker_mb:.0f} MB"),
        (f"{n}: kb reindex", f"{f.reindex_s:.1f} s, peak RSS {f.reindex_mb:.0f} MB"),
    ]


COLUMNS = ("documents", "import docs/s", "index MB", "database MB", "search p50 ms",
           "search p95 ms", "web worker peak MB", "writer peak MB", "kb reindex s")


def cells(f: Figures) -> list[float]:
    return [f.rate, f.index_mb, f.db_mb, f.p50_ms, f.p95_ms, max(f.web_mb, default=0.0),
            f.writer_mb, f.reindex_s]


def table(figures: Sequence[Figures]) -> str:
    """The markdown table of every size, and each larger one's growth per 10x documents."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for f in figures:
        out.append(f"| {f.documents:,} | " + " | ".join(f"{v:.1f}" for v in cells(f)) + " |")
    base = figures[0]
    for f in figures[1:]:
        decades = math.log10(f.documents / base.documents)
        ratios = [(v / b) ** (1 / decades) if b > 0 and v > 0 else math.nan
                  for v, b in zip(cells(f), cells(base), strict=True)]
        out.append(f"| per 10x, {base.documents:,} to {f.documents:,} | "
                   + " | ".join(f"{r:.2f}x" for r in ratios) + " |")
    return "\n".join(out)


def load(work: Path) -> dict[int, Figures]:
    path = work / RESULTS
    if not path.exists():
        return {}
    return {int(k): Figures(**v) for k, v in json.loads(path.read_text()).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes_arg, default=list(SIZES), metavar="N,N,...",
                        help="collection sizes, grown in turn; the smallest is the baseline "
                             "(default 1555,15000,50000)")
    parser.add_argument("--queries", type=int, default=s.QUERIES, metavar="N",
                        help=f"searches measured at each size (default {s.QUERIES})")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help="grow the instance in DIR and keep it with the figures of each "
                             "size, to grow it on in a later run (default: a fresh temporary "
                             "folder, removed at the end)")
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()

    with c.workdir(args.workdir) as work:
        done = load(work)
        have = document_count(work) if c.has_instance(work) else 0
        if have != max(done, default=0):
            c.fail(f"{work} holds {have} documents but its {RESULTS} records sizes "
                   f"{sorted(done)} (an import stopped half way?); use another --workdir")
        if have > args.sizes[0] and args.sizes[0] not in done:
            c.fail(f"{work} already holds {have} documents, more than --sizes "
                   f"{args.sizes[0]}; use another --workdir")
        # The first size is made of speeches (spread over the corpus), the others grow it
        # with variants of them.
        speeches = (c.read_manifest(work / c.CORPUS_DIR) if have
                    else c.unpack(work / c.CORPUS_DIR, args.sizes[0]))
        if len(speeches) != args.sizes[0]:
            c.fail(f"the first size must be the speeches themselves ({len(speeches)} at "
                   f"most here), not {args.sizes[0]}")
        disk = check_disk(work, speeches, args.sizes[-1], 0.0)
        queries = s.make_queries(speeches, s.WARMUP + args.queries)
        warmup, measured = queries[:s.WARMUP], queries[s.WARMUP:]
        rows = [("machine", c.machine_line()), ("code", c.code_line()),
                ("corpus", c.corpus_line(speeches, c.text_bytes(speeches), len(speeches))),
                ("disk", disk),
                ("queries", f"{len(measured)} a size after {len(warmup)} warm-up (seed "
                            f"{s.SEED}) on {s.WARMUP_CONNECTIONS} connections")]
        c.print_block("kb bench/capacity.py: one node's capacity", rows)
        figures = []
        for size in args.sizes:
            if size in done:
                figures.append(done[size])
                c.print_block(f"{size:,} documents (measured by an earlier run in {work})",
                              lines(done[size]))
                continue
            if size < have:
                c.fail(f"{work} already holds {have} documents, more than {size}")
            if have:
                index_mb, db_mb, files_mb = footprint_mb(work)
                check_disk(work, speeches, args.sizes[-1],
                           (index_mb + db_mb + files_mb) / have * 1.5)
            start = time.perf_counter()
            f = measure(work, speeches, have, size, warmup, measured)
            done[size], have = f, size
            (work / RESULTS).write_text(json.dumps({k: asdict(v) for k, v in done.items()}))
            figures.append(f)
            c.print_block(f"{size:,} documents (measured in {time.perf_counter() - start:.0f} "
                          "s)", lines(f))
        print(f"\nbaseline: {figures[0].documents:,} documents; 'per 10x' rows: growth per "
              "10x documents against it\n")
        print(table(figures))
        print(f"\n{c.machine_line()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

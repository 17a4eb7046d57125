"""Bulk-import benchmark: `kb import` of the UN General Debate speeches, end to end.

Unpacks the speeches, writes a manifest (country from the file name, year, type report),
creates a fresh instance with `kb init`, then times `kb import DIR --manifest CSV` as a
subprocess: stored, extracted, indexed and searchable (checked afterwards through the app).
Baseline in the same run: raw Whoosh indexing of the same texts (one TEXT field with a
StemmingAnalyzer plus an ID, one writer, one commit): the floor the pipeline cannot beat.

    .venv/bin/python bench/ingest.py [--limit N] [--workdir DIR]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import _common as c


def raw_whoosh(texts: Sequence[tuple[str, str]], index_dir: Path) -> float:
    """Seconds to index ``(id, text)`` pairs into a plain Whoosh schema in one commit."""
    from whoosh import fields, index
    from whoosh.analysis import StemmingAnalyzer

    schema = fields.Schema(id=fields.ID(stored=True),
                           body=fields.TEXT(analyzer=StemmingAnalyzer()))
    index_dir.mkdir(parents=True)
    start = time.perf_counter()
    ix = index.create_in(str(index_dir), schema)
    writer = ix.writer()
    for doc_id, text in texts:
        writer.add_document(id=doc_id, body=text)
    writer.commit()
    seconds = time.perf_counter() - start
    with ix.searcher() as s:
        if s.doc_count() != len(texts):
            c.fail(f"the raw Whoosh index holds {s.doc_count()} documents, not {len(texts)}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    args = c.base_parser(__doc__.splitlines()[0]).parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    with c.workdir(args.workdir) as work:
        imported = c.build_instance(work, args.limit)
        checked = c.verify_searchable(work, imported.speeches)
        n, mb = len(imported.speeches), imported.text_bytes / 1e6
        t = imported.timed

        texts = [(s.path.stem, s.text()) for s in imported.speeches]
        raw_s = raw_whoosh(texts, work / "raw-whoosh")

        pipe_dps, raw_dps = n / t.seconds, n / raw_s
        c.print_block("kb bench/ingest.py: `kb import` of UN General Debate speeches", [
            ("machine", c.machine_line()),
            ("corpus", c.corpus_line(imported.speeches, imported.text_bytes, args.limit)),
            ("kb import wall", f"{t.seconds:.1f} s (subprocess, end to end, "
                               f"--workers default = {os.cpu_count()})"),
            ("kb import rate", f"{pipe_dps:.1f} docs/s, {mb / t.seconds:.3f} MB/s"),
            ("kb import peak RSS", f"{t.peak_rss_mb:.0f} MB (largest single process of the "
                                   f"import; RUSAGE_CHILDREN {t.children_rss_mb:.0f} MB)"),
            ("kb import checked", checked),
            ("raw Whoosh wall", f"{raw_s:.1f} s (TEXT StemmingAnalyzer + ID, one writer, "
                                "one commit, texts in memory)"),
            ("raw Whoosh rate", f"{raw_dps:.1f} docs/s, {mb / raw_s:.3f} MB/s"),
            ("pipeline/raw", f"{pipe_dps / raw_dps:.2f} of the raw throughput "
                             f"(the import takes {t.seconds / raw_s:.1f}x the raw time)"),
        ])
    return 0


if __name__ == "__main__":
    sys.exit(main())

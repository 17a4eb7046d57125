"""Bulk-import benchmark: `kb import` of the UN General Debate speeches, end to end.

Two imports, each into a fresh instance and timed as a subprocess from start to exit:
every file stored, extracted, indexed, marked ready and searchable (checked afterwards
through the app):
  1. the speeches as text files (all 1,555 by default), with a manifest (country from the
     file name, year, type report);
  2. a subset (300 by default) typeset here as PDFs (reportlab), with the same manifest.
Memory: the peak of the summed RSS (and PSS) of every process of the import (the
importer, its extraction children, its index writer), sampled every 0.1 s, and the sum of
each process's own peak (VmHWM), an upper bound of the whole import's; CPU seconds by
process show which stage bounds the import.
Baselines in the same run, on the same texts:
  - raw Whoosh: one TEXT field (StemmingAnalyzer) and an ID, one writer, one commit, texts
    in memory, default settings: what indexing costs with nothing else to do;
  - kb's index alone: kb.search.write_records of the same texts in the importer's batches,
    in this process: what kb's schema costs, without storage, extraction or database;
  - for the PDFs: pypdf's extract_text of every page, then raw Whoosh, in one process.

    .venv/bin/python bench/ingest.py [--limit N] [--pdfs N] [--workdir DIR]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import _common as c

TARGET_SECONDS = 60.0  # all 1,555 text files searchable within this
TARGET_RATIO = 0.60  # pipeline throughput / raw Whoosh throughput, at least
TARGET_MEMORY_MB = 1024.0  # whole import, summed over its processes


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


def kb_index_alone(speeches: Sequence[c.Speech], index_dir: Path) -> tuple[float, int]:
    """Seconds to write the speeches with kb's own index code, in the importer's batches."""
    from kb import search
    from kb.importer import INDEX_BATCH

    records = [search.IndexRecord(
        doc_id=i, title=s.title, summary="", doc_type=c.DOC_TYPE, countries=(s.country,),
        agencies=(), themes=(), language="en", year=s.year, phase=None, access="public",
        created_ts=int(time.time()), pages=(s.text(),)) for i, s in enumerate(speeches, 1)]
    start = time.perf_counter()
    search.create(index_dir, fresh=True)
    for i in range(0, len(records), INDEX_BATCH):
        search.write_records(index_dir, records[i:i + INDEX_BATCH], 30.0)
    return time.perf_counter() - start, INDEX_BATCH


def raw_pdf(paths: Sequence[Path], index_dir: Path) -> tuple[float, int]:
    """Seconds to read every page with pypdf and index the texts with raw Whoosh; pages."""
    from pypdf import PdfReader

    start = time.perf_counter()
    texts, pages = [], 0
    for path in paths:
        reader = PdfReader(path)
        page_texts = [page.extract_text() for page in reader.pages]
        pages += len(page_texts)
        texts.append((path.stem, "\n\n".join(page_texts)))
    extracted = time.perf_counter() - start
    return extracted + raw_whoosh(texts, index_dir), pages


def import_rows(label: str, imported: c.Imported, checked: str) -> list[tuple[str, str]]:
    t = imported.timed
    n, mb = len(imported.speeches), imported.text_bytes / 1e6
    rows = [
        (f"{label}: kb import wall", f"{t.seconds:.1f} s (subprocess, end to end, "
                                     f"--workers default = {os.cpu_count()})"),
        (f"{label}: kb import rate", f"{n / t.seconds:.1f} docs/s, {mb / t.seconds:.3f} MB/s"),
    ]
    if t.tree is not None:
        # Not wait4's ru_maxrss: Linux counts in it the RSS the forking benchmark had.
        rows.append((f"{label}: kb import peak RSS",
                     f"{max(t.tree.peak_by_process.values()):.0f} MB (the largest single "
                     "process of the import, its VmHWM)"))
        rows.append((f"{label}: whole import memory", t.tree.describe()))
        rows.append((f"{label}: CPU by process", t.tree.describe_cpu()))
    rows.append((f"{label}: kb import checked", checked))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=300, metavar="N",
                        help="speeches to typeset as PDFs and import (default 300; 0: none)")
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    logging.disable(logging.WARNING)  # pypdf's font warnings are not figures
    with c.workdir(args.workdir) as work:
        imported = c.build_instance(work, args.limit)
        checked = c.verify_searchable(work, imported.speeches)
        speeches = imported.speeches
        n, mb = len(speeches), imported.text_bytes / 1e6
        t = imported.timed

        texts = [(s.path.stem, s.text()) for s in speeches]
        raw_s = raw_whoosh(texts, work / "raw-whoosh")
        alone_s, batch = kb_index_alone(speeches, work / "kb-index-alone")

        pipe_dps, raw_dps, alone_dps = n / t.seconds, n / raw_s, n / alone_s
        rows = [
            ("corpus", c.corpus_line(speeches, imported.text_bytes, args.limit)),
            *import_rows("text", imported, checked),
            ("raw Whoosh wall", f"{raw_s:.1f} s (TEXT StemmingAnalyzer + ID, one writer, "
                                "one commit, texts in memory)"),
            ("raw Whoosh rate", f"{raw_dps:.1f} docs/s, {mb / raw_s:.3f} MB/s"),
            ("kb index alone", f"{alone_s:.1f} s = {alone_dps:.1f} docs/s (kb.search."
                               f"write_records, batches of {batch}, one process, texts in "
                               "memory: kb's schema without storage, extraction or database)"),
            ("pipeline/raw", f"{pipe_dps / raw_dps:.2f} of the raw throughput "
                             f"(the import takes {t.seconds / raw_s:.1f}x the raw time)"),
            ("pipeline/kb index", f"{pipe_dps / alone_dps:.2f} of kb's own indexing "
                                  "throughput"),
        ]
        memory = t.tree.sum_of_peaks_mb if t.tree is not None else t.peak_rss_mb
        ratio = pipe_dps / raw_dps
        targets = [
            ("target: searchable", f"{n} text files searchable after {t.seconds:.1f} s; "
             + (c.verdict(t.seconds < TARGET_SECONDS, "< 60 s") if n >= 1555
                else "the < 60 s target is for all 1,555")),
            ("target: pipeline/raw", f"{ratio:.2f}; "
             + c.verdict(ratio >= TARGET_RATIO, f">= {TARGET_RATIO:.2f}")),
            ("target: memory", f"text import at most {memory:.0f} MB (sum of each process's "
                               "peak); "
             + c.verdict(memory < TARGET_MEMORY_MB, "< 1 GB, whole import")),
        ]

        if args.pdfs:
            from extract import speeches_as_pdfs

            subset = c.spread(speeches, min(args.pdfs, n))
            pdf_work = work / "pdf"
            pdf_dir = pdf_work / c.CORPUS_DIR
            pdf_dir.mkdir(parents=True)
            started = time.perf_counter()
            pdfs = speeches_as_pdfs(pdf_dir, subset)
            typeset_s = time.perf_counter() - started
            pdf_speeches = [c.Speech(path=p, country=s.country, session=s.session, year=s.year)
                            for p, s in zip(pdfs, subset, strict=True)]
            pdf_imported = c.import_speeches(pdf_work, pdf_speeches, "import-pdf")
            pdf_checked = c.verify_searchable(pdf_work, pdf_speeches, text_of=subset)
            raw_pdf_s, pages = raw_pdf(pdfs, work / "raw-pdf-whoosh")
            pt = pdf_imported.timed
            k = len(pdfs)
            rows += [
                ("pdf: corpus", f"{k} of the speeches typeset as PDFs, {pages} A4 pages "
                                f"({typeset_s:.1f} s with reportlab, not timed)"),
                *import_rows("pdf", pdf_imported, pdf_checked),
                ("pdf: kb import pages", f"{pages / pt.seconds:.1f} pages/s"),
                ("pdf: raw pypdf+Whoosh", f"{raw_pdf_s:.1f} s = {k / raw_pdf_s:.1f} docs/s, "
                                          f"{pages / raw_pdf_s:.1f} pages/s (extract_text of "
                                          "every page, then raw Whoosh, one process)"),
                ("pdf: pipeline/raw", f"{(k / pt.seconds) / (k / raw_pdf_s):.2f} of the raw "
                                      "throughput"),
            ]
            pdf_memory = pt.tree.sum_of_peaks_mb if pt.tree is not None else pt.peak_rss_mb
            targets.append(("target: pdf memory", f"PDF import at most {pdf_memory:.0f} MB; "
                            + c.verdict(pdf_memory < TARGET_MEMORY_MB, "< 1 GB, whole import")))
        rows += targets
        # Printed last-measured first: the load average covers the whole run.
        rows[:0] = [("machine", c.machine_line()), ("code", c.code_line())]
        c.print_block("kb bench/ingest.py: `kb import` of UN General Debate speeches", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Extraction speed and memory: kb's sandboxed extraction against plain in-process pypdf.

Over the shared PDF samples, and over UNGDC speeches turned into PDFs here (reportlab),
it prints pages per second and the peak memory of the extracting process, for kb's
sandbox (a child process with limits, as the worker and `kb import` use it) and for the
baseline: pypdf's extract_text in this process, no limits, no isolation.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import _common as common
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Paragraph, SimpleDocTemplate


def speeches_as_pdfs(target: Path, speeches: list[common.Speech]) -> list[Path]:
    """Each speech typeset as a PDF of A4 pages (plain paragraphs)."""
    style = getSampleStyleSheet()["BodyText"]
    out = []
    for speech in speeches:
        path = target / (speech.path.stem + ".pdf")
        story = [Paragraph(p.replace("&", "&amp;").replace("<", "&lt;"), style)
                 for p in speech.text().split("\n") if p.strip()]
        SimpleDocTemplate(str(path), pagesize=A4, leftMargin=2 * cm,
                          rightMargin=2 * cm).build(story)
        out.append(path)
    return out


def kb_sandbox(paths: list[Path]) -> tuple[int, float, float]:
    """Pages, seconds and the child's peak RSS (MB) through kb's sandbox."""
    from kb.services.isolation import Limits, Sandbox

    box = Sandbox(Limits())
    box.run(str(paths[0]), "application/pdf")  # start the child before timing
    started, pages = time.perf_counter(), 0
    for path in paths:
        pages += len(box.run(str(path), "application/pdf").pages)
    seconds = time.perf_counter() - started
    pid = box._proc.pid if box._proc is not None else None  # noqa: SLF001
    peak = 0.0
    if pid is not None:
        status = Path(f"/proc/{pid}/status").read_text()
        peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
    box.close()
    return pages, seconds, peak


def raw_pypdf(paths: list[Path]) -> tuple[int, float, float]:
    """Pages, seconds and this process's peak RSS growth (MB) with plain pypdf."""
    from pypdf import PdfReader

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, pages = time.perf_counter(), 0
    for path in paths:
        try:
            reader = PdfReader(path)
            if reader.is_encrypted:
                reader.decrypt("")
            for page in reader.pages:
                page.extract_text()
                pages += 1
        except Exception:  # the baseline reads what it can, like kb does
            continue
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return pages, seconds, after - before


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=300,
                        help="speeches to typeset as PDFs (default 300)")
    parser.add_argument("--samples", type=int, default=None,
                        help="use only the first N sample PDFs (default: all)")
    args = parser.parse_args()
    common.require_corpus()
    common.clean_environment()
    samples = sorted((common.CORPORA / "pdf-samples").rglob("*.pdf"))[: args.samples]
    import logging

    logging.disable(logging.WARNING)  # pypdf's font warnings are not figures
    with common.workdir(args.workdir) as work:
        speeches = common.unpack(work / common.CORPUS_DIR, args.limit or args.pdfs)
        pdf_dir = work / "pdfs"
        pdf_dir.mkdir(exist_ok=True)
        started = time.perf_counter()
        typeset = speeches_as_pdfs(pdf_dir, speeches[: args.pdfs])
        made = time.perf_counter() - started
        rows = [("machine", common.machine_line()),
                ("corpus", f"{len(samples)} sample PDFs; {len(typeset)} UNGDC speeches "
                           f"typeset as PDFs in {made:.1f} s")]
        for label, paths in (("samples", samples), ("speeches", typeset)):
            pages, seconds, peak = kb_sandbox(paths)
            base_pages, base_seconds, base_peak = raw_pypdf(paths)
            rows += [
                (f"{label}: kb sandbox", f"{pages} pages in {seconds:.1f} s = "
                                         f"{pages / seconds:.1f} pages/s, child peak RSS "
                                         f"{peak:.0f} MB"),
                (f"{label}: raw pypdf", f"{base_pages} pages in {base_seconds:.1f} s = "
                                        f"{base_pages / base_seconds:.1f} pages/s, peak RSS "
                                        f"growth {base_peak:.0f} MB"),
                (f"{label}: kb/raw", f"{(pages / seconds) / (base_pages / base_seconds):.2f} "
                                     "of the raw rate"),
            ]
        common.print_block("kb bench/extract.py: PDF extraction, sandboxed vs plain pypdf",
                           rows)


if __name__ == "__main__":
    sys.exit(main())

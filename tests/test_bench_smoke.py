"""The benchmarks run once at a tiny size and print their figures (so that they cannot rot)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPORA, UNGDC_TAR, need_corpora

BENCH = Path(__file__).resolve().parent.parent / "bench"
LIMIT = 30


def run_bench(script: str, workdir: Path, *extra: str) -> str:
    need_corpora(UNGDC_TAR)
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--limit", str(LIMIT), "--workdir", str(workdir),
         *extra],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def figure(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)} +: (.+)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


NUMBER = r"\d+(?:\.\d+)?"


def test_ingest_benchmark_prints_its_figures(tmp_path):
    out = run_bench("ingest.py", tmp_path)
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    assert re.match(rf"{NUMBER} s ", figure(out, "kb import wall"))
    assert re.match(rf"{NUMBER} docs/s, {NUMBER} MB/s", figure(out, "kb import rate"))
    assert re.match(rf"{NUMBER} MB ", figure(out, "kb import peak RSS"))
    assert figure(out, "kb import checked").startswith(f"{LIMIT} ready, {LIMIT} files stored")
    assert re.match(rf"{NUMBER} docs/s, {NUMBER} MB/s", figure(out, "raw Whoosh rate"))
    assert re.match(rf"{NUMBER} of the raw throughput", figure(out, "pipeline/raw"))


def test_search_benchmark_prints_its_figures(tmp_path):
    out = run_bench("search.py", tmp_path)
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    assert figure(out, "queries").startswith("200 after 10 warm-up")
    latency = rf"p50 {NUMBER} ms, p95 {NUMBER} ms, max {NUMBER} ms"
    assert re.match(latency, figure(out, "kb latency"))
    assert re.match(NUMBER, figure(out, "kb mean total hits"))
    assert re.match(latency, figure(out, "FTS5 latency"))
    assert re.match(NUMBER, figure(out, "FTS5 mean total hits"))
    assert re.match(rf"p50 {NUMBER}x, p95 {NUMBER}x", figure(out, "kb/FTS5"))


def test_extract_benchmark_prints_its_figures(tmp_path):
    out = run_bench("extract.py", tmp_path, "--pdfs", "4", "--samples", "4")
    assert re.match(r"nproc \d+", figure(out, "machine"))
    assert "4 UNGDC speeches typeset" in figure(out, "corpus")
    for label in ("samples", "speeches"):
        assert re.match(rf"\d+ pages in {NUMBER} s = {NUMBER} pages/s, child peak RSS "
                        rf"{NUMBER} MB", figure(out, f"{label}: kb sandbox"))
        assert re.match(rf"\d+ pages in {NUMBER} s = {NUMBER} pages/s",
                        figure(out, f"{label}: raw pypdf"))
        assert re.match(rf"{NUMBER} of the raw rate", figure(out, f"{label}: kb/raw"))


def test_relevance_benchmark_prints_its_figures(tmp_path):
    need_corpora(CORPORA / "cisi" / "CISI.ALL")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "relevance.py"), "--queries", "5", "--workdir",
         str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"relevance.py failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert "1460 documents" in figure(out, "corpus")
    assert "5 judged queries" in figure(out, "corpus")
    scores = rf"nDCG@10 {NUMBER}, MAP@100 {NUMBER}, recall@100 {NUMBER}"
    for label in ("kb (product)", "Whoosh default (reference)", "FTS5 baseline"):
        assert re.match(scores, figure(out, label))
    assert re.match(rf"{NUMBER} s", figure(out, "kb index time"))

"""The benchmarks run once at a tiny size and print their figures (so that they cannot rot)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPORA, UNGDC_TAR, need_corpora

BENCH = Path(__file__).resolve().parent.parent / "bench"
LIMIT = 8  # speeches


def run_bench(script: str, workdir: Path, *extra: str, limit: int | None = LIMIT) -> str:
    need_corpora(UNGDC_TAR)
    sizes = ["--limit", str(limit)] if limit else []
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *sizes, "--workdir", str(workdir), *extra],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def figure(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)} +: (.+)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


NUMBER = r"\d+(?:\.\d+)?"
LATENCY = rf"p50 {NUMBER} ms, p95 {NUMBER} ms, max {NUMBER} ms, mean {NUMBER} ms"
VERDICT = r"target .+: (met|NOT MET)"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """bench/ingest.py run once: its workdir (an instance of LIMIT speeches) and output."""
    work = tmp_path_factory.mktemp("ingest")
    return work, run_bench("ingest.py", work, "--pdfs", "2")


@pytest.fixture
def instance(ingested: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the ingest benchmark's instance, for a benchmark that reuses one."""
    for name in ("instance", "uploads", "ungdc"):
        shutil.copytree(ingested[0] / name, tmp_path / name)
    return tmp_path


def test_ingest_benchmark_prints_its_figures(ingested):
    out = ingested[1]
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    for kind, n in (("text", LIMIT), ("pdf", 2)):
        assert re.match(rf"{NUMBER} s ", figure(out, f"{kind}: kb import wall"))
        assert re.match(rf"{NUMBER} docs/s, {NUMBER} MB/s", figure(out, f"{kind}: kb import rate"))
        assert re.match(rf"{NUMBER} MB ", figure(out, f"{kind}: kb import peak RSS"))
        assert re.match(rf"{NUMBER} MB RSS \({NUMBER} MB PSS\) at peak, summed over the \d+ "
                        "processes", figure(out, f"{kind}: whole import memory"))
        assert figure(out, f"{kind}: kb import checked").startswith(f"{n} ready, {n} files stored")
    assert re.match(rf"{NUMBER} docs/s, {NUMBER} MB/s", figure(out, "raw Whoosh rate"))
    assert re.match(rf"{NUMBER} s = {NUMBER} docs/s", figure(out, "kb index alone"))
    assert re.match(rf"{NUMBER} of the raw throughput", figure(out, "pipeline/raw"))
    assert re.match(rf"{NUMBER} s = {NUMBER} docs/s, {NUMBER} pages/s",
                    figure(out, "pdf: raw pypdf+Whoosh"))
    for label in ("searchable", "pipeline/raw", "memory", "pdf memory"):
        assert re.search(r"(met|NOT MET)$|the < 60 s target is for all",
                         figure(out, f"target: {label}"))


def test_search_benchmark_prints_its_figures(instance):
    out = run_bench("search.py", instance, "--docs", str(2 * LIMIT), "--queries", "20")
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    assert figure(out, "queries").startswith("20 after 10 warm-up")
    assert figure(out, "small: collection") == f"{LIMIT} documents, instance reused from " \
                                               f"--workdir {instance}"
    assert figure(out, "large: collection").startswith(
        f"{2 * LIMIT} documents: the {LIMIT} speeches' instance copied, then `kb import` of "
        f"{LIMIT} variants")
    for size in ("small", "large"):
        assert "`kb serve` subprocess on http://127.0.0.1:" in figure(out, f"{size}: server")
        assert re.match(LATENCY, figure(out, f"{size}: kb latency"))
        assert re.match(NUMBER, figure(out, f"{size}: kb mean total hits"))
        assert re.match(LATENCY, figure(out, f"{size}: FTS5 latency"))
        assert re.match(NUMBER, figure(out, f"{size}: FTS5 mean total hits"))
        assert re.match(rf"p50 {NUMBER}x, p95 {NUMBER}x", figure(out, f"{size}: kb/FTS5"))
        assert re.match(VERDICT, figure(out, f"{size}: target"))


def test_load_benchmark_prints_its_figures(instance):
    out = run_bench("load.py", instance, "--clients", "2", "--seconds", "2",
                    "--import-docs", str(LIMIT))
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    for phase in ("baseline", "under import"):
        assert re.match(rf"{NUMBER} requests/s", figure(out, f"{phase}: throughput"))
        assert re.match(LATENCY, figure(out, f"{phase}: latency"))
        assert figure(out, f"{phase}: errors").startswith("0;")
        assert re.match(rf"kb serve {NUMBER} cores \({NUMBER} ms a request\)",
                        figure(out, f"{phase}: CPU"))
    assert figure(out, "import").startswith(f"`kb import` of {LIMIT} variants")
    assert re.match(VERDICT, figure(out, "target"))


def test_memory_benchmark_prints_its_figures(tmp_path):
    out = run_bench("memory.py", tmp_path, "--mb", "2", limit=2)
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    for label in ("1 MB upload (baseline)", "2 MB multipart upload", "2 MB raw-body upload"):
        assert re.match(rf"server growth {NUMBER} MB; ", figure(out, label))
    assert re.match(rf"server growth {NUMBER} MB; .*SHA-256 checked",
                    figure(out, "2 MB download"))
    assert re.match(VERDICT, figure(out, "target"))


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


def test_hidden_404_benchmark_prints_its_figures(tmp_path):
    """No corpus needed: it builds its own instance."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "hidden_404.py"), "--requests", "5", "--docs", "6",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"hidden_404.py failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert figure(out, "instance").startswith("6 documents")
    for who in ("anonymous", "reader (token)"):
        for way in ("page", "API", "download", "similar"):
            for kind in ("missing id", "hidden"):
                assert re.match(LATENCY, figure(out, f"{who}, {way}: {kind}"))
            assert re.match(rf"p50 {NUMBER}x, p95 {NUMBER}x; same SQL statements: yes",
                            figure(out, f"{who}, {way}: hidden/missing"))


def test_backup_benchmark_prints_its_figures(instance):
    out = run_bench("backup.py", instance)
    assert re.match(rf"{NUMBER} s, {NUMBER} MB in \d+ files", figure(out, "backup: first"))
    assert "(0 new, 0.0 MB copied)" in figure(out, "backup: second")
    assert f"{LIMIT} documents, {LIMIT} stored files, {LIMIT} indexed" in figure(out, "restore")
    assert re.match(rf"{NUMBER} s for instance/", figure(out, "baseline: plain copy"))


def test_search_bounds_benchmark_prints_its_figures(instance):
    out = run_bench("search_bounds.py", instance, "--repeat", "2")
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    assert re.match(LATENCY, figure(out, "ordinary"))
    assert re.match(LATENCY + rf", p50 {NUMBER}x ordinary; 200 capped edit_distance 9->2",
                    figure(out, "fuzzy word~9 (capped to 2)"))
    for label in ("refused: query too long", "refused: too many clauses", "refused: too deep",
                  "refused: leading wildcard", "refused: too many fuzzy words",
                  "refused: one-letter prefix", "refused: page too deep",
                  "refused: huge year"):
        assert re.match(LATENCY + rf", p50 {NUMBER}x ordinary; 400 ", figure(out, label))
    assert re.match(VERDICT, figure(out, "target"))


def test_oai_harvest_benchmark_prints_its_figures(instance):
    out = run_bench("oai_harvest.py", instance, "--repeat", "1")
    assert f"{LIMIT} speeches" in figure(out, "corpus")
    for label in ("ListRecords oai_dc", "ListRecords mods", "ListIdentifiers",
                  "GET /sitemap.xml", "baseline: /api/v1/search pages"):
        assert re.match(rf"{LIMIT} records in 1 answer: {NUMBER} s \(median of 1\), "
                        rf"{NUMBER} ms an answer", figure(out, label)), label


def test_capacity_benchmark_prints_its_figures(tmp_path):
    out = run_bench("capacity.py", tmp_path, "--sizes", "6,12", "--queries", "5", limit=None)
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert "6 speeches" in figure(out, "corpus")
    assert re.match(rf"{NUMBER} MB needed for 12 documents", figure(out, "disk"))
    for size, added in ((6, 6), (12, 6)):
        assert re.match(rf"{added} documents in {NUMBER} s = {NUMBER} docs/s",
                        figure(out, f"{size}: import"))
        assert re.match(r"index writer peak RSS [1-9]\d* MB, importer [1-9]\d* MB",
                        figure(out, f"{size}: import memory"))
        assert re.match(rf"index {NUMBER} MB, database {NUMBER} MB, stored files {NUMBER} MB",
                        figure(out, f"{size}: disk"))
        assert re.match(rf"p50 {NUMBER} ms, p95 {NUMBER} ms", figure(out, f"{size}: search"))
        assert re.match(r"web workers' peak RSS [1-9]\d*(, [1-9]\d*)* MB; background worker "
                        r"[1-9]\d* MB", figure(out, f"{size}: serve memory"))
        assert re.match(rf"{NUMBER} s, peak RSS [1-9]\d* MB", figure(out, f"{size}: kb reindex"))
    cell = rf"{NUMBER}"
    assert re.search(rf"^\| 6 \|( {cell} \|){{8}}$", out, re.MULTILINE), out
    assert re.search(rf"^\| 12 \|( {cell} \|){{8}}$", out, re.MULTILINE), out
    assert re.search(rf"^\| per 10x, 6 to 12 \|( {cell}x \|){{8}}$", out, re.MULTILINE), out
    # A second run over the same --workdir reuses the instance and the figures measured.
    again = run_bench("capacity.py", tmp_path, "--sizes", "6,12", "--queries", "5",
                      limit=None)
    assert "12 documents (measured by an earlier run in " in again
    assert figure(again, "12: search") == figure(out, "12: search")

def test_capacity_benchmark_refuses_without_the_disk(tmp_path):
    need_corpora(UNGDC_TAR)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "capacity.py"), "--sizes", "6,1000000000000",
         "--workdir", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert "only" in proc.stderr and "MB are free" in proc.stderr, proc.stderr
    assert not (tmp_path / "instance").exists()


def test_interleave_prints_both_sides_medians(instance):
    repo = BENCH.parent
    if not (repo / ".venv" / "bin" / "python").exists():
        pytest.skip("bench/interleave.py runs each checkout's own .venv: none in this checkout")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "interleave.py"), "--before", str(repo), "--after",
         str(repo), "--workdir", str(instance), "--runs", "1", "--",
         "bench/search.py", "--limit", str(LIMIT), "--docs", "0", "--queries", "10"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"interleave.py failed:\n{proc.stdout}\n{proc.stderr}"
    assert "--- run 1/1: before" in proc.stdout and "--- run 1/1: after" in proc.stdout
    line = rf"small: before p50 {NUMBER} / p95 {NUMBER} ms \(p95 spread 0%\) after p50 " \
           rf"{NUMBER} / p95 {NUMBER} ms \(p95 spread 0%\); p95 after/before [+-]{NUMBER}%"
    assert re.search(line, proc.stdout), proc.stdout

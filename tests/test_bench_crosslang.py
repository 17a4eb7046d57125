"""The cross-language benchmark runs once at a tiny size and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPORA, UNGDC_TAR, need_corpora

BENCH = Path(__file__).resolve().parent.parent / "bench"
DOCS = 12
LABELS = 5
NUMBER = r"\d+(?:\.\d+)?"


def figure(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)} +: (.+)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


def test_crosslang_benchmark_prints_its_figures(tmp_path):
    need_corpora(UNGDC_TAR)
    need_corpora(CORPORA / "unbis" / "unbis-labels.tsv")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "crosslang.py"), "--docs", str(DOCS), "--labels",
         str(LABELS), "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, f"crosslang.py failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert f"{DOCS} speeches (--docs {DOCS})" in figure(out, "corpus")
    assert "7,121 concepts" in figure(out, "thesaurus")
    assert figure(out, "labels tested").startswith(f"{LABELS} (--labels {LABELS})")
    rate = rf"\d+/{LABELS} = {NUMBER}%"
    assert re.match(rate, figure(out, "with expansion"))
    assert re.match(rate, figure(out, "without expansion"))
    assert re.match(rf"\d+ of {LABELS} Spanish labels", figure(out, "no expansion"))
    assert re.match(r"\d+ with expansion, \d+ without", figure(out, "found nothing"))
    latency = rf"p50 {NUMBER} ms, p95 {NUMBER} ms, max {NUMBER} ms"
    assert re.match(latency, figure(out, "latency with"))
    assert re.match(latency, figure(out, "latency without"))
    assert figure(out, "failure causes")

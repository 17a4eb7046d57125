"""The suggestion benchmark runs once on 3 labelled documents and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPORA, UNGDC_TAR, need_corpora

BENCH = Path(__file__).resolve().parent.parent / "bench"
FIGURES = r"P \d\.\d\d  R \d\.\d\d  F1 \d\.\d\d  \(tp \d+, fp \d+, fn \d+\)"


def figure(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)} +: (.+)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


def test_suggest_benchmark_prints_its_figures():
    need_corpora(UNGDC_TAR)
    need_corpora(CORPORA / "unbis" / "unbis-labels.tsv")
    proc = subprocess.run([sys.executable, str(BENCH / "suggest.py"), "--limit", "3"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"suggest.py failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    assert re.match(r"nproc \d+, \w+ 3\.\d+", figure(out, "machine"))
    assert figure(out, "documents").startswith("3 hand-labelled")
    assert re.match(r"33 codes, \d+ phrases", figure(out, "rules"))
    for name in ("rules", "baseline"):
        for part in ("all", "gcm", "sdg"):
            assert re.fullmatch(FIGURES, figure(out, f"{name}: {part}"))
        assert re.match(FIGURES, figure(out, f"{name}: language en"))
    assert re.fullmatch(FIGURES, figure(out, "rules at threshold 1.0"))
    assert re.match(r"\d+ with a suggestion not in their labels", figure(out, "documents wrong"))
    assert re.fullmatch(r"\d+\.\d docs/s \(the rules alone\), \d+\.\d docs/s with extraction",
                        figure(out, "speed"))

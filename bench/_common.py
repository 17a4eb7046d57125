"""Helpers shared by the benchmarks: the corpus, a fresh kb instance, timing and printing.

The benchmarks read the UN General Debate speeches from ``../shared/corpora`` (beside the
repository) and exit 0 with a message where that folder is absent.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO.parent / "shared" / "corpora"
UNGDC_TAR = CORPORA / "ungdc-2011-2018.tar.gz"
UNGDC_FOLDER = "ungdc-2011-2018"  # the folder inside the archive
MANIFEST_COLUMNS = ("file", "title", "countries", "year", "type")
DOC_TYPE = "report"

# Folders a benchmark creates inside its workdir.
CORPUS_DIR = "ungdc"
INSTANCE_DIR = "instance"
UPLOAD_DIR = "uploads"

START_LOAD = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

if str(REPO) not in sys.path:  # `python bench/x.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Speech:
    """One speech of the corpus: ``ISO3_SESSION_YEAR.txt``."""

    path: Path
    country: str
    session: int
    year: int

    @property
    def title(self) -> str:
        return f"{self.country}: General Debate, session {self.session} ({self.year})"

    def text(self) -> str:
        """The text as kb extracts it (UTF-8, BOM dropped, CRLF as LF)."""
        return self.path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")


def parse_name(path: Path) -> Speech:
    country, session, year = path.stem.split("_")
    return Speech(path=path, country=country, session=int(session), year=int(year))


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only N speeches, spread evenly over the corpus (default: all)")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a fresh temporary folder, "
                             "removed at the end)")
    return parser


def require_corpus() -> None:
    """Exit 0 with a message where the shared corpora are not beside the repository."""
    if not CORPORA.is_dir() or not UNGDC_TAR.is_file():
        print(f"skipped: {UNGDC_TAR} is absent (the shared corpora live in ../shared/corpora "
              "beside the repository, only on the team's machines); nothing was measured.")
        sys.exit(0)


def clean_environment() -> None:
    """Forget any KB_* settings of the caller: the benchmark must not touch a real instance."""
    for name in [n for n in os.environ if n.startswith("KB_")]:
        del os.environ[name]


@contextmanager
def workdir(given: Path | None) -> Iterator[Path]:
    """The given folder (created, kept) or a fresh temporary one (removed at the end)."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given.resolve()
        return
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _spread(items: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` items evenly spaced over ``items`` (all of them without a limit)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise SystemExit("--limit must be at least 1")
    return [items[i * len(items) // limit] for i in range(limit)]


def unpack(target: Path, limit: int | None) -> list[Speech]:
    """Unpack the chosen speeches into ``target`` (replacing what was there)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(UNGDC_TAR) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".txt")]
        chosen = {id(m) for m in _spread(sorted(members, key=lambda m: m.name), limit)}
        # In archive order: seeking backwards in a gzip stream decompresses it again.
        wanted = [m for m in members if id(m) in chosen]
        for member in wanted:
            member.name = Path(member.name).name  # flat: target/ISO3_SESSION_YEAR.txt
        kwargs: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(target, members=wanted, **kwargs)
    return sorted((parse_name(target / m.name) for m in wanted), key=lambda s: s.path.name)


def write_manifest(folder: Path, speeches: Sequence[Speech]) -> Path:
    manifest = folder / "manifest.csv"
    with manifest.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(MANIFEST_COLUMNS)
        for s in speeches:
            out.writerow([s.path.name, s.title, s.country, s.year, DOC_TYPE])
    return manifest


def read_manifest(folder: Path) -> list[Speech]:
    """The speeches a previous run unpacked and listed in ``folder/manifest.csv``."""
    with (folder / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        return [parse_name(folder / row["file"]) for row in csv.DictReader(fh)]


def kb_exe() -> Path:
    return Path(sys.executable).parent / "kb"


def instance_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_INSTANCE_DIR"] = str(work / INSTANCE_DIR)
    env["KB_UPLOAD_DIR"] = str(work / UPLOAD_DIR)
    return env


def app_config(work: Path) -> dict[str, Any]:
    """``create_app`` settings of the benchmark's instance."""
    return {"INSTANCE_DIR": str(work / INSTANCE_DIR), "UPLOAD_DIR": str(work / UPLOAD_DIR)}


def has_instance(work: Path) -> bool:
    return (work / INSTANCE_DIR / "kb.sqlite3").exists()


def fail(message: str, *details: str) -> None:
    print(f"FAILED: {message}", file=sys.stderr)
    for d in details:
        if d.strip():
            print(d.rstrip(), file=sys.stderr)
    sys.exit(1)


def run_kb(args: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    """Run a `kb` subcommand to completion; its stdout (any failure ends the benchmark)."""
    proc = subprocess.run([str(kb_exe()), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        fail(f"kb {' '.join(args)} exited with {proc.returncode}", proc.stdout, proc.stderr)
    return proc.stdout


@dataclass(frozen=True)
class Timed:
    seconds: float
    stdout: str
    peak_rss_mb: float  # of the process and the children it reaped (wait4 ru_maxrss)
    children_rss_mb: float  # getrusage(RUSAGE_CHILDREN).ru_maxrss after it ended


def _rss_mb(maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def timed_kb(args: Sequence[str], env: dict[str, str], cwd: Path, logs: Path) -> Timed:
    """Run a `kb` subcommand, timing it end to end and reading its peak RSS."""
    out_path, err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(kb_exe()), *args], env=env, cwd=cwd, stdout=out,
                                stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        fail(f"kb {' '.join(args)} exited with {proc.returncode}", stdout,
             err_path.read_text(encoding="utf-8", errors="replace")[-4000:])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Timed(seconds, stdout, _rss_mb(usage.ru_maxrss), _rss_mb(children))


@dataclass(frozen=True)
class Imported:
    speeches: list[Speech]
    manifest: Path
    timed: Timed
    text_bytes: int


def text_bytes(speeches: Sequence[Speech]) -> int:
    return sum(len(s.text().encode("utf-8")) for s in speeches)


def build_instance(work: Path, limit: int | None) -> Imported:
    """Unpack the speeches, write the manifest, `kb init`, then time `kb import`."""
    if has_instance(work) or (work / UPLOAD_DIR).exists():
        fail(f"{work} already holds a kb instance; give a new or empty --workdir.")
    corpus = work / CORPUS_DIR
    speeches = unpack(corpus, limit)
    manifest = write_manifest(corpus, speeches)
    env = instance_env(work)
    run_kb(["init"], env, work)
    timed = timed_kb(["import", str(corpus), "--manifest", str(manifest)], env, work,
                     work / "import")
    last = timed.stdout.strip().splitlines()[-1] if timed.stdout.strip() else ""
    expected = f"imported {len(speeches)}, skipped 0 as duplicates, failed 0"
    if last != expected:
        fail(f"kb import ended with {last!r}, expected {expected!r}", timed.stdout)
    return Imported(speeches, manifest, timed, text_bytes(speeches))


def most_common_word(speeches: Sequence[Speech]) -> tuple[str, int]:
    """The word of 5+ letters held by the most speeches, and by how many."""
    df: Counter[str] = Counter()
    for s in speeches:
        df.update(set(re.findall(r"[a-z]{5,}", s.text().lower())))
    for word in ("their", "which", "there", "these", "would", "about", "other"):
        df.pop(word, None)  # not in Whoosh's stop list, but say little
    return min(df.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: alphabetical


def verify_searchable(work: Path, speeches: Sequence[Speech]) -> str:
    """Check through the app that every speech is stored, ready and found; a summary."""
    from sqlalchemy import func, select

    from kb import create_app
    from kb.extensions import db
    from kb.models import Document

    n = len(speeches)
    word, holding = most_common_word(speeches)
    app = create_app(app_config(work))
    try:
        with app.app_context():
            statuses = dict(db.session.execute(
                select(Document.status, func.count()).group_by(Document.status)).all())
        if statuses != {"ready": n}:
            fail(f"document statuses are {statuses}, expected {{'ready': {n}}}")
        blobs = [p for p in (work / UPLOAD_DIR).rglob("*")
                 if p.is_file() and "tmp" not in p.relative_to(work / UPLOAD_DIR).parts]
        if len(blobs) != n:
            fail(f"{len(blobs)} files in the store, expected {n}")
        client = app.test_client()
        totals = {}
        for q in ("", word):
            res = client.get("/api/v1/search", query_string={"q": q, "per_page": 10})
            if res.status_code != 200:
                fail(f"search {q!r} answered {res.status_code}", res.get_data(as_text=True))
            totals[q] = res.get_json()["total"]
    finally:
        with app.app_context():
            db.engine.dispose()
    if totals[""] != n:
        fail(f"an empty search finds {totals['']} documents, expected all {n}")
    # Stemming may match more speeches than those holding the exact word, never fewer.
    if not holding <= totals[word] <= n:
        fail(f"q={word!r} finds {totals[word]} documents; {holding} hold the word")
    return (f"{n} ready, {n} files stored; q='' finds {totals['']}, q={word!r} finds "
            f"{totals[word]} ({holding} hold the exact word)")


def machine_line() -> str:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    load = ""
    if START_LOAD is not None:  # other work on the machine skews every figure: say so
        load = f", load avg (1 min) {START_LOAD:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    return (f"nproc {usable}, {platform.python_implementation()} {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}{load}")


def corpus_line(speeches: Sequence[Speech], nbytes: int, limit: int | None) -> str:
    years = sorted({s.year for s in speeches})
    countries = len({s.country for s in speeches})
    scope = "all" if limit is None or limit >= 1555 else f"--limit {limit}"
    return (f"UNGDC {years[0]}-{years[-1]}, {len(speeches)} speeches ({scope}), "
            f"{countries} countries, {nbytes / 1e6:.2f} MB of text (UTF-8)")


def print_block(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """A pasteable block of figures: ``label : value`` lines between rulers."""
    width = max(len(label) for label, _ in rows)
    ruler = "=" * 78
    print(ruler)
    print(title)
    print("-" * 78)
    for label, value in rows:
        print(f"{label.ljust(width)} : {value}")
    print(ruler, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]

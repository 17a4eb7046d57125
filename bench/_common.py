"""Helpers shared by the benchmarks: the corpus, a fresh kb instance, timing and printing.

The benchmarks read the UN General Debate speeches from ``../shared/corpora`` (beside the
repository) and exit 0 with a message where that folder is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import math
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
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


def spread(items: Sequence[Any], limit: int | None) -> list[Any]:
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
        chosen = {id(m) for m in spread(sorted(members, key=lambda m: m.name), limit)}
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
    # Of the process and the children it reaped (wait4 ru_maxrss); on Linux it includes
    # the RSS of the parent that forked it (a large benchmark process inflates it).
    peak_rss_mb: float
    children_rss_mb: float  # getrusage(RUSAGE_CHILDREN).ru_maxrss after it ended
    tree: TreeMemory | None = None  # the whole process tree, sampled


def _rss_mb(maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def timed_kb(args: Sequence[str], env: dict[str, str], cwd: Path, logs: Path) -> Timed:
    """Run a `kb` subcommand, timing it end to end and reading its peak RSS (that of the
    main process exactly, that of its whole process tree by sampling)."""
    out_path, err_path = logs.with_suffix(".out"), logs.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(kb_exe()), *args], env=env, cwd=cwd, stdout=out,
                                stderr=err)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        tree = sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = out_path.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        fail(f"kb {' '.join(args)} exited with {proc.returncode}", stdout,
             err_path.read_text(encoding="utf-8", errors="replace")[-4000:])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Timed(seconds, stdout, _rss_mb(usage.ru_maxrss), _rss_mb(children), tree)


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
    speeches = unpack(work / CORPUS_DIR, limit)
    return import_speeches(work, speeches, "import")


def import_speeches(work: Path, speeches: Sequence[Speech], log_name: str) -> Imported:
    """`kb init` an instance in ``work``, then time `kb import` of the speeches' files
    (which must all lie in one folder) with a manifest; every one must be imported."""
    corpus = speeches[0].path.parent
    manifest = write_manifest(corpus, speeches)
    env = instance_env(work)
    run_kb(["init"], env, work)
    timed = timed_kb(["import", str(corpus), "--manifest", str(manifest)], env, work,
                     work / log_name)
    last = timed.stdout.strip().splitlines()[-1] if timed.stdout.strip() else ""
    expected = f"imported {len(speeches)}, skipped 0 as duplicates, failed 0"
    if last != expected:
        fail(f"kb import ended with {last!r}, expected {expected!r}", timed.stdout)
    nbytes = sum(p.stat().st_size for p in {s.path for s in speeches})
    if all(s.path.suffix == ".txt" for s in speeches):
        nbytes = text_bytes(speeches)
    return Imported(list(speeches), manifest, timed, nbytes)


def prepare_instance(work: Path, limit: int | None) -> tuple[list[Speech], str]:
    """The instance's speeches: built now, or those of a previous run in ``work``."""
    if has_instance(work):
        speeches = read_manifest(work / CORPUS_DIR)
        if limit is not None and limit != len(speeches):
            fail(f"{work} holds an instance of {len(speeches)} speeches, not --limit {limit}; "
                 "use another --workdir")
        return speeches, f"reused from --workdir {work}"
    imported = build_instance(work, limit)
    verify_searchable(work, imported.speeches)
    return imported.speeches, f"built now with `kb import` ({imported.timed.seconds:.1f} s)"


def verdict(met: bool, target: str) -> str:
    return f"target {target}: {'met' if met else 'NOT MET'}"


def most_common_word(speeches: Sequence[Speech]) -> tuple[str, int]:
    """The word of 5+ letters held by the most speeches, and by how many."""
    from whoosh.analysis import STOP_WORDS

    try:  # kb's English stop words (Snowball's list), which its search ignores
        from kb.search import STOP_WORDS as KB_STOP_WORDS

        stop = set(STOP_WORDS) | set(KB_STOP_WORDS.get("en", ()))
    except ImportError:
        stop = set(STOP_WORDS)
    df: Counter[str] = Counter()
    for s in speeches:
        df.update(set(re.findall(r"[a-z]{5,}", s.text().lower())))
    for word in stop | {"their", "which", "there", "these", "would", "about", "other"}:
        df.pop(word, None)  # words that say little
    return min(df.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: alphabetical


def verify_searchable(work: Path, speeches: Sequence[Speech],
                      text_of: Sequence[Speech] | None = None) -> str:
    """Check through the app that every speech is stored, ready and found; a summary.

    ``text_of``: the speeches as text, where ``speeches`` are files of another format.
    """
    from sqlalchemy import func, select

    from kb import create_app
    from kb.extensions import db
    from kb.models import Document

    n = len(speeches)
    word, holding = most_common_word(text_of or speeches)
    app = create_app(app_config(work))
    try:
        with app.app_context():
            statuses = dict(db.session.execute(
                select(Document.status, func.count()).group_by(Document.status)).all())
        if statuses != {"ready": n}:
            fail(f"document statuses are {statuses}, expected {{'ready': {n}}}")
        # The documents' own files: not the work folder, nor PDFs' first-page thumbnails.
        blobs = [p for p in (work / UPLOAD_DIR).rglob("*")
                 if p.is_file() and not {"tmp", "thumbs", "pending"}
                 & set(p.relative_to(work / UPLOAD_DIR).parts)]
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


def code_line() -> str:
    """The commit measured, and whether the working tree differs from it (kb/ and bench/)."""
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("log", "-1", "--format=%h %s")
    if not commit:
        return "not a git checkout"
    changed = [line for line in git("status", "--porcelain", "--", "kb", "bench").splitlines()
               if line.strip()]
    return f"{commit[:70]}" + (f" (+ {len(changed)} uncommitted files in kb/, bench/)"
                               if changed else "")


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


# --- processes and their memory (Linux /proc) ------------------------------------------------

def _proc_kb(pid: int, key: str, name: str = "status") -> int:
    """A figure in kB from ``/proc/PID/<name>`` (status: VmRSS, VmHWM; smaps_rollup: Pss);
    0 for a process already gone."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_mb(pid: int) -> float:
    return _proc_kb(pid, "VmRSS") / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size: RSS with each shared page divided among its sharers, so that
    the sum over processes counts shared libraries once."""
    return _proc_kb(pid, "Pss", "smaps_rollup") / 1024


def hwm_mb(pid: int) -> float:
    """Peak resident memory of a process since it started or since ``reset_hwm``."""
    return _proc_kb(pid, "VmHWM") / 1024


def reset_hwm(pid: int) -> bool:
    """Reset a process's peak RSS to its current RSS (Linux 4.0+); False where refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass(frozen=True)
class TreeMemory:
    """Memory of a process tree over its life, sampled every ``interval`` seconds."""

    peak_sum_mb: float  # the largest sum of the RSS of all its processes at one moment
    peak_pss_mb: float  # the same in PSS (shared pages counted once)
    # Each process's own peak RSS (VmHWM, exact up to its last sample; name -> MB).
    peak_by_process: dict[str, float]
    processes: int
    interval: float
    # CPU seconds each process used (up to its last sample; name -> seconds).
    cpu_by_process: dict[str, float]

    def describe_cpu(self) -> str:
        busiest = sorted(self.cpu_by_process.items(), key=lambda kv: -kv[1])
        return (f"{sum(self.cpu_by_process.values()):.1f} s in all: "
                + ", ".join(f"{name} {s:.1f}" for name, s in busiest if s >= 0.05))

    @property
    def sum_of_peaks_mb(self) -> float:
        """An upper bound of the tree's peak: as if every process peaked at once."""
        return sum(self.peak_by_process.values())

    def describe(self) -> str:
        largest = sorted(self.peak_by_process.items(), key=lambda kv: -kv[1])[:4]
        return (f"{self.peak_sum_mb:.0f} MB RSS ({self.peak_pss_mb:.0f} MB PSS) at peak, "
                f"summed over the {self.processes} processes of the import, sampled every "
                f"{self.interval:g} s; upper bound (sum of each one's own peak, VmHWM) "
                f"{self.sum_of_peaks_mb:.0f} MB; largest: "
                + ", ".join(f"{name} {mb:.0f}" for name, mb in largest))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _short_name(pid: int) -> str:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = ""
    if comm.startswith("kb-"):
        return f"{comm}[{pid}]"
    line = cmdline(pid)
    for marker, name in (("resource_tracker", "tracker"), ("spawn_main", "extract"),
                         (" import", "kb import"), (" worker", "kb worker"),
                         (" serve", "kb serve")):
        if marker in line:
            return f"{name}[{pid}]"
    return f"{Path(line.split(' ')[0]).name or '?'}[{pid}]"


class TreeSampler:
    """Samples the RSS of a process and all its descendants in a background thread."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root, self.interval = root, interval
        self.peak_sum = self.peak_pss = 0.0
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = pss = 0.0
            for pid in process_tree(self.root):
                total += rss_mb(pid)
                pss += pss_mb(pid)
                peak = hwm_mb(pid)
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))
                if pid not in self.names or self.names[pid].startswith(("extract", "?")):
                    name = _short_name(pid)  # the index writer renames itself
                    if pid not in self.names or not name.startswith("?"):  # not a zombie's
                        self.names[pid] = name
                if peak > self.peaks.get(pid, 0.0):
                    self.peaks[pid] = peak
            self.peak_sum = max(self.peak_sum, total)
            self.peak_pss = max(self.peak_pss, pss)
            self._stop.wait(self.interval)

    def stop(self) -> TreeMemory:
        self._stop.set()
        self._thread.join()
        return TreeMemory(self.peak_sum, self.peak_pss,
                          {self.names.get(pid, str(pid)): mb for pid, mb in self.peaks.items()},
                          len(self.peaks), self.interval,
                          {self.names.get(pid, str(pid)): s for pid, s in self.cpu.items()})


# --- `kb serve` on loopback and an HTTP client ------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Http:
    """One keep-alive HTTP/1.1 connection, as a browser or API client keeps one.

    A request that finds the idle connection closed by the server (gunicorn's keep-alive
    timeout) is sent again once on a new connection, as HTTP clients do; ``reconnects``
    counts those, and any other failure is raised.
    """

    def __init__(self, host: str, port: int, headers: Mapping[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers = dict(headers or {})
        self.conn: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def request(self, method: str, path: str, params: Mapping[str, object] | None = None,
                body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body,
                                  headers={**self.headers, **(headers or {})})
                res = self.conn.getresponse()
                data = res.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt or not reused:
                    raise
                self.reconnects += 1
                continue
            if res.will_close:
                self.close()
            return res.status, data
        raise AssertionError("unreachable")

    def get(self, path: str, params: Mapping[str, object] | None = None) -> tuple[int, bytes]:
        return self.request("GET", path, params)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class Server:
    """`kb serve` running as a subprocess: gunicorn's master, its workers, the worker."""

    proc: subprocess.Popen[bytes]
    host: str
    port: int
    log: Path
    workers: int
    threads: int = 0

    def client(self, headers: Mapping[str, str] | None = None) -> Http:
        return Http(self.host, self.port, headers)

    def web_workers(self) -> list[int]:
        """The gunicorn worker processes (forked from the master: same command line)."""
        return [pid for pid in process_tree(self.proc.pid)[1:]
                if " serve" in cmdline(pid) and " worker" not in cmdline(pid)]

    def background_worker(self) -> int | None:
        """The `kb worker` process `kb serve` runs beside gunicorn."""
        for pid in process_tree(self.proc.pid)[1:]:
            if " worker" in cmdline(pid):
                return pid
        return None

    def describe(self) -> str:
        return (f"`kb serve` subprocess on http://{self.host}:{self.port} ({self.workers} "
                f"gunicorn workers x {self.threads} threads; its background worker beside)")


@contextmanager
def serving(work: Path, *, workers: int | None = None,
            env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """Start `kb serve` for the instance in ``work``; stop it (SIGINT) at the end."""
    port = free_port()
    args = [str(kb_exe()), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        args += ["--workers", str(workers)]
    log = work / f"serve-{port}.log"
    full_env = {**instance_env(work), **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=full_env, cwd=work, stdout=out,
                                stderr=subprocess.STDOUT)
    server = Server(proc, "127.0.0.1", port, log, workers or 0)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                fail(f"kb serve exited with {proc.returncode}",
                     log.read_text(errors="replace")[-4000:])
            try:
                status, _ = server.client().get("/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail("kb serve did not answer /healthz within 90 s",
                     log.read_text(errors="replace")[-4000:])
            time.sleep(0.2)
        from kb.config import DEFAULTS

        if not workers:
            server.workers = int(full_env.get("KB_WEB_WORKERS", DEFAULTS["WEB_WORKERS"]))
        server.threads = int(full_env.get("KB_WEB_THREADS", DEFAULTS["WEB_THREADS"]))
        while len(server.web_workers()) < server.workers:  # all booted
            if time.monotonic() > deadline:
                fail(f"kb serve started {len(server.web_workers())} of {server.workers} "
                     "workers within 90 s", log.read_text(errors="replace")[-4000:])
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown; the worker stops too
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in process_tree(proc.pid)[::-1]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                proc.wait()


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--web-workers", type=int, default=None, metavar="N",
                        help="gunicorn workers of `kb serve` (default: kb's, WEB_WORKERS)")
    parser.add_argument("--web-threads", type=int, default=None, metavar="N",
                        help="threads per worker (default: kb's, WEB_THREADS)")


def server_settings(args: argparse.Namespace) -> dict[str, Any]:
    """`serving` keyword arguments from the options of ``add_server_options``."""
    env = {"KB_WEB_THREADS": str(args.web_threads)} if args.web_threads else {}
    return {"workers": args.web_workers, "env": env}


def make_token(work: Path, role: str = "editor") -> str:
    """A new account of ``role`` in the instance, and an API token for it."""
    env = instance_env(work)
    email = f"bench-{role}-{os.getpid()}-{time.monotonic_ns()}@example.org"
    proc = subprocess.run([str(kb_exe()), "user", "add", email, "--role", role,
                           "--password-stdin"], env=env, cwd=work,
                          input="a long bench password 42\n", capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        fail("kb user add failed", proc.stdout, proc.stderr)
    return run_kb(["token", "create", email], env, work).strip()


def latency_line(ms: Sequence[float]) -> str:
    return (f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
            f"max {max(ms):.1f} ms, mean {sum(ms) / len(ms):.1f} ms")

"""Load benchmark: concurrent clients against `kb serve` while `kb import` runs beside it.

An instance holding the UN General Debate speeches (built as bench/ingest.py does, or
reused from --workdir), served by `kb serve` (a subprocess on loopback, its default
settings). Clients, each a thread with its own keep-alive connection, send requests back
to back (no think time), chosen at random (fixed seed per client): 60% searches (bench/
search.py's queries: 1-4 words, a third filtered, facets and the top 10 with snippets),
25% document pages (GET /documents/ID, the HTML page) and 15% downloads (GET /documents/
ID/download, the whole file read).
Two phases, the same mix:
  1. baseline: a third of --seconds with the server alone;
  2. load: --seconds while `kb import` adds variants of the speeches (bench/search.py's:
     other bytes, other metadata) to the same instance: its database writes and index
     commits land while the server reads and searches. An import still running at the
     end is interrupted (SIGINT, as Ctrl-C; running it again would finish it).
An error is any answer other than 200, or a failed connection.

    .venv/bin/python bench/load.py [--limit N] [--clients N] [--seconds S]
                                   [--import-docs N] [--workdir DIR]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import _common as c
import search as sb

MIX = (("search", 0.60), ("page", 0.25), ("download", 0.15))
TARGET_RPS = 50.0
TARGET_P95_MS = 300.0


@dataclass
class Tally:
    """What the clients saw during one phase."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # CPU seconds used during the phase: `kb serve` (all its processes), these clients,
    # and the machine as a whole (every process, ours or not).
    cpu_server: float = 0.0
    cpu_clients: float = 0.0
    cpu_machine: float = 0.0

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def all_ms(self) -> list[float]:
        return [ms for values in self.latencies.values() for ms in values]


def client_loop(server: c.Server, seed: int, queries: Sequence[sb.Query], doc_ids: list[int],
                until: float, tally: Tally) -> None:
    rng = random.Random(seed)
    http = server.client()
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    mine: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        if kind == "search":
            path, params = "/api/v1/search", sb.params_of(rng.choice(queries))
        else:
            doc_id = rng.choice(doc_ids)
            path = f"/documents/{doc_id}" + ("/download" if kind == "download" else "")
            params = {}
        start = time.perf_counter()
        try:
            status, body = http.get(path, params)
        except OSError as e:
            errors.append(f"{kind} {path}: {type(e).__name__}: {e}")
            http.close()
            continue
        ms = (time.perf_counter() - start) * 1000
        if status != 200:
            errors.append(f"{kind} {path} {params}: {status} {body[:200]!r}")
            continue
        if kind == "search":
            json.loads(body)
        mine[kind].append(ms)
    http.close()
    with tally.lock:
        for kind, values in mine.items():
            tally.latencies[kind].extend(values)
        tally.errors.extend(errors)
        tally.reconnects += http.reconnects


def run_phase(server: c.Server, clients: int, seconds: float, queries: Sequence[sb.Query],
              doc_ids: list[int], seed: int) -> Tally:
    tally = Tally()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=client_loop,
                                args=(server, seed + i, queries, doc_ids, until, tally))
               for i in range(clients)]
    server_cpu = sum(c.cpu_seconds(pid) for pid in c.process_tree(server.proc.pid))
    clients_cpu, machine_cpu = time.process_time(), machine_cpu_seconds()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally.seconds = time.perf_counter() - start
    tally.cpu_server = sum(c.cpu_seconds(pid)
                           for pid in c.process_tree(server.proc.pid)) - server_cpu
    tally.cpu_clients = time.process_time() - clients_cpu
    tally.cpu_machine = machine_cpu_seconds() - machine_cpu
    return tally


def machine_cpu_seconds() -> float:
    """CPU time all processes have used since boot (user + system, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(fields[i]) for i in (0, 1, 2, 5, 6))  # user nice system irq softirq
    return busy / os.sysconf("SC_CLK_TCK")


def phase_rows(label: str, tally: Tally) -> list[tuple[str, str]]:
    everything = tally.all_ms()
    if not everything:
        c.fail(f"{label}: no request succeeded", *tally.errors[:5])
    rows = [
        (f"{label}: throughput", f"{tally.count / tally.seconds:.1f} requests/s "
                                 f"({tally.count} in {tally.seconds:.1f} s)"),
        (f"{label}: latency", c.latency_line(everything)
         + f", p99 {c.percentile(everything, 99):.1f} ms"),
    ]
    for kind, _ in MIX:
        values = tally.latencies.get(kind, [])
        if values:
            rows.append((f"{label}: {kind}", f"{len(values)} requests, "
                                             + c.latency_line(values)))
    per_request = tally.cpu_server / tally.count * 1000
    rows.append((f"{label}: CPU", f"kb serve {tally.cpu_server / tally.seconds:.2f} cores "
                                  f"({per_request:.0f} ms a request), clients "
                                  f"{tally.cpu_clients / tally.seconds:.2f}, whole machine "
                                  f"{tally.cpu_machine / tally.seconds:.2f} of "
                                  f"{os.cpu_count()}"))
    rows.append((f"{label}: errors", f"{len(tally.errors)}"
                 + (f" (first: {tally.errors[0]})" if tally.errors else "")
                 + f"; {tally.reconnects} idle keep-alive connections reopened"))
    return rows


def ready_count(work: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(work / c.INSTANCE_DIR / "kb.sqlite3", timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM document WHERE status = 'ready'")
                   .fetchone()[0])
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the phase under import (60); the baseline takes a "
                             "third of it")
    parser.add_argument("--import-docs", type=int, default=None, metavar="N",
                        help="variants `kb import` adds during the load (default: one per "
                             "speech)")
    c.add_server_options(parser)
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()

    with c.workdir(args.workdir) as work:
        speeches, origin = c.prepare_instance(work, args.limit)
        queries = sb.make_queries(speeches, sb.WARMUP + sb.QUERIES)
        doc_ids = list(range(1, len(speeches) + 1))
        extra = sb.variants(speeches, args.import_docs or len(speeches))
        # Variants already imported by an earlier run in this workdir would be skipped as
        # duplicates: make this run's bytes differ.
        stamp = f"load run {time.time_ns()}"
        extra = [(name, sb.Doc(d.title, f"{stamp}\n{d.text}", d.country, d.year, d.doc_type,
                               d.agency)) for name, d in extra]
        folder = work / "load-import"
        sb.write_variants(folder, extra)
        before = ready_count(work)

        with c.serving(work, **c.server_settings(args)) as server:
            sb.warm_up(server, queries[:sb.WARMUP])
            baseline = run_phase(server, args.clients, args.seconds / 3, queries, doc_ids, 1)
            log = (work / "load-import.log").open("wb")
            started = time.perf_counter()
            importer = subprocess.Popen(
                [str(c.kb_exe()), "import", str(folder), "--manifest",
                 str(folder / "manifest.csv")],
                env=c.instance_env(work), cwd=work, stdout=log, stderr=subprocess.STDOUT)
            loaded = run_phase(server, args.clients, args.seconds, queries, doc_ids, 1001)
            import_s = time.perf_counter() - started
            running = importer.poll() is None
            if running:  # as Ctrl-C would: the next `kb import` would finish the rest
                importer.send_signal(signal.SIGINT)
            importer.wait()
            during = ready_count(work) - before
            log.close()
            workers = server.describe()
        if importer.returncode != 0 and not running:
            c.fail(f"the concurrent kb import exited with {importer.returncode}",
                   (work / "load-import.log").read_text(errors="replace")[-3000:])
        shutil.rmtree(folder)

        everything = loaded.all_ms()
        rps, p95 = loaded.count / loaded.seconds, c.percentile(everything, 95)
        base_rps = baseline.count / baseline.seconds
        base_p95 = c.percentile(baseline.all_ms(), 95)
        rows = [
            ("corpus", c.corpus_line(speeches, c.text_bytes(speeches), args.limit)),
            ("instance", f"{len(speeches)} documents, {origin}"),
            ("server", workers),
            ("clients", f"{args.clients} threads, one keep-alive connection each, no think "
                        "time; mix " + ", ".join(f"{k} {w:.0%}" for k, w in MIX)),
            *phase_rows("baseline", baseline),
            ("import", f"`kb import` of {len(extra)} variants, started with the load phase: "
                       + (f"interrupted at its end (SIGINT), {during} documents ready "
                          f"= {during / import_s:.1f} docs/s" if running else
                          f"all {during} ready after {import_s:.1f} s")),
            *phase_rows("under import", loaded),
            ("under import/baseline", f"throughput {rps / base_rps:.2f}x, "
                                      f"p95 {p95 / base_p95:.2f}x"),
            ("target", c.verdict(rps >= TARGET_RPS, f">= {TARGET_RPS:.0f} requests/s") + "; "
             + c.verdict(p95 < TARGET_P95_MS, f"p95 < {TARGET_P95_MS:.0f} ms") + "; "
             + c.verdict(not loaded.errors and not baseline.errors, "zero errors")),
        ]
        rows[:0] = [("machine", c.machine_line()), ("code", c.code_line())]
        c.print_block(f"kb bench/load.py: {args.clients} clients against `kb serve` while "
                      "`kb import` runs", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

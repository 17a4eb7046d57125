"""Upload memory benchmark: a 200 MB file through the API; the server's memory growth.

A fresh instance, `kb serve` (a subprocess on loopback, its default settings) and an
editor's API token. The background worker is kept idle (KB_WORKER_POLL_SECONDS=3600: its
first poll finds the queue empty) so that it does not read the test files meanwhile: what
is measured is the web workers receiving, hashing and storing uploads, and serving one.
For each request, every gunicorn worker's peak RSS is reset just before (/proc/PID/
clear_refs) and read just after (VmHWM); the growth reported is the largest rise of a
worker's peak over its RSS before the request. The client streams every body from disk
in 1 MB chunks. Requests, in order:
  1. baseline: a 1 MB text file, multipart (what any upload costs; after two warm-up
     uploads per worker);
  2. a 200 MB text file (speeches repeated) as multipart/form-data, field `file`;
  3. another 200 MB file (other bytes) as the raw body: Content-Type application/
     octet-stream, ?filename=...;
  4. the download of the multipart upload (GET /documents/ID/download), read whole and
     checked against its SHA-256.
Reference in the same run: the file's own size, what a server holding the upload in
memory would grow by at least.

    .venv/bin/python bench/memory.py [--mb N] [--workdir DIR]
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _common as c

CHUNK = 1024 * 1024
TARGET_GROWTH_MB = 50.0


def make_file(path: Path, size: int, speeches: list[c.Speech], tag: str) -> str:
    """A text file of exactly ``size`` bytes (speeches over and over, a unique first line);
    its SHA-256."""
    digest = hashlib.sha256()
    body = "\n".join(s.text() for s in speeches).encode("utf-8")
    block = f"{tag}\n".encode()
    written = 0
    with path.open("wb") as out:
        while written < size:
            piece = block[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            block = body
    return digest.hexdigest()


@dataclass(frozen=True)
class Measured:
    growth_mb: float  # the largest rise of a web worker's peak RSS over its RSS before
    seconds: float
    status: int
    answer: bytes


def measure(server: c.Server, send: Callable[[], tuple[int, bytes]]) -> Measured:
    workers = server.web_workers()
    before = {pid: c.rss_mb(pid) for pid in workers}
    exact = all(c.reset_hwm(pid) for pid in workers)
    sampler = None if exact else c.TreeSampler(server.proc.pid, 0.02)
    if sampler is not None:
        sampler.start()
    start = time.perf_counter()
    status, answer = send()
    seconds = time.perf_counter() - start
    if sampler is not None:
        tree = sampler.stop()
        peaks = {pid: max(tree.peak_by_process.get(name, 0.0)
                          for name in tree.peak_by_process if name.endswith(f"[{pid}]"))
                 for pid in workers}
    else:
        peaks = {pid: c.hwm_mb(pid) for pid in workers}
    growth = max(peaks[pid] - before[pid] for pid in workers)
    return Measured(growth, seconds, status, answer)


def post_multipart(server: c.Server, token: str, path: Path, title: str) -> tuple[int, bytes]:
    boundary = f"kb-bench-{os.getpid()}-{time.monotonic_ns()}"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
            f"{title}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nreport\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: text/plain\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return _stream(server, "/api/v1/documents", token, path, head, tail,
                   f"multipart/form-data; boundary={boundary}")


def post_raw(server: c.Server, token: str, path: Path, title: str) -> tuple[int, bytes]:
    from urllib.parse import urlencode

    query = urlencode({"filename": path.name, "title": title, "type": "report"})
    return _stream(server, f"/api/v1/documents?{query}", token, path, b"", b"",
                   "application/octet-stream")


def _stream(server: c.Server, url: str, token: str, path: Path, head: bytes, tail: bytes,
            content_type: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        conn.putrequest("POST", url)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(head) + path.stat().st_size + len(tail)))
        conn.endheaders()
        conn.send(head)
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                conn.send(chunk)
        conn.send(tail)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def download(server: c.Server, token: str, doc_id: int, expected: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=600)
    try:
        conn.request("GET", f"/documents/{doc_id}/download",
                     headers={"Authorization": f"Bearer {token}"})
        res = conn.getresponse()
        digest = hashlib.sha256()
        while chunk := res.read(CHUNK):
            digest.update(chunk)
        if res.status == 200 and digest.hexdigest() != expected:
            c.fail("the downloaded bytes differ from the uploaded ones")
        return res.status, b""
    finally:
        conn.close()


def uploaded(label: str, m: Measured, size: int) -> tuple[int, str]:
    if m.status != 201:
        c.fail(f"{label} answered {m.status}", m.answer.decode("utf-8", "replace")[:2000])
    doc = json.loads(m.answer)
    stored = doc["files"][0]["size"]
    if stored != size:
        c.fail(f"{label}: {stored} bytes stored, {size} sent")
    return int(doc["id"]), (f"server growth {m.growth_mb:.1f} MB; {size / 1e6:.0f} MB in "
                            f"{m.seconds:.1f} s = {size / 1e6 / m.seconds:.0f} MB/s")


def main(argv: list[str] | None = None) -> int:
    parser = c.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0,
                        help="size of the large uploads in MB of 10^6 bytes (200)")
    args = parser.parse_args(argv)
    c.require_corpus()
    c.clean_environment()
    size = int(args.mb * 1_000_000)

    with c.workdir(args.workdir) as work:
        speeches = c.unpack(work / c.CORPUS_DIR, args.limit or 50)
        files = work / "files"
        files.mkdir(exist_ok=True)
        stamp = time.time_ns()
        small, big, raw = files / "small.txt", files / "big.txt", files / "big-raw.txt"
        big_sha = make_file(big, size, speeches, f"multipart {stamp}")
        make_file(raw, size, speeches, f"raw {stamp}")
        if not c.has_instance(work):
            c.run_kb(["init"], c.instance_env(work), work)
        token = c.make_token(work)

        with c.serving(work, env={"KB_WORKER_POLL_SECONDS": "3600"}) as server:
            n_workers = len(server.web_workers())
            for i in range(2 * n_workers):  # the first upload a worker serves loads code
                make_file(small, 1_000_000, speeches, f"warm-up {i} {stamp}")
                uploaded("a warm-up upload", measure(
                    server, lambda: post_multipart(server, token, small, "Warm-up")), 1_000_000)
            make_file(small, 1_000_000, speeches, f"small {stamp}")
            base_m = measure(server, lambda: post_multipart(server, token, small, "Small"))
            _, base_line = uploaded("the 1 MB upload", base_m, 1_000_000)
            multi_m = measure(server, lambda: post_multipart(server, token, big, "Multipart"))
            big_id, multi_line = uploaded("the multipart upload", multi_m, size)
            raw_m = measure(server, lambda: post_raw(server, token, raw, "Raw body"))
            _, raw_line = uploaded("the raw-body upload", raw_m, size)
            down_m = measure(server, lambda: download(server, token, big_id, big_sha))
            if down_m.status != 200:
                c.fail(f"the download answered {down_m.status}")
            exact = all(c.reset_hwm(pid) for pid in server.web_workers())
            described = server.describe()
            idle = server.background_worker()
            if idle is not None:  # asleep for its poll interval, with nothing to finish
                os.kill(idle, signal.SIGKILL)

        worst = max(multi_m.growth_mb, raw_m.growth_mb)
        rows = [
            ("machine", c.machine_line()),
            ("code", c.code_line()),
            ("server", f"{described}; {n_workers} web workers measured, background "
                       "worker idle"),
            ("method", "peak RSS of each web worker (VmHWM, reset before each request) "
                       "minus its RSS before" if exact else
                       "RSS of each web worker sampled every 0.02 s (clear_refs refused)"),
            ("reference", f"the file itself: {size / 1e6:.0f} MB ({size / 2**20:.0f} MiB), "
                          "what holding it in memory would cost at least"),
            ("1 MB upload (baseline)", base_line),
            (f"{args.mb:g} MB multipart upload", multi_line),
            (f"{args.mb:g} MB raw-body upload", raw_line),
            (f"{args.mb:g} MB download", f"server growth {down_m.growth_mb:.1f} MB; "
                                         f"{size / 1e6 / down_m.seconds:.0f} MB/s, SHA-256 "
                                         "checked"),
            ("target", c.verdict(worst < TARGET_GROWTH_MB,
                                 f"upload growth < {TARGET_GROWTH_MB:.0f} MB")
             + f" (largest {worst:.1f} MB)"),
        ]
        c.print_block("kb bench/memory.py: server memory while uploading and downloading "
                      "a large file", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

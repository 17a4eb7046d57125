"""The real `kb serve`: what it says at start, and how long a stop waits for uploads under
way (SERVE_GRACEFUL_TIMEOUT)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

KB = Path(sys.executable).parent / "kb"


def _wait(condition, seconds: float, what: str, log: Path) -> None:
    """Poll ``condition`` until it holds, failing with the server's log after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds} s; server log:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


class Instance:
    def __init__(self, root: Path, database_url: str | None, **settings: str) -> None:
        self.root = root
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("KB_")},
                    "KB_INSTANCE_DIR": str(root / "instance"),
                    "KB_UPLOAD_DIR": str(root / "uploads"),
                    **{f"KB_{k}": v for k, v in settings.items()}}
        if database_url:
            self.env["KB_DATABASE_URL"] = database_url
        self.log = root / "server.log"
        self.port = free_port()

    def kb(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([str(KB), *args], cwd=self.root, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kb {args[0]}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    @contextlib.contextmanager
    def serve(self) -> Iterator[subprocess.Popen[bytes]]:
        with self.log.open("wb") as out:
            proc = subprocess.Popen(
                [str(KB), "serve", "--port", str(self.port), "--workers", "1"],
                cwd=self.root, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
            try:
                yield proc
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # an answer all the same (503 without an index)
        except OSError:
            return False


def test_serve_says_at_start_that_the_index_is_missing(tmp_path, database_url):
    site = Instance(tmp_path, database_url)
    site.kb("init")
    shutil.rmtree(tmp_path / "instance" / "index")
    with site.serve():
        _wait(site.answers, 30, "kb serve did not answer", site.log)
        log = site.log.read_text()
    assert ("Warning: The search index is missing. An administrator should run `kb reindex` "
            "(or `kb init`)") in log


def test_stop_waits_for_uploads_under_way_as_configured(tmp_path, database_url):
    site = Instance(tmp_path, database_url, SERVE_GRACEFUL_TIMEOUT="1")
    site.kb("init")
    site.kb("user", "add", "ed@example.org", "--role", "editor", "--password-stdin",
            stdin="correct horse battery\n")
    token = site.kb("token", "create", "ed@example.org").strip()
    with site.serve() as proc:
        _wait(site.answers, 30, "kb serve did not answer", site.log)
        body = b"A slow upload of a long report on migration. " * 1000
        with socket.create_connection(("127.0.0.1", site.port), timeout=30) as conn:
            conn.sendall((
                "POST /api/v1/documents?filename=slow.txt&title=Slow HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{site.port}\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:1000])
            tmp = tmp_path / "uploads" / "tmp"
            _wait(lambda: tmp.is_dir() and any(tmp.iterdir()),
                  30, "the upload did not start", site.log)
            os.kill(proc.pid, signal.SIGTERM)
            # Gunicorn's own default would hold the stop for 30 s; configured, it is 1 s.
            _wait(lambda: proc.poll() is not None, 20,
                  "kb serve did not stop after SERVE_GRACEFUL_TIMEOUT", site.log)
            assert conn.recv(100) == b""  # the upload was cut off, unanswered


def test_each_web_worker_warms_its_search_as_it_starts(tmp_path, database_url):
    # What every search needs is built as the worker starts, beside its first requests:
    # the first visitors after a restart do not each build it (and meet the time limit).
    site = Instance(tmp_path, database_url)
    site.kb("init")
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "remittances.txt").write_text("Remittances and diaspora savings in Moldova.")
    site.kb("import", str(folder))
    with site.serve():
        _wait(lambda: "search warmed for the first visitors" in site.log.read_text(), 60,
              "the web worker did not warm its search", site.log)
        assert "(documents in the index: 1)" in site.log.read_text()

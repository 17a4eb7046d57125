"""`kb serve`: gunicorn (a production WSGI server) plus the background worker process,
which it watches: a worker that dies is started again (after 1 s, then twice as long
each time it dies again soon, up to a minute), and it stops with the server. The worker
also stops by itself when the server's process ends, even by `kill -9`. The counters of
/metrics are kept in <instance>/metrics/, emptied at each start (kb.metrics)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import current_app
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from kb import create_app, metrics

log = logging.getLogger(__name__)

# Seconds before the first restart of a dead worker; each quick death doubles it up to
# the cap; a worker that ran this long without dying starts the count again.
FIRST_RESTART = 1.0
MAX_RESTART = 60.0
HEALTHY_AFTER = 60.0


class WorkerSupervisor:
    """Runs `kb worker` as a child process and starts it again when it dies."""

    def __init__(self, command: list[str],
                 clock: Callable[[], float] = time.monotonic, *, quiet: bool = False) -> None:
        self.command = command
        # Quiet: its standard output (the summary `kb worker` prints at its end) is dropped;
        # its log (standard error) says the same.
        self.quiet = quiet
        self.clock = clock
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.delay = FIRST_RESTART
        self.restart_at: float | None = None
        self.stopped = False

    def start(self) -> None:
        """Start the worker process."""
        self.proc = subprocess.Popen(self.command,
                                     stdout=subprocess.DEVNULL if self.quiet else None)
        self.started = self.clock()
        self.restart_at = None

    def check(self) -> None:
        """Notice a dead worker and start a new one when its back-off is over (called
        about once a second by the server's main loop, and when a child ends)."""
        if self.stopped or self.proc is None:
            return
        now = self.clock()
        if self.proc.poll() is None:
            if now - self.started >= HEALTHY_AFTER:
                self.delay = FIRST_RESTART
            return
        if self.restart_at is None:
            self.restart_at = now + self.delay
            log.error("kb worker (pid %s) ended with exit code %s; starting a new one in "
                      "%g s", self.proc.pid, self.proc.returncode, self.delay)
            self.delay = min(self.delay * 2, MAX_RESTART)
        if now >= self.restart_at:
            self.start()

    def signal_stop(self) -> None:
        """Ask the worker to stop (SIGTERM, sent once: it finishes its batch), without
        waiting; no restart follows."""
        if not self.stopped and self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
        self.stopped = True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker and wait for it (SIGKILL after ``timeout``)."""
        self.signal_stop()
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("kb worker (pid %s) did not stop within %g s of SIGTERM; killing it",
                        self.proc.pid, timeout)
            self.proc.kill()
            self.proc.wait()


class _Arbiter(Arbiter):
    """gunicorn's master, which also watches the background worker."""

    supervisor: WorkerSupervisor

    def manage_workers(self) -> None:
        super().manage_workers()
        self.supervisor.check()

    def handle_chld(self) -> None:
        # Ours first, by its pid: gunicorn's own reaping waits for any child and would
        # take the worker's exit status with it.
        self.supervisor.check()
        super().handle_chld()


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any], supervisor: WorkerSupervisor) -> None:
        self.options = options
        self.supervisor = supervisor
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app()

    def run(self) -> None:
        arbiter = _Arbiter(self)
        arbiter.supervisor = self.supervisor
        arbiter.run()


def _warm(app: Any) -> None:
    from kb.services import searching

    with app.app_context():
        searching.warm()


def serve(host: str, port: int, workers: int, threads: int | None = None) -> None:
    """Serve until interrupted; the worker process is started first and stopped last."""
    if threads is None:
        threads = int(current_app.config["WEB_THREADS"])
    # Before any fork: gunicorn's workers and the worker process inherit the folder.
    metrics.use_multiprocess(Path(current_app.config["INSTANCE_DIR"]) / "metrics")
    supervisor = WorkerSupervisor(
        [sys.executable, "-m", "kb", "worker", "--parent", str(os.getpid())], quiet=True)
    supervisor.start()

    def on_exit(_server: Any) -> None:
        supervisor.stop()

    def child_exit(_server: Any, worker: Any) -> None:
        metrics.process_ended(worker.pid)

    def post_worker_init(worker: Any) -> None:
        # Each web worker warms its search in the background while it starts answering
        # (kb.services.searching.warm); the first searches wait for what it builds.
        threading.Thread(target=_warm, args=(worker.wsgi,), name="kb-warm",
                         daemon=True).start()

    try:
        _Server({
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": int(current_app.config["SERVE_GRACEFUL_TIMEOUT"]),
            # kb logs each request once itself (kb/logs.py: route, user, request id,
            # duration); gunicorn's own messages go through the same handler and format.
            "accesslog": None,
            "logger_class": "kb.logs.GunicornLogger",
            "on_exit": on_exit,
            "child_exit": child_exit,
            "post_worker_init": post_worker_init,
        }, supervisor).run()
    finally:
        supervisor.stop()

"""`kb serve`: gunicorn (a production WSGI server) plus the background worker process."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from flask import current_app
from gunicorn.app.base import BaseApplication

from kb import create_app


class _Server(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return create_app()


def serve(host: str, port: int, workers: int, threads: int | None = None) -> None:
    """Serve until interrupted; the worker process is started first and stopped last."""
    if threads is None:
        threads = int(current_app.config["WEB_THREADS"])
    worker = subprocess.Popen([sys.executable, "-m", "kb", "worker"])

    def on_exit(_server: Any) -> None:
        worker.terminate()
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()

    try:
        _Server({
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": 120,
            "graceful_timeout": int(current_app.config["SERVE_GRACEFUL_TIMEOUT"]),
            "accesslog": "-",
            "on_exit": on_exit,
        }).run()
    finally:
        if worker.poll() is None:
            on_exit(None)

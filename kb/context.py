"""Runtime objects derived from the current app's configuration."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from kb.storage import FileStore


def store() -> FileStore:
    return FileStore(Path(current_app.config["UPLOAD_DIR"]))


def index_dir() -> Path:
    return Path(current_app.config["INDEX_DIR"])


def lock_timeout() -> float:
    return float(current_app.config["INDEX_LOCK_TIMEOUT"])

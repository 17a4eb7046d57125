"""Every configuration key kb reads, with its default.

Order of precedence (later wins): these defaults, ``instance/config.py``,
``KB_*`` environment variables, the mapping passed to ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULTS: dict[str, object] = {
    # Folder for the SQLite database, the search index and the secret key.
    "INSTANCE_DIR": None,  # None: <project>/instance
    # Folder for stored uploads (content-addressed by SHA-256).
    "UPLOAD_DIR": None,  # None: <project>/uploads
    # Folder of the Whoosh index.
    "INDEX_DIR": None,  # None: <instance>/index
    # Any SQLAlchemy URL; None: SQLite in the instance folder.
    "DATABASE_URL": None,
    # Secret for sessions and CSRF; None: generated once into <instance>/secret_key.
    "SECRET_KEY": None,
    # Largest accepted upload, in megabytes.
    "MAX_UPLOAD_MB": 200,
    # Seconds a writer waits for the index lock before giving up (the job is retried).
    "INDEX_LOCK_TIMEOUT": 30.0,
    # Seconds the background worker sleeps when it finds no work.
    "WORKER_POLL_SECONDS": 0.5,
    # Documents extracted per index commit by the background worker.
    "WORKER_BATCH": 20,
    # Email of the admin account `kb init` creates when there are no users.
    "ADMIN_EMAIL": "admin@kb.local",
    # Number of gunicorn worker processes for `kb serve`.
    "WEB_WORKERS": 2,
    # Threads per gunicorn worker. Each thread keeps its own index searcher (opened and
    # warmed on its first search, again after each index commit), so more threads cost
    # memory and warm-up; searching is CPU-bound, so they add little beyond one per core.
    "WEB_THREADS": 4,
    # Extraction runs in a child process with these limits (seconds, megabytes of address
    # space, characters of text); a file over a limit ends in a named failure.
    "EXTRACT_TIMEOUT": 60.0,
    "EXTRACT_MEMORY_MB": 1024,
    "EXTRACT_MAX_CHARS": 20_000_000,
    # Characters of a hit's text analysed around matches for snippets.
    "SNIPPET_SURROUND": 90,
    # Seconds one search may hold a server thread: a search still running then is stopped
    # and answered 503 (the bounds on the query itself are in kb/search/bounds.py).
    "SEARCH_TIME_LIMIT": 2.0,
    # Failed sign-ins allowed per account (the submitted email) and per client address
    # before the login form answers 429 (Flask-Limiter syntax). Successes do not count.
    "LOGIN_LIMIT_ACCOUNT": "5 per minute",
    "LOGIN_LIMIT_ADDRESS": "20 per minute",
    # Where Flask-Limiter keeps its counters. With "memory://" each gunicorn worker
    # process counts separately (so the real limit is the number above times WEB_WORKERS)
    # and counters reset on restart; set a shared storage, e.g. "redis://host:6379" (with
    # the `redis` package installed), to count across workers.
    "RATELIMIT_STORAGE_URI": "memory://",
    # Number of reverse proxies in front of kb whose X-Forwarded-For and
    # X-Forwarded-Proto headers are trusted (werkzeug ProxyFix); 0 trusts none. Only set
    # it behind a proxy that overwrites these headers, or clients can forge them.
    "TRUST_PROXY": 0,
    # OCR of PDF pages without a text layer with Debian's ocrmypdf and tesseract: auto|off.
    # "auto" runs it where both are installed with the languages below, else the document is
    # found by its metadata only and says so.
    "OCR": "auto",
    # Tesseract languages to read scanned pages in, joined with "+" (each needs its Debian
    # package tesseract-ocr-LANG, with "_" as "-"). Every one added slows OCR down.
    "OCR_LANGUAGES": "eng+fra+spa+rus+ron+srp+srp_latn+ara",
    # Seconds OCR of one document may take before it is stopped (about 10 s a dense page
    # on one core with the languages above).
    "OCR_TIMEOUT": 300.0,
}


def project_root() -> Path:
    """The folder that holds the kb package, templates/ and the default runtime folders."""
    return Path(__file__).resolve().parent.parent


def load_instance_file(config: dict[str, object], instance_dir: Path) -> None:
    """Apply ``instance/config.py`` if present; unknown keys are kept but warned about."""
    path = instance_dir / "config.py"
    if not path.is_file():
        return
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    for key, value in namespace.items():
        if key.isupper():
            config[key] = value


def env_overrides(environ: os._Environ[str] | dict[str, str]) -> dict[str, object]:
    """Read ``KB_*`` variables, with the prefix stripped; numbers become numbers."""
    out: dict[str, object] = {}
    for name, raw in environ.items():
        if not name.startswith("KB_"):
            continue
        key = name[3:]
        default = DEFAULTS.get(key)
        value: object = raw
        if isinstance(default, bool):
            value = raw.lower() in {"1", "true", "yes", "on"}
        elif isinstance(default, int):
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        out[key] = value
    return out


def secret_key(instance_dir: Path) -> str:
    """Read the generated secret key, creating it once (atomically) when absent."""
    path = instance_dir / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key

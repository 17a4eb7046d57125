"""Every configuration key kb reads, with its default.

Order of precedence (later wins): these defaults, ``instance/config.py``,
``KB_*`` environment variables, the mapping passed to ``create_app``.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SEARCH_CACHE_MB_DEFAULT = 128

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
    # /healthz says "degraded" when the disk of the upload, instance or index folder has
    # less free space than this, in megabytes (a full disk refuses uploads with 507).
    "DISK_FREE_MIN_MB": 1024,
    # Seconds after which a partial upload left in <uploads>/tmp (a crash, a cut-off
    # upload) is deleted, and a stored file no record names is moved to
    # <uploads>/quarantine (never deleted): at the worker's start, then hourly.
    "LEFTOVER_AGE_SECONDS": 4 * 3600.0,
    # Days a deleted document stays in the trash (admins restore it) before `kb purge` or
    # the worker's daily purge removes it for good, leaving a tombstone (410 Gone).
    "TRASH_DAYS": 30,
    # Seconds a writer waits for the index lock before giving up (the job is retried).
    "INDEX_LOCK_TIMEOUT": 30.0,
    # Seconds the background worker sleeps when it finds no work.
    "WORKER_POLL_SECONDS": 0.5,
    # Documents extracted per index commit by the background worker.
    "WORKER_BATCH": 20,
    # Seconds without a heartbeat after which a worker's claimed jobs are given back to the
    # queue, whatever machine it runs on (a dead worker on this machine is noticed at once).
    "WORKER_STALE_SECONDS": 120.0,
    # Whether `kb worker` (and the worker `kb serve` starts) writes the search index. Set it
    # false on a machine that only extracts (the index lives on another machine: Whoosh's
    # locks are not safe on a network file system); its documents are handed over as
    # index jobs to a worker that writes it. Same as `kb worker --no-index`.
    "WORKER_INDEXES": True,
    # /healthz says "degraded" when a queued job has waited this many seconds.
    "QUEUE_WAIT_ALERT_SECONDS": 600.0,
    # Email of the admin account `kb init` creates when there are no users.
    "ADMIN_EMAIL": "admin@kb.local",
    # Number of gunicorn worker processes for `kb serve`.
    "WEB_WORKERS": 2,
    # Seconds `kb serve` lets requests under way finish when it stops or restarts
    # (gunicorn's graceful timeout; its own default of 30 s cuts large uploads off).
    # 120 s finish the last 200 MB of an upload at about 14 Mbit/s.
    "SERVE_GRACEFUL_TIMEOUT": 120,
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
    # and answered 503 (the bounds on the query itself are in kb/search/limits.py).
    "SEARCH_TIME_LIMIT": 2.0,
    # Failed sign-ins allowed before the login form answers 429 (Flask-Limiter syntax;
    # successes do not count): per client address and account together (so that someone
    # else's failures never lock you out from your own address), per client address, and
    # a much higher ceiling per account from all addresses together, against guessing
    # spread over many addresses (only such an attack can reach it).
    "LOGIN_LIMIT_PAIR": "5 per minute; 20 per hour",
    "LOGIN_LIMIT_ADDRESS": "20 per minute",
    "LOGIN_LIMIT_ACCOUNT": "100 per hour",
    # Wrong current passwords allowed per account on the password change form (a stolen
    # session must not become a way to guess the password) before it answers 429.
    "PASSWORD_CHANGE_LIMIT": "5 per 15 minutes",
    # "Forgot password" requests allowed per email address typed and per client address
    # (every request counts: the answer is the same whether or not the account exists).
    "FORGOT_LIMIT_ACCOUNT": "3 per hour",
    "FORGOT_LIMIT_ADDRESS": "10 per hour",
    # Exports of a search (/search/export.*: up to EXPORT_LIMIT documents with their
    # metadata, the costliest answer a visitor can ask for) allowed per signed-in account,
    # or per client address for visitors, before it answers 429.
    "EXPORT_RATE_LIMIT": "20 per minute; 200 per hour",
    # Email, sent by the background worker: the SMTP server as smtp://host:port (plain),
    # smtp+starttls://user:password@host:587 (STARTTLS required) or
    # smtps://user:password@host:465 (TLS from the start); None: no email is sent, and
    # nothing else changes ("forgot password" then cannot work).
    "SMTP_URL": None,
    # The sender of kb's email (an address the SMTP server lets kb send as).
    "MAIL_FROM": "kb@localhost",
    # Seconds one SMTP conversation may take before it counts as a failed attempt.
    "SMTP_TIMEOUT": 30.0,
    # The site's address as readers reach it, e.g. "https://kb.example.org": the links in
    # email start with it. Password reset mail is sent only when it is set (a link built
    # from a request's Host header could be made to point at another site).
    "SITE_URL": None,
    # Hours a "forgot password" link works (once) after it was asked for.
    "PASSWORD_RESET_HOURS": 2.0,
    # Where Flask-Limiter keeps its counters. With "memory://" each gunicorn worker
    # process counts separately (so the real limit is the number above times WEB_WORKERS)
    # and counters reset on restart; set a shared storage, e.g. "redis://host:6379/0" (the
    # `redis` client is a dependency of kb), to count once across workers and servers.
    "RATELIMIT_STORAGE_URI": "memory://",
    # While that storage is unreachable (Redis restarting), count in each process's memory
    # instead of failing every sign-in; it is tried again now and then, and used once back.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # A signed-in session ends after this many minutes without a request (idle), and this
    # many hours after sign-in whatever happens (absolute): a working day, then sign in
    # again. Sign-out ends it at once, on the server: a copy of the cookie opens nothing.
    # The forms' CSRF tokens live in the session and never outlive it.
    "SESSION_IDLE_MINUTES": 120,
    "SESSION_MAX_HOURS": 12,
    # Strict-Transport-Security max-age (seconds) sent on answers to HTTPS requests; 0
    # sends none. Plain-HTTP answers never carry it.
    "HSTS_SECONDS": 31_536_000,
    # Tests only: a function returning the current naive UTC time that session lifetimes
    # are measured against (None: the real clock; see kb/clock.py).
    "CLOCK": None,
    # Number of reverse proxies in front of kb whose X-Forwarded-For and
    # X-Forwarded-Proto headers are trusted (werkzeug ProxyFix); 0 trusts none. Only set
    # it behind a proxy that overwrites these headers, or clients can forge them.
    "TRUST_PROXY": 0,
    # Mark the session cookie Secure on every answer (it always is on answers to HTTPS
    # requests); set it when kb is only ever reached over HTTPS.
    "SESSION_COOKIE_SECURE": False,
    # A secret that lets a scraper (Prometheus) read /metrics as `Authorization: Bearer
    # TOKEN` without an account; None: only admins (signed in or by their API token) may.
    "METRICS_TOKEN": None,
    # OCR of PDF pages without a text layer with Debian's ocrmypdf and tesseract: auto|off.
    # "auto" runs it where both are installed with the languages below, else the document is
    # found by its metadata only and says so.
    "OCR": "auto",
    # Tesseract languages to read scanned pages in, joined with "+" (each needs its Debian
    # package tesseract-ocr-LANG, with "_" as "-"). Every one added slows OCR down.
    "OCR_LANGUAGES": "eng+fra+spa+rus+ron+srp+srp_latn+ara",
    # Seconds OCR of one document may take at most before it is stopped (about 10 s a
    # dense page on one core with the languages above).
    "OCR_TIMEOUT": 300.0,
    # Seconds of OCR allowed per page (one more page's worth for starting up): a short
    # scan that hangs is stopped long before OCR_TIMEOUT, which stays the upper bound.
    "OCR_TIMEOUT_PER_PAGE": 30.0,
    # OAI-PMH at /oai: records per ListRecords or ListIdentifiers answer, and seconds a
    # resumption token stays valid (tokens are signed with SECRET_KEY, so they survive a
    # restart). The repository's name and its identifier (a domain name, the middle of
    # oai:IDENTIFIER:42; None: the host name requests reach kb by, so set it behind a proxy
    # or under several names), and the adminEmail (None: ADMIN_EMAIL).
    "OAI_PAGE_SIZE": 100,
    "OAI_TOKEN_LIFETIME": 24 * 3600.0,
    "OAI_REPOSITORY_NAME": "IOM-UNDP Migration and Development Knowledge Repository",
    "OAI_REPOSITORY_IDENTIFIER": None,
    "OAI_ADMIN_EMAIL": None,
    # Document pages per file of /sitemap.xml (the protocol's maximum is 50,000); past it,
    # /sitemap.xml is an index of /sitemap-1.xml, /sitemap-2.xml, ...
    "SITEMAP_PAGE_SIZE": 50_000,
    # Documents a search's export (/search/export.bib, .ris, .json, .csv) holds at most, in
    # result order; the results page says when a search finds more.
    "EXPORT_LIMIT": 1_000,
    # Log records go to standard error as "text" (one line each, fields in brackets) or
    # "json" (one object a line: time, level, logger, message, and where they apply
    # request_id, user_id, route, status, duration_ms, doc_id, job_id, error_code).
    "LOG_FORMAT": "text",
    # The least severe records logged: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    "LOG_LEVEL": "INFO",
    # Megabytes of arrays read from the search index (postings and field lengths) that each
    # web or worker process keeps for the next searches (kb.config.SEARCH_CACHES["arrays"]
    # is the default): more makes repeated searches of a large collection faster, less
    # bounds the memory of small machines.
    "SEARCH_CACHE_MB": SEARCH_CACHE_MB_DEFAULT,
    # The interface languages offered, English first (each but English needs a catalogue,
    # kb/translations/<code>/LC_MESSAGES/messages.po; README, "Languages").
    "LANGUAGES": "en fr es ru",
}

# The search engine's process-wide caches (kb/search/whoosh/caches.py), each bounded here
# only: "arrays" in bytes of numpy arrays (postings and field lengths read from segments:
# a word found in 15,000 documents takes 120 KB), the others in entries. A filter as a set
# takes up to 1 MB at 15,000 documents, as a mask 15 KB, an idf a float.
SEARCH_CACHES: dict[str, int] = {
    "arrays": SEARCH_CACHE_MB_DEFAULT * 1024 * 1024,  # SEARCH_CACHE_MB sets an instance's
    "idf": 50_000,
    "avgfl": 1_000,
    "mask": 512,
    "filter": 32,
    "facet": 64,
    "live": 8,
    "works": 8,
    "similar": 2_000,  # "more like this" results, by index state, document and reader
    "lexicons": 4_096,  # small fields' words, by segment and field
    "columns": 512,  # facet values of a segment's documents, by segment and field
    "profiles": 5_000,  # a document's most frequent words, for relevance feedback
    "segments": 1_024,  # segments' flat arrays (memory-mapped views)
}

# Keys kb does not define but hands on to Flask and its extensions (exact names, then
# prefixes): not warned about when set in instance/config.py or as KB_* variables.
PASSED_ON = frozenset({"USE_SESSION_FOR_NEXT", "SESSION_PROTECTION", "AUTH_HEADER_NAME",
                       "ID_ATTRIBUTE", "LOGIN_DISABLED", "FORCE_HOST_FOR_REDIRECTS"})
PASSED_ON_PREFIXES = ("SQLALCHEMY_", "WTF_", "RATELIMIT_", "REMEMBER_COOKIE_", "RECAPTCHA_")
# KB_* variables that are not configuration: the test suite's database server.
NOT_CONFIGURATION = frozenset({"TEST_DATABASE_URL"})
_warned: set[str] = set()


def project_root() -> Path:
    """The folder that holds the kb package, templates/ and the default runtime folders."""
    return Path(__file__).resolve().parent.parent


def load_instance_file(config: dict[str, object], instance_dir: Path) -> list[str]:
    """Apply ``instance/config.py`` if present; returns the keys it set (``warn_unknown``
    warns about those kb does not know; they are kept)."""
    path = instance_dir / "config.py"
    if not path.is_file():
        return []
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    keys = []
    for key, value in namespace.items():
        if key.isupper():
            config[key] = value
            keys.append(key)
    return keys


def is_known(key: str) -> bool:
    """Whether kb, Flask or one of its extensions reads the configuration key ``key``."""
    from flask import Flask

    return (key in DEFAULTS or key in Flask.default_config or key in PASSED_ON
            or key.startswith(PASSED_ON_PREFIXES))


def warn_unknown(file_keys: list[str], instance_dir: Path,
                 environ: os._Environ[str] | dict[str, str]) -> list[str]:
    """Warn once per process about each key of ``instance/config.py`` and each ``KB_*``
    variable that nothing reads (a typo stays unnoticed otherwise); returns them."""
    unknown = [(key, f"{key} in {instance_dir / 'config.py'}") for key in file_keys]
    unknown += [(name[3:], f"the environment variable {name}") for name in sorted(environ)
                if name.startswith("KB_") and name[3:] not in NOT_CONFIGURATION]
    named = []
    for key, where in unknown:
        if is_known(key):
            continue
        named.append(key)
        if where not in _warned:
            _warned.add(where)
            log.warning("Unknown configuration key: %s is not a setting kb reads (a typo? "
                        "the README lists the settings); it is ignored.", where)
    return named


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
    """Read the generated secret key, creating it once (atomically) when absent; the file
    is readable by kb's own account only (mode 0600): whoever reads it can forge sessions."""
    path = instance_dir / "secret_key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    else:
        _keep_private(path)
        return key
    instance_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key


def _keep_private(path: Path) -> None:
    """Take group and other permissions off a key file that has them, or warn."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(path, 0o600)
    except OSError as e:
        log.warning("%s is readable by other accounts (mode %o) and could not be made "
                    "private (%s): run `chmod 600 %s` as its owner, or anyone who can read "
                    "it can forge sessions.", path, mode, e, path)
    else:
        log.warning("%s was readable by other accounts (mode %o); it is now 0600. Anyone "
                    "who read it could forge sessions: consider a new key (delete the file; "
                    "everyone signs in again).", path, mode)

"""One logging set-up for every kb process (web app, worker, `kb import`, the CLI):
records go to standard error, as text or (``LOG_FORMAT = "json"``) one JSON object a
line, carrying the request, user, document, job and error code they concern.

The standard library does it all: a Formatter for JSON, a record factory that adds the
fields of the request or job under way (python-json-logger would be a dependency for the
twenty lines of JsonFormatter). What goes in a record is chosen here, field by field:
never a request's body, query string, cookies or headers (other than a sane
X-Request-ID), so no password, token or session value reaches the log.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from gunicorn import glogging

# The fields a record may carry besides time, level, logger and message, in this order.
FIELDS = ("request_id", "user_id", "method", "route", "path", "status", "duration_ms",
          "doc_id", "job_id", "kind", "attempts", "error_code")
FORMATS = ("text", "json")
# A request id taken from the client as it is: short, and nothing that could break a line
# or a log parser (anything else is replaced by one of ours).
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
REQUEST_ID_HEADER = "X-Request-ID"

# Fields of the work under way outside a request (a job): set with ``bound``.
_bound: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "kb_log_fields", default=None)
_factory_installed = False
# What ``configure`` was last given, for child processes to log the same way.
_active: dict[str, str] = {"LOG_FORMAT": "text", "LOG_LEVEL": "INFO"}

log = logging.getLogger("kb.request")


class _StandardError(logging.StreamHandler):
    """Writes to the process's standard error: not to a stand-in a runner may have put
    in ``sys.stderr`` for a while (Click's test runner would mix records into a command's
    output, and closes its stand-in afterwards)."""

    _kb = True

    def __init__(self) -> None:
        super().__init__(sys.__stderr__ or sys.stderr)


def _utc(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, tz=UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """A record's fields: those given with ``extra=``, else those of the request or job
    under way when it was made."""
    context: Mapping[str, Any] = getattr(record, "kb_context", None) or {}
    out = {}
    for name in FIELDS:
        value = getattr(record, name, None)
        if value is None:
            value = context.get(name)
        if value is not None:
            out[name] = value
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601 UTC), level, logger, message, the fields
    that apply, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _utc(record), "level": record.levelname,
                               "logger": record.name, "message": record.getMessage()}
        out.update(fields_of(record))
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message [field=value ...]``, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = fields_of(record)
        if fields:
            line += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure(config: Mapping[str, Any] | Flask) -> None:
    """Send every logger's records to standard error in the configured format and level
    (LOG_FORMAT, LOG_LEVEL); safe to call again (the handler is replaced, not added)."""
    settings = config.config if isinstance(config, Flask) else config
    fmt = str(settings.get("LOG_FORMAT") or "text").lower()
    level_name = str(settings.get("LOG_LEVEL") or "INFO").upper()
    level = logging.getLevelName(level_name)
    _active.update(LOG_FORMAT=fmt if fmt in FORMATS else "text",
                   LOG_LEVEL=level_name if isinstance(level, int) else "INFO")
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_kb", False)]:
        root.removeHandler(handler)
    handler = _StandardError()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    # kb logs each request itself (see init_app): not the development server too; and
    # Alembic's list of the plugins it loads says nothing to an operator.
    for name in ("werkzeug", "alembic.runtime.plugins"):
        logging.getLogger(name).setLevel(logging.WARNING)
    _install_record_factory()
    if fmt not in FORMATS:
        logging.getLogger("kb.config").warning(
            "LOG_FORMAT %r is not one of %s; logging as text", fmt, ", ".join(FORMATS))
    if not isinstance(level, int):
        logging.getLogger("kb.config").warning(
            "LOG_LEVEL %r is not a level (DEBUG, INFO, WARNING, ERROR); logging INFO",
            level_name)


def _install_record_factory() -> None:
    """Give every record the fields of the request or job under way when it was made."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # One attribute of its own: ``extra=`` may not name an attribute a record has.
        record.kb_context = _current_fields()
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def _current_fields() -> Mapping[str, Any]:
    fields = _bound.get() or {}
    if has_request_context():
        request_id = g.get("request_id")
        if request_id is not None:
            fields = {"request_id": request_id, **fields}
    return fields


def settings() -> dict[str, str]:
    """This process's logging settings, for ``configure`` in a child process (one started
    with "spawn" inherits none of them)."""
    return dict(_active)


def fields() -> dict[str, Any]:
    """The fields bound now (``bound``), to bind again in a child doing the same work."""
    return dict(_bound.get() or {})


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (e.g. job_id, doc_id) to every record logged inside the block."""
    token = _bound.set({**(_bound.get() or {}), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def init_app(app: Flask) -> None:
    """Log every request once and answer with its request id (register before any hook
    that may answer early, so that its answers are logged too)."""
    app.before_request(_start_request)
    app.after_request(_log_request)


def _start_request() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _user_id() -> int | None:
    """The user the request was answered for, only if it was looked up anyway."""
    user = g.get("_login_user") or g.get("token_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "user_id", None)


def _log_request(response: Response) -> Response:
    """One line per request: method, route, path (never the query string), status,
    duration (until the answer's headers are ready) and who asked."""
    if "request_id" not in g:  # a hook before ours answered: still logged once
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    duration = round((time.perf_counter() - g.request_started) * 1000, 1)
    rule = request.url_rule
    route = rule.rule if rule is not None else None
    status = response.status_code
    log.log(logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %s %.1f ms", request.method, request.path, status, duration,
            extra={"method": request.method, "route": route, "path": request.path,
                   "status": status, "duration_ms": duration, "user_id": _user_id()})
    return response


class GunicornLogger(glogging.Logger):
    """gunicorn's own messages (start, stop, worker timeouts) through kb's handler, in
    kb's format; its access log stays off (kb logs each request itself)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in [h for h in logger.handlers if getattr(h, "_gunicorn", False)]:
                logger.removeHandler(handler)
            logger.propagate = True

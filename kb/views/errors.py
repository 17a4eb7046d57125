"""Map kb's exceptions and HTTP errors to answers: JSON for the API, pages for people."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from kb.errors import DuplicateError, KbError, disk_full
from kb.extensions import db

log = logging.getLogger(__name__)


def wants_json() -> bool:
    # Or a page's script that asked for JSON (the upload form's file sent ahead).
    return (request.path.startswith("/api/") or request.path == "/healthz"
            or request.accept_mimetypes.best == "application/json")


def _answer(status: int, message: str, **extra: object) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"error": message, **extra}), status
    return render_template("error.html", status=status, message=message), status


DISK_FULL = ("There is no space left on the server's disk, so this could not be saved. "
             "Try again later; an administrator must free disk space.")


def register(app: Flask) -> None:
    @app.errorhandler(KbError)
    def kb_error(e: KbError) -> tuple[Response | str, int]:
        extra: dict[str, object] = {}
        if e.fields:
            extra["fields"] = e.fields
        if isinstance(e, DuplicateError) and e.shown_id is not None:
            extra["id"] = e.shown_id
        if e.status_code >= 500:
            log.error("%s %s: %s: %s", request.method, request.path, type(e).__name__,
                      e.message)
        return _answer(e.status_code, e.message, **extra)

    @app.errorhandler(OSError)
    def os_error(e: OSError) -> tuple[Response | str, int]:
        # A full disk anywhere (Werkzeug spooling a request body, a template cache...);
        # any other OS error stays a server error, logged by Flask.
        if not disk_full(e):
            raise e
        log.error("%s %s: disk full: %s", request.method, request.path, e)
        return _answer(507, DISK_FULL)

    @app.errorhandler(OperationalError)
    def database_error(e: OperationalError) -> tuple[Response | str, int]:
        if not disk_full(e):
            raise e
        db.session.rollback()
        log.error("%s %s: database disk full: %s", request.method, request.path, e.orig)
        return _answer(507, DISK_FULL)

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> tuple[Response | str, int]:
        return _answer(400, "The form expired or was not sent by this site "
                            f"({e.description}); reload the page and try again.")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> tuple[Response | str, int]:
        message = f"The file is larger than the limit of {app.config['MAX_UPLOAD_MB']} MB."
        return _answer(413, message, fields={"file": message})

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response | str, int]:
        return _answer(e.code or 500, e.description or e.name)

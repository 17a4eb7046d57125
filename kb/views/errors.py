"""Map kb's exceptions and HTTP errors to answers: JSON for the API, pages for people."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
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


DISK_FULL = lazy_gettext("There is no space left on the server's disk, so this could not be "
                         "saved. Try again later; an administrator must free disk space.")

# Werkzeug's own descriptions of the HTTP errors kb answers most, said in the request's
# language (an abort() with a description of its own keeps it: it is already translated).
HTTP_TEXTS = {
    400: lazy_gettext("The request could not be understood."),
    401: lazy_gettext("Sign in to see this page."),
    403: lazy_gettext("You may not open this page."),
    404: lazy_gettext("There is nothing at this address."),
    405: lazy_gettext("This address does not answer this kind of request."),
}


def register(app: Flask) -> None:
    @app.errorhandler(KbError)
    def kb_error(e: KbError) -> tuple[Response | str, int]:
        extra: dict[str, object] = {}
        if e.fields:
            extra["fields"] = e.fields
        if isinstance(e, DuplicateError) and e.shown_id is not None:
            extra["id"] = e.shown_id
            if e.in_trash:
                extra["in_trash"] = True
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
        return _answer(507, str(DISK_FULL))

    @app.errorhandler(OperationalError)
    def database_error(e: OperationalError) -> tuple[Response | str, int]:
        if not disk_full(e):
            raise e
        db.session.rollback()
        log.error("%s %s: database disk full: %s", request.method, request.path, e.orig)
        return _answer(507, str(DISK_FULL))

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> tuple[Response | str, int]:
        return _answer(400, _("The form expired or was not sent by this site (%(reason)s); "
                              "reload the page and try again.", reason=e.description))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(e: RequestEntityTooLarge) -> tuple[Response | str, int]:
        message = _("The file is larger than the limit of %(mb)s MB.",
                    mb=app.config["MAX_UPLOAD_MB"])
        return _answer(413, message, fields={"file": message})

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[Response | str, int]:
        description = e.description
        if e.code in HTTP_TEXTS and description == type(e).description:
            description = str(HTTP_TEXTS[e.code])
        return _answer(e.code or 500, description or e.name)

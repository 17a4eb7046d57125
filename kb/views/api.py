"""API v1: JSON over HTTP; tokens (``Authorization: Bearer``) or a session with CSRF."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header

from kb import metrics, openapi, policy, serialize
from kb.auth import bearer_token
from kb.errors import Forbidden, NotFound, QueryError, TooLarge, Unauthorized, ValidationError
from kb.extensions import csrf
from kb.models import Document
from kb.services import (
    citations,
    documents,
    health,
    history,
    searching,
    suggestions,
    term_suggestions,
    thesaurus,
    translations,
    trash,
    workflow,
)
from kb.services.metadata import FIELDS, MAX_EDIT_BYTES
from kb.views import citing

bp = Blueprint("api", __name__)
# The bodies a PATCH may come as besides JSON ("": no body, nothing to change).
FORM_TYPES = ("", "application/x-www-form-urlencoded", "multipart/form-data")
csrf.exempt(bp)


@bp.before_request
def check_credentials() -> None:
    """Without a bearer token (checked app-wide by kb.security), state changes need a
    signed-in session and its CSRF token."""
    if bearer_token(request) is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        if not current_user.is_authenticated:
            raise Unauthorized(_("Sign in or send an API token (Authorization: Bearer TOKEN)."))
        csrf.protect()


@bp.get("/api/v1/documents/<int:doc_id>/similar")
def api_similar(doc_id: int) -> Response:
    """The documents nearest to one ("more like this") that the caller may see."""
    doc = documents.get_visible(doc_id, current_user)
    limit = _limit(searching.SIMILAR_DEFAULT, searching.SIMILAR_MAX)
    found = searching.similar(current_user, doc, limit)
    return jsonify({"results": [serialize.document_summary(d) for d in found]})


@bp.get("/api/v1/documents/<int:doc_id>/cite")
def api_cite(doc_id: int) -> Response:
    """The document's citation: ``format`` bib (BibTeX), ris or json (CSL-JSON, the
    default), as /documents/ID/cite.FORMAT."""
    doc = documents.get_visible(doc_id, current_user)
    fmt = request.args.get("format", "json")
    if fmt not in citations.FORMATS:
        message = _("format must be one of: %(formats)s", formats=", ".join(citations.FORMATS))
        raise ValidationError(message, fields={"format": message})
    return citing.attachment(fmt, citing.cited([doc]), f"kb-{doc.doc_id}")


@bp.get("/api/v1/search")
def api_search() -> Response:
    """Full-text search with filters, facets and snippets."""
    args = request.args.to_dict(flat=False)
    req = searching.parse_request(args)
    metrics.count_search("api")
    page = searching.run(current_user, req, expand=searching.expand_wanted(args))
    answer = serialize.search_page(page)
    # Bounds applied to the query (kb.search.limits), e.g. an edit distance lowered to 2.
    answer["capped"] = [{"bound": c.bound, "asked": c.asked, "applied": c.applied}
                        for c in page.result.capped]
    return jsonify(answer)


@bp.post("/api/v1/documents")
def api_upload() -> tuple[Response, int]:
    """Upload one file with its metadata; answers once the file is stored and recorded.

    Multipart (``file`` and metadata fields), or the bytes as the body itself
    (``Content-Type: application/octet-stream``, ``filename`` and metadata in the query
    string). Either way the file is copied to the store in chunks while it is hashed:
    Werkzeug spools a multipart file over 500 KB to a temporary file, and a raw body is
    read straight from the connection, so no upload is ever held in memory whole.
    """
    if not current_user.is_authenticated:
        raise Unauthorized(_("Sign in or send an API token to upload."))
    if not policy.can_upload(current_user):
        raise Forbidden(_("Your account may not upload documents."))
    if request.mimetype == "application/octet-stream":
        stream, filename, fields = _raw_upload()
        other = ("filename",)
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationError(_("Choose a file to upload."), fields={"file": "required"})
        stream, filename, fields = upload.stream, upload.filename, request.form
        other = ("csrf_token",)
    doc = documents.ingest(stream, filename, _metadata(fields, other), current_user)
    metrics.count_upload("api")
    return jsonify(serialize.document(doc, current_user)), 201


@bp.post("/api/v1/documents/<int:doc_id>/files")
def api_add_version(doc_id: int) -> tuple[Response, int]:
    """Send a new version of a document's file (multipart ``file``, optional ``note``);
    201 with the document, its new version current (and processing)."""
    upload = request.files.get("file")
    unknown = sorted(k for k in request.form if k not in ("note", "csrf_token"))
    if unknown:
        raise ValidationError(_("unknown field %(name)r", name=unknown[0]),
                              fields={k: "unknown field" for k in unknown})
    if upload is None or not upload.filename:
        # Who may not see the document learns nothing from a malformed request either.
        documents.get_visible(doc_id, current_user)
        raise ValidationError(_("Choose a file to upload."), fields={"file": "required"})
    doc = documents.add_version(doc_id, upload.stream, upload.filename,
                                request.form.get("note"), current_user)
    metrics.count_upload("api")
    return jsonify(serialize.document(doc)), 201


def _metadata(fields: MultiDict[str, Any], other: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The metadata fields of a form or query string; any other name is refused (400)
    unless it is one of ``other``."""
    _refuse_unknown(fields, other)
    return {k: fields.getlist(k) for k in fields if k in FIELDS}


def _refuse_unknown(names: Iterable[str], other: tuple[str, ...]) -> None:
    unknown = sorted(k for k in names if k not in FIELDS and k not in other)
    if unknown:
        raise ValidationError(_("unknown field %(name)r", name=unknown[0]),
                              fields={k: "unknown field" for k in unknown})


def _raw_upload() -> tuple[IO[bytes], str, MultiDict[str, str]]:
    """The body stream, the file name (``filename`` parameter or Content-Disposition) and
    the metadata (query string) of an upload sent as raw bytes."""
    filename = request.args.get("filename", "").strip()
    if not filename:
        _value, options = parse_options_header(request.headers.get("Content-Disposition", ""))
        filename = options.get("filename", "").strip()
    if not filename:
        raise ValidationError(_("Name the file: ?filename=report.pdf (or a "
                                "Content-Disposition header)."), fields={"filename": "required"})
    return request.stream, filename, request.args


@bp.get("/api/v1/documents/<int:doc_id>")
def api_document(doc_id: int) -> Response:
    """One document's metadata, status and files, with its ETag (for admins, also one in
    the trash, with its ``trash`` dates)."""
    try:
        return _with_etag(documents.get_visible(doc_id, current_user))
    except NotFound:
        doc = trash.find(doc_id, current_user)  # admins see the trash
        if doc is None:
            raise
        answer = jsonify(_trashed(doc))
        answer.set_etag(documents.etag(doc))
        return answer


def _trashed(doc: Document) -> dict[str, Any]:
    answer = serialize.document(doc, current_user)
    purge_at = trash.purge_at(doc)
    answer["trash"] = {"deleted_at": doc.trashed_at.isoformat() if doc.trashed_at else None,
                       "purge_at": purge_at.isoformat() if purge_at else None}
    return answer


@bp.patch("/api/v1/documents/<int:doc_id>")
def api_edit(doc_id: int) -> Response:
    """Change some of a document's metadata: the fields sent (JSON or a form), with an
    upload's validation; the others keep their values. ``If-Match`` is optional."""
    if not current_user.is_authenticated:
        raise Unauthorized(_("Sign in or send an API token to edit."))
    if_match = None
    if request.if_match:
        if_match = {"*"} if request.if_match.star_tag else request.if_match.as_set()
    doc = documents.edit_metadata(doc_id, _changes(), current_user, if_match=if_match)
    return _with_etag(doc)


def _changes() -> dict[str, list[str]]:
    """The fields of a PATCH body: a JSON object, or a form (urlencoded or multipart),
    of at most MAX_EDIT_BYTES."""
    too_large = TooLarge(_("An edit's body may be %(mb)d MB at most: metadata, not files.",
                           mb=MAX_EDIT_BYTES // 2**20))
    if (request.content_length or 0) > MAX_EDIT_BYTES:
        raise too_large
    # Also for a body without Content-Length: reading stops at the bound.
    request.max_content_length = MAX_EDIT_BYTES
    try:
        if not request.is_json:
            if request.mimetype not in FORM_TYPES:
                raise ValidationError(_("Send the fields to change as JSON (Content-Type: "
                                        "application/json) or as a form."))
            return _metadata(request.form, ("csrf_token",))
        body = request.get_json(silent=True)
    except RequestEntityTooLarge as e:
        raise too_large from e
    except RecursionError:  # nested deeper than the parser goes: no metadata anyway
        body = None
    if not isinstance(body, dict):
        raise ValidationError(_('Send a JSON object of the fields to change, e.g. '
                                '{"title": "..."}.'))
    _refuse_unknown(body, ())
    changes: dict[str, list[str]] = {}
    wrong: dict[str, str] = {}
    for name in FIELDS:
        if name not in body:
            continue
        values = _json_values(body[name])
        if values is None:
            wrong[name] = _("Give text, a whole number, null or a list of text.")
        else:
            changes[name] = values
    if wrong:
        raise ValidationError(_("Please correct the metadata: %(problem)s",
                                problem=next(iter(wrong.values()))),
                              fields=wrong)
    return changes


def _json_values(value: object) -> list[str] | None:
    """A JSON field's value as form values: text, a number or a list of text; null empties
    the field. None for any other shape."""
    if value is None:
        return [""]
    if isinstance(value, str):
        return [value]
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _with_etag(doc: Document) -> Response:
    answer = jsonify(serialize.document(doc, current_user))
    answer.set_etag(documents.etag(doc))
    return answer


@bp.post("/api/v1/documents/<int:doc_id>/<any(publish, return, withdraw, restore):action>")
def api_workflow(doc_id: int, action: str) -> Response:
    """Publish, return (with ``comment``), withdraw or restore a document (editors); restore
    also takes a document out of the trash (admins), withdrawn as it was."""
    if action == "restore" and trash.find(doc_id, current_user) is not None:
        return jsonify(serialize.document(trash.restore(doc_id, current_user), current_user))
    doc = workflow.change(doc_id, action, current_user, request.form.get("comment", ""))
    return jsonify(serialize.document(doc, current_user))


@bp.post("/api/v1/documents/<int:doc_id>/submit")
def api_submit(doc_id: int) -> Response:
    """Send a returned document back to the editors (its uploader)."""
    doc = workflow.resubmit(documents.get_visible(doc_id, current_user), current_user)
    return jsonify(serialize.document(doc, current_user))


@bp.delete("/api/v1/documents/<int:doc_id>")
def api_delete(doc_id: int) -> tuple[str, int]:
    """Move a withdrawn document to the trash (admins): 204."""
    documents.delete_document(doc_id, current_user)
    return "", 204


@bp.get("/api/v1/documents/<int:doc_id>/history")
def api_history(doc_id: int) -> Response:
    """The document's changes, newest first, with each field's value before and after
    (editors, admins and its uploader)."""
    doc = documents.get_visible(doc_id, current_user)
    if not policy.can_see_history(current_user, doc):
        raise Forbidden(_("Only editors, admins and its uploader see a document's history."))
    return jsonify({"changes": [
        {"change_id": c.change_id, "at": c.at.isoformat(), "by": c.who, "action": c.action,
         "note": c.note, "changes": {name: [before, after] for name, before, after in c.fields}}
        for c in history.changes_of(doc, current_user)]})


@bp.post("/api/v1/documents/<int:doc_id>/history/<int:change_id>/revert")
def api_revert(doc_id: int, change_id: int) -> Response:
    """Put the metadata back as they were just after change ``change_id`` (editors)."""
    doc = documents.get_visible(doc_id, current_user)
    doc = history.revert(doc, change_id, current_user)
    return jsonify(serialize.document(doc, current_user))


@bp.post("/api/v1/documents/<int:doc_id>/reextract")
def api_reextract(doc_id: int) -> tuple[Response, int]:
    """Queue a new extraction of the stored file (editors); answers 202 with the document."""
    doc = documents.queue_extraction(doc_id, current_user)
    return jsonify(serialize.document(doc, current_user)), 202


@bp.put("/api/v1/documents/<int:doc_id>/translation_of")
def api_link_translation(doc_id: int) -> Response:
    """Link the document as a translation of ``original`` (editors): JSON or a form."""
    if not current_user.is_authenticated:
        raise Unauthorized(_("Sign in or send an API token to link translations."))
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("original") if isinstance(body, dict) else None
    else:
        value = request.form.get("original")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(_('Send the original\'s id, e.g. {"original": 12}.'),
                              fields={"original": "required"})
    original = translations.parse_reference(value, request.host)
    return _with_etag(translations.link(doc_id, original, current_user))


@bp.delete("/api/v1/documents/<int:doc_id>/translation_of")
def api_unlink_translation(doc_id: int) -> Response:
    """Remove the document's link to its original (editors)."""
    if not current_user.is_authenticated:
        raise Unauthorized(_("Sign in or send an API token to unlink translations."))
    return _with_etag(translations.unlink(doc_id, current_user))


def _suggestions(doc: Document) -> Response:
    language = request.args.get("lang", "en")
    return jsonify({"suggestions": [
        {"vocabulary": s.vocabulary, "code": s.code, "label": s.label, "score": s.score,
         "state": s.state, "evidence": [e.as_json() for e in s.evidence]}
        for s in term_suggestions.listed(doc, current_user, language)]})


@bp.get("/api/v1/documents/<int:doc_id>/suggestions")
def api_suggestions(doc_id: int) -> Response:
    """The GCM objectives and SDG targets proposed from the document's text, open and
    decided, with the phrases found and where (editors and admins)."""
    return _suggestions(documents.get_visible(doc_id, current_user))


@bp.post("/api/v1/documents/<int:doc_id>/suggestions/<code>/<any(accept, dismiss):action>")
def api_decide_suggestion(doc_id: int, code: str, action: str) -> Response:
    """Accept a suggestion (the code joins the document's terms) or dismiss it (editors);
    answers with the document's suggestions."""
    doc = documents.get_visible(doc_id, current_user)
    if action == "accept":
        term_suggestions.accept(doc, code, current_user)
    else:
        term_suggestions.dismiss(doc, code, current_user)
    return _suggestions(doc)


@bp.get("/api/v1/taxonomy")
def api_taxonomy() -> Response:
    """The controlled lists, with codes and labels."""
    return jsonify(serialize.taxonomy_lists())


def _limit(default: int, maximum: int) -> int:
    """The ``limit`` parameter, kept between 1 and ``maximum``."""
    raw = request.args.get("limit", "").strip()
    if not raw:
        return default
    try:
        return max(1, min(int(raw), maximum))
    except ValueError as e:
        raise QueryError(_("limit must be a whole number, not %(value)r", value=raw)) from e


@bp.get("/api/v1/suggest")
def api_suggest() -> Response:
    """Search-as-you-type: titles and themes of documents you may see, thesaurus labels."""
    q = request.args.get("q", "")
    found = suggestions.suggest(current_user, q, _limit(suggestions.DEFAULT_LIMIT,
                                                        suggestions.MAX_LIMIT))
    return jsonify({"q": q, "suggestions": [_suggestion(s) for s in found]})


def _suggestion(s: suggestions.Suggestion) -> dict[str, Any]:
    answer: dict[str, Any] = {"text": s.text, "kind": s.kind}
    if s.doc_id is not None:
        answer["doc_id"] = s.doc_id
    if s.lang is not None:
        answer["lang"] = s.lang
    return answer


@bp.get("/api/v1/themes")
def api_themes() -> Response:
    """Thesaurus labels for a theme picker, in ``lang`` (default: the browser's language)."""
    q = request.args.get("q", "")
    lang = request.args.get("lang", "").strip().lower() or (
        request.accept_languages.best_match(thesaurus.label_languages()) or "en")
    return jsonify({"q": q, "lang": lang,
                    "themes": thesaurus.theme_choices(
                        q, lang, _limit(thesaurus.THEMES_DEFAULT, thesaurus.THEMES_MAX))})


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 with ``status`` ok or degraded and its ``reasons``; 503 when the database or the
    index cannot answer (kb.services.health runs the checks)."""
    found = health.report()
    return jsonify(found.as_json()), found.http_status


def _description() -> dict[str, Any]:
    return openapi.description(server=request.script_root or "/",
                               session_cookie=current_app.config["SESSION_COOKIE_NAME"])


@bp.get("/api/v1/openapi.json")
def api_openapi() -> Response:
    """This API's OpenAPI 3.1 description (kb.openapi builds it from the code's bounds)."""
    return jsonify(_description())


@bp.get("/api/docs")
def api_docs() -> str:
    """The same description as a page for people."""
    return render_template("api/docs.html", api=openapi.outline(_description()),
                           markup=openapi.markup)

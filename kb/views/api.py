"""API v1: JSON over HTTP; tokens (``Authorization: Bearer``) or a session with CSRF."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user
from sqlalchemy import text

from kb import context, policy, search, serialize
from kb.auth import bearer_token
from kb.errors import Forbidden, IndexBusy, Unauthorized, ValidationError
from kb.extensions import csrf, db
from kb.services import documents, searching, workflow
from kb.services.metadata import FIELDS

bp = Blueprint("api", __name__)
csrf.exempt(bp)


@bp.before_request
def check_credentials() -> None:
    """Without a bearer token (checked app-wide by kb.security), state changes need a
    signed-in session and its CSRF token."""
    if bearer_token(request) is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        if not current_user.is_authenticated:
            raise Unauthorized("Sign in or send an API token (Authorization: Bearer TOKEN).")
        csrf.protect()


@bp.get("/api/v1/search")
def api_search() -> Response:
    """Full-text search with filters, facets and snippets."""
    req = searching.parse_request(request.args.to_dict(flat=False))
    return jsonify(serialize.search_page(searching.run(current_user, req)))


@bp.post("/api/v1/documents")
def api_upload() -> tuple[Response, int]:
    """Upload one file with its metadata; answers once the file is stored and recorded."""
    if not current_user.is_authenticated:
        raise Unauthorized("Sign in or send an API token to upload.")
    if not policy.can_upload(current_user):
        raise Forbidden("Your account may not upload documents.")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("Choose a file to upload.", fields={"file": "required"})
    meta = {k: request.form.getlist(k) for k in request.form if k in FIELDS}
    unknown = sorted(k for k in request.form if k not in FIELDS and k != "csrf_token")
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}",
                              fields={k: "unknown field" for k in unknown})
    doc = documents.ingest(upload.stream, upload.filename, meta, current_user)
    return jsonify(serialize.document(doc)), 201


@bp.get("/api/v1/documents/<int:doc_id>")
def api_document(doc_id: int) -> Response:
    """One document's metadata, status and files."""
    return jsonify(serialize.document(documents.get_visible(doc_id, current_user)))


@bp.post("/api/v1/documents/<int:doc_id>/<any(publish, return, withdraw, restore):action>")
def api_workflow(doc_id: int, action: str) -> Response:
    """Publish, return (with ``comment``), withdraw or restore a document (editors)."""
    doc = workflow.change(doc_id, action, current_user, request.form.get("comment", ""))
    return jsonify(serialize.document(doc))


@bp.delete("/api/v1/documents/<int:doc_id>")
def api_delete(doc_id: int) -> tuple[str, int]:
    """Delete a withdrawn document for good (admins): 204."""
    documents.delete_document(doc_id, current_user)
    return "", 204


@bp.post("/api/v1/documents/<int:doc_id>/reextract")
def api_reextract(doc_id: int) -> tuple[Response, int]:
    """Queue a new extraction of the stored file (editors); answers 202 with the document."""
    return jsonify(serialize.document(documents.queue_extraction(doc_id, current_user))), 202


@bp.get("/api/v1/taxonomy")
def api_taxonomy() -> Response:
    """The controlled lists, with codes and labels."""
    return jsonify(serialize.taxonomy_lists())


@bp.get("/healthz")
def healthz() -> Response:
    """200 once the database and the index answer."""
    db.session.execute(text("SELECT 1"))
    try:
        search.search(context.index_dir(), search.SearchRequest(per_page=1),
                      search.Visibility(), lambda _: {})
    except Exception as e:  # any failure to open the index is an unhealthy service
        raise IndexBusy(f"The search index does not answer: {e}") from e
    return jsonify({"status": "ok"})

"""Document pages: detail, upload, metadata edit and download."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from kb import context, metrics, policy, taxonomy
from kb.errors import (
    DuplicateError,
    IndexUnavailable,
    KbError,
    QueryError,
    SearchTimeout,
    ValidationError,
)
from kb.forms import MetadataForm, UploadForm, WorkflowForm
from kb.models import Document
from kb.search import SearchRequest, Snippet
from kb.services import accounts, documents, searching, workflow
from kb.services import groups as groups_service

bp = Blueprint("documents", __name__)


@bp.get("/documents/<int:doc_id>")
def detail(doc_id: int) -> str:
    """A document's metadata, status and download link."""
    doc = documents.get_visible(doc_id, current_user)
    agency_labels = {a.code: a.label for a in accounts.agencies()}
    q = request.args.get("q", "").strip()
    snippets: tuple[Snippet, ...] = ()
    similar: list[Document] = []
    # Without the index (missing or damaged) the page still shows, without search extras.
    try:
        if q and doc.status != "processing":
            try:
                page = searching.run(current_user, SearchRequest(q=q, doc_ids=(doc.doc_id,)))
            except (QueryError, SearchTimeout):  # the page shows without snippets
                page = None
            if page is not None and page.found:
                snippets = page.found[0].hit.snippets
        if doc.status == "ready":
            similar = searching.similar(current_user, doc)
    except IndexUnavailable:
        pass
    return render_template("documents/detail.html", doc=doc, label=taxonomy.label,
                           agency_labels=agency_labels, q=q, snippets=snippets,
                           can_edit=policy.can_edit(current_user, doc),
                           sees_processing=policy.sees_processing(current_user, doc),
                           can_review=policy.can_review(current_user),
                           can_download=policy.can_download(current_user, doc),
                           transitions=workflow.TRANSITIONS,
                           help=taxonomy.EXTRACTION_HELP.get(doc.error_code or ""),
                           can_delete=policy.can_delete(current_user)
                           and doc.workflow == "withdrawn",
                           said=doc.current_file.said if doc.current_file else {},
                           similar=similar)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> str | BaseResponse | tuple[str, int]:
    """Upload a file with its metadata (contributors, editors and admins)."""
    if not policy.can_upload(current_user):
        abort(403, "Your account may not upload documents.")
    form = UploadForm()
    if form.validate_on_submit():
        try:
            doc = documents.ingest(form.file.data.stream, form.file.data.filename,
                                   form.raw_metadata(), current_user)
        except DuplicateError as e:
            if e.shown_id is not None:
                flash("This file is already in the repository: here it is.", "info")
                return redirect(url_for("documents.detail", doc_id=e.shown_id))
            flash(e.message, "error")  # in a document this user may not see: no link
            return render_template("documents/upload.html", form=form), e.status_code
        except KbError as e:
            for name, message in e.fields.items():
                if name in form:
                    form[name].errors = [*form[name].errors, message]
            flash(e.message, "error")
            return render_template("documents/upload.html", form=form), e.status_code
        metrics.count_upload("web")
        flash("Stored. Its text is being extracted; this page shows when it is ready.", "ok")
        warning = getattr(doc, "upload_warning", None)
        if warning:
            flash(warning, "info")
        return redirect(url_for("documents.detail", doc_id=doc.doc_id))
    status = 400 if form.is_submitted() else 200
    return render_template("documents/upload.html", form=form), status


@bp.route("/documents/<int:doc_id>/edit", methods=["GET", "POST"])
@login_required
def edit(doc_id: int) -> str | BaseResponse | tuple[str, int]:
    """Edit a document's metadata (editors and admins)."""
    doc = documents.get_visible(doc_id, current_user)
    if not policy.can_edit(current_user, doc):
        abort(403, "Your account may not edit this document.")
    form = MetadataForm()
    if request.method == "GET":
        form.title.data, form.summary.data = doc.title, doc.summary
        form.type.data, form.language.data = doc.doc_type or "", doc.language or ""
        form.countries.data, form.agencies.data = doc.countries, doc.agencies
        form.themes.data = "; ".join(doc.themes)
        form.year.data = str(doc.year or "")
        form.phase.data, form.access.data = doc.phase or "", doc.access
        form.groups.data = [g.name for g in groups_service.groups_for(current_user)
                            if g.group_id in doc.group_ids]
        if request.args.get("from_file") and doc.current_file is not None:
            # Offer what the file says about itself; nothing changes until the user saves.
            said = doc.current_file.said
            form.title.data = said.get("title") or form.title.data
            created = said.get("created", "")
            if created[:4].isdigit():
                form.year.data = created[:4]
    elif form.validate_on_submit():
        try:
            documents.update_metadata(doc, form.raw_metadata(), current_user)
        except KbError as e:
            flash(e.message, "error")
            return render_template("documents/edit.html", form=form, doc=doc), e.status_code
        flash("Saved. The search index is being updated.", "ok")
        return redirect(url_for("documents.detail", doc_id=doc.doc_id))
    else:
        return render_template("documents/edit.html", form=form, doc=doc), 400
    return render_template("documents/edit.html", form=form, doc=doc)


@bp.get("/documents/<int:doc_id>/download")
def download(doc_id: int) -> Response:
    """The original bytes, unchanged, with the original file name; ranges and ETag honoured."""
    doc = documents.get_downloadable(doc_id, current_user)
    stored = doc.current_file
    if stored is None:
        abort(404)
    # A stat, not a hash (``kb doctor`` hashes): a truncated or missing file is refused
    # with a logged error instead of serving wrong bytes under the original's ETag.
    path = context.store().checked_path(stored.sha256, stored.size)
    # A reader fetching later parts of the same file is not a new download.
    if request.range is None or (request.range.ranges and request.range.ranges[0][0] == 0):
        documents.record_download(doc, current_user)
        metrics.count_download()
    response = send_file(
        path, mimetype=stored.content_type, as_attachment=True,
        download_name=stored.filename, etag=stored.sha256, conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/documents/<int:doc_id>/workflow")
@login_required
def change_workflow(doc_id: int) -> BaseResponse:
    """Publish, return (with a comment), withdraw or restore a document (editors)."""
    form = WorkflowForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    action = form.action.data or ""
    try:
        workflow.change(doc_id, action, current_user, form.comment.data or "")
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash({"publish": "Published.", "return": "Returned to the uploader.",
               "withdraw": "Withdrawn: it no longer appears in search or downloads.",
               "restore": "Restored and published again."}[action], "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/reextract")
@login_required
def reextract(doc_id: int) -> BaseResponse:
    """Read the stored file again (editors), e.g. after a fix or with OCR installed."""
    documents.queue_extraction(doc_id, current_user)
    flash("The file will be read again; this page shows when it is done.", "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/delete")
@login_required
def delete(doc_id: int) -> BaseResponse:
    """Delete a withdrawn document for good (admins)."""
    try:
        documents.delete_document(doc_id, current_user)
    except ValidationError as e:
        flash(e.message, "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    flash("Deleted.", "ok")
    return redirect(url_for("review.queue"))

"""Document pages: detail, upload, metadata edit and download."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from kb import context, metrics, policy, slugs, taxonomy
from kb.errors import (
    DuplicateError,
    Forbidden,
    IndexUnavailable,
    KbError,
    NotFound,
    QueryError,
    SearchTimeout,
    TooLarge,
    Unauthorized,
    ValidationError,
)
from kb.extract import ACCEPTED_KINDS, KINDS
from kb.forms import (
    ConfirmForm,
    MetadataForm,
    TranslationForm,
    UploadForm,
    VersionForm,
    WorkflowForm,
)
from kb.i18n import current_language
from kb.models import Document, PendingUpload
from kb.search import SearchRequest, Snippet
from kb.services import (
    accounts,
    citations,
    documents,
    history,
    page_metadata,
    pending,
    portal,
    searching,
    term_suggestions,
    translations,
    trash,
    usage,
    workflow,
)
from kb.services import groups as groups_service
from kb.views import citing

bp = Blueprint("documents", __name__)

# The file chooser's filter: every ending kb reads, and the MIME types of those that have
# one (a phone's chooser goes by type).
ACCEPT_ATTRIBUTE = ",".join([*(ext for kind in KINDS.values() for ext in kind.extensions),
                             *KINDS])


@bp.get("/documents/<int:doc_id>")
@bp.get("/documents/<int:doc_id>/<slug>")
def detail(doc_id: int, slug: str | None = None) -> str | BaseResponse:
    """A document's metadata, status and download link (and, for an admin, a document in
    the trash, with its dates and the buttons to restore or purge it).

    /documents/ID is the page's canonical address, for ever: OAI-PMH, the sitemap, the API,
    citations and old links give it, and the page names it in rel=canonical and its
    metadata. Pages link to /documents/ID/SLUG, the same page with the title readable in
    the address; a slug that is not the current title's (the title changed, or a link was
    mistyped) answers 308 to the current one."""
    # First: who may not see the document gets the same 404 whatever the slug, and no
    # redirect ever spells the title of a document the visitor may not see.
    try:
        doc = documents.get_visible(doc_id, current_user)
    except NotFound:
        trashed = trash.find(doc_id, current_user)  # admins see the trash
        if trashed is None:
            raise
        return _trashed_page(trashed)
    if slug is not None and slug != slug_of(doc):
        target = doc_url(doc)
        if request.query_string:
            target += "?" + request.query_string.decode("latin-1")
        return redirect(target, 308)
    agency_labels = {a.code: a.label for a in accounts.agencies()}
    q = request.args.get("q", "").strip()
    snippets: tuple[Snippet, ...] = ()
    similar: list[Document] = []
    # Without the index (missing or damaged) the page still shows, without search extras.
    try:
        if q and doc.status != "processing":
            try:
                page = searching.run(current_user, SearchRequest(q=q, doc_ids=(doc.doc_id,)),
                                     snippets=3)
            except (QueryError, SearchTimeout):  # the page shows without snippets
                page = None
            if page is not None and page.found:
                snippets = page.found[0].hit.snippets
        if doc.status == "ready":
            similar = searching.similar(current_user, doc)
    except IndexUnavailable:
        pass
    can_download = policy.can_download(current_user, doc)
    canonical = url_for("documents.detail", doc_id=doc.doc_id, _external=True)
    download = (url_for("documents.download", doc_id=doc.doc_id, _external=True)
                if can_download and doc.current_file is not None else None)
    cited = citing.cited([doc], agency_labels)[0]
    html = render_template("documents/detail.html", doc=doc, label=taxonomy.label,
                           canonical=canonical,
                           apa=citations.apa(cited), chicago=citations.chicago(cited),
                           cite_formats=citations.FORMATS,
                           page_meta=page_metadata.describe_page(
                               doc, agency_labels, page_metadata.Links(canonical, download)),
                           agency_labels=agency_labels, q=q, snippets=snippets,
                           can_edit=policy.can_edit(current_user, doc),
                           sees_processing=policy.sees_processing(current_user, doc),
                           can_review=policy.can_review(current_user),
                           can_feature=policy.can_feature(current_user),
                           can_download=can_download,
                           transitions=workflow.TRANSITIONS,
                           help=taxonomy.extraction_help(doc.error_code),
                           can_delete=policy.can_delete(current_user)
                           and doc.workflow == "withdrawn",
                           said=doc.current_file.said if doc.current_file else {},
                           similar=similar, **_versions(doc), **_translations(doc),
                           **_history(doc), **_suggestions(doc))
    if request.method == "GET":
        usage.count_quietly(doc.doc_id, "views", request.user_agent.string)
    return html


def _versions(doc: Document) -> dict[str, object]:
    """The versions table's rows (those the viewer may see, newest first), the form for a
    new version and whether sending one takes the document back to review."""
    can_add = policy.can_add_version(current_user, doc)
    return {"versions": list(reversed(documents.visible_versions(doc, current_user))),
            "sees_senders": policy.can_edit(current_user, doc),
            "can_publish_version": policy.can_publish_version(current_user, doc),
            "version_form": VersionForm() if can_add else None,
            "version_needs_review": can_add and policy.version_needs_review(current_user, doc),
            "formats": {mime: kind.extensions[0].lstrip(".").upper()
                        for mime, kind in KINDS.items()}}


def _translations(doc: Document) -> dict[str, object]:
    """The work's other language versions the viewer may see, and the link form (editors)."""
    can_link = policy.can_link_translation(current_user, doc)
    return {"language_versions": translations.members(doc, current_user),
            "endonym": translations.endonym, "direction": translations.direction,
            "can_link": can_link,
            "original_id": translations.visible_original(doc, current_user)}


def _history(doc: Document) -> dict[str, object]:
    """The history table's rows (for those who may see it) and which may be reverted to:
    the changes of metadata but the latest (the metadata are as it left them)."""
    changes = history.changes_of(doc, current_user)
    revertible: set[int] = set()
    if policy.can_revert(current_user, doc):
        touching = [c.change_id for c in changes if c.touches_metadata]
        revertible = set(touching[1:])
    return {"changes": changes, "revertible": revertible, "field_label": history.LABELS,
            "action_label": history.ACTION_LABELS,
            "confirm_form": ConfirmForm()}


def _suggestions(doc: Document) -> dict[str, object]:
    """The GCM objectives and SDG targets proposed from the text (editors only)."""
    return {"term_suggestions": term_suggestions.shown_to(
        doc, current_user, current_language())}


def _trashed_page(doc: Document) -> str:
    return render_template("documents/detail.html", doc=doc, label=taxonomy.label,
                           agency_labels={a.code: a.label for a in accounts.agencies()},
                           q="", snippets=(), can_edit=False, sees_processing=False,
                           can_review=False, can_feature=False, can_download=False,
                           transitions=workflow.TRANSITIONS, help=None, can_delete=False,
                           said={}, similar=[], trashed_purge_at=trash.purge_at(doc),
                           versions=[], language_versions=[], can_link=False,
                           original_id=None,
                           page_meta=None,
                           **_history(doc))


def slug_of(doc: Document) -> str:
    """The slug of a document's page links: its title's, or "" when that is empty or a
    word that a route below /documents/ID/ takes (a title "Download" must not link to the
    file)."""
    slug = slugs.slugify(doc.title)
    return "" if slug in _subpaths() else slug


@bp.app_template_global("doc_url")
def doc_url(doc: Document, **args: Any) -> str:
    """The link pages give to a document: /documents/ID/SLUG (/documents/ID without a slug)."""
    return url_for("documents.detail", doc_id=doc.doc_id, slug=slug_of(doc) or None, **args)


def _subpaths() -> frozenset[str]:
    """The fixed first words after /documents/<id>/ in the app's routes (edit, download...)."""
    found = current_app.extensions.get("kb.document_subpaths")
    if found is None:
        prefix = "/documents/<int:doc_id>/"
        found = frozenset(rule.rule[len(prefix):].split("/")[0]
                          for rule in current_app.url_map.iter_rules()
                          if rule.rule.startswith(prefix)
                          and not rule.rule[len(prefix):].startswith("<"))
        current_app.extensions["kb.document_subpaths"] = found
    return frozenset(found)


@bp.route("/upload", methods=["GET", "POST"])
@login_required
def upload() -> str | BaseResponse | tuple[str, int]:
    """Upload a file with its metadata (contributors, editors and admins).

    A file sent with the form (without JavaScript) is kept as a pending upload before the
    metadata are checked, as one sent ahead by the page's script is: an error in the form
    never loses it, and the corrected form claims it."""
    if not policy.can_upload(current_user):
        abort(403, _("Your account may not upload documents."))
    form = UploadForm()
    if not form.is_submitted():
        pending.warm_up()
        return _upload_page(form)
    valid = form.validate()
    sent = form.file.data
    row: PendingUpload | None = None
    try:
        if sent is not None and sent.filename:
            row = pending.create(sent.stream, sent.filename, current_user,
                                 read_metadata=not valid)
            form.pending.data = row.public_id
        elif form.pending.data:
            row = pending.owned(form.pending.data, current_user)
        else:
            form.file.errors = [*form.file.errors, _("Choose a file to upload.")]
        if row is None or not valid:
            if row is not None and _prefill_empty(form, pending.prefill(row)):
                flash(_("Your file is kept. What it says about itself filled the empty "
                        "fields: check them, then upload."), "info")
            return _upload_page(form, row, status=400)
        doc = pending.claim(row.public_id, form.raw_metadata(), current_user)
    except DuplicateError as e:
        form.pending.data = ""
        if e.in_trash:
            flash(e.message, "info")
            return redirect(url_for("admin.trash_list"))
        if e.shown_id is not None:
            flash(_("This file is already in the repository: here it is."), "info")
            return redirect(url_for("documents.detail", doc_id=e.shown_id))
        flash(e.message, "error")  # in a document this user may not see: no link
        return _upload_page(form, status=e.status_code)
    except KbError as e:
        for name, message in e.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, message]
        if "file" in e.fields:
            form.pending.data, row = "", None  # the file was refused, or is gone
        flash(e.message, "error")
        return _upload_page(form, row, status=e.status_code)
    metrics.count_upload("web")
    flash(_("Stored. Its text is being extracted; this page shows when it is ready."), "ok")
    warning = getattr(doc, "upload_warning", None)
    if warning:
        flash(warning, "info")
    return redirect(url_for("documents.detail", doc_id=doc.doc_id))


def _upload_page(form: UploadForm, row: PendingUpload | None = None,
                 status: int = 200) -> tuple[str, int]:
    max_mb = int(current_app.config["MAX_UPLOAD_MB"])
    return render_template("documents/upload.html", form=form, pending=row,
                           accepted=ACCEPTED_KINDS, accept=ACCEPT_ATTRIBUTE, max_mb=max_mb,
                           max_bytes=max_mb * 1024 * 1024), status


def _prefill_empty(form: UploadForm, found: pending.Prefill) -> bool:
    """Fill the fields the user left empty with what the file says about itself; returns
    whether any was."""
    filled = False
    if not (form.title.data or "").strip() and found.title:
        form.title.data, form.title.errors, filled = found.title, [], True
    if not form.year.data and found.year:
        form.year.data, filled = found.year, True
    if not form.language.data and found.language:
        form.language.data, filled = found.language, True
    return filled


@bp.post("/upload/pending")
def upload_pending() -> tuple[Response, int]:
    """Store a file sent ahead of the upload form (the page's script, with its progress
    bar); answers JSON: the pending upload's id and what the file says about itself, or
    an error naming the field."""
    if not current_user.is_authenticated:
        return _json_error(Unauthorized(_("Your session has ended; sign in again.")))
    if not policy.can_upload(current_user):
        return _json_error(Forbidden(_("Your account may not upload documents.")))
    limit = int(current_app.config["MAX_UPLOAD_MB"])
    try:
        sent = request.files.get("file")
    except RequestEntityTooLarge:
        return _json_error(TooLarge(_("The file is larger than the limit of %(limit)s MB.",
                                             limit=limit)))
    if sent is None or not sent.filename:
        return _json_error(ValidationError(_("Choose a file to upload.")))
    try:
        row = pending.create(sent.stream, sent.filename, current_user)
    except KbError as e:
        return _json_error(e)
    return jsonify(pending.describe(row)), 201


def _json_error(e: KbError) -> tuple[Response, int]:
    """A refusal as JSON, its message on the ``file`` field unless it names another."""
    answer: dict[str, object] = {"error": e.message, "fields": e.fields or {"file": e.message}}
    if isinstance(e, DuplicateError) and e.shown_id is not None:
        answer["id"] = e.shown_id
        answer["url"] = url_for("admin.trash_list") if e.in_trash else \
            url_for("documents.detail", doc_id=e.shown_id)
    return jsonify(answer), e.status_code


@bp.route("/documents/<int:doc_id>/edit", methods=["GET", "POST"])
@login_required
def edit(doc_id: int) -> str | BaseResponse | tuple[str, int]:
    """Edit a document's metadata (editors and admins)."""
    doc = documents.get_visible(doc_id, current_user)
    if not policy.can_edit(current_user, doc):
        abort(403, _("Your account may not edit this document."))
    form = MetadataForm()
    if request.method == "GET":
        form.title.data, form.summary.data = doc.title, doc.summary
        form.type.data, form.language.data = doc.doc_type or "", doc.language or ""
        form.countries.data, form.agencies.data = doc.countries, doc.agencies
        form.themes.data = "; ".join(doc.themes)
        form.fill_terms(doc)
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
        # Two buttons: "Save" keeps a returned document returned; "Resubmit for review"
        # saves, then sends it back to the editors.
        resubmit = "resubmit" in request.form
        try:
            documents.update_metadata(doc, form.raw_metadata(), current_user)
            if resubmit:
                workflow.resubmit(doc, current_user)
        except KbError as e:
            flash(e.message, "error")
            return _edit_page(form, doc), e.status_code
        flash(_("Saved and resubmitted for review.") if resubmit
              else _("Saved. The search index is being updated."), "ok")
        return redirect(url_for("documents.detail", doc_id=doc.doc_id))
    else:
        return _edit_page(form, doc), 400
    return _edit_page(form, doc)


def _edit_page(form: MetadataForm, doc: Document) -> str:
    return render_template("documents/edit.html", form=form, doc=doc,
                           can_resubmit=policy.can_resubmit(current_user, doc))


@bp.post("/documents/<int:doc_id>/versions")
@login_required
def add_version(doc_id: int) -> BaseResponse:
    """Send a new version of the document's file, with a note (see kb.policy)."""
    form = VersionForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400, _("The form expired; reload the page and try again."))
        documents.get_visible(doc_id, current_user)
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        documents.get_visible(doc_id, current_user)
        flash(_("Choose the file of the new version."), "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    try:
        doc = documents.add_version(doc_id, sent.stream, sent.filename, form.note.data,
                                    current_user)
    except KbError as e:
        if e.status_code in (403, 404, 410) or e.status_code >= 500:
            raise
        where = getattr(e, "shown_id", None)
        message = e.message
        if where and where != doc_id and not getattr(e, "in_trash", False):
            message += " " + _("It is document %(id)s.", id=where)
        flash(message, "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    metrics.count_upload("web")
    current = doc.current_file
    number = current.version if current else ""
    if doc.workflow == "submitted" and not policy.publishes_directly(current_user):
        flash(_("Version %(number)s stored; its text is being read. It waits for an editor's "
                "review before readers see the document again.", number=number), "ok")
    else:
        flash(_("Version %(number)s stored; its text is being read.", number=number), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/versions/<int:version>/public")
@login_required
def version_public(doc_id: int, version: int) -> BaseResponse:
    """Let readers download an older version (action=public) or no more (action=private):
    editors and admins."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    action = request.form.get("action", "")
    if action not in ("public", "private"):
        abort(400, _("Say public or private."))
    try:
        documents.set_version_public(doc_id, version, action == "public", current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("Version %(number)s is now downloadable by readers too.", number=version)
              if action == "public"
              else _("Version %(number)s is now for editors only.", number=version), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.get("/documents/<int:doc_id>/download")
def download(doc_id: int) -> Response:
    """The original bytes, unchanged, with the original file name; ranges and ETag honoured.
    ``?version=N``: an older version, for those who may see it (404 for others)."""
    doc = documents.get_downloadable(doc_id, current_user)
    asked = request.args.get("version")
    if asked is not None and not (asked.isdigit() and 0 < int(asked) <= 2**31 - 1):
        abort(404)
    stored = documents.find_version(doc, int(asked) if asked else None, current_user)
    # A stat, not a hash (``kb doctor`` hashes): a truncated or missing file is refused
    # with a logged error instead of serving wrong bytes under the original's ETag.
    path = context.store().checked_path(stored.sha256, stored.size)
    # A reader fetching later parts of the same file is not a new download.
    if request.range is None or (request.range.ranges and request.range.ranges[0][0] == 0):
        documents.record_download(doc, current_user, request.user_agent.string)
        metrics.count_download()
    response = send_file(
        path, mimetype=stored.content_type, as_attachment=True,
        download_name=stored.filename, etag=stored.sha256, conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/documents/<int:doc_id>/cite.<any(bib, ris, json):fmt>")
def cite(doc_id: int, fmt: str) -> Response:
    """The document's citation as BibTeX, RIS or CSL-JSON; 404 to whoever may not see the
    document (as its page)."""
    doc = documents.get_visible(doc_id, current_user)
    return citing.attachment(fmt, citing.cited([doc]), f"kb-{doc.doc_id}")


@bp.get("/documents/<int:doc_id>/thumbnail.png")
def thumbnail(doc_id: int) -> Response:
    """The first page of a document's PDF, drawn small; 404 where there is none, and to
    whoever may not see the document (as its page)."""
    doc = documents.get_visible(doc_id, current_user)
    stored = doc.current_file
    if stored is None or stored.thumb_width is None:
        abort(404)
    path = context.store().thumbnail_path(stored.sha256)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png", etag=stored.sha256, conditional=True,
                     max_age=0)


@bp.post("/documents/<int:doc_id>/workflow")
@login_required
def change_workflow(doc_id: int) -> BaseResponse:
    """Publish, return (with a comment), withdraw or restore a document (editors)."""
    form = WorkflowForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    action = form.action.data or ""
    try:
        workflow.change(doc_id, action, current_user, form.comment.data or "")
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash({"publish": _("Published."), "return": _("Returned to the uploader."),
               "withdraw": _("Withdrawn: it no longer appears in search or downloads."),
               "restore": _("Restored and published again.")}[action], "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/feature")
@login_required
def feature(doc_id: int) -> BaseResponse:
    """Mark (action=feature) or unmark (action=unfeature) a document as a featured tool or
    methodology of the home page (editors and admins)."""
    action = request.form.get("action", "")
    if action not in ("feature", "unfeature"):
        abort(400, _("Say feature or unfeature."))
    try:
        portal.set_featured(doc_id, action == "feature", current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("Featured on the home page.") if action == "feature"
              else _("No longer featured on the home page."), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/reextract")
@login_required
def reextract(doc_id: int) -> BaseResponse:
    """Read the stored file again (editors), e.g. after a fix or with OCR installed."""
    documents.queue_extraction(doc_id, current_user)
    flash(_("The file will be read again; this page shows when it is done."), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/delete")
@login_required
def delete(doc_id: int) -> BaseResponse:
    """Move a withdrawn document to the trash (admins)."""
    try:
        documents.delete_document(doc_id, current_user)
    except ValidationError as e:
        flash(e.message, "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    flash(_("Moved to the trash: it is purged in %(days)s days unless an administrator "
            "restores it.", days=current_app.config["TRASH_DAYS"]), "ok")
    return redirect(url_for("review.queue"))


@bp.post("/documents/<int:doc_id>/history/<int:change_id>/revert")
@login_required
def revert(doc_id: int, change_id: int) -> BaseResponse:
    """Put the metadata back as they were just after one change of the history (editors)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    doc = documents.get_visible(doc_id, current_user)
    try:
        history.revert(doc, change_id, current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("The metadata are back as they were after change %(number)s.", number=change_id),
              "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/translation")
@login_required
def link_translation(doc_id: int) -> BaseResponse:
    """Link the document as a translation of another, named by number or address (editors)."""
    form = TranslationForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400, _("The form expired; reload the page and try again."))
        flash(_("Give the original's number (such as 12) or its address."), "error")
        return redirect(url_for("documents.detail", doc_id=doc_id))
    try:
        original = translations.parse_reference(form.original.data or "", request.host)
        translations.link(doc_id, original, current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("Linked as a translation of #%(number)s.", number=original), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/translation/remove")
@login_required
def unlink_translation(doc_id: int) -> BaseResponse:
    """Remove the document's link to its original (editors)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    try:
        translations.unlink(doc_id, current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("No longer linked as a translation."), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id))


@bp.post("/documents/<int:doc_id>/suggestions/<code>/<any(accept, dismiss):action>")
@login_required
def decide_suggestion(doc_id: int, code: str, action: str) -> BaseResponse:
    """Accept a GCM objective or SDG target proposed from the text, or dismiss it (editors)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    doc = documents.get_visible(doc_id, current_user)
    try:
        if action == "accept":
            term_suggestions.accept(doc, code, current_user)
        else:
            term_suggestions.dismiss(doc, code, current_user)
    except (ValidationError, NotFound) as e:
        flash(e.message, "error")
    else:
        flash(_("Added %(code)s to the document.", code=code) if action == "accept"
              else _("Dismissed %(code)s: it will not be suggested again.", code=code), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id) + "#suggestions")


@bp.post("/documents/<int:doc_id>/suggestions/accept-all")
@login_required
def accept_all_suggestions(doc_id: int) -> BaseResponse:
    """Accept every open suggestion of the document at once (editors)."""
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired; reload the page and try again."))
    doc = documents.get_visible(doc_id, current_user)
    try:
        term_suggestions.accept_all(doc, current_user)
    except ValidationError as e:
        flash(e.message, "error")
    else:
        flash(_("Added every suggestion to the document."), "ok")
    return redirect(url_for("documents.detail", doc_id=doc_id) + "#suggestions")

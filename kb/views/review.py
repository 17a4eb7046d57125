"""The review queue: documents waiting for an editor."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kb import policy, taxonomy
from kb.extensions import db
from kb.models import Document
from kb.services import workflow

bp = Blueprint("review", __name__)


@bp.get("/review")
@login_required
def queue() -> str:
    """Submitted documents first, then returned and withdrawn ones, each by upload date:
    oldest first, or newest first with ``?order=newest`` (editors and admins)."""
    if not policy.can_review(current_user):
        abort(403, _("Only editors and admins review documents."))
    newest_first = request.args.get("order") == "newest"
    problems = db.session.scalars(
        select(Document).where(Document.error_code.is_not(None), Document.trashed_at.is_(None))
        .order_by(Document.error_code, Document.doc_id)
    ).all()
    by_code: dict[str, list[Document]] = {}
    for doc in problems:
        by_code.setdefault(doc.error_code or "", []).append(doc)
    return render_template("review/queue.html", by_state=workflow.waiting(newest_first),
                           newest_first=newest_first, by_code=by_code,
                           label=taxonomy.label,
                           help={code: taxonomy.extraction_help(code) for code in by_code})

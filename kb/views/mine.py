"""Contributors' own space: the documents they uploaded, and where each stands."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kb import policy, taxonomy
from kb.services import workflow

bp = Blueprint("mine", __name__)


@bp.get("/my/documents")
@login_required
def documents() -> str:
    """The signed-in user's uploads: workflow state, date and the editor's last comment."""
    if not policy.can_upload(current_user):
        abort(403, _("Your account does not upload documents, so it has none of its own."))
    docs = workflow.uploaded_by(current_user)
    editable = {d.doc_id for d in docs if policy.can_edit(current_user, d)}
    return render_template("mine/documents.html", docs=docs, editable=editable,
                           label=taxonomy.label)

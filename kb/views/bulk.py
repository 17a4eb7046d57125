"""Bulk edits from a results page: one vocabulary code added to or removed from several
documents (editors and admins; kb.services.bulk)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from kb import policy
from kb.errors import ValidationError
from kb.forms import BulkTermsForm
from kb.services import bulk

bp = Blueprint("bulk", __name__)


def _back(value: str | None) -> str:
    """The results page to go back to: a path on this site, else the search page."""
    value = (value or "").strip()
    if value.startswith("/") and not value.startswith("//") and "\\" not in value \
            and value.isprintable():
        return value
    return url_for("search.index")


@bp.post("/search/bulk")
def terms() -> BaseResponse:
    """Add or remove a code on the documents checked on a results page."""
    if not policy.can_bulk_edit(current_user):
        abort(403, _("Only editors and admins edit several documents at once."))
    form = BulkTermsForm()
    back = _back(form.back.data)
    if not form.validate_on_submit():
        flash(_("Choose a value and whether to add or remove it."), "error")
        return redirect(back)
    try:
        ids = bulk.parse_ids(request.form.getlist("ids"))
        done = bulk.change_terms(current_user, ids, form.code.data or "",
                                 form.action.data or "")
    except ValidationError as e:
        flash(e.message, "error")
        return redirect(back)
    flash(ngettext("%(num)d document changed.", "%(num)d documents changed.",
                   len(done.changed)) + (" " + ngettext(
                       "%(num)d was already so.", "%(num)d were already so.",
                       len(done.unchanged)) if done.unchanged else "")
          + (" " + ngettext("%(num)d could not be changed.", "%(num)d could not be changed.",
                            len(done.skipped)) if done.skipped else ""), "ok")
    return redirect(back)

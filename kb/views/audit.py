"""The audit trail for admins: browse, filter, export as CSV. Nothing here edits it."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import lazy_gettext

from kb import audit as audit_actions
from kb.errors import QueryError
from kb.forms import AuditFilterForm
from kb.models import utcnow
from kb.services import audit_log
from kb.views.guards import admins_only

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

admins_only(bp, lazy_gettext("Only administrators may read the audit trail."))


def _filter() -> audit_log.AuditFilter:
    args = request.args
    return audit_log.AuditFilter(
        action=args.get("action", ""), actor=args.get("actor", ""),
        target=args.get("target", ""), date_from=args.get("date_from", ""),
        date_to=args.get("date_to", ""),
    )


@bp.get("")
def index() -> tuple[str, int]:
    """Events newest first, filtered by action, actor, target and dates."""
    form = AuditFilterForm(request.args)
    form.action.choices = [("", "Any"), *((a, a) for a in sorted(audit_actions.ACTIONS))]
    number = request.args.get("page", "1")
    try:
        events, total = audit_log.page(_filter(), max(1, int(number)) if number.isdigit() else 1)
        error = None
    except QueryError as e:
        events, total, error = [], 0, e.message
    return render_template("audit/index.html", form=form, events=events, total=total,
                           error=error, args=request.args.to_dict()), (400 if error else 200)


@bp.get("/export.csv")
def export() -> Response:
    """The filtered trail as CSV."""
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    try:
        chunks = audit_log.export_csv(_filter())
        first = next(chunks)
    except QueryError as e:
        abort(400, e.message)

    def body() -> Iterator[str]:
        yield first
        yield from chunks

    return Response(stream_with_context(body()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="kb-audit-{stamp}.csv"'})

"""Usage statistics for editors and admins: page views and downloads of the documents
they may see, over a period, on a page and as CSV (kb.services.usage)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, abort, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from kb import policy, taxonomy
from kb.errors import QueryError
from kb.services import accounts, usage

bp = Blueprint("usage", __name__, url_prefix="/usage")


@bp.before_request
@login_required
def _editors_and_admins() -> None:
    if not policy.can_see_usage(current_user):
        abort(403, _("Only editors and admins read the usage statistics."))


def _period() -> usage.Period:
    return usage.period(request.args.get("from"), request.args.get("to"))


@bp.get("")
def index() -> tuple[str, int]:
    """Totals, the most used documents, each country and agency, and each day of the
    period (the last 30 days unless ``from`` and ``to`` say otherwise)."""
    error, report = None, None
    try:
        report = usage.report(current_user, _period())
    except QueryError as e:
        error = e.message
    return render_template(
        "usage/index.html", report=report, error=error, args=request.args.to_dict(),
        label=taxonomy.label, top=usage.TOP,
        agency_labels={a.code: a.label for a in accounts.agencies()},
    ), (400 if error else 200)


@bp.get("/export.csv")
def export() -> Response:
    """Every document used in the period, as CSV."""
    try:
        when = _period()
    except QueryError as e:
        abort(400, e.message)
    chunks: Iterator[str] = usage.export_csv(current_user, when)
    return Response(stream_with_context(chunks), mimetype="text/csv", headers={
        "Content-Disposition":
            f'attachment; filename="kb-usage-{when.start:%Y%m%d}-{when.end:%Y%m%d}.csv"'})

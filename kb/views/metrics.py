"""`GET /metrics` for Prometheus: admins (signed in or by an API token) and bearers of
METRICS_TOKEN; everyone else gets 404, so that scanners do not learn it exists."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_login import current_user

from kb import metrics as kb_metrics
from kb import policy
from kb.auth import bearer_token

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Counters, gauges and the search time histogram in Prometheus's text format."""
    token = bearer_token(request)
    # The scrapers' token first: it is no account's, so the user is not looked up for it.
    if not (token is not None and kb_metrics.is_metrics_token(token)
            or policy.can_admin(current_user)):
        abort(404)
    response = Response(kb_metrics.exposition(), content_type=kb_metrics.CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    return response

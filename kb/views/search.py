"""The search page: full text, facets, sorting, pagination."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user

from kb import metrics, taxonomy
from kb import search as engine
from kb.errors import QueryError, SearchTimeout
from kb.search import bounds
from kb.services import searching

bp = Blueprint("search", __name__)

FACET_TITLES = {
    "country": "Country", "agency": "Agency", "type": "Document type", "theme": "Theme",
    "language": "Language", "year": "Year", "phase": "Programme phase",
}


def toggle_url(args: dict[str, list[str]], name: str, value: str) -> str:
    """The search URL with one facet value switched on or off (back to the first page)."""
    new = {k: list(v) for k, v in args.items() if k != "page"}
    values = new.setdefault(name, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    params: dict[str, Any] = {k: v for k, v in new.items() if v}
    return url_for("search.index", **params)


def with_args(args: dict[str, list[str]], **changes: str | None) -> str:
    """The search URL with some parameters replaced (None removes one), first page."""
    params: dict[str, Any] = {k: v for k, v in args.items() if k != "page"}
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = [value]
    return url_for("search.index", **params)


def page_url(args: dict[str, list[str]], page: int) -> str:
    params: dict[str, Any] = {**args, "page": [str(page)]}
    return url_for("search.index", **params)


@bp.get("/")
def index() -> tuple[str, int]:
    """Search the documents this visitor may see; with no query, browse them all."""
    args = request.args.to_dict(flat=False)
    error = None
    status = 200
    try:
        req = searching.parse_request(args)
        metrics.count_search("web")
        page = searching.run(current_user, req, expand=searching.expand_wanted(args))
    except (QueryError, SearchTimeout) as e:
        error, status = e.message, e.status_code
        req = engine.SearchRequest(q=(args.get("q") or [""])[-1])
        page = None
    return render_template(
        "search/index.html", req=req, page=page, error=error, facet_titles=FACET_TITLES,
        args=args, label=taxonomy.label, sorts=engine.SORTS, toggle_url=toggle_url,
        page_url=page_url, with_args=with_args, capped=CAPPED,
    ), status


# How the page tells that a bound was applied (kb.search.bounds), by bound.
CAPPED = {
    "edit_distance": "Fuzzy words were searched with at most {applied} letters off "
                     "(you asked for {asked}).",
    "words": "Only the first {applied} different words of the query were searched "
             "(it has {asked}).",
}


@bp.get("/help/search")
def help_page() -> str:
    """How to search: plain words, the query language, translations."""
    return render_template("search/help.html", bounds=bounds,
                           time_limit=current_app.config["SEARCH_TIME_LIMIT"])

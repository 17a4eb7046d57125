"""The portal's pages: home, search results (facets, chips, sorting, pagination), browse
pages by country, agency, type and theme with their A-Z lists, and the search help."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from kb import metrics, policy, taxonomy, vocabularies
from kb import search as engine
from kb.errors import QueryError, SearchTimeout
from kb.forms import BulkTermsForm
from kb.i18n import N_
from kb.security import limit_exports
from kb.services import citations, portal, searching
from kb.views import citing

bp = Blueprint("search", __name__)

FACET_TITLES = {
    "country": N_("Country"), "agency": N_("Agency"), "type": N_("Document type"),
    "theme": N_("Theme"), "language": N_("Language"), "year": N_("Year"),
    "phase": N_("Programme phase"),
    "gcm": N_("GCM objective"), "sdg": N_("SDG target"), "area": N_("Outcome area"),
}
# Facets long enough to need "show all" and a box to find a value in.
LONG_FACETS = ("country", "agency", "theme")
# Values a facet lists before "show all".
FACET_TOP = 8
# Parameters that make the home address (/) show results, as it did before /search.
SEARCH_PARAMS = frozenset({"q", *searching.FILTER_PARAMS, "year_from", "year_to", "sort",
                           "page", "per_page", "expand"})
# Parameters of a results page its feed leaves out: a feed is one page, newest first,
# of its own size (kb.services.feeds).
FEED_SKIPS = frozenset({"page", "sort", "per_page"})
# What a browse page's heading calls its kind (the A-Z lists' headings too).
KIND_TITLES = {"country": N_("Countries"), "agency": N_("Agencies"),
               "type": N_("Document types"), "theme": N_("Themes"), "gcm": N_("GCM objectives"),
               "sdg": N_("SDG targets"), "area": N_("Outcome areas")}


def translated(titles: dict[str, str]) -> dict[str, str]:
    """A dict of English messages in the interface language."""
    return {k: _(v) for k, v in titles.items()}


@dataclass(frozen=True)
class Browse:
    """The fixed filter of a browse page (/browse/country/MDA) and what the page says."""

    kind: str
    value: str
    title: str
    intro: str


@dataclass(frozen=True)
class Links:
    """The addresses of a results page: the same search with one thing changed. On a
    browse page they stay on it while its own filter is the only value of its kind."""

    args: dict[str, list[str]]
    browse: Browse | None = None

    def url(self, params: dict[str, list[str]]) -> str:
        # Only search parameters: url_for would take others (_external...) as its own.
        kept: dict[str, Any] = {k: v for k, v in params.items() if v and k in SEARCH_PARAMS}
        if self.browse is not None:
            kind, value = self.browse.kind, self.browse.value
            if kept.get(kind) == [value]:
                rest = {k: v for k, v in kept.items() if k != kind}
                return url_for("search.browse", kind=kind, value=value, **rest)
        return url_for("search.index", **kept)

    def _first_page(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.args.items() if k != "page"}

    def toggle(self, name: str, value: str) -> str:
        """One facet value switched on or off (back to the first page)."""
        params = self._first_page()
        values = params.setdefault(name, [])
        if any(searching.filter_value(name, v) == value for v in values):
            params[name] = [v for v in values if searching.filter_value(name, v) != value]
        else:
            values.append(value)
        return self.url(params)

    def replace(self, **changes: str | None) -> str:
        """Some parameters replaced (None removes one), first page."""
        params = self._first_page()
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = [value]
        return self.url(params)

    def page(self, number: int) -> str:
        return self.url({**self.args, "page": [str(number)]})

    def export(self, fmt: str) -> str:
        """The same search's documents as a file (every page, up to the export limit)."""
        kept: dict[str, Any] = {k: v for k, v in self.args.items()
                                if v and k in SEARCH_PARAMS and k not in ("page", "per_page")}
        return url_for("search.export", fmt=fmt, **kept)

    def cleared(self) -> str:
        """The same words without any filter (a browse page's own filter included)."""
        keep: dict[str, Any] = {k: v for k, v in self.args.items()
                                if k in ("q", "sort", "expand")}
        return url_for("search.index", **keep)

    @property
    def feed(self) -> str:
        """The Atom feed of the same search (browse page included): its words and filters,
        newest first, the first entries only."""
        kept: dict[str, Any] = {k: v for k, v in self.args.items()
                                if v and k in SEARCH_PARAMS and k not in FEED_SKIPS}
        return url_for("feeds.search", **kept)

    @property
    def action(self) -> str:
        """Where the page's forms send their fields."""
        if self.browse is not None:
            return url_for("search.browse", kind=self.browse.kind, value=self.browse.value)
        return url_for("search.index")

    def hidden(self, *skip: str) -> list[tuple[str, str]]:
        """The parameters a form on the page carries along unseen: the filters stay on when
        the words change (a browse page's own filter is in its address)."""
        out = []
        for name, values in self.args.items():
            if name in ("q", "page", "sort", *skip) or name not in SEARCH_PARAMS:
                continue
            for v in values:
                if self.browse is not None and name == self.browse.kind \
                        and searching.filter_value(name, v) == self.browse.value:
                    continue
                out.append((name, v))
        return out


@dataclass(frozen=True)
class Chip:
    """An active filter, shown above the results with a link that removes it."""

    name: str
    value: str
    label: str
    href: str


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class FacetList:
    """One facet as the page lists it: the first values, then the rest behind "show all";
    a selected value is always among the first."""

    name: str
    title: str
    top: list[FacetValue]
    rest: list[FacetValue] = field(default_factory=list)

    @property
    def findable(self) -> bool:
        return self.name in LONG_FACETS and bool(self.rest)


def facet_lists(page: searching.Page, req: engine.SearchRequest) -> list[FacetList]:
    """The facets of the side bar (the year facet is a range of its own)."""
    out = []
    for name, title in FACET_TITLES.items():
        if name == "year":
            continue
        chosen = set(req.filters.get(name, ()))
        values = [FacetValue(v, page.facet_labels[name].get(v, v), n, v in chosen)
                  for v, n in page.result.facets.get(name, [])]
        if not values:
            continue
        if len(values) <= FACET_TOP + 2:
            out.append(FacetList(name, _(title), values))
            continue
        head = values[:FACET_TOP]
        tail = values[FACET_TOP:]
        head += [v for v in tail if v.selected]
        out.append(FacetList(name, _(title), head, [v for v in tail if not v.selected]))
    return out


def years(page: searching.Page, req: engine.SearchRequest) -> list[tuple[int, int]]:
    """The years of the range's pickers, in order, with their counts (a chosen end of the
    range is offered even when no document has that year)."""
    counted: dict[int, int] = {}
    for value, n in page.result.facets.get("year", []):
        if value.isdigit():
            counted[int(value)] = n
    for end in (req.year_from, req.year_to):
        if end is not None:
            counted.setdefault(end, 0)
    return sorted(counted.items())


def chips(page: searching.Page, req: engine.SearchRequest, links: Links) -> list[Chip]:
    """Every filter in use, each with the address of the same search without it."""
    out = []
    for name in FACET_TITLES:
        for value in req.filters.get(name, ()):
            label = page.facet_labels.get(name, {}).get(value) or filter_label(name, value)
            out.append(Chip(name, value, label, links.toggle(name, value)))
    if req.year_from is not None or req.year_to is not None:
        if req.year_from is not None and req.year_to is not None:
            label = f"{req.year_from}–{req.year_to}"
        elif req.year_from is not None:
            label = _("from %(year)s", year=req.year_from)
        else:
            label = _("until %(year)s", year=req.year_to)
        out.append(Chip("years", label, label, links.replace(year_from=None, year_to=None)))
    return out


def filter_label(name: str, value: str) -> str:
    """How a chip, or a feed's title, names a filter's value (a code's label)."""
    if name in ("country", "type", "phase", "language"):
        return taxonomy.label(name, value)
    if name in vocabularies.VOCABULARIES:
        return vocabularies.label(name, value)
    return value


def _results(args: dict[str, list[str]], browse: Browse | None = None) -> tuple[str, int]:
    """The results page for these parameters (search, or a browse page's fixed filter)."""
    error = None
    status = 200
    page: searching.Page | None
    try:
        req = searching.parse_request(args)
        metrics.count_search("web")
        page = searching.run(current_user, req, expand=searching.expand_wanted(args))
    except (QueryError, SearchTimeout) as e:
        error, status = e.message, e.status_code
        req = engine.SearchRequest(q=(args.get("q") or [""])[-1])
        page = None
    links = Links(args, browse)
    return render_template(
        "search/index.html", req=req, page=page, error=error, args=args, links=links,
        browse=browse, label=taxonomy.label, sorts=engine.SORTS, capped=translated(CAPPED),
        facets=facet_lists(page, req) if page else [],
        years=years(page, req) if page else [],
        chips=chips(page, req, links) if page else [],
        kind_titles=translated(KIND_TITLES), facet_titles=translated(FACET_TITLES),
        export_formats=citations.EXPORT_FORMATS, export_limit=citations.export_limit(),
        bulk=BulkTermsForm(back=request.full_path) if page and policy.can_bulk_edit(
            current_user) else None,
    ), status


@bp.get("/")
def home() -> str | tuple[str, int]:
    """What the repository holds, for this visitor; an old search address (/?q=...) still
    shows its results."""
    args = request.args.to_dict(flat=False)
    if SEARCH_PARAMS & set(args):
        return _results(args)
    return render_template("search/home.html", home=portal.home(current_user),
                           can_upload=policy.can_upload(current_user),
                           can_feature=policy.can_feature(current_user),
                           label=taxonomy.label)


@bp.get("/search")
def index() -> tuple[str, int]:
    """Search the documents this visitor may see; with no query, browse them all."""
    return _results(request.args.to_dict(flat=False))


@bp.get("/search/export.<any(bib, ris, json, csv):fmt>")
@limit_exports
def export(fmt: str) -> Response:
    """The documents of a search (the same parameters as /search) that this visitor may see,
    in result order, up to EXPORT_LIMIT: BibTeX, RIS, CSL-JSON or CSV."""
    try:
        found = citations.export(current_user, request.args.to_dict(flat=False))
    except (QueryError, SearchTimeout) as e:
        abort(e.status_code, e.message)
    response = citing.attachment(fmt, citing.cited(found.documents), "kb-search")
    response.headers["X-Total-Count"] = str(found.total)
    return response


@bp.get("/browse/<any(country, agency, type, theme, gcm, sdg, area):kind>/<path:value>")
def browse(kind: str, value: str) -> tuple[str, int] | BaseResponse:
    """The documents of one country, agency, document type or theme, with the search's
    facets and filters."""
    canonical = portal.browse_value(kind, value)
    args: dict[str, Any] = {k: v for k, v in request.args.to_dict(flat=False).items()
                            if k in SEARCH_PARAMS}
    if canonical != value:
        return redirect(url_for("search.browse", kind=kind, value=canonical, **args), 308)
    args[kind] = [canonical, *(v for v in args.get(kind, [])
                               if searching.filter_value(kind, v) != canonical)]
    title = portal.value_label(kind, canonical)
    return _results(args, Browse(kind, canonical, title, portal.browse_intro(kind, canonical)))


@bp.get("/browse/<any(country, agency, type, theme, gcm, sdg, area):kind>")
def browse_list(kind: str) -> str:
    """Every country, agency, document type or theme with documents, A to Z, counted;
    a vocabulary's concepts in code order."""
    if kind in vocabularies.VOCABULARIES:
        return render_template("search/vocabulary_list.html", kind=kind,
                               title=_(KIND_TITLES[kind]), kind_titles=translated(KIND_TITLES),
                               listed=portal.vocabulary_list(current_user, kind))
    return render_template("search/browse_list.html", kind=kind, title=_(KIND_TITLES[kind]),
                           az=portal.a_to_z(current_user, kind),
                           kind_titles=translated(KIND_TITLES))


# How the page tells that a bound was applied (kb.search's limits), by bound.
CAPPED = {
    "edit_distance": N_("Fuzzy words were searched with at most {applied} letters off "
                        "(you asked for {asked})."),
    "words": N_("Only the first {applied} different words of the query were searched "
                "(it has {asked})."),
}


@bp.get("/help/search")
def help_page() -> str:
    """How to search: plain words, the query language, translations."""
    return render_template("search/help.html", bounds=engine,
                           time_limit=current_app.config["SEARCH_TIME_LIMIT"])

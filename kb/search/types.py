"""The plain data the facade kb.search takes and gives: no search engine in here."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import format_number
from flask_babel import gettext as _

from kb.errors import QueryError
from kb.search.limits import MAX_PER_PAGE, MAX_RESULTS, MAX_YEAR, MIN_YEAR, Cap

SORTS = ("relevance", "newest", "oldest", "title", "added")


@dataclass(frozen=True)
class Visibility:
    """Which documents a user may find, as decided by ``kb.policy``.

    ``all_states``: every workflow state but withdrawn, whatever the access level (editors).
    Otherwise published documents of ``access_levels``, restricted ones of ``group_ids``,
    and the user's own uploads (``uploader_id``) in any state but withdrawn.
    """

    all_states: bool = False
    access_levels: frozenset[str] = frozenset()
    group_ids: frozenset[int] = frozenset()
    uploader_id: int | None = None


@dataclass(frozen=True)
class SearchRequest:
    q: str = ""
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    # Restrict to these documents (a document page showing its own snippets).
    doc_ids: tuple[int, ...] = ()
    # Thesaurus labels to search as well, below the user's own words (kb.services.thesaurus).
    also: tuple[str, ...] = ()
    # Words of the query not to search for (function words of a recognised label).
    quiet: tuple[str, ...] = ()
    # Offer a corrected query when this one finds little.
    spelling: bool = True
    # One result per work (an original and its translations): the member in this
    # language when one matches, else the original, else the best. False: every version.
    grouped: bool = True
    prefer_language: str | None = None


@dataclass(frozen=True)
class Snippet:
    page: int
    html: str


@dataclass(frozen=True)
class Hit:
    doc_id: int
    score: float | None  # None when sorted by something other than relevance
    snippets: tuple[Snippet, ...]


@dataclass(frozen=True)
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: tuple[Hit, ...]
    facets: dict[str, list[tuple[str, int]]]
    # A corrected query built from the index's words that finds more, or None.
    did_you_mean: str | None = None
    # True when the query held nothing to search for (only common words, punctuation).
    nothing_to_search: bool = False
    # Bounds applied to the query (kb.search.whoosh.bounds): what was asked, what was searched.
    capped: tuple[Cap, ...] = ()


def check_year(name: str, value: int | None) -> int | None:
    """``value`` unless it is outside the years a search may name (kb.search.whoosh.bounds)."""
    if value is not None and not MIN_YEAR <= value <= MAX_YEAR:
        raise QueryError(_("%(name)s must be a year between %(min)s and %(max)s, not "
                           "%(value)s", name=name, min=MIN_YEAR, max=MAX_YEAR, value=value))
    return value


def check_page(page: int, per_page: int) -> None:
    """Refuse a page size or a page beyond the bounds (kb.search.whoosh.bounds)."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise QueryError(_("per_page must be between 1 and %(num)d (page size)",
                           num=MAX_PER_PAGE))
    if page < 1:
        raise QueryError(_("page starts at 1"))
    if page * per_page > MAX_RESULTS:
        raise QueryError(_(
            "Page %(page)s is too deep: results are shown up to number %(limit)s (page "
            "%(last)s at %(per_page)s a page; result depth). Narrow the search with words or "
            "filters.", page=page, limit=format_number(MAX_RESULTS),
            last=MAX_RESULTS // per_page, per_page=per_page))


@dataclass(frozen=True)
class IndexedEntry:
    """One document as the index holds it: what it was written from (for `kb doctor`)."""

    doc_id: int
    # The record's updated_at and metadata digest when it was written ("" if not stored).
    updated_at: str
    meta_digest: str

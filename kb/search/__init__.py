"""kb's search, as the rest of kb sees it: plain data types and a few functions.

Views, services and the CLI use only the names in ``__all__``; none of them imports
``whoosh`` or a module below this one (tests/test_search_facade.py checks). The engine
behind these functions is ``kb.search.whoosh``: changing engine, or running a second one,
is done here and below, without touching callers. The data types (kb.search.types,
kb.search.limits) and the text rules the thesaurus shares (kb.search.text) do not import
any engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kb.search import calls
from kb.search.limits import (
    MAX_CLAUSES,
    MAX_CORRECTED_WORDS,
    MAX_DEPTH,
    MAX_EDIT_DISTANCE,
    MAX_EXPANSIONS,
    MAX_FUZZY_WORDS,
    MAX_PATTERN_CHARS,
    MAX_PER_PAGE,
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    MAX_WORDS,
    MAX_YEAR,
    MIN_PATTERN_CHARS,
    MIN_YEAR,
    Cap,
)
from kb.search.text import STOP_WORDS, fold
from kb.search.types import (
    SORTS,
    Hit,
    IndexedEntry,
    SearchRequest,
    SearchResult,
    Snippet,
    Visibility,
    check_page,
    check_year,
)
from kb.search.whoosh import caches as _caches
from kb.search.whoosh import index as _index
from kb.search.whoosh import query as _query
from kb.search.whoosh.parsing import function_words, is_query_language
from kb.search.whoosh.schema import FACET_FIELDS, PAGE_SEPARATOR, IndexRecord, metadata_digest

__all__ = [
    "FACET_FIELDS",
    "MAX_CLAUSES",
    "MAX_CORRECTED_WORDS",
    "MAX_DEPTH",
    "MAX_EDIT_DISTANCE",
    "MAX_EXPANSIONS",
    "MAX_FUZZY_WORDS",
    "MAX_PATTERN_CHARS",
    "MAX_PER_PAGE",
    "MAX_QUERY_CHARS",
    "MAX_RESULTS",
    "MAX_WORDS",
    "MAX_YEAR",
    "MIN_PATTERN_CHARS",
    "MIN_YEAR",
    "PAGE_SEPARATOR",
    "SORTS",
    "STOP_WORDS",
    "Cap",
    "Hit",
    "IndexRecord",
    "IndexedEntry",
    "SearchRequest",
    "SearchResult",
    "Snippet",
    "Visibility",
    "cache_bounds",
    "check_page",
    "check_year",
    "configure",
    "create",
    "delete_documents",
    "engine_calls",
    "fold",
    "function_words",
    "indexed_entries",
    "is_query_language",
    "metadata_digest",
    "more_like",
    "needs_rebuild",
    "problem",
    "rebuild",
    "rewrite_records",
    "search",
    "segment_count",
    "warm",
    "write_records",
]

def configure(*, cache_mb: float) -> None:
    """Bound this process's search memory: ``cache_mb`` megabytes of arrays read from the
    index (postings and field lengths; SEARCH_CACHE_MB). ValueError below one byte."""
    _caches.configure({"arrays": int(cache_mb * 1024 * 1024)})


def cache_bounds() -> dict[str, int]:
    """Each of the engine's caches' bound in this process: bytes for "arrays", else entries."""
    return _caches.bounds()


def engine_calls() -> dict[str, int]:
    """How many times the engine really searched in this process, by kind ("search",
    "more_like"): answers from a cache are not counted."""
    return calls.snapshot()


# --- the index ---------------------------------------------------------------------------

def create(index_dir: Path, *, fresh: bool = False) -> None:
    """Create an empty index (or keep the existing one unless ``fresh``, outdated or
    unreadable)."""
    _index.create(index_dir, fresh=fresh)


def write_records(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Add or replace the documents of ``records``; how many were written."""
    return _index.write_records(index_dir, records, timeout)


def rewrite_records(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Write documents, each once, whatever the index held of them (a document indexed
    twice ends up once); how many were written."""
    return _index.rewrite_records(index_dir, records, timeout)


def delete_documents(index_dir: Path, doc_ids: Iterable[int], timeout: float) -> None:
    """Remove documents from the index."""
    _index.delete_documents(index_dir, doc_ids, timeout)


def rebuild(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Rebuild the whole index from ``records`` (`kb reindex`); how many were written."""
    return _index.rebuild(index_dir, records, timeout)


def needs_rebuild(index_dir: Path) -> bool:
    """True when the index is missing, unreadable or built with another schema version."""
    return _index.needs_rebuild(index_dir)


def problem(index_dir: Path) -> str | None:
    """What is wrong with the index, saying what to run; None when it opens."""
    return _index.problem(index_dir)


def segment_count(index_dir: Path) -> int:
    """How many segments the index has now (a statistic for `kb doctor` and metrics)."""
    return _index.segment_count(index_dir)


def indexed_entries(index_dir: Path) -> list[IndexedEntry]:
    """Every live entry of the index (for `kb doctor`)."""
    return _index.indexed_entries(index_dir)


# --- searching ---------------------------------------------------------------------------

def search(index_dir: Path, req: SearchRequest, visibility: Visibility, *,
           snippets: int = 3, surround: int = 90,
           time_limit: float | None = None) -> SearchResult:
    """Run one search under ``visibility``: the page's hits (ids, scores, at most
    ``snippets`` snippets each of about ``surround`` characters either side), the total,
    every facet's counts and a "did you mean"; SearchTimeout past ``time_limit`` seconds,
    QueryError for a query the user must change."""
    return _query.search(index_dir, req, visibility, snippets=snippets, surround=surround,
                         time_limit=time_limit)


def warm(index_dir: Path, visibility: Visibility) -> int:
    """Prepare a fresh process for its first searches under ``visibility`` (what every
    search needs, built once, so that the first visitors after a start do not wait for it
    or meet the time limit); returns the number of documents searched."""
    return _query.warm(index_dir, visibility)


def more_like(index_dir: Path, doc_id: int, visibility: Visibility, limit: int = 5) -> list[int]:
    """The ids of the documents nearest to ``doc_id`` by the words of its text, that
    ``visibility`` may find, nearest first; remembered until the index changes."""
    return _query.more_like(index_dir, doc_id, visibility, limit)

"""The search engine behind kb: every Whoosh import lives in this package."""

from kb.search.whoosh.bounds import MAX_PER_PAGE, Cap
from kb.search.whoosh.index import (
    IndexedEntry,
    create,
    delete_documents,
    indexed_entries,
    needs_rebuild,
    problem,
    rebuild,
    rewrite_records,
    segment_count,
    write_records,
)
from kb.search.whoosh.parsing import function_words, is_query_language
from kb.search.whoosh.query import (
    SORTS,
    Hit,
    SearchRequest,
    SearchResult,
    Snippet,
    Visibility,
    check_page,
    check_year,
    more_like,
    parse_query,
    search,
)
from kb.search.whoosh.schema import FACET_FIELDS, PAGE_SEPARATOR, IndexRecord, metadata_digest

__all__ = [
    "FACET_FIELDS",
    "MAX_PER_PAGE",
    "PAGE_SEPARATOR",
    "SORTS",
    "Cap",
    "Hit",
    "IndexRecord",
    "IndexedEntry",
    "SearchRequest",
    "SearchResult",
    "Snippet",
    "Visibility",
    "check_page",
    "check_year",
    "create",
    "delete_documents",
    "function_words",
    "indexed_entries",
    "is_query_language",
    "metadata_digest",
    "more_like",
    "needs_rebuild",
    "parse_query",
    "problem",
    "rebuild",
    "rewrite_records",
    "search",
    "segment_count",
    "write_records",
]

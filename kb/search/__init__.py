"""The search engine behind kb: every Whoosh import lives in this package."""

from kb.search.bounds import MAX_PER_PAGE, Cap
from kb.search.index import (
    create,
    delete_documents,
    needs_rebuild,
    problem,
    rebuild,
    segment_count,
    write_records,
)
from kb.search.parsing import function_words, is_query_language
from kb.search.query import (
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
from kb.search.schema import FACET_FIELDS, PAGE_SEPARATOR, IndexRecord

__all__ = [
    "FACET_FIELDS",
    "MAX_PER_PAGE",
    "PAGE_SEPARATOR",
    "SORTS",
    "Cap",
    "Hit",
    "IndexRecord",
    "SearchRequest",
    "SearchResult",
    "Snippet",
    "Visibility",
    "check_page",
    "check_year",
    "create",
    "delete_documents",
    "function_words",
    "is_query_language",
    "more_like",
    "needs_rebuild",
    "parse_query",
    "problem",
    "rebuild",
    "search",
    "segment_count",
    "write_records",
]

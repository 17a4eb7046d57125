"""The search engine behind kb: every Whoosh import lives in this package."""

from kb.search.index import (
    create,
    delete_documents,
    needs_rebuild,
    problem,
    rebuild,
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
    more_like,
    parse_query,
    search,
)
from kb.search.schema import FACET_FIELDS, PAGE_SEPARATOR, IndexRecord

__all__ = [
    "FACET_FIELDS",
    "PAGE_SEPARATOR",
    "SORTS",
    "Hit",
    "IndexRecord",
    "SearchRequest",
    "SearchResult",
    "Snippet",
    "Visibility",
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
    "write_records",
]

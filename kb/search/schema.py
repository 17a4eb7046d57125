"""The Whoosh schema and the conversion of a document into index fields."""

from __future__ import annotations

from dataclasses import dataclass

from whoosh import columns, fields
from whoosh.analysis import StemmingAnalyzer
from whoosh.lang import porter2

# Bump when the schema or analysis changes: an index of another version is rebuilt.
SCHEMA_VERSION = 3

# Facet name -> column field counted for it.
FACET_FIELDS = {
    "country": "f_country",
    "agency": "f_agency",
    "type": "f_type",
    "theme": "f_theme",
    "language": "f_language",
    "year": "f_year",
    "phase": "f_phase",
}


def _facet_column() -> fields.COLUMN:
    # A list column counts each value of a multi-valued field once (see WHOOSH.md).
    return fields.COLUMN(columns.VarBytesListColumn())


def build_schema() -> fields.Schema:
    """The index schema: searchable text, filter terms, facet columns and sort keys."""
    # Porter2: Whoosh's Porter stemmer never applies its step-1b rules ("committed" would
    # not meet "commitment"), measured on the UNGDC speeches.
    text = StemmingAnalyzer(stemfn=porter2.stem)
    return fields.Schema(
        doc_id=fields.NUMERIC(int, bits=64, stored=True, unique=True, signed=False),
        title=fields.TEXT(analyzer=text),
        summary=fields.TEXT(analyzer=text),
        themes_text=fields.TEXT(analyzer=text),
        # chars=True stores character offsets: snippets need no re-analysis of the text.
        body=fields.TEXT(analyzer=text, chars=True),
        country=fields.KEYWORD(commas=True, lowercase=False),
        agency=fields.KEYWORD(commas=True, lowercase=False),
        theme=fields.KEYWORD(commas=True, lowercase=False),
        type=fields.ID,
        language=fields.ID,
        phase=fields.ID,
        access=fields.ID,
        # Access control inside the query: workflow state, uploader, groups of a
        # restricted document (kb.policy decides; kb.search.query translates).
        workflow=fields.ID,
        uploader=fields.ID,
        groups=fields.KEYWORD(commas=True, lowercase=False),
        year=fields.NUMERIC(int, bits=32, signed=False),
        sort_year=fields.NUMERIC(int, bits=32, signed=False, sortable=True),
        sort_created=fields.NUMERIC(int, bits=64, signed=False, sortable=True),
        sort_title=fields.COLUMN(columns.VarBytesColumn()),
        # Character offset at which each page starts in `body`, to name a snippet's page.
        page_starts=fields.STORED,
        **{name: _facet_column() for name in FACET_FIELDS.values()},
    )


PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class IndexRecord:
    """What the index needs of one document: built by the service from database rows."""

    doc_id: int
    title: str
    summary: str
    doc_type: str | None
    countries: tuple[str, ...]
    agencies: tuple[str, ...]
    themes: tuple[str, ...]
    language: str | None
    year: int | None
    phase: str | None
    access: str
    created_ts: int
    pages: tuple[str, ...]
    workflow: str = "published"
    uploader_id: int | None = None
    group_ids: tuple[int, ...] = ()

    def body(self) -> str:
        return PAGE_SEPARATOR.join(self.pages)

    def page_starts(self) -> list[int]:
        starts, pos = [], 0
        for page in self.pages:
            starts.append(pos)
            pos += len(page) + len(PAGE_SEPARATOR)
        return starts


def _b(values: list[str] | tuple[str, ...]) -> list[bytes]:
    return [v.encode("utf-8") for v in values]


def to_fields(rec: IndexRecord) -> dict[str, object]:
    """The keyword arguments of ``writer.update_document`` for one record."""
    single = {
        "f_type": rec.doc_type,
        "f_language": rec.language,
        "f_year": str(rec.year) if rec.year else None,
        "f_phase": rec.phase,
    }
    out: dict[str, object] = {
        "doc_id": rec.doc_id,
        "title": rec.title,
        "summary": rec.summary,
        "themes_text": " ".join(rec.themes),
        "body": rec.body(),
        "country": ",".join(rec.countries),
        "agency": ",".join(rec.agencies),
        "theme": ",".join(rec.themes),
        "access": rec.access,
        "workflow": rec.workflow,
        "groups": ",".join(str(g) for g in rec.group_ids),
        "sort_year": rec.year or 0,
        "sort_created": rec.created_ts,
        "sort_title": rec.title.casefold().encode("utf-8"),
        "page_starts": rec.page_starts(),
        "f_country": _b(rec.countries),
        "f_agency": _b(rec.agencies),
        "f_theme": _b(rec.themes),
    }
    for name, value in single.items():
        out[name] = [value.encode("utf-8")] if value else []
    for name, value in (("type", rec.doc_type), ("language", rec.language),
                        ("phase", rec.phase)):
        if value:
            out[name] = value
    if rec.year:
        out["year"] = rec.year
    if rec.uploader_id is not None:
        out["uploader"] = str(rec.uploader_id)
    return out

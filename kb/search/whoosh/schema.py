"""The Whoosh schema and the conversion of a document into index fields."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass

from whoosh import columns, fields
from whoosh.analysis import LowercaseFilter, RegexTokenizer

from kb.search.whoosh.analysis import LANGUAGES, OTHER, WORD_PATTERN, analyzer, field_language

# Bump when the schema or analysis changes: an index of another version is rebuilt.
SCHEMA_VERSION = 11

# Every text field exists once per analysis language ("title_fr", "body_ru", ...): a
# document's text goes to the fields of its language, analysed with that language's
# stemmer, and a query is analysed for every language the index holds.
TEXT_LANGUAGES: tuple[str, ...] = (*LANGUAGES, OTHER)
TEXT_FIELDS: tuple[str, ...] = ("title", "summary", "themes", "body")
# The body field also holds the title, summary and themes, after the text: it ranks the
# whole document as one (BM25 saturates each field apart, and measured on CISI, one field
# for everything plus boosts for the metadata fields ranked best), and its offsets still
# point into the text itself for snippets. Its postings are also written as flat arrays
# (kb.search.whoosh.flat): they score plain words, and as term vectors they feed relevance
# feedback and "more like this" (kb.search.whoosh.ranking). Whoosh keeps no vector of its own.
FLAT_FIELDS: tuple[str, ...] = ("body",)
FLAT_PREFIXES: tuple[str, ...] = tuple(f"{name}_" for name in FLAT_FIELDS)

# The words of a document as written (lower-cased, not stemmed), for "did you mean":
# taken from the metadata and the first 5,000 characters of the text (two pages), which
# across a collection hold most of its vocabulary: indexing 300 speeches took about a
# fifth less time than with 20,000. Each word is handed to the index once per document
# (found by one regular expression pass): the field's analysis sees a few hundred words,
# and its frequencies count documents, which is what ranks the corrector's suggestions.
SPELL_FIELD = "spell"
SPELL_CHARS = 5_000
_SPELL_WORDS = re.compile(WORD_PATTERN)


def spell_words(*texts: str) -> str:
    """The distinct lower-cased words of ``texts``, space-separated, first seen first."""
    return " ".join(dict.fromkeys(_SPELL_WORDS.findall(" ".join(texts).lower())))


def text_field(name: str, lang: str) -> str:
    """The index field holding text field ``name`` of documents in ``lang``."""
    return f"{name}_{lang}"

WORK_COLUMN = "f_work"
BODY_COLUMN = "body_text"

# Facet name -> column field counted for it.
FACET_FIELDS = {
    "country": "f_country",
    "agency": "f_agency",
    "type": "f_type",
    "theme": "f_theme",
    "language": "f_language",
    "year": "f_year",
    "phase": "f_phase",
    "gcm": "f_gcm",
    "sdg": "f_sdg",
    "area": "f_area",
}


def _facet_column() -> fields.COLUMN:
    # A list column counts each value of a multi-valued field once (see WHOOSH.md).
    return fields.COLUMN(columns.VarBytesListColumn())


def build_schema() -> fields.Schema:
    """The index schema: searchable text, filter terms, facet columns and sort keys."""
    texts: dict[str, fields.FieldType] = {}
    for lang in TEXT_LANGUAGES:
        words = analyzer(lang)
        for name in TEXT_FIELDS:
            texts[text_field(name, lang)] = fields.TEXT(
                analyzer=words,
                # Character offsets: snippets need no re-analysis of the text.
                chars=name == "body",
            )
    return fields.Schema(
        doc_id=fields.NUMERIC(int, bits=64, stored=True, unique=True, signed=False),
        # The analysis language of the document's text fields (stored: snippets need it).
        text_lang=fields.ID(stored=True),
        **texts,
        spell=fields.TEXT(analyzer=RegexTokenizer(WORD_PATTERN) | LowercaseFilter(),
                          phrase=False),
        country=fields.KEYWORD(commas=True, lowercase=False),
        agency=fields.KEYWORD(commas=True, lowercase=False),
        theme=fields.KEYWORD(commas=True, lowercase=False),
        gcm=fields.KEYWORD(commas=True, lowercase=False),
        sdg=fields.KEYWORD(commas=True, lowercase=False),
        area=fields.KEYWORD(commas=True, lowercase=False),
        type=fields.ID,
        language=fields.ID,
        phase=fields.ID,
        access=fields.ID,
        # Access control inside the query: workflow state, uploader, groups of a
        # restricted document (kb.policy decides; kb.search.whoosh.query translates).
        workflow=fields.ID,
        uploader=fields.ID,
        groups=fields.KEYWORD(commas=True, lowercase=False),
        year=fields.NUMERIC(int, bits=32, signed=False),
        sort_year=fields.NUMERIC(int, bits=32, signed=False, sortable=True),
        sort_created=fields.NUMERIC(int, bits=64, signed=False, sortable=True),
        sort_title=fields.COLUMN(columns.VarBytesColumn()),
        # Character offset at which each page starts in `body`, to name a snippet's page.
        page_starts=fields.STORED,
        # The body as indexed, compressed, read back for the snippets of a page's hits only.
        **{BODY_COLUMN: fields.COLUMN(columns.CompressedBytesColumn())},
        # What the index was written from, for `kb doctor`: the record's updated_at and a
        # digest of its indexed metadata (a stale entry's digest differs from the record's).
        updated_at=fields.STORED,
        meta_digest=fields.STORED,
        **{name: _facet_column() for name in FACET_FIELDS.values()},
        # The work a document belongs to (an original and its translations): the
        # original's doc_id, as a column (kb.search.whoosh.query keeps one result per work), and
        # a term on translations, so that an index without any skips the grouping.
        **{WORK_COLUMN: _facet_column()},
        translated=fields.ID,
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
    # The record's last change (ISO 8601), kept with the entry to say how old it is.
    updated_at: str = ""
    # The original this document translates (Document.translation_of), None for one.
    translation_of: int | None = None
    # The controlled vocabularies' codes (kb.vocabularies).
    gcm: tuple[str, ...] = ()
    sdg: tuple[str, ...] = ()
    area: tuple[str, ...] = ()

    @property
    def work(self) -> int:
        """The work's key: the original's doc_id (its own for an original)."""
        return self.translation_of or self.doc_id

    def body(self) -> str:
        return PAGE_SEPARATOR.join(self.pages)

    def page_starts(self) -> list[int]:
        starts, pos = [], 0
        for page in self.pages:
            starts.append(pos)
            pos += len(page) + len(PAGE_SEPARATOR)
        return starts


_NOT_DIGESTED = ("pages", "updated_at")


def metadata_digest(rec: IndexRecord) -> str:
    """A digest of everything the index holds of ``rec`` apart from its text and its
    updated_at: equal digests mean the index has the record's metadata as it is."""
    meta = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)
            if f.name not in _NOT_DIGESTED}
    return hashlib.sha256(json.dumps(meta, sort_keys=True).encode("utf-8")).hexdigest()


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
    lang = field_language(rec.language)
    body = rec.body()
    out: dict[str, object] = {
        "doc_id": rec.doc_id,
        "text_lang": lang,
        text_field("title", lang): rec.title,
        text_field("summary", lang): rec.summary,
        text_field("themes", lang): " ".join(rec.themes),
        text_field("body", lang): PAGE_SEPARATOR.join(
            (body, rec.title, rec.summary, " ".join(rec.themes))),
        SPELL_FIELD: spell_words(rec.title, rec.summary, *rec.themes, body[:SPELL_CHARS]),
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
        BODY_COLUMN: body.encode("utf-8"),
        "updated_at": rec.updated_at,
        "meta_digest": metadata_digest(rec),
        "f_country": _b(rec.countries),
        "f_agency": _b(rec.agencies),
        "f_theme": _b(rec.themes),
        "gcm": ",".join(rec.gcm),
        "sdg": ",".join(rec.sdg),
        "area": ",".join(rec.area),
        "f_gcm": _b(rec.gcm),
        "f_sdg": _b(rec.sdg),
        "f_area": _b(rec.area),
        WORK_COLUMN: [str(rec.work).encode("utf-8")],
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
    if rec.translation_of:
        out["translated"] = "yes"
    return out

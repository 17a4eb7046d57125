"""The API's OpenAPI 3.1 description, built from the code's own bounds and lists (kb.search,
kb.services) so that it cannot drift from what the API does. Served at
/api/v1/openapi.json and read by people at /api/docs (``outline`` shapes it for that page);
tests/test_api_fuzz.py sends the real API what it describes and checks every answer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from kb import search, taxonomy, vocabularies
from kb.extract import ACCEPTED_KINDS
from kb.services import citations, documents, metadata, searching, suggestions, thesaurus

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1"
DOCUMENT_STATUSES = ("processing", "ready", "failed")
# The names of the security schemes (components.securitySchemes).
BEARER, SESSION, CSRF = "bearerToken", "sessionCookie", "csrfHeader"
# Reading needs no credentials (anonymous callers see public documents); changes need a
# token, or a signed-in session together with its CSRF token.
READ: list[dict[str, list[str]]] = [{}, {BEARER: []}, {SESSION: []}]
WRITE: list[dict[str, list[str]]] = [{BEARER: []}, {SESSION: [], CSRF: []}]
OPEN: list[dict[str, list[str]]] = [{}]

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **more: Any) -> Schema:
    return {"type": [kind, "null"], **more}


def _strings(**more: Any) -> Schema:
    return {"type": "array", "items": {"type": "string", **more}}


def _codes(terms: Sequence[taxonomy.Term]) -> list[str]:
    return [t.code for t in terms]


def _response(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: Schema, example: Any = None, description: str = "") -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    answer: Schema = {"content": {"application/json": media}}
    if description:
        answer["description"] = description
    return answer


# What each controlled vocabulary holds (kb.vocabularies; a new list without a line
# here fails loudly).
_VOCABULARY_NAMES = {"gcm": "the 23 objectives of the Global Compact for Migration",
                     "sdg": "migration-related SDG targets",
                     "area": "the programme's outcome areas"}

# ---------------------------------------------------------------------------- examples

_HOST = "https://kb.example.org"

DOCUMENT_SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "title": "Lessons learned: remittances and diaspora investment in Moldova",
    "summary": "How hometown associations channel remittances into local development.",
    "type": "lessons-learned",
    "countries": ["MDA"],
    "agencies": ["IOM", "UNDP"],
    "themes": ["remittances", "diaspora"],
    "language": "en",
    "year": 2014,
    "gcm": ["gcm-19", "gcm-20"],
    "sdg": ["sdg-10.c"],
    "area": ["area-evidence"],
    "url": f"{_HOST}/documents/42",
    "download_url": f"{_HOST}/documents/42/download",
}

DOCUMENT_EXAMPLE: dict[str, Any] = {
    **DOCUMENT_SUMMARY_EXAMPLE,
    "phase": "phase-2",
    "access": "public",
    "groups": [],
    "workflow": "published",
    "workflow_comment": None,
    "status": "ready",
    "error": None,
    "error_code": None,
    "created_at": "2015-03-02T09:30:12.402113Z",
    "updated_at": "2015-03-02T09:31:40.118020Z",
    "files": [{"version": 1, "filename": "moldova-remittances.pdf", "size": 1834221,
               "sha256": "9f2b5c0d8e6a4f1b3c7d2e9a0b8c6d4e2f1a3b5c7d9e0f2a4b6c8d0e2f4a6b8c",
               "content_type": "application/pdf", "pages": 48,
               "note": None, "public": False, "created_at": "2015-03-02T09:30:12.402113Z",
               "current": True,
               "download_url": f"{_HOST}/documents/42/download?version=1"}],
    "downloads": 17,
    "translation_of": None,
    "translations": [{"doc_id": 43, "language": "ro",
                      "title": "Lecții învățate: remitențele în Moldova",
                      "url": "https://kb.example.org/documents/43"}],
}

SEARCH_EXAMPLE: dict[str, Any] = {
    "total": 1, "page": 1, "per_page": 20,
    "results": [{**DOCUMENT_SUMMARY_EXAMPLE, "score": 12.4031,
                 "snippets": [{"page": 3, "html": "the <mark>remittances</mark> sent home by "
                                                  "the Moldovan diaspora"}],
                 "translations": [{"id": 43, "language": "fr",
                                   "title": "Envois de fonds de la diaspora moldave",
                                   "url": f"{_HOST}/documents/43"}]}],
    "facets": {
        "country": [{"value": "MDA", "label": "Moldova", "count": 1}],
        "agency": [{"value": "IOM", "label": "International Organization for Migration",
                    "count": 1},
                   {"value": "UNDP", "label": "United Nations Development Programme",
                    "count": 1}],
        "type": [{"value": "lessons-learned", "label": "Lessons learned", "count": 1}],
        "theme": [{"value": "remittances", "label": "remittances", "count": 1},
                  {"value": "diaspora", "label": "diaspora", "count": 1}],
        "language": [{"value": "en", "label": "English", "count": 1}],
        "year": [{"value": "2014", "label": "2014", "count": 1}],
        "phase": [{"value": "phase-2", "label": "Phase 2 (2014-2018)", "count": 1}],
        "gcm": [{"value": "gcm-19", "label": vocabularies.label("gcm", "gcm-19", "en"),
                 "count": 1},
                {"value": "gcm-20", "label": vocabularies.label("gcm", "gcm-20", "en"),
                 "count": 1}],
        "sdg": [{"value": "sdg-10.c", "label": vocabularies.label("sdg", "sdg-10.c", "en"),
                 "count": 1}],
        "area": [{"value": "area-evidence",
                  "label": vocabularies.label("area", "area-evidence", "en"), "count": 1}],
    },
    "did_you_mean": None,
    "nothing_to_search": False,
    "expand": True,
    "expansions": [{"matched": "remittances", "lang": "en", "label": "remittances",
                    "also": [{"lang": "fr", "label": "envois de fonds"},
                             {"lang": "es", "label": "remesas"}]}],
    "capped": [],
}

HEALTH_EXAMPLE: dict[str, Any] = {
    "status": "ok", "reasons": [], "database": "ok", "index": "ok",
    "disk": {"uploads": {"free_mb": 40960}, "instance": {"free_mb": 40960},
             "index": {"free_mb": 40960}},
    "queue": {"queued": 0, "running": 0, "oldest_queued_s": None, "workers_alive": 1,
              "last_worker_seen_s": 2, "waiting_for_disk": 0},
}


# ----------------------------------------------------------------------------- schemas

def _schemas() -> dict[str, Schema]:
    summary_properties: dict[str, Schema] = {
        "id": {"type": "integer", "minimum": 1, "description": "The document's id."},
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "type": _nullable("string", description="A code of `types` in /api/v1/taxonomy."),
        "countries": _strings(description="ISO 3166-1 alpha-3 codes (and `EU`)."),
        "agencies": _strings(description="Codes of `agencies` in /api/v1/taxonomy."),
        "themes": _strings(),
        "language": _nullable("string", description="ISO 639-1 code."),
        "year": _nullable("integer"),
        **{name: _strings(description=f"Codes of `{name}` in /api/v1/taxonomy "
                                      f"({_VOCABULARY_NAMES[name]}).")
           for name in vocabularies.NAMES},
        "url": {"type": "string", "format": "uri", "description": "The document's page."},
        "download_url": {"type": "string", "format": "uri",
                         "description": "The original file (ETag, ranges)."},
    }
    summary: Schema = {
        "type": "object",
        "description": "A document as lists show it.",
        "properties": summary_properties,
        "required": list(summary_properties),
        "examples": [DOCUMENT_SUMMARY_EXAMPLE],
    }
    stored_file: Schema = {
        "type": "object",
        "description": "One stored version of the document's file.",
        "properties": {
            "version": {"type": "integer", "minimum": 1},
            "filename": {"type": "string", "maxLength": 255,
                         "description": "The uploader's file name (metadata only)."},
            "size": {"type": "integer", "minimum": 0, "description": "Bytes."},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "content_type": {"type": "string", "description": "Sniffed from the bytes."},
            "pages": _nullable("integer", minimum=0,
                               description="Pages, slides or sheets, once extracted."),
            "note": _nullable("string", maxLength=200,
                              description="What its sender said of this version."),
            "public": {"type": "boolean", "description": "An older version readers may "
                       "download too (an editor's choice); the current one follows the "
                       "document."},
            "created_at": {"type": "string", "format": "date-time"},
            "current": {"type": "boolean", "description": "True on the last version only: "
                        "the file read, indexed and downloaded by default."},
            "download_url": {"type": "string", "format": "uri",
                             "description": "`/documents/ID/download?version=N`."},
        },
        "required": ["version", "filename", "size", "sha256", "content_type", "pages",
                     "note", "public", "created_at", "current", "download_url"],
    }
    document_properties: dict[str, Schema] = {
        "phase": _nullable("string", description="A code of `phases` in /api/v1/taxonomy."),
        "access": {"type": "string", "enum": _codes(taxonomy.ACCESS_LEVELS)},
        "groups": {"type": "array", "items": {"type": "integer"},
                   "description": "Ids of the groups a restricted document is shared with."},
        "workflow": {"type": "string", "enum": _codes(taxonomy.WORKFLOW_STATES),
                     "description": "Where the document is in review."},
        "workflow_comment": _nullable("string", description="The reviewer's last comment."),
        "status": {"type": "string", "enum": list(DOCUMENT_STATUSES),
                   "description": "Where the file's processing is: text extraction and "
                                  "indexing run in the background after an upload."},
        "error": _nullable("string", description="Why processing failed, for a person."),
        "error_code": _nullable("string", description="The kind of failure, e.g. "
                                                      "`corrupt`, `encrypted`, `timed-out`."),
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "files": {"type": "array", "items": _ref("StoredFile")},
        "downloads": {"type": "integer", "minimum": 0},
        "translation_of": _nullable("integer", description=(
            "The original this document is a translation of (the same work in another "
            "language), or null: also null when you may not see the original.")),
        "translations": {"type": "array", "description": (
            "The work's other language versions that you may see (its original "
            "included), by language."), "items": {
            "type": "object", "properties": {
                "doc_id": {"type": "integer"}, "language": _nullable("string"),
                "title": {"type": "string"}, "url": {"type": "string", "format": "uri"}},
            "required": ["doc_id", "language", "title", "url"]}},
    }
    document: Schema = {
        "description": "A document: its metadata, review state, processing status and files.",
        "allOf": [_ref("DocumentSummary"), {
            "type": "object",
            "properties": {
                **document_properties,
                "warning": {"type": "string", "description": "Only in the answer to an "
                            "upload: the file name's extension disagrees with its content."},
            },
            "required": list(document_properties),
        }],
        "examples": [DOCUMENT_EXAMPLE],
    }
    facet_value: Schema = {
        "type": "object",
        "properties": {"value": {"type": "string"}, "label": {"type": "string"},
                       "count": {"type": "integer", "minimum": 0}},
        "required": ["value", "label", "count"],
    }
    hit: Schema = {
        "description": "A search result: the document, its score and snippets.",
        "allOf": [_ref("DocumentSummary"), {
            "type": "object",
            "properties": {
                "score": _nullable("number", description="Null unless sorted by relevance."),
                "snippets": {"type": "array", "items": _ref("Snippet")},
                "translations": {
                    "type": "array", "items": _ref("Translation"),
                    "description": "The work's other language versions you may see "
                                   "(empty with translations=all)."},
            },
            "required": ["score", "snippets", "translations"],
        }],
    }
    translation: Schema = {
        "type": "object",
        "description": "Another language version of a result's work.",
        "properties": {"id": {"type": "integer"}, "language": _nullable("string"),
                       "title": {"type": "string"}, "url": {"type": "string", "format": "uri"}},
        "required": ["id", "language", "title", "url"],
    }
    snippet: Schema = {
        "type": "object",
        "description": "A passage of the text around words of the query.",
        "properties": {
            "page": {"type": "integer", "minimum": 1,
                     "description": "The page (slide, sheet) it is on."},
            "html": {"type": "string",
                     "description": "Escaped text with `<mark>` around the words found."},
        },
        "required": ["page", "html"],
    }
    cap: Schema = {
        "type": "object",
        "description": "A bound that was applied to the query: the value asked for and the "
                       "value searched with.",
        "properties": {
            "bound": {"type": "string", "enum": ["edit_distance", "words"]},
            "asked": {"type": "integer"},
            "applied": {"type": "integer"},
        },
        "required": ["bound", "asked", "applied"],
    }
    label: Schema = {"type": "object",
                     "properties": {"lang": {"type": "string"}, "label": {"type": "string"}},
                     "required": ["lang", "label"]}
    expansion: Schema = {
        "type": "object",
        "description": "A thesaurus concept found in a plain-word query; its labels in "
                       "other languages were searched too, ranked below the query's words.",
        "properties": {"matched": {"type": "string"}, "lang": {"type": "string"},
                       "label": {"type": "string"},
                       "also": {"type": "array", "items": _ref("Label")}},
        "required": ["matched", "lang", "label", "also"],
    }
    result: Schema = {
        "type": "object",
        "description": "One page of search results with facets.",
        "properties": {
            "total": {"type": "integer", "minimum": 0,
                      "description": "Documents found, on every page."},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": search.MAX_PER_PAGE},
            "results": {"type": "array", "items": _ref("SearchHit")},
            "facets": {
                "type": "object",
                "description": "For each facet, its values among the documents found "
                               "(under the other facets' filters) with their counts.",
                "properties": {name: {"type": "array", "items": _ref("FacetValue")}
                               for name in search.FACET_FIELDS},
                "required": list(search.FACET_FIELDS),
                "additionalProperties": False,
            },
            "did_you_mean": _nullable("string", description=(
                "A corrected query, when this one finds few documents and the correction "
                f"finds more (at most {search.MAX_CORRECTED_WORDS} unknown words are "
                "corrected).")),
            "nothing_to_search": {"type": "boolean", "description": "The query held only "
                                  "very common words or punctuation."},
            "expand": {"type": "boolean",
                       "description": "False when the request turned expansion off."},
            "expansions": {"type": "array", "items": _ref("Expansion")},
            "capped": {"type": "array", "items": _ref("Cap")},
        },
        "required": ["total", "page", "per_page", "results", "facets", "did_you_mean",
                     "nothing_to_search", "expand", "expansions", "capped"],
        "examples": [SEARCH_EXAMPLE],
    }
    term: Schema = {"type": "object",
                    "properties": {"code": {"type": "string"}, "label": {"type": "string"}},
                    "required": ["code", "label"]}
    lists = ("countries", "agencies", "types", "phases", "languages", "access")
    concept: Schema = {"type": "object",
                       "properties": {"code": {"type": "string"}, "label": {"type": "string"},
                                      "goal": {"type": "string", "description": (
                                          "The SDG a target belongs to (`sdg` only).")}},
                       "required": ["code", "label"]}
    taxonomy_schema: Schema = {
        "type": "object",
        "description": "The controlled lists: the codes metadata and filters use. The "
                       "programme's vocabularies (`gcm`, `sdg`, `area`) are in code order, "
                       "labelled in the language of the request's Accept-Language (English, "
                       "French, Spanish or Russian).",
        "properties": {**{name: {"type": "array", "items": _ref("Term")} for name in lists},
                       **{name: {"type": "array", "items": concept,
                                 "description": _VOCABULARY_NAMES[name]}
                          for name in vocabularies.NAMES}},
        "required": [*lists, *vocabularies.NAMES],
    }
    suggestion: Schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "kind": {"type": "string", "enum": ["title", "theme", "concept"],
                     "description": "A title (with `doc_id`) or theme of a document you "
                                    "may see, or a thesaurus label (with `lang`)."},
            "doc_id": {"type": "integer"},
            "lang": {"type": "string"},
        },
        "required": ["text", "kind"],
    }
    free_space: Schema = {"type": "object",
                          "properties": {"free_mb": {"type": "integer", "minimum": 0}},
                          "required": ["free_mb"]}
    could_not_run: Schema = {"type": "string", "description": "`unknown`: the check could "
                             "not run because the database does not answer."}
    health: Schema = {
        "type": "object",
        "description": "What each check saw, and the verdict: `ok` (no reasons), `degraded` "
                       "(kb answers; each reason says what is wrong and what to do) or "
                       "`unavailable` (with `error`: the database or the index cannot "
                       "answer).",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
            "reasons": _strings(),
            "error": {"type": "string"},
            "database": {"type": "string", "enum": ["ok", "unavailable", "unknown"]},
            "index": {"type": "string", "enum": ["ok", "unavailable", "unknown"]},
            "disk": {"oneOf": [{"type": "object", "additionalProperties": free_space,
                                "propertyNames": {"enum": ["uploads", "instance", "index"]}},
                               could_not_run]},
            "queue": {"oneOf": [{
                "type": "object",
                "properties": {
                    "queued": {"type": "integer", "minimum": 0},
                    "running": {"type": "integer", "minimum": 0},
                    "oldest_queued_s": _nullable("integer"),
                    "workers_alive": {"type": "integer", "minimum": 0},
                    "last_worker_seen_s": _nullable("integer"),
                    "waiting_for_disk": {"type": "integer", "minimum": 0},
                },
                "required": ["queued", "running", "oldest_queued_s", "workers_alive",
                             "last_worker_seen_s", "waiting_for_disk"],
            }, could_not_run]},
        },
        "required": ["status", "reasons", "database", "index", "disk", "queue"],
        "examples": [HEALTH_EXAMPLE],
    }
    error: Schema = {
        "type": "object",
        "description": "Every error answer of the API: `error` says what is wrong and what "
                       "to do, for a person.",
        "properties": {
            "error": {"type": "string", "minLength": 1},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Each wrong field (or parameter) and what is wrong "
                                      "with it."},
            "id": {"type": "integer", "description": "409 only: the document holding the "
                   "same bytes, when you may see it (or, an admin, restore it from the "
                   "trash)."},
            "in_trash": {"type": "boolean", "description": "409 only, for admins: the "
                         "document holding the same bytes is in the trash (restore it "
                         "there, `/trash`)."},
        },
        "required": ["error"],
        "examples": [{"error": "No such document."}],
    }
    return {
        "DocumentSummary": summary, "Document": document, "StoredFile": stored_file,
        "SearchResult": result, "SearchHit": hit, "Snippet": snippet, "Translation": translation,
        "FacetValue": facet_value, "Cap": cap, "Expansion": expansion, "Label": label,
        "Taxonomy": taxonomy_schema, "Term": term, "Suggestion": suggestion,
        "Health": health, "Error": error, **_term_suggestion_schemas(),
    }


def _term_suggestion_schemas() -> dict[str, Schema]:
    evidence: Schema = {"type": "object", "properties": {
        "phrase": {"type": "string", "description": "As the rule or the thesaurus writes it; "
                                                    "`*`: any ending."},
        "lang": {"type": "string"},
        "where": {"type": "string", "enum": ["title", "summary", "body"]},
        "count": {"type": "integer", "minimum": 1}},
        "required": ["phrase", "lang", "where", "count"]}
    one: Schema = {"type": "object", "properties": {
        "vocabulary": {"type": "string", "enum": ["gcm", "sdg"]},
        "code": {"type": "string", "examples": ["gcm-20", "sdg-10.c"]},
        "label": {"type": "string"},
        "score": {"type": "number", "minimum": 0},
        "state": {"type": "string", "enum": ["open", "accepted", "dismissed"]},
        "evidence": {"type": "array", "items": evidence}},
        "required": ["vocabulary", "code", "label", "score", "state", "evidence"]}
    return {"TermSuggestion": one, "TermSuggestions": {
        "type": "object", "properties": {"suggestions": {"type": "array",
                                                         "items": _ref("TermSuggestion")}},
        "required": ["suggestions"]}}


def _error_responses() -> dict[str, Schema]:
    def answer(text: str, example: str, **more: Any) -> Schema:
        return {"description": text, **more, **_json(_ref("Error"), {"error": example})}

    return {
        "BadRequest": answer(
            "The request cannot be understood: a parameter, a field, the query or (with "
            "a session) a missing or expired CSRF token. `error` names what is wrong; "
            "`fields` names each wrong field.",
            f"per_page must be between 1 and {search.MAX_PER_PAGE} (page size)"),
        "Unauthorized": answer(
            "The action needs a signed-in session or an API token, or the request "
            "presents a bearer token that is not valid (on every route).",
            "The API token is not valid or was revoked."),
        "Forbidden": answer("You are known but your role may not do this.",
                            "Only editors and admins review documents."),
        "NotFound": answer("No such document, or you may not see it (the two are "
                           "answered alike).", "No such document."),
        "Gone": answer("The document was purged from the trash: its tombstone answers for "
                       "it (no title, nothing of what it was).",
                       "This document was deleted on 2026-01-31 and is no longer in the "
                       "repository."),
        "Conflict": answer("The same bytes are already stored; `id` names that document "
                           "when you may see it, and `in_trash` says (to admins) that it is "
                           "in the trash.", "This file is already in the repository."),
        "PreconditionFailed": answer(
            "`If-Match` names a state of the document that is no longer its state: it "
            "changed since you read it, and nothing was saved. Read it again (its `ETag`) "
            "and make your change to that.",
            "The document has changed since you read it (If-Match is not its ETag any "
            "more); nothing was saved. Read it again and make your change to that."),
        "TooLarge": answer("The request body is larger than the upload limit "
                           "(`KB_MAX_UPLOAD_MB`).", "The file is larger than the limit of "
                           "200 MB."),
        "UnsupportedType": answer(
            f"The file's bytes are of no type kb reads: upload {ACCEPTED_KINDS}.",
            "This kind of file cannot be read."),
        "TooManyRequests": answer(
            "Too many requests from your address (only when the operator sets "
            "`KB_RATELIMIT_DEFAULT`); wait as long as `Retry-After` says.",
            "10 per 1 minute",
            headers={"Retry-After": {"description": "Seconds to wait.",
                                     "schema": {"type": "integer", "minimum": 1}}}),
        "Unavailable": answer(
            "The search stopped at the time limit (`KB_SEARCH_TIME_LIMIT`), or the index "
            "is busy, missing or damaged; try again, or run `kb reindex`.",
            "The search was stopped after 10 s (the search time limit)."),
        "DiskFull": answer("The server's disk is full; nothing was kept.",
                           "There is no space left on the server's disk, so this could not "
                           "be saved."),
    }


# -------------------------------------------------------------------------- parameters

def _query(name: str, schema: Schema, description: str, *, example: Any = None,
           explode: bool | None = None) -> Schema:
    param: Schema = {"name": name, "in": "query", "required": False,
                     "description": description, "schema": schema}
    if explode is not None:
        param["style"], param["explode"] = "form", explode
    if example is not None:
        param["example"] = example
    return param


def _limit(default: int, maximum: int, what: str) -> Schema:
    return _query("limit", {"type": "integer", "minimum": 1, "maximum": maximum,
                            "default": default},
                  f"How many {what} (values outside 1-{maximum} are brought within).")


def _doc_id() -> Schema:
    return {"name": "doc_id", "in": "path", "required": True, "description": "The document's id.",
            "schema": {"type": "integer", "minimum": 1, "maximum": documents.MAX_DOC_ID},
            "example": 42}


def _search_parameters() -> list[Schema]:
    years = {"type": "integer", "minimum": search.MIN_YEAR, "maximum": search.MAX_YEAR}
    # What each filter of kb.services.searching.FILTER_PARAMS holds (a new filter without
    # a line here fails loudly).
    filters = {
        "country": ("ISO 3166-1 alpha-3 codes (any case; alpha-2 and `EU` are accepted)",
                    ["MDA"]),
        "agency": ("agency codes", ["IOM"]),
        "type": ("document types", ["lessons-learned"]),
        "theme": ("themes", ["remittances"]),
        "language": ("ISO 639-1 language codes", ["en"]),
        "phase": ("programme phases", ["phase-2"]),
        "gcm": ("GCM objectives (`gcm-1` to `gcm-23`)", ["gcm-20"]),
        "sdg": ("SDG targets (`sdg-10.7`, ...)", ["sdg-10.7"]),
        "area": ("the programme's outcome areas", ["area-policy"]),
    }
    params = [_query("q", {"type": "string", "maxLength": search.MAX_QUERY_CHARS}, (
        "What to search for; empty: every document you may see. Plain words are a "
        "natural-language query (documents with more of them rank first); anything with "
        "operators is the query language of /help/search: phrases, AND/OR/NOT, `title:`, "
        "`country:`, `gcm:20`, `sdg:10.7`, `year:2015..2017`, `migra*`, `remitances~`. "
        "Bounded: at most "
        f"{search.MAX_QUERY_CHARS:,} characters, {search.MAX_CLAUSES} clauses, "
        f"{search.MAX_FUZZY_WORDS} fuzzy words, {search.MAX_DEPTH} nested parentheses, "
        f"{search.MIN_PATTERN_CHARS} to {search.MAX_PATTERN_CHARS} letters around a `*` or "
        f"`?`, {search.MAX_EXPANSIONS:,} index words for all patterns together (beyond: "
        f"400); the edit distance of `word~N` is lowered to {search.MAX_EDIT_DISTANCE} and "
        f"only the first {search.MAX_WORDS} different plain words are searched (reported in "
        "`capped`)."), example="remittances diaspora")]
    for name in searching.FILTER_PARAMS:
        if name == "year":
            params.append(_query("year", {"type": "array", "items": years},
                                 "Only documents of one of these years (repeat for several).",
                                 explode=True, example=[2014]))
            continue
        what, example = filters[name]
        params.append(_query(name, _strings(), f"Only documents with one of these {what}; "
                             "repeat the parameter for several values (OR within a facet, "
                             "AND across facets).", explode=True, example=example))
    params += [
        _query("year_from", years, "Only documents of this year or later.", example=2011),
        _query("year_to", years, "Only documents of this year or earlier.", example=2018),
        _query("sort", {"type": "string", "enum": list(search.SORTS), "default": "relevance"},
               "The order of the results.", example="relevance"),
        _query("page", {"type": "integer", "minimum": 1, "maximum": search.MAX_RESULTS,
                        "default": 1},
               f"The page of results; page x per_page may not pass {search.MAX_RESULTS:,} "
               "(result depth).", example=1),
        _query("per_page", {"type": "integer", "minimum": 1, "maximum": search.MAX_PER_PAGE,
                            "default": 20}, "Results per page (page size).", example=20),
        _query("expand", {"type": "string", "enum": ["1", "0", "true", "false", "yes", "no",
                                                     "on", "off"], "default": "1"},
               "0 turns off the search of the thesaurus's other-language labels of the "
               "concepts a plain-word query names.", example="1"),
        _query("translations", {"type": "string", "enum": ["grouped", "all"],
                                "default": "grouped"},
               "grouped: one result per work (an original and its translations), in the "
               "language of the request's Accept-Language when the work has a version in "
               "it, else the original, with its other versions in `translations`; `total` "
               "and facet counts count works. all: every language version is a result of "
               "its own.", example="grouped"),
    ]
    return params


def _upload_fields() -> tuple[Schema, dict[str, Schema]]:
    """The metadata fields of an upload (named like the import manifest's columns)."""
    several = "repeat the field, or separate values with `;`"
    known: dict[str, Schema] = {
        "title": {"type": "string", "minLength": 1, "maxLength": metadata.MAX_TITLE_CHARS},
        "summary": {"type": "string"},
        "type": {"type": "string", "enum": _codes(taxonomy.DOCUMENT_TYPES)},
        "countries": _strings(description=f"ISO 3166-1 alpha-3 codes (any case); {several}."),
        "agencies": _strings(description=f"Codes of /api/v1/taxonomy's agencies; {several}."),
        "themes": _strings(maxLength=metadata.MAX_THEME_CHARS, description=several + "."),
        "language": {"type": "string", "pattern": "^[A-Za-z]{2}$",
                     "description": "ISO 639-1 code (/api/v1/taxonomy's languages)."},
        "year": {"type": "integer", "minimum": metadata.MIN_YEAR,
                 "maximum": metadata.MAX_YEAR},
        "phase": {"type": "string", "enum": _codes(taxonomy.PHASES)},
        "access": {"type": "string", "enum": _codes(taxonomy.ACCESS_LEVELS),
                   "default": "public",
                   "description": "`restricted` needs `groups`."},
        "groups": _strings(description="Names of groups you belong to (restricted "
                                       f"documents); {several}."),
        **{name: _strings(description=f"{_VOCABULARY_NAMES[name]}: codes of `{name}` in "
                                      f"/api/v1/taxonomy; {several}.")
           for name in vocabularies.NAMES},
    }
    # In kb.services.metadata's order; a new field without a line above fails loudly.
    fields = {name: known[name] for name in metadata.FIELDS}
    multipart: Schema = {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "contentMediaType": "application/octet-stream",
                     "description": "The file, with its name."},
            **fields,
            "csrf_token": {"type": "string",
                           "description": "With a signed-in session instead of a token."},
        },
        "required": ["file", "title"],
        "additionalProperties": False,
    }
    return multipart, fields


# -------------------------------------------------------------------------- operations

def _errors(*codes: int) -> dict[str, Schema]:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
             409: "Conflict", 410: "Gone", 412: "PreconditionFailed", 413: "TooLarge",
             415: "UnsupportedType",
             429: "TooManyRequests", 503: "Unavailable", 507: "DiskFull"}
    return {str(code): _response(names[code]) for code in sorted({*codes, 401, 429})}


def _document_answer(description: str, *, etag: bool = False) -> Schema:
    answer: Schema = {"description": description,
                      **_json(_ref("Document"), DOCUMENT_EXAMPLE)}
    if etag:
        answer["headers"] = {"ETag": {
            "description": "The document's entity tag (strong): it changes with every edit, "
                           "review decision and processing step (not with downloads). "
                           "Send it back in `If-Match` to edit only the state you read.",
            "required": True, "schema": {"type": "string", "pattern": '^"[^"]+"$'}}}
    return answer


def _edit_fields(fields: dict[str, Schema]) -> dict[str, Schema]:
    """An upload's fields as an edit takes them in JSON: null empties a field (but the
    title and the access level, which a document always has)."""
    return {name: schema if name in ("title", "access")
            else {"oneOf": [schema, {"type": "null"}]}
            for name, schema in fields.items()}


def _edit_body(fields: dict[str, Schema]) -> Schema:
    several = {name: {"style": "form", "explode": True} for name, schema in fields.items()
               if schema.get("type") == "array"}
    form: Schema = {"type": "object", "properties": {
        **fields, "csrf_token": {"type": "string",
                                 "description": "With a signed-in session instead of a "
                                                "token."}},
        "additionalProperties": False}
    return {"required": False, "content": {
        "application/json": {"schema": {
            "type": "object", "properties": _edit_fields(fields),
            "additionalProperties": False},
            "example": {"title": "Lessons learned: remittances in Moldova (final)",
                        "year": 2015, "themes": ["remittances", "diaspora"],
                        "phase": None}},
        "application/x-www-form-urlencoded": {"schema": form, "encoding": several},
        "multipart/form-data": {"schema": form, "encoding": several},
    }}


SUGGESTIONS_EXAMPLE = {"suggestions": [{
    "vocabulary": "gcm", "code": "gcm-20",
    "label": "Promote faster, safer and cheaper transfer of remittances and foster "
             "financial inclusion of migrants",
    "score": 5.0, "state": "open",
    "evidence": [{"phrase": "remittance*", "lang": "en", "where": "title", "count": 1},
                 {"phrase": "envois de fonds", "lang": "fr", "where": "body", "count": 3}]}]}


def _decide(operation: str, summary: str, description: str) -> Schema:
    """An editor's decision on one suggestion."""
    return {
        "operationId": operation, "tags": ["review"], "summary": summary,
        "description": description + " 400 when it was already decided; 404 when the code "
                                     "is not suggested for the document. Editors and admins.",
        "security": WRITE,
        "parameters": [_doc_id(), {"name": "code", "in": "path", "required": True,
                                   "schema": {"type": "string", "maxLength": 20},
                                   "example": "gcm-20"}],
        "responses": {"200": {"description": "The document's suggestions after the decision.",
                              **_json(_ref("TermSuggestions"), SUGGESTIONS_EXAMPLE)},
                      **_errors(400, 403, 404, 410)},
    }


def _workflow(action: str, summary: str, description: str) -> Schema:
    comment: Schema = {"type": "string",
                       "description": "Why: shown to the uploader" +
                                      (" (required)." if action == "return" else ".")}
    body: Schema = {"type": "object", "properties": {
        "comment": comment,
        "csrf_token": {"type": "string",
                       "description": "With a signed-in session instead of a token."}}}
    if action == "return":
        body["required"] = ["comment"]
    return {
        "operationId": f"{action}Document",
        "tags": ["review"],
        "summary": summary,
        "description": description + " Editors and admins.",
        "security": WRITE,
        "parameters": [_doc_id()],
        "requestBody": {"required": action == "return", "content": {
            "application/x-www-form-urlencoded": {"schema": body},
            "multipart/form-data": {"schema": body}}},
        "responses": {"200": _document_answer("The document in its new state."),
                      **_errors(400, 403, 404, 413, 507)},
    }


def _operations() -> dict[str, dict[str, Schema]]:
    multipart, fields = _upload_fields()
    raw_params = [_query("filename", {"type": "string", "minLength": 1}, (
        "The file's name, for a raw body (or a `Content-Disposition: attachment; "
        "filename=...` header); required with one of the two."), example="report.pdf")]
    for name, schema in fields.items():
        raw_params.append(_query(name, schema, "Metadata of a raw-body upload (a multipart "
                                 "upload sends it as form fields).",
                                 explode=True if schema.get("type") == "array" else None))
    search_description = (
        "Full-text search of the documents you may see, with filters, facets, snippets and "
        "a corrected query. Every part of a query whose cost grows with the input is "
        "bounded: a query past a bound is refused (400 naming the bound) or capped "
        "(`capped`). A search still running after `KB_SEARCH_TIME_LIMIT` is stopped: 503.")
    return {
        "/api/v1/search": {"get": {
            "operationId": "search", "tags": ["search"], "summary": "Search the documents",
            "description": search_description, "security": READ,
            "parameters": _search_parameters(),
            "responses": {"200": {"description": "One page of results.",
                                  **_json(_ref("SearchResult"), SEARCH_EXAMPLE)},
                          **_errors(400, 503)},
        }},
        "/api/v1/documents": {"post": {
            "operationId": "uploadDocument", "tags": ["documents"],
            "summary": "Upload a file with its metadata",
            "description": (
                "Stores the file and records the document; text extraction and indexing "
                "run in the background (`status` is `processing` until then). Contributors, "
                "editors and admins; an editor's or admin's upload is published at once, a "
                "contributor's is submitted for review. The file is multipart `file` with "
                "the metadata as form fields, or the request body itself "
                "(`application/octet-stream`) with `filename` and the metadata in the "
                "query string. Either way it is written to disk in chunks while it is "
                "hashed."),
            "security": WRITE,
            "parameters": raw_params,
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {
                    "schema": multipart,
                    "encoding": {name: {"style": "form", "explode": True}
                                 for name, schema in fields.items()
                                 if schema.get("type") == "array"}},
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}},
            }},
            "responses": {
                "201": _document_answer("Stored and recorded; `warning` when the file "
                                        "name's extension disagrees with its content."),
                **_errors(400, 403, 409, 413, 415, 507),
            },
        }},
        "/api/v1/documents/{doc_id}": {
            "get": {
                "operationId": "getDocument", "tags": ["documents"],
                "summary": "A document's metadata, status and files",
                "description": "For admins, a document in the trash too, with `trash` "
                               "(`deleted_at`, `purge_at`); for everyone else it is 404. "
                               "A purged document answers 410.",
                "security": READ, "parameters": [_doc_id()],
                "responses": {"200": _document_answer("The document.", etag=True),
                              **_errors(404, 410)},
            },
            "patch": {
                "operationId": "editDocument", "tags": ["documents"],
                "summary": "Change some of a document's metadata",
                "description": (
                    "The fields sent change; the others keep their values. The same fields "
                    "and checks as an upload's (a wrong value: 400 naming each wrong field "
                    "in `fields`), as JSON (null empties a field; `title` and `access` "
                    "cannot be emptied) or as a form. Editors and admins edit any "
                    "document; its uploader edits it until it is published (403 otherwise; "
                    "404 when you may not see it). With `If-Match` (the `ETag` of your "
                    "last read, or `*`) the edit is made only if nobody changed the "
                    "document meanwhile: 412 otherwise, and nothing is saved. A returned "
                    "document stays returned: `POST .../submit` sends it back. The search "
                    "index follows in the background. A body over "
                    f"{metadata.MAX_EDIT_BYTES // 2**20} MB: 413."),
                "security": WRITE,
                "parameters": [_doc_id(), {
                    "name": "If-Match", "in": "header", "required": False,
                    "description": "The document's `ETag` as you read it (or `*`): edit "
                                   "only if it is still that.",
                    "schema": {"type": "string"},
                    "example": '"9f86d081884c7d659a2feaa0c55ad015"'}],
                "requestBody": _edit_body(fields),
                "responses": {"200": _document_answer("The document as it is now, with "
                                                      "its new `ETag`.", etag=True),
                              **_errors(400, 403, 404, 410, 412, 413, 507)},
            },
            "delete": {
                "operationId": "deleteDocument", "tags": ["documents"],
                "summary": "Move a withdrawn document to the trash",
                "description": "Admins, withdrawn documents only (400 otherwise): it leaves "
                               "the index and every channel, and is purged `KB_TRASH_DAYS` "
                               "days later unless an admin restores it "
                               "(`POST /api/v1/documents/{doc_id}/restore`).",
                "security": WRITE, "parameters": [_doc_id()],
                "responses": {"204": {"description": "In the trash."},
                              **_errors(400, 403, 404, 503, 507)},
            },
        },
        "/api/v1/documents/{doc_id}/similar": {"get": {
            "operationId": "similarDocuments", "tags": ["search"],
            "summary": "More like this",
            "description": "The documents you may see nearest to this one by the words "
                           "that characterise its text.",
            "security": READ,
            "parameters": [_doc_id(), _limit(searching.SIMILAR_DEFAULT,
                                             searching.SIMILAR_MAX, "documents")],
            "responses": {"200": {"description": "Nearest first.", **_json(
                {"type": "object", "properties": {
                    "results": {"type": "array", "items": _ref("DocumentSummary")}},
                 "required": ["results"]}, {"results": [DOCUMENT_SUMMARY_EXAMPLE]})},
                **_errors(400, 404, 503)},
        }},
        "/api/v1/documents/{doc_id}/cite": {"get": {
            "operationId": "citeDocument", "tags": ["documents"],
            "summary": "A document's citation for reference managers",
            "description": (
                "BibTeX (`@techreport` for reports, `@misc` for the rest), RIS or "
                "CSL-JSON, as the files `/documents/{doc_id}/cite.bib|ris|json` of the "
                "document's page: the agencies as corporate authors, the first as "
                "publisher, the page's URL."),
            "security": READ,
            "parameters": [_doc_id(), _query(
                "format", {"type": "string", "enum": list(citations.FORMATS),
                           "default": "json"},
                "bib (BibTeX), ris or json (CSL-JSON).", example="bib")],
            "responses": {"200": {"description": "The citation, as a file download.",
                                  "content": {
                "application/x-bibtex": {"schema": {"type": "string"}},
                "application/x-research-info-systems": {"schema": {"type": "string"}},
                "application/vnd.citationstyles.csl+json": {"schema": {
                    "type": "array", "items": {"type": "object", "properties": {
                        "id": {"type": "string"}, "type": {"type": "string"},
                        "title": {"type": "string"}, "URL": {"type": "string"}},
                        "required": ["id", "type", "title", "URL"]}}}}},
                **_errors(400, 404)},
        }},
        "/api/v1/documents/{doc_id}/publish": {"post": _workflow(
            "publish", "Publish a submitted or returned document",
            "Makes the document visible to everyone its access level allows.")},
        "/api/v1/documents/{doc_id}/return": {"post": _workflow(
            "return", "Return a document to its uploader",
            "From submitted or published, with a `comment` saying what to change.")},
        "/api/v1/documents/{doc_id}/withdraw": {"post": _workflow(
            "withdraw", "Withdraw a document",
            "Hidden from readers and contributors; its file cannot be downloaded.")},
        "/api/v1/documents/{doc_id}/restore": {"post": _workflow(
            "restore", "Restore a withdrawn document, or one in the trash",
            "A withdrawn document is published again (editors and admins); a document in "
            "the trash comes out of it as it was, withdrawn, with its files and history "
            "(admins; for others it does not exist).")},
        "/api/v1/documents/{doc_id}/history": {"get": {
            "operationId": "documentHistory", "tags": ["documents"],
            "summary": "A document's changes, newest first",
            "description": "Each change of metadata, access, workflow state, featuring or "
                           "extraction: when, by whom, the action, and each changed "
                           "field's value before and after. Editors, admins and the "
                           "document's uploader.",
            "security": READ, "parameters": [_doc_id()],
            "responses": {"200": {"description": "The changes.", **_json(
                {"type": "object", "properties": {"changes": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "change_id": {"type": "integer"}, "at": {"type": "string"},
                        "by": {"type": "string"}, "action": {"type": "string"},
                        "note": {"type": ["string", "null"]},
                        "changes": {"type": "object", "additionalProperties": {
                            "type": "array", "minItems": 2, "maxItems": 2}}}}}},
                 "required": ["changes"]},
                {"changes": [{"change_id": 7, "at": "2026-03-01T10:00:00", "by":
                              "editor@example.org", "action": "metadata-edit", "note": None,
                              "changes": {"title": ["Draft", "Final report"]}}]})},
                **_errors(403, 404, 410)},
        }},
        "/api/v1/documents/{doc_id}/history/{change_id}/revert": {"post": {
            "operationId": "revertDocument", "tags": ["review"],
            "summary": "Put the metadata back as they were after a change",
            "description": "Title, summary, type, countries, agencies, themes, language, "
                           "year, phase, access and groups become what they were just "
                           "after change `change_id`; recorded as a change itself. 400 "
                           "when they are that already, or can no longer be valid. Editors "
                           "and admins.",
            "security": WRITE,
            "parameters": [_doc_id(), {"name": "change_id", "in": "path", "required": True,
                                       "schema": {"type": "integer", "minimum": 1}}],
            "responses": {"200": _document_answer("The document with its metadata back."),
                          **_errors(400, 403, 404, 410)},
        }},
        "/api/v1/documents/{doc_id}/files": {"post": {
            "operationId": "addVersion", "tags": ["documents"],
            "summary": "Send a new version of the document's file",
            "description": (
                "Stores the file as the document's next version, which becomes current "
                "(`status` is `processing` until its text is read and indexed). Editors "
                "and admins on any document they can see; its uploader on their own "
                "unless withdrawn (a contributor's new version of a published document "
                "sends it back to review). `files` lists the versions you may see. 409 "
                "for bytes already a version of this document, or stored in another "
                "document you may not edit (`id` only when you may see it)."),
            "security": WRITE, "parameters": [_doc_id()],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary",
                             "contentMediaType": "application/octet-stream",
                             "description": "The new file, with its name."},
                    "note": {"type": "string", "maxLength": 200,
                             "description": "e.g. final version after review"},
                    "csrf_token": {"type": "string",
                                   "description": "With a signed-in session instead of "
                                                  "a token."},
                },
                "required": ["file"],
                "additionalProperties": False,
            }}}},
            "responses": {
                "201": _document_answer("Stored; the new version is current."),
                **_errors(400, 403, 404, 409, 410, 413, 415, 507),
            },
        }},
        "/api/v1/documents/{doc_id}/submit": {"post": {
            "operationId": "submitDocument", "tags": ["review"],
            "summary": "Send a returned document back for review",
            "description": "Its uploader, once it is changed (`PATCH`): `workflow` becomes "
                           "`submitted` and the editors are told. 403 for anyone else who "
                           "may see it; 400 when it is not returned.",
            "security": WRITE, "parameters": [_doc_id()],
            "responses": {"200": _document_answer("The document, `submitted`."),
                          **_errors(400, 403, 404, 410, 507)},
        }},
        "/api/v1/documents/{doc_id}/reextract": {"post": {
            "operationId": "reextractDocument", "tags": ["review"],
            "summary": "Read the stored file again",
            "description": "Queues a new extraction (after a failure, or with a newer "
                           "extractor). Editors and admins.",
            "security": WRITE, "parameters": [_doc_id()],
            "responses": {"202": _document_answer("Queued: `status` is `processing`."),
                          **_errors(400, 403, 404, 507)},
        }},
        "/api/v1/documents/{doc_id}/translation_of": {
            "put": {
                "operationId": "linkTranslation", "tags": ["review"],
                "summary": "Link a document as a translation of another",
                "description": (
                    "The document becomes a language version of the work whose original "
                    "is `original` (a number, or the original's address on this site); a "
                    "translation linked elsewhere moves. 400 with a reason: the same "
                    "document, an original that is itself a translation (link to its "
                    "original), a document that has translations of its own, a missing "
                    "language, the same language, a language the work already has, or an "
                    "original that does not exist (or is in the trash). Editors and "
                    "admins; recorded in the history and the audit trail."),
                "security": WRITE, "parameters": [_doc_id()],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {
                        "type": "object", "properties": {"original": {"oneOf": [
                            {"type": "integer", "minimum": 1}, {"type": "string"}]}},
                        "required": ["original"]}, "example": {"original": 12}},
                    "application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "properties": {
                            "original": {"type": "string"},
                            "csrf_token": {"type": "string"}},
                        "required": ["original"]}}}},
                "responses": {"200": _document_answer("The document, linked.", etag=True),
                              **_errors(400, 403, 404, 410)},
            },
            "delete": {
                "operationId": "unlinkTranslation", "tags": ["review"],
                "summary": "Remove a translation's link to its original",
                "description": "The document becomes a work of its own again (400 when it "
                               "is not linked as a translation). Editors and admins; "
                               "recorded in the history and the audit trail.",
                "security": WRITE, "parameters": [_doc_id()],
                "responses": {"200": _document_answer("The document, unlinked.", etag=True),
                              **_errors(400, 403, 404, 410)},
            },
        },
        "/api/v1/documents/{doc_id}/suggestions": {"get": {
            "operationId": "documentSuggestions", "tags": ["review"],
            "summary": "GCM objectives and SDG targets proposed from the text",
            "description": (
                "What kb proposes from the document's title, summary and text (rules of "
                "key phrases and thesaurus concepts per code, weighed by where they "
                "occur), open or already decided, with the phrases found and where. "
                "Nothing is applied until an editor accepts it. `lang` (en, fr, es, ru) "
                "chooses the labels' language. Editors and admins (403 for others)."),
            "security": READ,
            "parameters": [_doc_id(), _query("lang", {"type": "string", "maxLength": 10},
                                             "The language of the labels.", example="fr")],
            "responses": {"200": {"description": "The suggestions.",
                                  **_json(_ref("TermSuggestions"), SUGGESTIONS_EXAMPLE)},
                          **_errors(403, 404, 410)},
        }},
        "/api/v1/documents/{doc_id}/suggestions/{code}/accept": {"post": _decide(
            "acceptSuggestion", "Accept a suggestion",
            "The code joins the document's GCM objectives or SDG targets, recorded in its "
            "history and the audit trail; the document is re-indexed.")},
        "/api/v1/documents/{doc_id}/suggestions/{code}/dismiss": {"post": _decide(
            "dismissSuggestion", "Dismiss a suggestion",
            "It is not proposed again for this document, even when its text is read "
            "again.")},
        "/api/v1/taxonomy": {"get": {
            "operationId": "taxonomy", "tags": ["lists"],
            "summary": "The controlled lists, with codes and labels",
            "description": "Labels are in the request's interface language: the "
                           "`kb_lang` cookie of the page's language switch, else a "
                           "signed-in user's profile language, else `Accept-Language` "
                           "(en, fr, es, ru), else English. Codes never change. The "
                           "facet labels of /api/v1/search follow the same rule.",
            "security": READ,
            "responses": {"200": {"description": "Every list.", **_json(_ref("Taxonomy"), {
                "countries": [{"code": "MDA", "label": "Moldova"}],
                "agencies": [{"code": "IOM",
                              "label": "International Organization for Migration"}],
                "types": [{"code": "report", "label": "Report"}],
                "phases": [{"code": "pilot", "label": "Pilot phase (2011-2013)"}],
                "languages": [{"code": "en", "label": "English"}],
                "access": [{"code": "public", "label": "Public"}],
                "gcm": [{"code": "gcm-1", "label": vocabularies.label("gcm", "gcm-1", "en")}],
                "sdg": [{"code": "sdg-10.7",
                         "label": vocabularies.label("sdg", "sdg-10.7", "en"),
                         "goal": "Goal 10: Reduced inequalities"}],
                "area": [{"code": "area-evidence",
                          "label": vocabularies.label("area", "area-evidence", "en")}]})},
                **_errors()},
        }},
        "/api/v1/suggest": {"get": {
            "operationId": "suggest", "tags": ["lists"], "summary": "Search-as-you-type",
            "description": (
                "Titles and themes of documents you may see, and thesaurus labels, with a "
                "word that starts with `q` (case and accents aside). A `q` of fewer than "
                f"{suggestions.MIN_CHARS} characters gives none; only its first "
                f"{suggestions.MAX_QUERY_CHARS} characters are read."),
            "security": READ,
            "parameters": [_query("q", {"type": "string"}, "What has been typed so far.",
                                  example="remit"),
                           _limit(suggestions.DEFAULT_LIMIT, suggestions.MAX_LIMIT,
                                  "suggestions")],
            "responses": {"200": {"description": "Suggestions, each kind in turn.", **_json(
                {"type": "object", "properties": {
                    "q": {"type": "string"},
                    "suggestions": {"type": "array", "items": _ref("Suggestion")}},
                 "required": ["q", "suggestions"]},
                {"q": "remit", "suggestions": [
                    {"text": "remittances", "kind": "theme"},
                    {"text": "remittances", "kind": "concept", "lang": "en"}]})},
                **_errors(400)},
        }},
        "/api/v1/themes": {"get": {
            "operationId": "themes", "tags": ["lists"],
            "summary": "Thesaurus labels for a themes field",
            "description": "Labels in `lang` with a word that starts with `q`. Without "
                           "`lang`: the best match of `Accept-Language` among the "
                           "thesaurus's languages, else `en`.",
            "security": READ,
            "parameters": [_query("q", {"type": "string"}, "The start of a word.",
                                  example="migr"),
                           _query("lang", {"type": "string"}, "ISO 639-1 code.",
                                  example="en"),
                           _limit(thesaurus.THEMES_DEFAULT, thesaurus.THEMES_MAX,
                                  "labels")],
            "responses": {"200": {"description": "The labels.", **_json(
                {"type": "object", "properties": {"q": {"type": "string"},
                                                  "lang": {"type": "string"},
                                                  "themes": _strings()},
                 "required": ["q", "lang", "themes"]},
                {"q": "migr", "lang": "en", "themes": ["migration", "migration policy"]})},
                **_errors(400)},
        }},
        "/healthz": {"get": {
            "operationId": "health", "tags": ["service"], "summary": "Is kb well?",
            "description": "For monitors and load balancers; no credentials needed.",
            "security": OPEN,
            "responses": {
                "200": {"description": "kb answers: `ok`, or `degraded` with reasons.",
                        **_json(_ref("Health"), HEALTH_EXAMPLE)},
                "503": {"description": "`unavailable`: the database or the index cannot "
                        "answer (`error` says which).", **_json(_ref("Health"))},
                **_errors(),
            },
        }},
        "/api/v1/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["service"],
            "summary": "This description (OpenAPI 3.1)", "security": OPEN,
            "responses": {"200": {"description": "The description.",
                                  **_json({"type": "object"})}, **_errors()},
        }},
        "/api/docs": {"get": {
            "operationId": "apiDocs", "tags": ["service"],
            "summary": "This description as a page for people", "security": OPEN,
            "responses": {"200": {"description": "An HTML page.",
                                  "content": {"text/html": {"schema": {"type": "string"}}}},
                          **_errors()},
        }},
    }


TAGS = [
    {"name": "search", "description": "Finding documents."},
    {"name": "documents", "description": "Uploading, reading, editing and deleting "
                                         "documents."},
    {"name": "review", "description": "The review workflow (editors' decisions, an "
                                      "uploader's resubmission) and re-extraction."},
    {"name": "lists", "description": "Controlled lists, suggestions and themes."},
    {"name": "service", "description": "Health and this description."},
]


def description(*, server: str = "/", session_cookie: str = "session") -> dict[str, Any]:
    """The whole API as an OpenAPI 3.1 document (``server``: where the app is mounted)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Migration & Development Knowledge Base API",
            "version": API_VERSION,
            "summary": "Search, upload and review the documents of the IOM-UNDP Joint "
                       "Global Programme on Mainstreaming Migration into National "
                       "Development Strategies.",
            "description": (
                "JSON over HTTP. Reading needs no credentials (you see public documents); "
                "send `Authorization: Bearer TOKEN` (an API token: `kb token create EMAIL`) "
                "or use a signed-in session, whose changes must carry its CSRF token "
                "(`X-CSRFToken` header or `csrf_token` field). A bearer token that is not "
                "valid is refused (401) on every route. Errors answer "
                "`{\"error\": \"...\"}` with a message for a person."),
        },
        "servers": [{"url": server}],
        "tags": TAGS,
        "paths": _operations(),
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "securitySchemes": {
                BEARER: {"type": "http", "scheme": "bearer",
                         "description": "An API token: `kb token create EMAIL`."},
                SESSION: {"type": "apiKey", "in": "cookie", "name": session_cookie,
                          "description": "The session of a user signed in at /login."},
                CSRF: {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                       "description": "The session's CSRF token (as the site's forms carry "
                                      "it), needed with the session for every change."},
            },
        },
    }


# ---------------------------------------------------------------- the page for people

@dataclass(frozen=True)
class Field:
    """A parameter, body field or property as the page lists it."""

    name: str
    kind: str
    required: bool
    text: str
    where: str = ""


@dataclass(frozen=True)
class Answer:
    status: str
    text: str
    media: tuple[str, ...]
    schema: str
    example: str


@dataclass(frozen=True)
class Body:
    media: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Operation:
    anchor: str
    method: str
    path: str
    summary: str
    text: str
    access: str
    parameters: tuple[Field, ...]
    bodies: tuple[Body, ...]
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Section:
    tag: str
    text: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Model:
    name: str
    text: str
    fields: tuple[Field, ...]
    example: str


@dataclass(frozen=True)
class Outline:
    """The description shaped for templates/api/docs.html."""

    title: str
    summary: str
    text: str
    sections: tuple[Section, ...]
    models: tuple[Model, ...]
    security: tuple[Field, ...]


def _resolve(doc: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _ref_name(node: Any) -> str:
    if isinstance(node, Mapping) and "$ref" in node:
        return str(node["$ref"]).rsplit("/", 1)[-1]
    return ""


def kind_of(schema: Mapping[str, Any]) -> str:
    """A schema in a few words: 'integer, 1-100, default 20', 'array of string'..."""
    name = _ref_name(schema)
    if name:
        return name
    if "allOf" in schema:
        return " + ".join(kind_of(part) for part in schema["allOf"])
    if "oneOf" in schema:
        return " or ".join(kind_of(part) for part in schema["oneOf"])
    kind = schema.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if schema.get("format") == "binary":
        text = "file"
    elif "format" in schema:
        text += f" ({schema['format']})"
    if text == "array":
        text = "array of " + kind_of(schema.get("items", {}))
    elif text == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        text = "object of " + kind_of(schema["additionalProperties"])
    details = []
    if "enum" in schema:
        details.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        details.append(f"{low}-{high}")
    elif low is not None:
        details.append(f"at least {low}")
    elif high is not None:
        details.append(f"at most {high}")
    if "minLength" in schema and schema["minLength"] > 1:
        details.append(f"at least {schema['minLength']} characters")
    if "maxLength" in schema:
        details.append(f"at most {schema['maxLength']:,} characters")
    if "pattern" in schema:
        details.append(f"matching {schema['pattern']}")
    if "default" in schema:
        details.append(f"default {schema['default']}")
    return ", ".join([text, *details])


def _fields(doc: Mapping[str, Any], schema: Any) -> Iterator[Field]:
    schema = _resolve(doc, schema)
    for part in schema.get("allOf", ()):
        yield from _fields(doc, part)
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        prop = prop if _ref_name(prop) else _resolve(doc, prop)
        yield Field(name, kind_of(prop), name in required, str(prop.get("description", "")))


def _example(media: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    example = media.get("example")
    if example is None:
        example = next(iter(_resolve(doc, media.get("schema", {})).get("examples", ())), None)
    return "" if example is None else json.dumps(example, indent=2, ensure_ascii=False)


def _access(security: Sequence[Mapping[str, Any]]) -> str:
    if security == OPEN:
        return "No credentials needed."
    if security == READ:
        return ("Anyone; a bearer token or a signed-in session shows what that user may "
                "see.")
    return "A bearer token, or a signed-in session with its CSRF token."


_CODE_SPAN = re.compile(r"`([^`]+)`")


def markup(text: str) -> Markup:
    """A description's text as HTML: escaped, with its `code spans` (CommonMark's, the
    only markup these descriptions use) as <code>."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


def outline(doc: Mapping[str, Any]) -> Outline:
    """The description as the page lists it: operations by tag, then the schemas."""
    sections = []
    for tag in doc["tags"]:
        operations = []
        for path, item in doc["paths"].items():
            for method, op in item.items():
                if tag["name"] not in op.get("tags", ()):
                    continue
                parameters = tuple(
                    Field(p["name"], kind_of(p["schema"]), bool(p.get("required")),
                          str(p.get("description", "")), p["in"])
                    for p in op.get("parameters", ()))
                bodies = tuple(
                    Body(media_type, tuple(_fields(doc, media.get("schema", {}))))
                    for media_type, media in op.get("requestBody", {}).get("content",
                                                                             {}).items())
                answers = []
                for status, answer in op["responses"].items():
                    answer = _resolve(doc, answer)
                    content = answer.get("content", {})
                    first: Mapping[str, Any] = next(iter(content.values()), {})
                    answers.append(Answer(
                        status, str(answer.get("description", "")), tuple(content),
                        kind_of(first["schema"]) if "schema" in first else "",
                        _example(first, doc) if int(status) < 300 else ""))
                operations.append(Operation(
                    op["operationId"], method.upper(), path, op["summary"],
                    op.get("description", ""), _access(op["security"]), parameters,
                    bodies, tuple(answers)))
        sections.append(Section(tag["name"], tag["description"], tuple(operations)))
    models = tuple(
        Model(name, str(schema.get("description", "")), tuple(_fields(doc, schema)),
              json.dumps(schema["examples"][0], indent=2, ensure_ascii=False)
              if "examples" in schema else "")
        for name, schema in doc["components"]["schemas"].items())
    security = tuple(
        Field(name, scheme["type"] if scheme["type"] != "apiKey" else
              f"{scheme['in']} {scheme['name']}", False, scheme.get("description", ""))
        for name, scheme in doc["components"]["securitySchemes"].items())
    info = doc["info"]
    return Outline(info["title"], info.get("summary", ""), info.get("description", ""),
                   tuple(sections), models, security)

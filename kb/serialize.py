"""JSON shapes of the API v1 contract (kept stable: scripts and harvesters depend on it)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_login import current_user

from kb import taxonomy, vocabularies
from kb.i18n import current_language
from kb.models import Document
from kb.services import translations
from kb.services.accounts import agencies
from kb.services.documents import visible_versions
from kb.services.searching import Page


def document_summary(doc: Document) -> dict[str, Any]:
    return {
        "id": doc.doc_id,
        "title": doc.title,
        "summary": doc.summary,
        "type": doc.doc_type,
        "countries": doc.countries,
        "agencies": doc.agencies,
        "themes": doc.themes,
        "language": doc.language,
        "year": doc.year,
        **{name: doc.terms(name) for name in vocabularies.NAMES},
        "url": url_for("documents.detail", doc_id=doc.doc_id, _external=True),
        "download_url": url_for("documents.download", doc_id=doc.doc_id, _external=True),
    }


def document(doc: Document, user: object | None = None) -> dict[str, Any]:
    """The API's answer for one document as ``user`` (the signed-in caller unless named)
    may see it: ``files`` the versions they may see, oldest first, the current one last;
    its original and its work's other language versions only when they may view them."""
    viewer = current_user if user is None else user
    current = doc.current_file
    answer = {
        **document_summary(doc),
        "phase": doc.phase,
        "access": doc.access,
        "groups": [r.group_id for r in doc.group_rows],
        "workflow": doc.workflow,
        "workflow_comment": doc.workflow_comment,
        "status": doc.status,
        "error": doc.error if doc.status == "failed" or doc.error_code else None,
        "error_code": doc.error_code,
        "created_at": doc.created_at.isoformat() + "Z",
        "updated_at": doc.updated_at.isoformat() + "Z",
        "files": [
            {"version": f.version, "filename": f.filename, "size": f.size, "sha256": f.sha256,
             "content_type": f.content_type, "pages": f.pages, "note": f.note,
             "public": f.public, "created_at": f.created_at.isoformat() + "Z",
             "current": f is current,
             "download_url": url_for("documents.download", doc_id=doc.doc_id,
                                     version=f.version, _external=True)}
            for f in visible_versions(doc, viewer)
        ],
        "downloads": doc.downloads,
        "translation_of": translations.visible_original(doc, viewer),
        "translations": [
            {"doc_id": d.doc_id, "language": d.language, "title": d.title,
             "url": url_for("documents.detail", doc_id=d.doc_id, _external=True)}
            for d in translations.members(doc, viewer)
        ],
    }
    # Only in the answer to an upload: the file's name and its content disagree.
    warning = getattr(doc, "upload_warning", None)
    if warning:
        answer["warning"] = warning
    return answer


def search_page(page: Page) -> dict[str, Any]:
    """The API's answer for a search."""
    res = page.result
    return {
        "total": res.total,
        "page": res.page,
        "per_page": res.per_page,
        "results": [
            {**document_summary(f.doc),
             "score": None if f.hit.score is None else round(f.hit.score, 4),
             "snippets": [{"page": s.page, "html": s.html} for s in f.hit.snippets],
             "translations": [
                 {"id": v.doc_id, "language": v.language, "title": v.title,
                  "url": url_for("documents.detail", doc_id=v.doc_id, _external=True)}
                 for v in f.versions]}
            for f in page.found
        ],
        "facets": {
            name: [{"value": v, "label": page.facet_labels[name].get(v, v), "count": n}
                   for v, n in pairs]
            for name, pairs in res.facets.items()
        },
        "did_you_mean": res.did_you_mean,
        "nothing_to_search": res.nothing_to_search,
        "expand": page.expand,
        "expansions": [
            {"matched": e.matched, "lang": e.lang, "label": e.label,
             "also": [{"lang": lang, "label": label} for lang, label in e.labels]}
            for e in page.expansions
        ],
    }


def taxonomy_lists() -> dict[str, Any]:
    def terms(items: Any) -> list[dict[str, str]]:
        return [{"code": t.code, "label": t.label} for t in items]

    return {
        "countries": terms(taxonomy.countries()),
        "agencies": terms(agencies()),
        "types": terms(taxonomy.shown(taxonomy.DOCUMENT_TYPES)),
        "phases": terms(taxonomy.shown(taxonomy.PHASES)),
        "languages": terms(taxonomy.languages()),
        "access": terms(taxonomy.shown(taxonomy.ACCESS_LEVELS)),
        **vocabulary_lists(),
    }


def vocabulary_lists(language: str | None = None) -> dict[str, list[dict[str, str]]]:
    """The controlled vocabularies in code order, labelled in ``language`` (the
    interface language: for the API, the request's Accept-Language); an SDG target also
    names its goal."""
    lang = language or current_language()
    out: dict[str, list[dict[str, str]]] = {}
    for name in vocabularies.NAMES:
        items = []
        for concept in vocabularies.concepts(name):
            item = {"code": concept.code, "label": concept.label(lang)}
            if concept.parent is not None:
                item["goal"] = concept.parent.get(lang) or concept.parent["en"]
            items.append(item)
        out[name] = items
    return out

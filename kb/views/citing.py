"""What the document pages and the search's exports share: citation facts of loaded
documents (their page's stable URL) and the file answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import Response, url_for

from kb.models import Document
from kb.services import citations, harvest


def cited(docs: Iterable[Document],
          labels: Mapping[str, str] | None = None) -> list[citations.Cited]:
    """The citation facts of these documents, their URL the page's, absolute (agencies
    named by ``labels``, else read from the database)."""
    labels = harvest.agency_labels() if labels is None else labels
    return [citations.cited(doc, labels, url_for("documents.detail", doc_id=doc.doc_id,
                                                 _external=True))
            for doc in docs]


def attachment(fmt: str, items: Iterable[citations.Cited], stem: str) -> Response:
    """A download in ``fmt`` (a key of citations.EXPORT_FORMATS) named ``stem.fmt``; the
    name is ours (an id or a word), never a title or a user's file name."""
    media_type, _name = citations.EXPORT_FORMATS[fmt]
    response = Response(citations.WRITERS[fmt](items), content_type=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

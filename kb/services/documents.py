"""Document operations: ingest, metadata, lookup and download bookkeeping."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import IO

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kb import context, policy
from kb.errors import DuplicateError, NotFound, UnsupportedType
from kb.extensions import db
from kb.extract import sniff
from kb.models import (
    Document,
    DocumentAgency,
    DocumentCountry,
    DocumentTheme,
    Job,
    StoredFile,
)
from kb.services.metadata import Metadata, validate

MAX_FILENAME = 255


def clean_filename(name: str | None) -> str:
    """The user's file name as metadata: no folders, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if not base:
        return "document"
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and len(ext) <= 10:
            base = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME]
    return base


def apply_metadata(doc: Document, meta: Metadata) -> None:
    """Copy validated metadata onto a document row."""
    doc.title = meta.title
    doc.summary = meta.summary
    doc.doc_type = meta.doc_type
    doc.language = meta.language
    doc.year = meta.year
    doc.phase = meta.phase
    doc.access = meta.access
    doc.country_rows = [DocumentCountry(code=c, position=i) for i, c in enumerate(meta.countries)]
    doc.agency_rows = [DocumentAgency(code=c, position=i) for i, c in enumerate(meta.agencies)]
    doc.theme_rows = [DocumentTheme(theme=t, position=i) for i, t in enumerate(meta.themes)]


def existing_by_sha(sha256: str) -> int | None:
    """The document holding these exact bytes, if any."""
    return db.session.scalar(select(StoredFile.doc_id).where(StoredFile.sha256 == sha256))


def ingest(
    stream: IO[bytes],
    filename: str | None,
    raw_meta: Mapping[str, Sequence[str]],
    user: object,
    *,
    job_owner: str | None = None,
) -> Document:
    """Store an upload, record it and queue its extraction; returns the new document.

    The file is written to the store before anything else happens, so that nothing a user
    sent is lost once this returns; extraction and indexing run in the background.
    """
    meta = validate(raw_meta)
    store = context.store()
    max_bytes = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    staged = store.stage(stream, max_bytes)
    mime = sniff(staged.head)
    if mime is None:
        store.discard(staged)
        raise UnsupportedType(
            "This kind of file cannot be read: upload a PDF or a plain text file."
        )
    existing = existing_by_sha(staged.sha256)
    if existing is not None:
        store.discard(staged)
        raise DuplicateError("This file is already in the repository.", existing)
    store.keep(staged)
    doc = Document(status="processing", uploader_id=getattr(user, "user_id", None))
    apply_metadata(doc, meta)
    doc.files = [StoredFile(version=1, filename=clean_filename(filename), size=staged.size,
                            sha256=staged.sha256, content_type=mime)]
    db.session.add(doc)
    try:
        db.session.flush()
        db.session.add(_job(doc.doc_id, "extract", job_owner))
        db.session.commit()
    except IntegrityError as e:
        # The same bytes were recorded by a concurrent upload between our check and now.
        db.session.rollback()
        other = existing_by_sha(staged.sha256)
        if other is None:
            raise
        raise DuplicateError("This file is already in the repository.", other) from e
    return doc


def _job(doc_id: int, kind: str, owner: str | None) -> Job:
    if owner is None:
        return Job(doc_id=doc_id, kind=kind)
    from kb.models import utcnow

    return Job(doc_id=doc_id, kind=kind, state="running", locked_by=owner, locked_at=utcnow())


def update_metadata(doc: Document, raw_meta: Mapping[str, Sequence[str]]) -> Document:
    """Change a document's metadata and queue its re-indexing."""
    meta = validate(raw_meta)
    apply_metadata(doc, meta)
    if doc.status != "processing":
        db.session.add(_job(doc.doc_id, "index", None))
    db.session.commit()
    return doc


def get_visible(doc_id: int, user: object) -> Document:
    """The document if the user may see it; otherwise NotFound (never confirm it exists)."""
    doc = db.session.get(Document, doc_id)
    if doc is None or not policy.can_view(user, doc):
        raise NotFound("No such document.")
    return doc


def count_download(doc: Document) -> None:
    """Add one to the download counter without losing concurrent increments."""
    db.session.execute(
        update(Document).where(Document.doc_id == doc.doc_id)
        .values(downloads=Document.downloads + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def worker_name(kind: str) -> str:
    """An identifier for a process that claims jobs."""
    return f"{kind}:{os.uname().nodename}:{os.getpid()}"

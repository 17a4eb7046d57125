"""Background work: claim jobs, extract text, index in batches, mark documents done."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from kb import context, search
from kb.errors import ExtractionError, IndexBusy, IndexUnavailable
from kb.extensions import db
from kb.extract import Extracted, extract
from kb.models import Document, Job, PageText, StoredFile, utcnow

log = logging.getLogger(__name__)

# A job still "running" this long after it was claimed belongs to a dead worker.
STALE_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 5
# How long jobs wait before trying a missing or damaged index again.
INDEX_WAIT = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    """What extraction of one file gave: text, or a failure a person can act on."""

    pages: tuple[str, ...] = ()
    error: str | None = None
    error_code: str | None = None
    notice: str | None = None
    notice_code: str | None = None
    # The language the file declares, else the one detected in its text (ISO 639-1).
    language: str | None = None
    # What the file says about itself: title, author, created, modified (ISO dates).
    metadata: tuple[tuple[str, str], ...] = ()


def extract_outcome(path: str, mime: str) -> Outcome:
    """Extract one file, turning a named failure into an outcome (picklable for pools)."""
    from kb.extract import language

    try:
        result: Extracted = extract(Path(path), mime)
    except ExtractionError as e:
        return Outcome(error=e.message, error_code=e.code)
    declared = result.language or result.metadata.get("language")
    detected = declared or language.detect(_first_chars(result.pages, language.MAX_CHARS))
    return Outcome(pages=result.pages, notice=result.notice, notice_code=result.notice_code,
                   language=detected, metadata=tuple(sorted(result.metadata.items())))


Extractor = Callable[[str, str], Outcome]


def with_ocr(extractor: Extractor, mode: str, languages: str, timeout: float) -> Extractor:
    """Wrap an extractor: a PDF without a text layer goes through OCR when it is installed
    (``mode`` auto), and its OCR'd copy is read instead; the stored original is untouched."""
    from kb.extract import ocr

    def run(path: str, mime: str) -> Outcome:
        outcome = extractor(path, mime)
        if outcome.notice_code != "no-text-layer" or mime != "application/pdf" or mode == "off":
            return outcome
        installed, notice = ocr.available(languages)
        if not installed:
            return replace(outcome, notice=f"{outcome.notice} {notice}")
        try:
            copy = ocr.ocr_pdf(Path(path), languages, timeout)
        except ExtractionError as e:
            return replace(outcome, notice=f"{outcome.notice} OCR did not succeed: {e.message}")
        try:
            second = extractor(str(copy), mime)
        finally:
            copy.unlink(missing_ok=True)
        if second.error is not None or not any(p.strip() for p in second.pages):
            return outcome
        return replace(second, notice_code=None, notice=(
            "The text was read from scanned pages by OCR (optical character recognition) "
            "and may contain errors."))

    return run


def configured_extractor(extractor: Extractor, config: Mapping[str, Any]) -> Extractor:
    """The extractor with the app's OCR settings applied."""
    return with_ocr(extractor, str(config["OCR"]), str(config["OCR_LANGUAGES"]),
                    float(config["OCR_TIMEOUT"]))


def claim(worker: str, limit: int) -> list[Job]:
    """Claim up to ``limit`` queued jobs for this worker, atomically per job."""
    now = utcnow()
    db.session.execute(
        update(Job).where(Job.state == "running", Job.locked_at < now - STALE_AFTER)
        .values(state="queued", locked_by=None, locked_at=None)
    )
    candidates = db.session.scalars(
        select(Job.job_id).where(Job.state == "queued", Job.run_after <= now)
        .order_by(Job.job_id).limit(limit)
    ).all()
    claimed = []
    for job_id in candidates:
        res = db.session.execute(
            update(Job).where(Job.job_id == job_id, Job.state == "queued")
            .values(state="running", locked_by=worker, locked_at=now)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(job_id)
    db.session.commit()
    if not claimed:
        return []
    return list(db.session.scalars(select(Job).where(Job.job_id.in_(claimed))))


def record_for(doc: Document, pages: tuple[str, ...] | None = None) -> search.IndexRecord:
    """The index's view of a document, from database rows and stored page text (or the
    ``pages`` just extracted, which saves reading them back)."""
    current = doc.current_file
    if pages is None:
        pages = ()
        if current is not None:
            pages = tuple(db.session.scalars(
                select(PageText.text).where(PageText.file_id == current.file_id)
                .order_by(PageText.page)
            ))
    return search.IndexRecord(
        doc_id=doc.doc_id, title=doc.title, summary=doc.summary or "",
        doc_type=doc.doc_type, countries=tuple(doc.countries), agencies=tuple(doc.agencies),
        themes=tuple(doc.themes), language=doc.language, year=doc.year, phase=doc.phase,
        access=doc.access, created_ts=int(doc.created_at.timestamp()), pages=pages,
        workflow=doc.workflow, uploader_id=doc.uploader_id, group_ids=tuple(doc.group_ids),
    )


def body_texts(doc_ids: list[int]) -> dict[int, str]:
    """The indexed bodies of documents, rebuilt from their current files' pages, in one
    query (for the snippets of a page of hits)."""
    latest = (select(StoredFile.doc_id, func.max(StoredFile.version).label("version"))
              .where(StoredFile.doc_id.in_(doc_ids)).group_by(StoredFile.doc_id).subquery())
    rows = db.session.execute(
        select(StoredFile.doc_id, PageText.text)
        .join(latest, (latest.c.doc_id == StoredFile.doc_id)
              & (latest.c.version == StoredFile.version))
        .join(PageText, PageText.file_id == StoredFile.file_id)
        .order_by(StoredFile.doc_id, PageText.page)
    )
    pages: dict[int, list[str]] = {doc_id: [] for doc_id in doc_ids}
    for doc_id, text in rows:
        pages[doc_id].append(text)
    return {doc_id: search.PAGE_SEPARATOR.join(texts) for doc_id, texts in pages.items()}


def save_outcome(doc: Document, outcome: Outcome) -> None:
    """Store extracted pages (or the failure) on the document's current file."""
    current = doc.current_file
    if current is None:
        return
    db.session.execute(delete(PageText).where(PageText.file_id == current.file_id))
    for number, text in enumerate(outcome.pages, start=1):
        db.session.add(PageText(file_id=current.file_id, page=number, text=text))
    current.pages = len(outcome.pages) if outcome.error is None else None
    current.file_metadata = json.dumps(dict(outcome.metadata)) if outcome.metadata else None
    if outcome.error is not None:
        doc.error, doc.error_code = outcome.error, outcome.error_code
    else:
        doc.error, doc.error_code = outcome.notice, outcome.notice_code
    if doc.language is None and outcome.language:
        doc.language = outcome.language  # what the user set always wins


def finish(jobs: list[Job], docs: list[Document]) -> None:
    """Index the documents in one commit, then mark them and their jobs done."""
    records = [record_for(d) for d in docs]
    try:
        search.write_records(context.index_dir(), records, context.lock_timeout())
    except IndexBusy as e:
        db.session.rollback()
        retry(jobs, str(e))
        return
    except IndexUnavailable as e:
        wait_for_index(jobs, e.message)
        return
    mark_indexed(jobs, docs)


def wait_for_index(jobs: Iterable[Job], reason: str) -> None:
    """Keep the extracted text and queue the indexing again, without counting an attempt:
    the index is missing or damaged, not the documents (``rebuild_index`` wakes them)."""
    later = utcnow() + INDEX_WAIT
    for job in jobs:
        if job.state != "running":
            continue
        job.kind, job.state, job.locked_by = "index", "queued", None
        job.last_error, job.run_after = reason, later
    db.session.commit()


def mark_indexed(jobs: list[Job], docs: list[Document]) -> None:
    """Mark indexed documents ready (or failed, after a failed extraction), their jobs done."""
    for doc in docs:
        doc.status = "failed" if doc.error_code and doc.error_code != "no-text-layer" else "ready"
    for job in jobs:
        job.state, job.locked_by, job.last_error = "done", None, None
    db.session.commit()


def retry(jobs: Iterable[Job], reason: str) -> None:
    """Put jobs back in the queue for later; after too many attempts, fail them visibly."""
    for job in jobs:
        job = db.session.merge(job)
        job.attempts += 1
        job.last_error = reason
        job.locked_by = None
        if job.attempts >= MAX_ATTEMPTS:
            job.state = "failed"
            doc = db.session.get(Document, job.doc_id)
            if doc is not None and doc.status == "processing":
                doc.status = "failed"
                doc.error = ("Indexing failed repeatedly; an administrator can run "
                             f"`kb reindex`. Last reason: {reason}")
                doc.error_code = "index-failed"
        else:
            job.state = "queued"
            job.run_after = utcnow() + timedelta(seconds=2 * job.attempts)
    db.session.commit()


def run_jobs(jobs: list[Job], extractor: Callable[[str, str], Outcome] = extract_outcome) -> None:
    """Run claimed jobs: extract where asked, then index all of them in one commit."""
    store = context.store()
    docs: dict[int, Document] = {}
    for job in jobs:
        doc = db.session.get(Document, job.doc_id)
        if doc is None:
            job.state = "done"
            continue
        if job.kind == "extract" and doc.current_file is not None:
            current = doc.current_file
            try:
                path = str(store.local_path(current.sha256))
            except Exception as e:  # the blob vanished: say so, keep the record
                outcome = Outcome(error=f"The stored file is missing: {e}", error_code="missing")
            else:
                outcome = extractor(path, current.content_type)
            save_outcome(doc, outcome)
        docs[doc.doc_id] = doc
    db.session.flush()
    finish(jobs, list(docs.values()))


def process_pending(worker: str, batch: int = 20,
                    extractor: Callable[[str, str], Outcome] = extract_outcome) -> int:
    """Run queued jobs until none is left; returns how many jobs ran."""
    total = 0
    while True:
        jobs = claim(worker, batch)
        if not jobs:
            return total
        run_jobs(jobs, extractor)
        total += len(jobs)


def rebuild_index() -> int:
    """Rebuild the whole index from the database and stored text; returns documents written.

    Documents still processing are left to their jobs, which are made due now: those that
    waited for a missing index run at the worker's next poll.
    """
    docs = db.session.scalars(
        select(Document).where(Document.status != "processing").order_by(Document.doc_id)
    )
    n = search.rebuild(context.index_dir(), (record_for(d) for d in docs),
                       context.lock_timeout())
    db.session.execute(update(Job).where(Job.state == "queued", Job.run_after > utcnow())
                       .values(run_after=utcnow()))
    db.session.commit()
    return n


def _first_chars(pages: list[str] | tuple[str, ...], limit: int) -> str:
    """The text of the first pages, up to ``limit`` characters (no join of a whole book)."""
    taken: list[str] = []
    size = 0
    for page in pages:
        if size >= limit:
            break
        taken.append(page)
        size += len(page) + 1
    return "\n".join(taken)[:limit]

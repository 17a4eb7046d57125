"""Background work: claim jobs, extract text, index in batches, mark documents done."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from kb import context, logs, search
from kb.errors import ExtractionError, IndexBusy, IndexUnavailable, disk_full
from kb.extensions import db
from kb.extract import Extracted, extract, leading_text
from kb.extract.thumbnail import Thumbnail
from kb.models import Document, Job, PageText, StoredFile, utcnow
from kb.services import queue
from kb.services.queue import Owner

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# How long jobs wait before trying a missing or damaged index again.
INDEX_WAIT = timedelta(seconds=60)
# Retries wait 2 s per attempt made, never longer than this.
MAX_BACKOFF_SECONDS = 60
# Failures that are no fault of the job: retried until they pass, however many attempts.
UNLIMITED = frozenset({"disk-full"})
# Failures shown on a document still processing, so that a person knows why it waits.
SHOWN_WHILE_WAITING = frozenset({"disk-full", "interrupted"})
# The kinds of job each lane of the worker runs: OCR has its own, so that a slow scan
# never holds up the text of other uploads.
TEXT_KINDS = ("extract", "index")
# A worker that does not write the index (`kb worker --no-index`, on a machine without
# the index) only extracts, and hands each document over as an ``index`` job.
EXTRACT_KINDS = ("extract",)
OCR_KINDS = ("ocr",)
OCR_NOTICE = ("The text was read from scanned pages by OCR (optical character recognition) "
              "and may contain errors.")


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
    # Not the file's fault (e.g. the reader was killed from outside): try it again later.
    retry: bool = False
    # The first page drawn small (PDFs read in the sandbox), stored beside the file.
    thumbnail: Thumbnail | None = None


def extract_outcome(path: str, mime: str) -> Outcome:
    """Extract one file, turning a named failure into an outcome (picklable for pools)."""
    from kb.extract import language

    try:
        result: Extracted = extract(Path(path), mime)
    except ExtractionError as e:
        return Outcome(error=e.message, error_code=e.code)
    declared = result.language or result.metadata.get("language")
    detected = declared or language.detect(leading_text(result.pages, language.MAX_CHARS))
    return Outcome(pages=result.pages, notice=result.notice, notice_code=result.notice_code,
                   language=detected, metadata=tuple(sorted(result.metadata.items())))


def preview_outcome(path: str, mime: str) -> Outcome:
    """What the upload form is prefilled from: the file's own metadata and language, read
    as quickly as its format allows (no pages kept; picklable for the sandbox)."""
    from kb.extract import language, preview

    try:
        result: Extracted = preview(Path(path), mime)
    except ExtractionError as e:
        return Outcome(error=e.message, error_code=e.code)
    declared = result.language or result.metadata.get("language")
    detected = declared or language.detect(leading_text(result.pages, language.MAX_CHARS))
    return Outcome(language=detected, metadata=tuple(sorted(result.metadata.items())))


Extractor = Callable[[str, str], Outcome]


@dataclass(frozen=True)
class OcrSettings:
    """How scanned PDFs are read: mode auto|off, tesseract languages, time limits."""

    mode: str
    languages: str
    timeout: float
    per_page: float

    def timeout_for(self, pages: int | None) -> float:
        """The time limit for a PDF of ``pages`` pages: a share per page (one more for
        starting up), never more than the overall limit."""
        return min(self.timeout, self.per_page * (max(pages or 1, 1) + 1))


def ocr_settings(config: Mapping[str, Any]) -> OcrSettings:
    """The app's OCR settings."""
    return OcrSettings(str(config["OCR"]), str(config["OCR_LANGUAGES"]),
                       float(config["OCR_TIMEOUT"]), float(config["OCR_TIMEOUT_PER_PAGE"]))


def with_ocr(extractor: Extractor, settings: OcrSettings) -> Extractor:
    """Wrap an extractor: a PDF without a text layer goes through OCR when it is installed
    (``mode`` auto), and its OCR'd copy is read instead; the stored original is untouched.
    (`kb import` reads scans this way; the background worker gives OCR a lane of its own.)"""
    from kb.extract import ocr

    def run(path: str, mime: str) -> Outcome:
        outcome = extractor(path, mime)
        if not _scanned(outcome, mime, settings):
            return outcome
        installed, notice = ocr.available(settings.languages)
        if not installed:
            return replace(outcome, notice=f"{outcome.notice} {notice}")
        try:
            copy = ocr.ocr_pdf(Path(path), settings.languages,
                               settings.timeout_for(len(outcome.pages)))
        except ExtractionError as e:
            return replace(outcome, notice=f"{outcome.notice} OCR did not succeed: {e.message}")
        try:
            second = extractor(str(copy), mime)
        finally:
            copy.unlink(missing_ok=True)
        if second.error is not None or not any(p.strip() for p in second.pages):
            return outcome
        return replace(second, notice_code=None, notice=OCR_NOTICE)

    return run


def _scanned(outcome: Outcome, mime: str, settings: OcrSettings | None) -> bool:
    """Whether OCR should read this outcome's file."""
    return (settings is not None and settings.mode != "off" and mime == "application/pdf"
            and outcome.notice_code == "no-text-layer")


def configured_extractor(extractor: Extractor, config: Mapping[str, Any]) -> Extractor:
    """The extractor with the app's OCR settings applied (OCR inline)."""
    return with_ocr(extractor, ocr_settings(config))


def claim(owner: Owner, limit: int, kinds: Iterable[str] = TEXT_KINDS,
          due_at: datetime | None = None) -> list[Job]:
    """Claim up to ``limit`` queued jobs of ``kinds`` for ``owner``, atomically per job,
    among those due at ``due_at`` (default: now); jobs stranded by a dead holder are
    given back first.

    On PostgreSQL the candidates are locked with ``FOR UPDATE SKIP LOCKED``, so that
    workers claiming at the same moment take different jobs instead of queueing on the
    same rows; SQLite has no row locks (the clause is left out) and serialises writers.
    On both, each job is taken by a compare-and-set on its state: never by two workers."""
    release_stranded()
    now = utcnow()
    # The whole test again in the update: between the two, another worker may have taken
    # the job, run it and queued it again as another kind (handed over to another lane).
    due = (Job.state == "queued", Job.run_after <= (due_at or now), Job.kind.in_(tuple(kinds)))
    candidates = db.session.scalars(
        select(Job.job_id).where(*due)
        .order_by(Job.job_id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for job_id in candidates:
        res = db.session.execute(
            update(Job).where(Job.job_id == job_id, *due).values(**owner.claim_values(now))
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(job_id)
    db.session.commit()
    if not claimed:
        return []
    jobs = list(db.session.scalars(select(Job).where(Job.job_id.in_(claimed))))
    for job in jobs:
        log.info("job %s started: %s of document %s", job.job_id, job.kind, job.doc_id,
                 extra=_fields(job))
    return jobs


def _fields(job: Job, error_code: str | None = None) -> dict[str, Any]:
    """The log fields of a job."""
    return {"job_id": job.job_id, "doc_id": job.doc_id, "kind": job.kind,
            "attempts": job.attempts, "error_code": error_code}


def release_stranded(stale_seconds: float | None = None) -> int:
    """Give back the running jobs whose holder is gone: a dead process of this machine (at
    once), or any holder whose heartbeat is older than ``stale_seconds`` (default: the
    WORKER_STALE_SECONDS setting). Returns how many were given back."""
    if stale_seconds is None:
        stale_seconds = float(current_app.config["WORKER_STALE_SECONDS"])
    now = utcnow()
    limit = now - timedelta(seconds=stale_seconds)
    released = 0
    for job in list(db.session.scalars(select(Job).where(Job.state == "running"))):
        last = job.heartbeat_at or job.locked_at
        if queue.job_owner_gone(job):
            why = f"its {_holder(job)} stopped while working on it"
        elif last is None or last < limit:
            why = f"its {_holder(job)} gave no sign of life for over {stale_seconds:g} s"
        else:
            continue
        # Only if nobody touched the claim meanwhile (a holder's heartbeat, a new claim).
        res = db.session.execute(
            update(Job).where(Job.job_id == job.job_id, Job.state == "running",
                              Job.locked_by.is_not_distinct_from(job.locked_by),
                              Job.heartbeat_at.is_not_distinct_from(job.heartbeat_at))
            .values(state="given-back").execution_options(synchronize_session=False))
        if res.rowcount == 1:  # type: ignore[attr-defined]
            log.warning("job %s given back: %s", job.job_id, why,
                        extra=_fields(job, "interrupted"))
            db.session.refresh(job)  # in the same transaction: never left "given-back"
            _requeue(job, f"The work was interrupted: {why}; it is being retried.",
                     "interrupted", now)
            released += 1
    db.session.commit()
    return released


def _holder(job: Job) -> str:
    kind = (job.locked_by or "worker").partition(":")[0]
    where = f" on {job.locked_host}" if job.locked_host else ""
    pid = f" (process {job.locked_pid}{where})" if job.locked_pid else ""
    return f"{kind}{pid}"


def give_back(job_ids: Iterable[int], owner: Owner, error: BaseException) -> None:
    """Put the jobs ``owner`` still holds among ``job_ids`` back in the queue, with the
    error that stopped their batch (retried with back-off, failed after MAX_ATTEMPTS)."""
    reason, code = describe_failure(error)
    jobs = list(db.session.scalars(select(Job).where(
        Job.job_id.in_(list(job_ids)), Job.state == "running",
        Job.locked_by == owner.name)))
    if jobs:
        retry(jobs, reason, code)


def give_back_held(owner: Owner, error: BaseException) -> int:
    """Put back every job ``owner`` holds (after a failure that could not do so itself)."""
    ids = list(db.session.scalars(select(Job.job_id).where(
        Job.state == "running", Job.locked_by == owner.name)))
    give_back(ids, owner, error)
    return len(ids)


def describe_failure(error: BaseException) -> tuple[str, str]:
    """A message a person can act on, and a code, for an error that stopped a batch."""
    if isinstance(error, OSError) and disk_full(error):
        where = f" ({error.filename})" if error.filename else ""
        return (f"The disk is full{where}: {error.strerror}. Free space on it; the document is "
                "processed by itself once there is room.", "disk-full")
    if disk_full(error):
        return ("The database's disk is full. Free space in the instance folder; the "
                "document is processed by itself once there is room.", "disk-full")
    return f"{type(error).__name__}: {error}"[:1000], "failed"


def stored_pages(doc: Document) -> tuple[str, ...]:
    """The text of the current file's pages, as extracted (none before extraction)."""
    current = doc.current_file
    if current is None:
        return ()
    return tuple(db.session.scalars(select(PageText.text).where(
        PageText.file_id == current.file_id).order_by(PageText.page)))


def record_for(doc: Document, pages: tuple[str, ...] | None = None) -> search.IndexRecord:
    """The index's view of a document, from database rows and stored page text (or the
    ``pages`` just extracted, which saves reading them back)."""
    if pages is None:
        pages = stored_pages(doc)
    return search.IndexRecord(
        doc_id=doc.doc_id, title=doc.title, summary=doc.summary or "",
        doc_type=doc.doc_type, countries=tuple(doc.countries), agencies=tuple(doc.agencies),
        themes=tuple(doc.themes), language=doc.language, year=doc.year, phase=doc.phase,
        access=doc.access, created_ts=int(doc.created_at.timestamp()), pages=pages,
        workflow=doc.workflow, uploader_id=doc.uploader_id, group_ids=tuple(doc.group_ids),
        updated_at=doc.updated_at.isoformat() if doc.updated_at else "",
        translation_of=doc.translation_of,
        gcm=tuple(doc.terms("gcm")), sdg=tuple(doc.terms("sdg")),
        area=tuple(doc.terms("area")),
    )


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
    save_thumbnail(current, outcome.thumbnail)
    if outcome.error is None:
        # GCM objectives and SDG targets proposed from the text, for an editor to decide
        # (issue 17); a failure there is logged and never fails the processing.
        from kb.services import term_suggestions

        term_suggestions.refresh_quietly(doc, outcome.pages)


def save_thumbnail(current: StoredFile, thumbnail: Thumbnail | None) -> None:
    """Store a file's first-page thumbnail and record its size, once: a later reading of
    the same bytes (a retry, an OCR'd copy) keeps the one stored."""
    if thumbnail is None:
        return
    store = context.store()
    if current.thumb_width is not None and store.thumbnail_path(current.sha256).is_file():
        return
    store.keep_thumbnail(current.sha256, thumbnail.png)
    current.thumb_width, current.thumb_height = thumbnail.width, thumbnail.height


def finish(jobs: list[Job], docs: list[Document]) -> int:
    """Index the documents in one commit, then mark them and their jobs done; returns how
    many documents were written to the index."""
    if not jobs:
        return 0
    # A document moved to the trash meanwhile stays out of the index (it left it then).
    records = [record_for(d) for d in docs if d.trashed_at is None]
    try:
        search.write_records(context.index_dir(), records, context.lock_timeout())
    except IndexBusy as e:
        db.session.rollback()
        retry(jobs, str(e))
        return 0
    except IndexUnavailable as e:
        wait_for_index(jobs, e.message)
        return 0
    mark_indexed(jobs, docs)
    return len(records)


def wait_for_index(jobs: Iterable[Job], reason: str) -> None:
    """Keep the extracted text and queue the indexing again, without counting an attempt:
    the index is missing or damaged, not the documents (``rebuild_index`` wakes them)."""
    later = utcnow() + INDEX_WAIT
    for job in jobs:
        if job.state != "running":
            continue
        job.kind, job.state = "index", "queued"
        _unlock(job)
        job.last_error, job.run_after = reason, later
        log.warning("job %s waits for the index: %s", job.job_id, reason, extra=_fields(job))
    db.session.commit()


def mark_indexed(jobs: list[Job], docs: list[Document]) -> None:
    """Mark indexed documents ready (or failed, after a failed extraction), their jobs done."""
    for doc in docs:
        if doc.error_code in SHOWN_WHILE_WAITING:  # the wait is over
            doc.error, doc.error_code = None, None
        doc.status = "failed" if doc.error_code and doc.error_code != "no-text-layer" else "ready"
    by_id = {doc.doc_id: doc for doc in docs}
    # Logged once committed (read now: the commit expires the rows).
    lines: list[tuple[int, str, tuple[Any, ...], dict[str, Any]]] = []
    for job in jobs:
        job.state, job.last_error, job.last_error_code = "done", None, None
        _unlock(job)
        done = by_id.get(job.doc_id) if job.doc_id is not None else None
        code = done.error_code if done is not None else None
        if done is not None and done.status == "failed":
            lines.append((logging.WARNING, "job %s done: document %s failed: %s",
                          (job.job_id, job.doc_id, done.error), _fields(job, code)))
        else:
            lines.append((logging.INFO, "job %s done: document %s is ready",
                          (job.job_id, job.doc_id), _fields(job, code)))
    db.session.commit()
    for level, message, args, fields in lines:
        log.log(level, message, *args, extra=fields)


def _unlock(job: Job) -> None:
    job.locked_by = job.locked_host = job.locked_pid = job.locked_started = None
    job.locked_at = job.heartbeat_at = None


def retry(jobs: Iterable[Job], reason: str, code: str | None = None) -> None:
    """Put jobs back in the queue for later; after too many attempts, fail them visibly
    (a full disk is waited out however long it lasts)."""
    now = utcnow()
    for job in jobs:
        _requeue(db.session.merge(job), reason, code, now)
    db.session.commit()


def _requeue(job: Job, reason: str, code: str | None, now: datetime) -> None:
    job.attempts += 1
    job.last_error, job.last_error_code = reason, code
    _unlock(job)
    doc = db.session.get(Document, job.doc_id) if job.doc_id is not None else None
    if job.attempts >= MAX_ATTEMPTS and code not in UNLIMITED:
        job.state = "failed"
        if doc is not None and doc.status == "processing":
            doc.status = "failed"
            doc.error = ("Processing failed repeatedly; an administrator can run "
                         f"`kb reextract {doc.doc_id}` or `kb reindex`. Last reason: {reason}")
            doc.error_code = "index-failed"
        log.error("job %s failed after %d attempts: %s", job.job_id, job.attempts, reason,
                  extra=_fields(job, code or "index-failed"))
    else:
        job.state = "queued"
        wait = min(MAX_BACKOFF_SECONDS, 2 * job.attempts)
        job.run_after = now + timedelta(seconds=wait)
        log.warning("job %s: attempt %d failed, trying again in %d s: %s", job.job_id,
                    job.attempts, wait, reason, extra=_fields(job, code))
        if (doc is not None and doc.status == "processing" and code in SHOWN_WHILE_WAITING
                and (doc.error is None or doc.error_code in SHOWN_WHILE_WAITING)):
            doc.error, doc.error_code = reason, code


def hand_over(job: Job, kind: str) -> None:
    """Queue ``job`` again, now as a job of ``kind`` (for another lane), to run at once."""
    job.kind, job.state, job.run_after = kind, "queued", utcnow()
    _unlock(job)
    log.info("job %s handed over to the %s lane", job.job_id, kind, extra=_fields(job))


def run_jobs(jobs: list[Job], extractor: Callable[[str, str], Outcome] = extract_outcome,
             ocr: OcrSettings | None = None, index: bool = True) -> int:
    """Run claimed jobs: extract where asked, then index all of them in one commit (or,
    without ``index``, hand them over as ``index`` jobs to a worker that writes the index).
    With ``ocr`` settings, a PDF without text is handed to the OCR lane instead of indexed.
    Returns how many documents were written to the index."""
    from kb.extract import ocr as ocr_module

    store = context.store()
    docs: dict[int, Document] = {}
    indexed: list[Job] = []
    again: list[tuple[Job, Outcome]] = []
    for job in jobs:
        doc = db.session.get(Document, job.doc_id)
        if doc is None:
            job.state = "done"
            _unlock(job)
            continue
        if job.kind == "extract" and doc.current_file is not None:
            current = doc.current_file
            try:
                path = str(store.local_path(current.sha256))
            except Exception as e:  # the blob vanished: say so, keep the record
                outcome = Outcome(error=f"The stored file is missing: {e}", error_code="missing")
            else:
                with logs.bound(job_id=job.job_id, doc_id=job.doc_id):
                    outcome = extractor(path, current.content_type)
            if outcome.retry:
                again.append((job, outcome))
                continue
            save_outcome(doc, outcome)
            if _scanned(outcome, current.content_type, ocr):
                assert ocr is not None
                installed, notice = ocr_module.available(ocr.languages)
                if installed:
                    hand_over(job, "ocr")
                    continue
                doc.error = f"{outcome.notice} {notice}"
        docs[doc.doc_id] = doc
        indexed.append(job)
    # The text is in the database before the index: what is handed over or retried keeps it.
    if not index:  # the indexing worker reads the text back from the database
        for job in indexed:
            hand_over(job, "index")
    db.session.commit()
    for job, outcome in again:
        retry([job], outcome.error or "interrupted", outcome.error_code)
    return finish(indexed, list(docs.values())) if index else 0


def run_ocr(job: Job, extractor: Callable[[str, str], Outcome], settings: OcrSettings) -> None:
    """Read a claimed ``ocr`` job's scanned PDF by OCR, save its text, and queue it for
    indexing (a failed OCR leaves the document found by its metadata, and says why)."""
    from kb.extract import ocr

    doc = db.session.get(Document, job.doc_id)
    current = doc.current_file if doc is not None else None
    if doc is None or current is None:
        job.state = "done"
        _unlock(job)
        db.session.commit()
        return
    try:
        path = context.store().local_path(current.sha256)
        copy = ocr.ocr_pdf(Path(path), settings.languages, settings.timeout_for(current.pages))
    except ExtractionError as e:
        if e.code == "interrupted":
            retry([job], e.message, e.code)
            return
        doc.error = f"{doc.error or ''} OCR did not succeed: {e.message}".strip()
    except Exception as e:  # the blob vanished: the document says so
        save_outcome(doc, Outcome(error=f"The stored file is missing: {e}", error_code="missing"))
    else:
        try:
            second = extractor(str(copy), current.content_type)
        finally:
            copy.unlink(missing_ok=True)
        if second.retry:
            retry([job], second.error or "interrupted", second.error_code)
            return
        if second.error is None and any(p.strip() for p in second.pages):
            save_outcome(doc, replace(second, notice_code=None, notice=OCR_NOTICE))
    hand_over(job, "index")
    db.session.commit()


def run_ocr_jobs(owner: Owner, extractor: Callable[[str, str], Outcome],
                 settings: OcrSettings, stop: Callable[[], bool] = lambda: False) -> int:
    """Run queued OCR jobs one at a time until none is left (or ``stop``); returns how
    many ran."""
    total = 0
    while not stop():
        jobs = claim(owner, 1, OCR_KINDS)
        if not jobs:
            break
        try:
            with logs.bound(job_id=jobs[0].job_id, doc_id=jobs[0].doc_id):
                run_ocr(jobs[0], extractor, settings)
        except Exception as e:
            db.session.rollback()
            give_back([jobs[0].job_id], owner, e)
            raise
        total += 1
    return total


def process_batch(owner: Owner, batch: int = 20,
                  extractor: Callable[[str, str], Outcome] = extract_outcome,
                  ocr: OcrSettings | None = None, index: bool = True,
                  tally: Counter[str] | None = None) -> int:
    """Claim and run one batch of text jobs; returns how many ran. A batch that raises
    puts its jobs back in the queue with the error recorded, then re-raises.

    Without ``index`` only extract jobs are claimed, and handed over for indexing. A
    ``tally`` counts the jobs claimed by kind, and the documents written ("indexed")."""
    jobs = claim(owner, batch, TEXT_KINDS if index else EXTRACT_KINDS)
    if not jobs:
        return 0
    ids = [j.job_id for j in jobs]
    kinds = Counter(j.kind for j in jobs)
    try:
        written = run_jobs(jobs, extractor, ocr, index)
    except Exception as e:
        db.session.rollback()
        give_back(ids, owner, e)
        raise
    if tally is not None:
        tally.update(kinds)
        tally["indexed"] += written
    return len(ids)


def process_pending(owner: Owner, batch: int = 20,
                    extractor: Callable[[str, str], Outcome] = extract_outcome,
                    ocr: OcrSettings | None = None, index: bool = True,
                    tally: Counter[str] | None = None) -> int:
    """Run queued text jobs until none is left; returns how many jobs ran."""
    total = 0
    while ran := process_batch(owner, batch, extractor, ocr, index, tally):
        total += ran
    return total


def rebuild_index() -> int:
    """Rebuild the whole index from the database and stored text; returns documents written.

    Documents still processing are left to their jobs, which are made due now: those that
    waited for a missing index run at the worker's next poll. Documents in the trash are
    left out (restoring one re-indexes it).
    """
    docs = db.session.scalars(
        select(Document).where(Document.status != "processing",
                               Document.trashed_at.is_(None)).order_by(Document.doc_id)
    )
    n = search.rebuild(context.index_dir(), (record_for(d) for d in docs),
                       context.lock_timeout())
    db.session.execute(update(Job).where(Job.state == "queued", Job.run_after > utcnow())
                       .values(run_after=utcnow()))
    db.session.commit()
    return n


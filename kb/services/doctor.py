"""`kb doctor`: checks that the database, the stored files and the index agree.

Each check is a function that yields findings. A finding is a problem (someone must act:
the command exits non-zero) or a note (worth knowing, nothing broken). Each says what it
concerns and what to do; a problem that `kb doctor --repair` can fix carries a Repair,
which ``repair`` carries out: re-queue, re-index, quarantine. Nothing here deletes a
stored file.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from kb import context, search
from kb.errors import IndexUnavailable
from kb.extensions import db
from kb.models import Document, Job, StoredFile, utcnow
from kb.services import leftovers, pending, processing, queue


@dataclass(frozen=True)
class Options:
    """How thoroughly to check."""

    # Read every stored file to compare its SHA-256 (else sizes only).
    hashes: bool = True


# What --repair can do, and how each is said.
REINDEX = "reindex"  # write the document to the index from its record (once)
UNINDEX = "unindex"  # remove an entry the database no longer has from the index
REBUILD = "rebuild"  # rebuild the whole index (it cannot be read)
GIVE_BACK = "give-back"  # a stuck running job goes back to the queue
EXTRACT = "extract"  # a document stuck processing gets a new extract job
QUARANTINE = "quarantine"  # a stored file no record names moves to quarantine

REPAIR_SAYS = {
    REINDEX: "writes it to the index from its record, once",
    UNINDEX: "removes it from the index",
    REBUILD: "rebuilds the index from the database (as `kb reindex` does)",
    GIVE_BACK: "gives the job back to the queue, where a worker takes it again",
    EXTRACT: "queues a new extract job for it",
    QUARANTINE: "moves it to the quarantine folder (never deletes it)",
}


@dataclass(frozen=True)
class Repair:
    """What `kb doctor --repair` does about a finding: an action and its target (a
    document id, or a stored file's SHA-256)."""

    action: str
    target: int | str | None = None

    @property
    def says(self) -> str:
        return REPAIR_SAYS[self.action]


@dataclass(frozen=True)
class Finding:
    """One thing a check found, in a sentence that says what to do."""

    check: str
    message: str
    problem: bool = True
    doc_id: int | None = None
    repair: Repair | None = field(default=None, compare=False)

    def line(self) -> str:
        """The finding as `kb doctor` prints it, with what --repair would do."""
        if not self.problem:
            return f"note: {self.message}"
        if self.repair is None:
            return f"problem: {self.message} (--repair cannot fix this.)"
        return f"problem: {self.message} --repair {self.repair.says}."


def stored_files(options: Options) -> Iterator[Finding]:
    """Every stored file a record names exists, with its recorded size and SHA-256."""
    store = context.store()
    quarantine = store.quarantine_dir
    rows = db.session.scalars(select(StoredFile).order_by(StoredFile.doc_id,
                                                          StoredFile.version))
    for row in rows:
        path = store.path_for(row.sha256)
        what = f"document {row.doc_id} ({row.filename}, version {row.version})"
        restore = (f"Copy it back from a backup to {path} (the right file's SHA-256 is "
                   f"{row.sha256}); if there is none, withdraw and delete the document.")
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            if (quarantine / row.sha256).is_file():
                restore = f"It is in quarantine: move {quarantine / row.sha256} back to {path}."
            yield Finding("stored-files", f"{what}: its stored file is missing. {restore}",
                          doc_id=row.doc_id)
            continue
        except OSError as e:
            yield _unreadable(what, path, e, row.doc_id)
            continue
        if size != row.size:
            yield Finding("stored-files", f"{what}: its stored file has {size:,} bytes where "
                          f"{row.size:,} were stored (truncated or overwritten); downloads "
                          f"refuse it. {restore}", doc_id=row.doc_id)
            continue
        if not options.hashes:
            continue
        try:
            digest = store.digest(row.sha256)
        except OSError as e:
            yield _unreadable(what, path, e, row.doc_id)
            continue
        if digest != row.sha256:
            yield Finding("stored-files", f"{what}: its stored file's bytes changed (its "
                          f"SHA-256 differs from the recorded one; the size is the same, so "
                          f"downloads still serve it). {restore}", doc_id=row.doc_id)


def _unreadable(what: str, path: Path, e: OSError, doc_id: int) -> Finding:
    return Finding("stored-files", f"{what}: its stored file {path} cannot be read "
                   f"({e.strerror}); give kb's account read access to it.", doc_id=doc_id)


def unnamed_files(_options: Options) -> Iterator[Finding]:
    """Stored files no record names, older than LEFTOVER_AGE_SECONDS (younger ones may be
    an upload being recorded, or a purged document's: `leftover_files` counts them)."""
    found = leftovers.find()
    now = time.time()
    for sha, path in found.unnamed_old:
        try:
            hours = (now - path.stat().st_mtime) / 3600
        except FileNotFoundError:
            continue  # quarantined or recorded meanwhile
        yield Finding("unnamed-files", (
            f"stored file {path} is named by no record (left by a crash or by a purged "
            f"document, {hours:.1f} h ago; the worker's sweep would have moved it)."),
            repair=Repair(QUARANTINE, sha))


def leftover_files(_options: Options) -> Iterator[Finding]:
    """Partial uploads, young stored files no record names, and the quarantine, counted."""
    found = leftovers.find()
    store = context.store()
    hours = f"{leftovers.max_age() / 3600:g} h"
    sweep = "the worker's sweep (at its start, then hourly)"
    if found.partial:
        yield Finding("leftovers", (
            f"{len(found.partial)} partial uploads in {store.root / 'tmp'} "
            f"({len(found.partial_old)} older than {hours}, which {sweep} deletes; the "
            "others may be uploads under way)."), problem=False)
    young = len(found.unnamed) - len(found.unnamed_old)
    if young:
        yield Finding("leftovers", (
            f"{young} stored files no record names, younger than {hours} (normal after a "
            "document is purged from the trash, or an upload being recorded); past that age "
            f"{sweep} moves them to {store.quarantine_dir}."), problem=False)
    waiting = pending.census()
    if waiting.count:
        yield Finding("leftovers", (
            f"{waiting.count} pending uploads (files sent ahead of the upload form, in "
            f"{store.pending_dir}; {waiting.overdue} not used within "
            f"{pending.PENDING_MAX_AGE.total_seconds() / 3600:g} h, which {sweep} "
            "deletes)."), problem=False)
    if found.quarantined:
        yield Finding("leftovers", (
            f"{len(found.quarantined)} files in quarantine ({store.quarantine_dir}): stored "
            "files no record named. kb never deletes them; remove them once no one needs "
            "them."), problem=False)


def _pending_doc_ids() -> set[int]:
    """Documents with a queued or running job: their worker writes them to the index."""
    return set(db.session.scalars(
        select(Job.doc_id).where(Job.state.in_(("queued", "running")))))


def index_entries(_options: Options) -> Iterator[Finding]:
    """Each finished document is in the index once, with its record's metadata; the index
    holds no document the database does not."""
    try:
        entries = search.indexed_entries(context.index_dir())
    except IndexUnavailable as e:
        yield Finding("index", f"the search index cannot be used: {e.message}",
                      repair=Repair(REBUILD))
        return
    by_id: dict[int, list[search.IndexedEntry]] = {}
    for entry in entries:
        by_id.setdefault(entry.doc_id, []).append(entry)
    pending = _pending_doc_ids()
    known: set[int] = set()
    for doc in db.session.scalars(select(Document).order_by(Document.doc_id)):
        known.add(doc.doc_id)
        if doc.status == "processing" or doc.doc_id in pending:
            continue  # its job indexes it (one stuck is found by `stuck_documents`)
        held = by_id.get(doc.doc_id, [])
        what = f"document {doc.doc_id}"
        fix = Repair(REINDEX, doc.doc_id)
        if not held:
            yield Finding("index", f"{what} is missing from the search index: no search "
                          "finds it.", doc_id=doc.doc_id, repair=fix)
            continue
        if len(held) > 1:
            yield Finding("index", f"{what} is in the search index {len(held)} times: "
                          "searches list it more than once.", doc_id=doc.doc_id, repair=fix)
            continue
        digest = search.metadata_digest(processing.record_for(doc, pages=()))
        if held[0].meta_digest != digest:
            when = held[0].updated_at.replace("T", " ")[:19] or "an unknown time"
            yield Finding("index", (
                f"{what} is stale in the search index: the metadata there differ from the "
                f"record's (indexed as the record was at {when}; the record was last "
                f"updated at {doc.updated_at:%Y-%m-%d %H:%M:%S}), and searches and their "
                "filters use the old ones."), doc_id=doc.doc_id, repair=fix)
    for doc_id in sorted(set(by_id) - known):
        yield Finding("index", f"document {doc_id} is in the search index but no longer in "
                      "the database: searches may list it.", doc_id=doc_id,
                      repair=Repair(UNINDEX, doc_id))


def _stale_limit() -> tuple[float, datetime]:
    stale = float(current_app.config["WORKER_STALE_SECONDS"])
    return stale, utcnow() - timedelta(seconds=stale)


def stuck_jobs(_options: Options) -> Iterator[Finding]:
    """No job is `running` for a holder that has ended or stopped beating (the rule the
    worker's own release applies: kb.services.queue)."""
    stale, limit = _stale_limit()
    now = utcnow()
    for job in db.session.scalars(select(Job).where(Job.state == "running")
                                  .order_by(Job.job_id)):
        holder = _holder(job)
        last = job.heartbeat_at or job.locked_at
        if queue.job_owner_gone(job):
            why = f"its holder ({holder}) has ended"
        elif last is None or last < limit:
            silent = f"{(now - last).total_seconds():.0f} s" if last else "ever"
            why = (f"its holder ({holder}) gave no sign of life for {silent} "
                   f"(WORKER_STALE_SECONDS is {stale:g})")
        else:
            continue
        yield Finding("jobs", (
            f"document {job.doc_id}: its {job.kind} job {job.job_id} is stuck `running`: "
            f"{why}."), doc_id=job.doc_id, repair=Repair(GIVE_BACK, job.job_id))


def _holder(job: Job) -> str:
    if job.locked_pid is None:
        return job.locked_by or "nobody"
    return f"process {job.locked_pid} on {job.locked_host or 'an unnamed host'}"


def stuck_documents(_options: Options) -> Iterator[Finding]:
    """No document is `processing` without a queued or running job to finish it."""
    pending = _pending_doc_ids()
    for doc_id in db.session.scalars(select(Document.doc_id).where(
            Document.status == "processing").order_by(Document.doc_id)):
        if doc_id not in pending:
            yield Finding("documents", (
                f"document {doc_id} is stuck `processing`: no job is queued or running "
                "for it, so it never becomes ready."), doc_id=doc_id,
                repair=Repair(EXTRACT, doc_id))


Check = Callable[[Options], Iterable[Finding]]

# The checks `kb doctor` runs, in order.
CHECKS: list[Check] = [stored_files, unnamed_files, leftover_files, index_entries,
                       stuck_jobs, stuck_documents]


def run(options: Options | None = None) -> list[Finding]:
    """Run every check; returns what they found."""
    options = options or Options()
    return [finding for check in CHECKS for finding in check(options)]


@dataclass
class Repaired:
    """What ``repair`` did, counted by action."""

    done: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line: what was repaired."""
        said = {
            REBUILD: "index rebuilt ({} documents)",
            REINDEX: "{} documents written to the index",
            UNINDEX: "{} removed from the index",
            GIVE_BACK: "{} jobs given back to the queue",
            EXTRACT: "{} documents queued for extraction",
            QUARANTINE: "{} stored files moved to quarantine",
        }
        parts = [said[action].format(n) for action, n in self.done.items() if n]
        return "repaired: " + ("; ".join(parts) if parts else "nothing")


# Documents re-written per index commit.
REINDEX_BATCH = 200


def repair(findings: Iterable[Finding]) -> Repaired:
    """Carry out the repairs of ``findings``: jobs first, then the index, then the files.

    Each target is checked again just before it is repaired (a worker or an upload may
    have changed it since the check).
    """
    todo: dict[str, list[int | str | None]] = {}
    for finding in findings:
        if finding.problem and finding.repair is not None:
            todo.setdefault(finding.repair.action, []).append(finding.repair.target)
    done = Repaired()
    if GIVE_BACK in todo:
        # The rule the check applied, to every stuck job at once, each claim untouched.
        done.done[GIVE_BACK] = processing.release_stranded()
    if EXTRACT in todo:
        done.done[EXTRACT] = _queue_extraction([int(t) for t in todo[EXTRACT] if t is not None])
    if REBUILD in todo:
        done.done[REBUILD] = processing.rebuild_index()
    else:
        ids = [int(t) for t in todo.get(REINDEX, []) + todo.get(UNINDEX, []) if t is not None]
        written, removed = _reindex(ids)
        done.done[REINDEX], done.done[UNINDEX] = written, removed
    if QUARANTINE in todo:
        done.done[QUARANTINE] = _quarantine([str(t) for t in todo[QUARANTINE]])
    return done


def _queue_extraction(doc_ids: list[int]) -> int:
    pending = _pending_doc_ids()
    docs = [doc for doc in db.session.scalars(select(Document).where(
        Document.doc_id.in_(doc_ids), Document.status == "processing"))
        if doc.doc_id not in pending]
    from kb.services import documents

    documents.requeue_extraction(docs)
    db.session.commit()
    return len(docs)


def _reindex(doc_ids: list[int]) -> tuple[int, int]:
    """Write the documents the database has to the index (each once), remove the others."""
    index_dir, timeout = context.index_dir(), context.lock_timeout()
    written = 0
    present: set[int] = set()
    for start in range(0, len(doc_ids), REINDEX_BATCH):
        chunk = doc_ids[start:start + REINDEX_BATCH]
        docs = list(db.session.scalars(select(Document).where(Document.doc_id.in_(chunk))))
        present.update(doc.doc_id for doc in docs)
        written += search.rewrite_records(
            index_dir, [processing.record_for(d) for d in docs], timeout)
    gone = sorted(set(doc_ids) - present)
    if gone:
        search.delete_documents(index_dir, gone, timeout)
    return written, len(gone)


def _quarantine(shas: list[str]) -> int:
    store = context.store()
    named = set(db.session.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(shas))))
    moved = 0
    for sha in shas:
        if sha in named:
            continue  # recorded since the check: it is a document's file now
        try:
            store.quarantine(sha)
        except FileNotFoundError:
            continue
        moved += 1
    return moved

"""Bulk import of a folder, optionally described by a CSV manifest.

Three stages run at once. This process stores each file (hashed while copied) and records
it; ``workers`` sandboxed child processes extract the texts; one more child process writes
them to the search index, one commit per batch. Whoosh's analysis is CPU-bound Python: in a
process of its own it runs beside storing and extraction instead of after them, and the
texts go to it straight from extraction (saved to the database first, never read back).

An interrupted import resumes when run again: files already stored are recognised by their
SHA-256, and those an interrupted import had stored but not finished are finished now.

Only files inside the folder given to the import are read, symbolic links included: a
manifest row or a link that leads elsewhere (``../``, an absolute path, a link out of the
folder) is refused, and so is anything inside kb's own instance, upload or index folders
(the secret key, the database, other users' stored files).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import logging
import multiprocessing
import os
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import BinaryIO

import click
from flask import current_app
from sqlalchemy import select, update

from kb import context, index_writer, logs, search
from kb.errors import DuplicateError, KbError, ValidationError
from kb.extensions import db
from kb.models import Document, Job
from kb.services import documents, isolation, processing, queue
from kb.services.metadata import FIELDS, agency_codes, group_ids_by_name, validate

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("file", *FIELDS)
# Documents per index commit, at most: each commit makes Whoosh merge segments, so few and
# large (measured on the UNGDC import: 100 per commit spent twice the time of 500).
INDEX_BATCH = 500
# ... and at least, while more are on their way (unless the oldest has waited MAX_WAIT).
MIN_INDEX_BATCH = 50
MAX_WAIT = 5.0
# Documents stored but not yet indexed, at most: bounds the texts held in memory.
MAX_AHEAD = 2 * INDEX_BATCH
# Nice values: the whole import (a batch job, at `nice`'s usual 10: the web server's
# requests come first when both want the CPU; alone on the machine it runs as fast), and
# its extraction children below that (see lower_priority). Measured with bench/load.py,
# 8 clients while an import ran: with the import at the server's priority 49 requests/s
# and p95 388 ms; at nice 5 (readers 10) 64 requests/s and p95 291 ms.
IMPORT_NICENESS = 10
EXTRACTION_NICENESS = 15

Progress = Callable[[Iterator["Item"], int], Iterator["Item"]]


@dataclass(frozen=True)
class Item:
    path: Path
    meta: dict[str, list[str]]
    label: str  # how the summary names it
    # Fields the manifest left empty, to be filled from what the file says about itself.
    prefill: frozenset[str] = frozenset({"title", "year"})


@dataclass
class Report:
    imported: int = 0
    duplicates: int = 0
    failed: int = 0
    # Of the imported: stored by an interrupted import, finished by this one.
    resumed: int = 0
    # Of the failed: stored and read, but the index commit failed; the worker indexes them.
    pending: int = 0
    reasons: list[str] = field(default_factory=list)
    not_listed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        resumed = f" ({self.resumed} resumed)" if self.resumed else ""
        pending = (f" ({self.pending} of them stored, to be made searchable by the worker)"
                   if self.pending else "")
        return (f"imported {self.imported}{resumed}, skipped {self.duplicates} as duplicates, "
                f"failed {self.failed}{pending}")


class Bounds:
    """Where an import may read: inside its folder, never inside kb's own folders."""

    PROTECTED = (("INSTANCE_DIR", "instance"), ("UPLOAD_DIR", "upload"),
                 ("INDEX_DIR", "index"))

    def __init__(self, folder: Path, protected: dict[str, Path]) -> None:
        self.folder = folder.resolve()
        self.protected = {name: p.resolve() for name, p in protected.items()}
        self._inodes: frozenset[tuple[int, int]] | None = None

    @classmethod
    def configured(cls, folder: Path) -> Bounds:
        """The bounds of an import of ``folder`` under the current app's configuration."""
        config = current_app.config
        return cls(folder, {name: Path(config[key]) for key, name in cls.PROTECTED})

    def check_folder(self) -> None:
        """Refuse a folder that is, holds or lies inside one of kb's own folders."""
        for name, protected in self.protected.items():
            if self.folder.is_relative_to(protected) or protected.is_relative_to(self.folder):
                raise ValidationError(
                    f"{self.folder} is, holds or lies inside kb's {name} folder ({protected}): "
                    "nothing was imported. Import a folder that holds only the documents.")

    def refusal(self, path: Path) -> str | None:
        """Why the file at ``path`` (resolved: no links left) may not be imported, or None."""
        if not path.is_relative_to(self.folder):
            return f"it leads outside {self.folder}"
        for name, protected in self.protected.items():
            if path.is_relative_to(protected):
                return f"it lies inside kb's {name} folder"
        return None

    def open(self, path: Path) -> BinaryIO:
        """Open a regular file for reading, checking again, on the open file itself, that it
        lies inside the folder: a link swapped in since the plan was made is not followed."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO named in a manifest cannot hang us
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValidationError("it is not a regular file; not imported")
            try:
                real = Path(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:  # no /proc (not Linux): the resolved path was checked already
                real = path
            why = self.refusal(real)
            # A hard link inside the folder to one of kb's own files has no outside path.
            if why is None and info.st_nlink > 1 and (info.st_dev, info.st_ino) in self.inodes():
                why = "it is a hard link to one of kb's own files"
            if why is not None:
                raise ValidationError(f"{why}; not imported")
            os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def inodes(self) -> frozenset[tuple[int, int]]:
        """(device, inode) of every file in kb's own folders, listed once when first needed."""
        if self._inodes is None:
            found = set()
            for protected in self.protected.values():
                for root, _dirs, files in os.walk(protected):
                    for name in files:
                        with contextlib.suppress(OSError):
                            info = os.stat(os.path.join(root, name), follow_symlinks=False)
                            found.add((info.st_dev, info.st_ino))
            self._inodes = frozenset(found)
        return self._inodes


@dataclass(frozen=True)
class _Listing:
    files: list[Path]  # regular files, or links to one inside the folder (the link's path)
    refused: list[tuple[Path, str]]  # links that lead out of the folder, and why


def _files(bounds: Bounds) -> _Listing:
    """Every file under the folder, hidden ones left out. Links are never followed out of
    it; links to folders are not followed at all (what they hold inside is listed where
    it lies)."""
    files, refused = [], []
    for root, dirs, names in os.walk(bounds.folder):  # does not descend into linked folders
        here = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in dirs:
            if (here / name).is_symlink():
                why = bounds.refusal((here / name).resolve())
                if why is not None:
                    refused.append((here / name, f"a symbolic link and {why}; not imported"))
        for name in names:  # files, links to files, broken links
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                why = bounds.refusal(path.resolve())
                if why is not None:
                    refused.append((path, f"a symbolic link and {why}; not imported"))
                    continue
            if path.is_file():
                files.append(path)
    return _Listing(sorted(files), sorted(refused))


def read_manifest(manifest: Path, bounds: Bounds) -> list[Item]:
    """Read and check a whole manifest; any unknown column or value, or a file outside the
    folder, fails before import."""
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"The manifest {manifest} cannot be read: {e}") from e
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown:
        raise ValidationError(
            f"The manifest has an unknown column {unknown[0]!r}; "
            f"the columns are: {', '.join(MANIFEST_COLUMNS)}"
        )
    if "file" not in header:
        raise ValidationError("The manifest needs a 'file' column.")
    agencies = agency_codes()
    groups = group_ids_by_name()
    items, problems = [], []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not row.get("file"):
            problems.append(f"line {line}: the 'file' cell is empty")
            continue
        path = (manifest.parent / row["file"]).resolve()
        why = bounds.refusal(path)
        if why is not None:
            problems.append(f"line {line}, column 'file': {row['file']!r}: {why}")
            continue
        meta = {k: [v] for k, v in row.items() if k != "file" and v}
        prefill = frozenset(name for name in ("title", "year") if name not in meta)
        meta.setdefault("title", [Path(row["file"]).stem])
        try:
            validate(meta, agencies=agencies, groups=groups)
        except ValidationError as e:
            for name, message in e.fields.items():
                problems.append(f"line {line}, column {name!r}: {message}")
            continue
        items.append(Item(path=path, meta=meta, label=row["file"], prefill=prefill))
    if problems:
        raise ValidationError("The manifest has errors; nothing was imported:\n"
                              + "\n".join(problems))
    return items


def plan(bounds: Bounds, manifest: Path | None, report: Report) -> list[Item]:
    """The files to import: those the manifest lists, or every file in the folder (links
    that lead out of it are counted as failed, with the reason)."""
    bounds.check_folder()
    folder = bounds.folder
    if manifest is None:
        listing = _files(bounds)
        for link, why in listing.refused:
            report.failed += 1
            report.reasons.append(f"{link.relative_to(folder)}: {why}")
        # Title and year prefilled from the file; a link is read where it leads.
        return [Item(path=p.resolve(), meta={"title": [p.stem]},
                     label=str(p.relative_to(folder))) for p in listing.files]
    items = read_manifest(manifest, bounds)
    listed = {i.path for i in items} | {manifest.resolve()}
    report.not_listed = [str(p.relative_to(folder)) for p in _files(bounds).files
                         if p.resolve() not in listed]
    return items


class _Sandboxes:
    """One extraction sandbox per thread of the pool: each file is read in a child process
    with the configured limits, ``workers`` files at a time."""

    def __init__(self, limits: isolation.Limits) -> None:
        self.limits = limits
        self.local = threading.local()
        self.all: list[isolation.Sandbox] = []
        self.lock = threading.Lock()

    def run(self, path: str, mime: str) -> processing.Outcome:
        box = getattr(self.local, "box", None)
        if box is None:
            lower_priority()
            box = self.local.box = isolation.Sandbox(self.limits)
            with self.lock:
                self.all.append(box)
        return box.run(path, mime)

    def close(self) -> None:
        for box in self.all:
            box.close()


def lower_priority(niceness: int = EXTRACTION_NICENESS) -> None:
    """Lower this thread's CPU priority, and so that of the threads and children it starts.

    The index writer is the slowest stage and cannot be split: extraction, which stays
    ahead of it anyway, takes the CPU it leaves rather than sharing its core (on two
    cores: import 1,555 speeches in less time). On Linux the nice value belongs to the
    thread and a child inherits its creator's; elsewhere this does nothing.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid),
                                                 niceness))
    except (AttributeError, OSError):
        pass


_CTX = multiprocessing.get_context("spawn")


class _IndexWriter:
    """The index writer child process, given one batch at a time."""

    def __init__(self, index_dir: Path, timeout: float) -> None:
        self.index_dir, self.timeout = index_dir, timeout
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self.busy = False

    def start(self) -> None:
        """Start the child (it takes a moment to import; the first batch need not wait)."""
        if self._proc is None or not self._proc.is_alive():
            self.close()
            parent, child = _CTX.Pipe()
            self._proc = _CTX.Process(target=index_writer.serve, name="kb-index", daemon=True,
                                      args=(child, str(self.index_dir), self.timeout,
                                            logs.settings()))
            self._proc.start()
            child.close()
            self._conn = parent

    def send(self, records: list[search.IndexRecord]) -> None:
        self.start()
        assert self._conn is not None
        # Only sent while the child waits for work (one batch at a time), so this never
        # blocks on a child busy committing.
        self._conn.send(records)
        self.busy = True

    def result(self, timeout: float) -> tuple[bool, str | None]:
        """(whether the batch sent last is done, why it failed or None) within ``timeout``."""
        if not self.busy or self._conn is None:
            return False, None
        try:
            if not self._conn.poll(timeout):
                return False, None
            answer: str | None = self._conn.recv()
        except (EOFError, OSError):
            code = self._proc.exitcode if self._proc is not None else None
            self.close()
            answer = f"The index writer process ended unexpectedly (exit code {code})."
        self.busy = False
        return True, answer

    def close(self) -> None:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._proc.join(timeout=30)
        isolation.end_child(self._proc, self._conn)
        self._proc, self._conn, self.busy = None, None, False


@dataclass
class _Waiting:
    """A stored document on its way: extracted, then indexed."""

    doc: Document
    item: Item
    outcome: processing.Outcome | None = None
    since: float = 0.0


class _Pipeline:
    """Extraction in sandboxes and index commits in a child process, both running while
    this process stores the next files; documents are marked ready batch by batch."""

    def __init__(self, workers: int, owner: queue.Owner,
                 done: Callable[[Item], None]) -> None:
        config = current_app.config
        self.owner, self.done = owner, done
        self.sandboxes = _Sandboxes(isolation.limits_from(config))
        self.extract = processing.configured_extractor(self.sandboxes.run, config)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="kb-import")
        self.store = context.store()
        self.extracting: dict[Future[processing.Outcome], _Waiting] = {}
        self.extracted: deque[_Waiting] = deque()
        # Read, their texts saved and index records built, waiting for the writer.
        self.staged: list[_Waiting] = []
        self.records: list[search.IndexRecord] = []
        self.indexing: list[_Waiting] = []
        self.writer = _IndexWriter(context.index_dir(), context.lock_timeout())
        self.writer.start()
        self.input_done = False
        # Documents stored and read but not indexed (the index stayed busy): the worker or
        # the next import indexes them.
        self.unindexed: list[tuple[Item, int, str]] = []

    def ahead(self) -> int:
        return (len(self.extracting) + len(self.extracted) + len(self.staged)
                + len(self.indexing))

    def submit(self, doc: Document, item: Item) -> None:
        current = doc.current_file
        assert current is not None
        path = str(self.store.local_path(current.sha256))
        with logs.bound(doc_id=doc.doc_id):  # on what the readers log, in their thread
            run = contextvars.copy_context().run
        fut = self.pool.submit(run, self.extract, path, current.content_type)
        self.extracting[fut] = _Waiting(doc, item)

    def pump(self, block: bool) -> None:
        """Take in finished extractions and index commits; start the next commit; while the
        writer works, get the next batch ready for it."""
        wait_s = 0.02 if block else 0.0
        if self.extracting and block and not self.writer.busy:
            wait(list(self.extracting), timeout=wait_s, return_when=FIRST_COMPLETED)
            wait_s = 0.0
        for fut in [f for f in self.extracting if f.done()]:
            self._extracted(self.extracting.pop(fut), fut.result())
        finished, failure = self.writer.result(wait_s)
        if finished:
            batch, self.indexing = self.indexing, []
            # The next batch first: the writer is the slowest stage and must not wait
            # for this process's bookkeeping of the last one.
            if self._batch_due():
                self._send()
            self._indexed(batch, failure)
        elif not self.writer.busy and self._batch_due():
            self._send()
        if self.writer.busy:
            self._stage()

    def _extracted(self, waiting: _Waiting, outcome: processing.Outcome) -> None:
        if outcome.retry:  # not the file's fault: left to the background worker
            jobs = list(db.session.scalars(select(Job).where(
                Job.doc_id == waiting.doc.doc_id, Job.locked_by == self.owner.name,
                Job.state == "running")))
            processing.retry(jobs, outcome.error or "interrupted", outcome.error_code)
            self.unindexed.append((waiting.item, waiting.doc.doc_id,
                                   outcome.error or "interrupted"))
            self.done(waiting.item)
            return
        waiting.outcome = outcome
        waiting.since = time.monotonic()
        self.extracted.append(waiting)

    def _batch_due(self) -> bool:
        waiting = len(self.staged) + len(self.extracted)
        if not waiting:
            return False
        if waiting >= MIN_INDEX_BATCH:
            return True
        if self.input_done and not self.extracting:
            return True
        oldest = (self.staged or self.extracted)[0]
        return time.monotonic() - oldest.since > MAX_WAIT

    def _stage(self) -> None:
        """Save the texts of extracted documents and build their index records, up to a
        batch. The texts are in the database (committed here, apart from the storing of
        files) before they are in the index: the database stays the source that
        `kb reindex` rebuilds from."""
        n = min(len(self.extracted), INDEX_BATCH - len(self.staged))
        if n <= 0:
            return
        for _ in range(n):
            w = self.extracted.popleft()
            assert w.outcome is not None
            processing.save_outcome(w.doc, w.outcome)
            prefill(w.doc, w.outcome, w.item.prefill)
            self.records.append(processing.record_for(w.doc, w.outcome.pages))
            w.outcome = None  # the record holds the text now
            self.staged.append(w)
        db.session.commit()

    def _send(self) -> None:
        self._stage()
        self.indexing, self.staged = self.staged, []
        records, self.records = self.records, []
        self.writer.send(records)

    def _indexed(self, batch: list[_Waiting], failure: str | None) -> None:
        ids = [w.doc.doc_id for w in batch]
        jobs = list(db.session.scalars(select(Job).where(
            Job.doc_id.in_(ids), Job.locked_by == self.owner.name, Job.state == "running")))
        if failure is None:
            processing.mark_indexed(jobs, [w.doc for w in batch])
        else:  # left to the background worker (or the next import), never lost
            log.warning("import: %d documents not indexed: %s", len(batch), failure)
            processing.retry(jobs, failure)
            self.unindexed += [(w.item, w.doc.doc_id, failure) for w in batch]
        for w in batch:
            self.done(w.item)

    def drain(self) -> None:
        self.input_done = True
        while self.ahead():
            self.pump(block=True)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)
        self.sandboxes.close()
        self.writer.close()


class _Steps:
    """Advances a progress display (``progress(items, total)``) by one document each time one
    is finished: indexed, skipped as a duplicate or failed; so its rate and time left are
    those of whole documents, not of files merely stored."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.queue: deque[Item] = deque()
        self.ended = False
        self.steps = progress(self._feed(), total) if progress is not None else None

    def _feed(self) -> Iterator[Item]:
        while self.queue:
            yield self.queue.popleft()
            if not self.queue and self.ended:
                return
        # Empty only at the end: a step is taken only after an item was queued.

    def __call__(self, item: Item) -> None:
        if self.steps is not None:
            self.queue.append(item)
            next(self.steps, None)

    def close(self) -> None:
        self.ended = True
        if self.steps is not None:
            for _ in self.steps:
                pass


def console_progress(items: Iterator[Item], total: int) -> Iterator[Item]:
    """A progress bar on stderr: documents done out of the total, documents per second and
    the time left."""
    started = time.monotonic()
    count = 0

    def rate(_item: Item | None) -> str | None:
        elapsed = time.monotonic() - started
        return f"{count / elapsed:.1f} docs/s" if elapsed > 0 and count else ""

    with click.progressbar(items, length=total, label="Importing", file=sys.stderr,
                           show_pos=True, show_eta=True, item_show_func=rate) as bar:
        for item in bar:
            count += 1
            yield item


def _take_over(doc_id: int, owner: queue.Owner) -> Document | None:
    """The document an interrupted import (or worker) stored but never finished, with its
    jobs now claimed by this import; None when it is done or someone is working on it."""
    doc = db.session.get(Document, doc_id)
    if doc is None or doc.status != "processing" or doc.current_file is None:
        return None
    jobs = list(db.session.scalars(select(Job).where(
        Job.doc_id == doc_id, Job.state.in_(("queued", "running")))))
    if not jobs or any(j.state == "running" and not queue.job_owner_gone(j) for j in jobs):
        return None
    for job in jobs:
        claimed = db.session.execute(
            update(Job).where(Job.job_id == job.job_id, Job.state == job.state,
                              Job.locked_by.is_(None) if job.locked_by is None
                              else Job.locked_by == job.locked_by)
            .values(**owner.claim_values())
            .execution_options(synchronize_session="fetch"))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()  # a worker claimed it first: it finishes the document
            return None
    db.session.commit()
    return doc


def run_import(folder: Path, manifest: Path | None, workers: int, user: object,
               progress: Progress | None = None) -> Report:
    """Store, extract (in ``workers`` processes) and index every file; returns the counts."""
    report = Report()
    bounds = Bounds.configured(folder)
    items = plan(bounds, manifest, report)
    owner = queue.this_process("import")
    log.info("import: %d files from %s", len(items), folder)
    new_docs: list[int] = []
    step = _Steps(progress, len(items))
    session = db.session()
    # Rows written here are read again (ids, files, metadata for the index): keep them
    # loaded across the commits instead of reloading each one.
    expire = session.expire_on_commit
    session.expire_on_commit = False
    pipeline = _Pipeline(workers, owner, step)
    # While the import holds its documents' jobs, a heartbeat tells workers it is alive.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stale = float(app.config["WORKER_STALE_SECONDS"])
    heartbeat = queue.Heartbeat(app, [owner], queue.beat_interval(stale))
    heartbeat.start()
    try:
        for item in items:
            doc = _store(item, bounds, user, owner, report)
            if doc is None:
                step(item)
                continue
            new_docs.append(doc.doc_id)
            pipeline.submit(doc, item)
            pipeline.pump(block=False)
            while pipeline.ahead() >= MAX_AHEAD:
                pipeline.pump(block=True)
        pipeline.drain()
    finally:
        pipeline.close()
        heartbeat.stop()
        session.expire_on_commit = expire
        step.close()
    # Not searchable is not imported: counted as failed, saying whether the worker will
    # index it later (it will unless indexing has failed too often).
    unindexed = {doc_id for _item, doc_id, _why in pipeline.unindexed}
    for item, doc_id, why in pipeline.unindexed:
        doc = db.session.get(Document, doc_id)
        if doc is not None and doc.status == "processing":
            report.pending += 1
            report.reasons.append(
                f"{item.label}: stored and read, not yet searchable ({why}); the background "
                "worker (`kb serve` runs one, or `kb worker`) indexes it later")
        else:
            report.reasons.append(f"{item.label}: stored and read, not indexed ({why}): "
                                  f"{doc.error if doc is not None else 'deleted since'}")
    failed = db.session.scalars(
        select(Document).where(Document.doc_id.in_(new_docs), Document.status == "failed",
                               Document.doc_id.not_in(unindexed))
    ).all()
    for doc in failed:
        name = doc.current_file.filename if doc.current_file else doc.title
        report.reasons.append(f"{name}: stored, but its text could not be read: {doc.error}")
    report.imported -= len(failed) + len(unindexed)
    report.failed += len(failed) + len(unindexed)
    log.info("import: %s", report.summary())
    return report


def _store(item: Item, bounds: Bounds, user: object, owner: queue.Owner,
           report: Report) -> Document | None:
    """Store and record one file (counted in the report); None when there is nothing more
    to do with it."""
    try:
        with bounds.open(item.path) as fh:
            # The operator of `kb import` is trusted: imports are published at once.
            doc = documents.ingest(fh, Path(item.label).name, item.meta, user,
                                   job_owner=owner, workflow="published")
    except DuplicateError as e:
        resumed = _take_over(e.doc_id, owner)
        if resumed is None:
            report.duplicates += 1
            return None
        report.imported += 1
        report.resumed += 1
        return resumed
    except (KbError, OSError) as e:
        db.session.rollback()
        report.failed += 1
        report.reasons.append(f"{item.label}: {getattr(e, 'message', None) or e}")
        log.warning("import: %s not stored: %s", item.label, getattr(e, "message", None) or e)
        return None
    report.imported += 1
    return doc


def prefill(doc: Document, outcome: processing.Outcome, fields: frozenset[str]) -> None:
    """Fill fields the manifest left empty from the file's own metadata (title, year)."""
    said = dict(outcome.metadata)
    title = " ".join(said.get("title", "").split())
    if "title" in fields and title and len(title) <= 500:
        doc.title = title
    created = said.get("created", "")
    if "year" in fields and doc.year is None and created[:4].isdigit():
        year = int(created[:4])
        if 1900 <= year <= 2100:
            doc.year = year

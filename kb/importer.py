"""Bulk import of a folder, optionally described by a CSV manifest."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from kb import context
from kb.errors import DuplicateError, KbError, ValidationError
from kb.extensions import db
from kb.models import Document, Job
from kb.services import documents, isolation, processing
from kb.services.metadata import FIELDS, agency_codes, group_ids_by_name, validate

MANIFEST_COLUMNS = ("file", *FIELDS)
# Documents per index commit: each commit makes Whoosh merge segments, so few and large
# (measured on the UNGDC import: 100 per commit spent twice the time of 500).
INDEX_BATCH = 500


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
    reasons: list[str] = field(default_factory=list)
    not_listed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"imported {self.imported}, skipped {self.duplicates} as duplicates, "
                f"failed {self.failed}")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".")
                                             for part in p.relative_to(folder).parts))


def read_manifest(manifest: Path) -> list[Item]:
    """Read and check a whole manifest; any unknown column or value fails before import."""
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
        meta = {k: [v] for k, v in row.items() if k != "file" and v}
        prefill = frozenset(name for name in ("title", "year") if name not in meta)
        meta.setdefault("title", [Path(row["file"]).stem])
        try:
            validate(meta, agencies=agencies, groups=groups)
        except ValidationError as e:
            for name, message in e.fields.items():
                problems.append(f"line {line}, column {name!r}: {message}")
            continue
        items.append(Item(path=(manifest.parent / row["file"]).resolve(), meta=meta,
                          label=row["file"], prefill=prefill))
    if problems:
        raise ValidationError("The manifest has errors; nothing was imported:\n"
                              + "\n".join(problems))
    return items


def plan(folder: Path, manifest: Path | None, report: Report) -> list[Item]:
    """The files to import: those the manifest lists, or every file in the folder."""
    if manifest is None:
        return [Item(path=p, meta={"title": [p.stem]}, label=str(p.relative_to(folder)))
                for p in _files(folder)]  # title and year prefilled from the file
    items = read_manifest(manifest)
    listed = {i.path for i in items} | {manifest.resolve()}
    report.not_listed = [str(p.relative_to(folder)) for p in _files(folder)
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
            box = self.local.box = isolation.Sandbox(self.limits)
            with self.lock:
                self.all.append(box)
        return box.run(path, mime)

    def close(self) -> None:
        for box in self.all:
            box.close()


def run_import(folder: Path, manifest: Path | None, workers: int, user: object,
               progress: Callable[[Iterator[Item], int], Iterator[Item]] | None = None) -> Report:
    """Store, extract (in ``workers`` processes) and index every file; returns the counts."""
    report = Report()
    items = plan(folder, manifest, report)
    owner = documents.worker_name("import")
    new_docs: list[int] = []
    iterator: Iterator[Item] = iter(items)
    if progress is not None:
        iterator = progress(iterator, len(items))
    sandboxes = _Sandboxes(isolation.limits_from(current_app.config))
    extractor = processing.configured_extractor(sandboxes.run, current_app.config)
    pool = ThreadPoolExecutor(workers, thread_name_prefix="kb-import")
    pending: list[tuple[int, Future[processing.Outcome]]] = []
    prefills: dict[int, frozenset[str]] = {}
    store = context.store()
    try:
        for item in iterator:
            try:
                with item.path.open("rb") as fh:
                    # The operator of `kb import` is trusted: imports are published at once.
                    doc = documents.ingest(fh, item.path.name, item.meta, user,
                                           job_owner=owner, workflow="published")
            except DuplicateError:
                report.duplicates += 1
                continue
            except (KbError, OSError) as e:
                db.session.rollback()
                report.failed += 1
                report.reasons.append(f"{item.label}: {getattr(e, 'message', None) or e}")
                continue
            report.imported += 1
            new_docs.append(doc.doc_id)
            prefills[doc.doc_id] = item.prefill
            current = doc.current_file
            assert current is not None
            pending.append((doc.doc_id, pool.submit(
                extractor, str(store.local_path(current.sha256)), current.content_type)))
            if len(pending) >= INDEX_BATCH:
                _finish_batch(pending, owner, prefills)
                pending = []
        _finish_batch(pending, owner, prefills)
    finally:
        pool.shutdown(cancel_futures=True)
        sandboxes.close()
    failed = db.session.scalars(
        select(Document).where(Document.doc_id.in_(new_docs), Document.status == "failed")
    ).all()
    for doc in failed:
        name = doc.current_file.filename if doc.current_file else doc.title
        report.reasons.append(f"{name}: stored, but its text could not be read: {doc.error}")
    report.imported -= len(failed)
    report.failed += len(failed)
    return report


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


def _finish_batch(pending: list[tuple[int, Future[processing.Outcome]]], owner: str,
                  prefills: dict[int, frozenset[str]]) -> None:
    if not pending:
        return
    ids = [doc_id for doc_id, _ in pending]
    docs = {d.doc_id: d for d in db.session.scalars(
        select(Document).where(Document.doc_id.in_(ids)))}
    for doc_id, fut in pending:
        outcome = fut.result()
        processing.save_outcome(docs[doc_id], outcome)
        prefill(docs[doc_id], outcome, prefills.get(doc_id, frozenset()))
    jobs = list(db.session.scalars(
        select(Job).where(Job.doc_id.in_(ids), Job.locked_by == owner, Job.state == "running")))
    db.session.flush()
    processing.finish(jobs, list(docs.values()))

"""`kb doctor`: checks of the instance, each a function that yields findings.

A finding is a problem (someone must act: the command exits non-zero) or a note (worth
knowing, nothing broken). Each says what it concerns and what to do. More checks (the
index, repairs) are added as more functions in CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kb import context
from kb.extensions import db
from kb.models import StoredFile
from kb.services import leftovers


@dataclass(frozen=True)
class Options:
    """How thoroughly to check."""

    # Read every stored file to compare its SHA-256 (else sizes only).
    hashes: bool = True


@dataclass(frozen=True)
class Finding:
    """One thing a check found, in a sentence that says what to do."""

    check: str
    message: str
    problem: bool = True
    doc_id: int | None = None


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


def leftover_files(_options: Options) -> Iterator[Finding]:
    """Partial uploads, stored files no record names, and the quarantine, counted."""
    found = leftovers.find()
    store = context.store()
    hours = f"{leftovers.max_age() / 3600:g} h"
    sweep = "the worker's sweep (at its start, then hourly)"
    if found.partial:
        yield Finding("leftovers", (
            f"{len(found.partial)} partial uploads in {store.root / 'tmp'} "
            f"({len(found.partial_old)} older than {hours}, which {sweep} deletes; the "
            "others may be uploads under way)."), problem=False)
    if found.unnamed:
        yield Finding("leftovers", (
            f"{len(found.unnamed)} stored files no record names (normal after a document "
            f"is deleted, or left by a crash); {len(found.unnamed_old)} older than {hours}, "
            f"which {sweep} moves to {store.quarantine_dir}."), problem=False)
    if found.quarantined:
        yield Finding("leftovers", (
            f"{len(found.quarantined)} files in quarantine ({store.quarantine_dir}): stored "
            "files no record named. kb never deletes them; remove them once no one needs "
            "them."), problem=False)


Check = Callable[[Options], Iterable[Finding]]

# The checks `kb doctor` runs, in order.
CHECKS: list[Check] = [stored_files, leftover_files]


def run(options: Options | None = None) -> list[Finding]:
    """Run every check; returns what they found."""
    options = options or Options()
    return [finding for check in CHECKS for finding in check(options)]

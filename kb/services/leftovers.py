"""Leftovers in the file store: partial uploads and stored files that no record names.

A crash or a cut-off upload leaves a partial file in ``<uploads>/tmp``; a process killed
between storing a file and recording it leaves a stored file no record names (so does
deleting a document, on purpose: its bytes are kept). Past LEFTOVER_AGE_SECONDS (by the
file's modification time), the sweep deletes partial uploads and moves unnamed stored
files to ``<uploads>/quarantine``; it never deletes a stored file.

The same sweep deletes files sent ahead of the upload form and never used within a day
(kb.services.pending: they never became documents), and the thumbnails of files no
record names any more (derived, drawn again from the file if it comes back).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from kb import context
from kb.extensions import db
from kb.models import StoredFile
from kb.storage import older_than

log = logging.getLogger(__name__)

# The worker sweeps at its start, then this often (seconds).
SWEEP_EVERY = 3600.0


@dataclass(frozen=True)
class Leftovers:
    """What the file store holds that no finished upload accounts for."""

    partial: tuple[Path, ...]
    partial_old: tuple[Path, ...]
    unnamed: tuple[tuple[str, Path], ...]
    unnamed_old: tuple[tuple[str, Path], ...]
    quarantined: tuple[Path, ...]


def max_age() -> float:
    """LEFTOVER_AGE_SECONDS: the age past which leftovers are swept."""
    return float(current_app.config["LEFTOVER_AGE_SECONDS"])


def find(now: float | None = None) -> Leftovers:
    """The leftovers in the file store, and which are old enough to sweep."""
    now = time.time() if now is None else now
    age = max_age()
    store = context.store()
    named = set(db.session.scalars(select(StoredFile.sha256)))
    partial = tuple(store.partial_uploads())
    unnamed = tuple((sha, path) for sha, path in store.blobs() if sha not in named)
    return Leftovers(
        partial=partial,
        partial_old=tuple(p for p in partial if _older(p, age, now)),
        unnamed=unnamed,
        unnamed_old=tuple((sha, p) for sha, p in unnamed if _older(p, age, now)),
        quarantined=tuple(store.quarantined()),
    )


@dataclass(frozen=True)
class Swept:
    """What one sweep did."""

    deleted: int
    quarantined: int
    pending: int = 0
    thumbnails: int = 0


def sweep(now: float | None = None) -> Swept:
    """Delete old partial uploads, move old stored files no record names to quarantine."""
    now = time.time() if now is None else now
    age = max_age()
    store = context.store()
    found = find(now)
    deleted = quarantined = 0
    for path in found.partial_old:
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # finished (renamed into the store) or discarded meanwhile
        deleted += 1
    for sha, path in found.unnamed_old:
        # Again just before moving: an upload of the same bytes may have stored and
        # recorded them since the list was made.
        if not _older(path, age, now) or _named(sha):
            continue
        try:
            store.quarantine(sha)
        except FileNotFoundError:
            continue
        quarantined += 1
    if deleted or quarantined:
        log.warning("leftovers: deleted %d partial uploads, moved %d stored files no record "
                    "names to %s (older than %.0f s)", deleted, quarantined,
                    store.quarantine_dir, age)
    from kb.services import pending

    unused = pending.sweep(now)
    return Swept(deleted, quarantined, unused, _sweep_thumbnails(age, now))


def _sweep_thumbnails(age: float, now: float) -> int:
    """Delete old thumbnails of files no record names (a deleted document's)."""
    store = context.store()
    named = set(db.session.scalars(select(StoredFile.sha256)))
    gone = 0
    for sha, path in store.thumbnails():
        if sha in named or not _older(path, age, now):
            continue
        path.unlink(missing_ok=True)
        gone += 1
    return gone


def sweep_when_due() -> None:
    """Sweep at the first call in this app, then every SWEEP_EVERY seconds (the worker's
    loop calls it on each turn)."""
    state = current_app.extensions.setdefault("kb.leftovers", {"last": None})
    now = time.time()
    if state["last"] is not None and now - state["last"] < SWEEP_EVERY:
        return
    state["last"] = now
    try:
        sweep(now)
    except OSError:  # a folder unreadable or full: say so, and let the worker work
        log.exception("leftovers: the sweep failed; it is tried again in an hour")


def _older(path: Path, age: float, now: float) -> bool:
    try:
        return older_than(path, age, now)
    except FileNotFoundError:
        return False


def _named(sha256: str) -> bool:
    return db.session.scalar(select(StoredFile.file_id).where(StoredFile.sha256 == sha256)) \
        is not None

"""Files sent ahead of the upload form: stored at once, so that no error in the form loses
them, and read for what they say about themselves (title, year, language) to prefill it.

A pending upload is its owner's alone; the form that follows names it by its random
``public_id`` and `claim` makes it a document. Its file waits in the store's pending
folder (under that id, never the user's file name); one not claimed within
PENDING_MAX_AGE is deleted by the sweep (kb.services.leftovers), row and file.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import delete, func, select

from kb import context, policy, taxonomy
from kb.errors import (
    DuplicateError,
    Forbidden,
    KbError,
    NotFound,
    TooLarge,
    UnsupportedType,
    ValidationError,
)
from kb.extensions import db
from kb.extract import KINDS
from kb.models import Document, PendingUpload, StoredFile, utcnow
from kb.services import documents
from kb.services import groups as groups_service
from kb.services.metadata import validate
from kb.storage import older_than

if TYPE_CHECKING:
    from kb.services.isolation import Sandbox

log = logging.getLogger(__name__)

# A pending upload not claimed within this time is swept, row and file.
PENDING_MAX_AGE = timedelta(days=1)
# Reading what a file says about itself must not keep the person waiting long: past this
# the form is simply not prefilled.
PREVIEW_SECONDS = 15.0
GONE = lazy_gettext("The file sent ahead of this form is no longer on the server (it was "
                    "not used within a day). Choose it again.")


@dataclass(frozen=True)
class Prefill:
    """What the upload form is prefilled with: values the form accepts, or None."""

    title: str | None = None
    year: str | None = None
    language: str | None = None


def _file_error(error: KbError) -> KbError:
    """``error`` with its message on the file field (where the form shows it)."""
    error.fields = {**error.fields, "file": error.fields.get("file") or error.message}
    return error


def create(stream: IO[bytes], filename: str | None, user: Any, *,
           read_metadata: bool = True) -> PendingUpload:
    """Store a file sent ahead of its form, with the same limits and type detection as an
    upload, and read its metadata (unless told not to); returns the pending upload.

    Refusals (empty, too large, a type kb cannot read, bytes already in the repository)
    are KbErrors naming the ``file`` field; nothing of a refused file is kept."""
    if not policy.can_upload(user):
        raise Forbidden(_("Your account may not upload documents."))
    store = context.store()
    try:
        staged, sniffed = documents.store_upload(stream, filename)
    except (TooLarge, ValidationError, UnsupportedType) as e:  # too large, empty, unreadable
        raise _file_error(e) from None
    mime = str(sniffed.mime)  # store_upload refuses a file of no kind it reads
    existing = documents.existing_by_sha(staged.sha256)
    if existing is not None:
        store.discard(staged)
        raise _file_error(documents.duplicate_error(existing, user))
    public_id = secrets.token_urlsafe(32)
    path = store.park(staged, public_id)
    said: dict[str, str] = {}
    if sniffed.mismatch:
        said["mismatch"] = sniffed.mismatch
    if read_metadata:
        said.update(_read(str(path), mime))
    row = PendingUpload(public_id=public_id, user_id=user.user_id,
                        filename=documents.clean_filename(filename), size=staged.size,
                        sha256=staged.sha256, content_type=mime,
                        file_metadata=json.dumps(said) if said else None)
    db.session.add(row)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        store.unpark(public_id)
        raise
    return row


def _sandbox() -> Sandbox:
    """This process's sandbox for reading files sent ahead (a short time limit)."""
    from kb.services import isolation

    limits = isolation.limits_from(current_app.config)
    return isolation.shared_sandbox(replace(limits, seconds=min(limits.seconds,
                                                                PREVIEW_SECONDS)))


def warm_up() -> None:
    """Have the sandbox's child start while the person picks a file (starting a Python
    process takes a second or more, which the first file sent would otherwise wait)."""
    _sandbox().warm()


def _read(path: str, mime: str) -> dict[str, str]:
    """What the file says about itself, read in the extraction sandbox under a short time
    limit; a file that cannot be read says why under ``notice`` (it is still kept: its
    extraction will name the failure on the document)."""
    outcome = _sandbox().preview(path, mime)
    if outcome.error_code in ("timed-out", "interrupted") or outcome.retry:
        return {}  # not read in the time a form may wait: the worker reads it all later
    if outcome.error is not None:
        return {"notice": outcome.error}
    said = dict(outcome.metadata)
    said.pop("language", None)
    if outcome.language:
        said["language"] = outcome.language
    return said


def said(row: PendingUpload) -> dict[str, str]:
    """What was read from a pending upload's file (and the sniffing's warning)."""
    return dict(json.loads(row.file_metadata)) if row.file_metadata else {}


def prefill(row: PendingUpload) -> Prefill:
    """The title, year and language the file gives, where the form would accept them."""
    found = said(row)
    title = " ".join((found.get("title") or "").split())[:500] or None
    year = (found.get("created") or "")[:4]
    language = found.get("language")
    return Prefill(
        title=title,
        year=year if year.isdigit() and 1900 <= int(year) <= 2100 else None,
        language=language if language and taxonomy.is_valid("language", language) else None,
    )


def describe(row: PendingUpload) -> dict[str, Any]:
    """The JSON answer to a file sent ahead: what the form shows and prefills."""
    found = said(row)
    filled = prefill(row)
    kind = KINDS.get(row.content_type)
    return {
        "id": row.public_id,
        "filename": row.filename,
        "size": row.size,
        "size_label": current_app.jinja_env.filters["filesize"](row.size),
        "kind": kind.label if kind else row.content_type,
        "title": filled.title,
        "year": filled.year,
        "language": filled.language,
        "language_label": taxonomy.label("language", filled.language)
        if filled.language else None,
        "warning": found.get("mismatch"),
        "notice": found.get("notice"),
    }


def owned(public_id: str | None, user: Any) -> PendingUpload:
    """The user's pending upload of this id; NotFound (on the file field) otherwise: an id
    another user sent is as unknown as one never made."""
    row = None
    if public_id and getattr(user, "user_id", None) is not None:
        row = db.session.scalar(select(PendingUpload).where(
            PendingUpload.public_id == public_id, PendingUpload.user_id == user.user_id))
    if row is None or context.store().parked(row.public_id) is None:
        raise NotFound(GONE, fields={"file": GONE})
    return row


def claim(public_id: str, raw_meta: dict[str, list[str]], user: Any) -> Document:
    """Make the user's pending upload a document with this metadata (the pending upload
    is gone once it is one). A metadata error leaves it pending, for the corrected form."""
    row = owned(public_id, user)
    meta = validate(raw_meta, groups=groups_service.choosable(user))
    store = context.store()
    existing = documents.existing_by_sha(row.sha256)
    if existing is not None:
        forget(row)
        raise _file_error(documents.duplicate_error(existing, user))
    store.keep_parked(row.public_id, row.sha256)
    stored = StoredFile(filename=row.filename, size=row.size, sha256=row.sha256,
                        content_type=row.content_type)
    db.session.delete(row)  # in the document's commit
    try:
        doc = documents.record_stored(meta, stored, said(row).get("mismatch"), user)
    except DuplicateError as e:  # the same bytes recorded meanwhile by another upload
        forget(row)
        raise _file_error(e) from None
    store.unpark(public_id)
    return doc


def forget(row: PendingUpload) -> None:
    """Delete a pending upload, row and file."""
    public_id = row.public_id
    db.session.execute(delete(PendingUpload).where(PendingUpload.public_id == public_id))
    db.session.commit()
    context.store().unpark(public_id)


@dataclass(frozen=True)
class Census:
    """The pending uploads: how many, and how many are past PENDING_MAX_AGE."""

    count: int
    overdue: int


def census(now: datetime | None = None) -> Census:
    """Count the pending uploads (for `kb doctor`)."""
    limit = (now or utcnow()) - PENDING_MAX_AGE
    count = db.session.scalar(select(func.count()).select_from(PendingUpload)) or 0
    overdue = db.session.scalar(select(func.count()).select_from(PendingUpload).where(
        PendingUpload.created_at < limit)) or 0
    return Census(int(count), int(overdue))


def sweep(now: float | None = None) -> int:
    """Delete the pending uploads not claimed within PENDING_MAX_AGE of ``now`` (a time
    stamp; default: now), rows and files, and pending files no row names that are as old;
    returns how many went."""
    stamp = time.time() if now is None else now
    limit = datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None) - PENDING_MAX_AGE
    store = context.store()
    old = list(db.session.scalars(select(PendingUpload.public_id).where(
        PendingUpload.created_at < limit)))
    if old:
        db.session.execute(delete(PendingUpload).where(PendingUpload.public_id.in_(old)))
        db.session.commit()
    for public_id in old:
        store.unpark(public_id)
    known = set(db.session.scalars(select(PendingUpload.public_id)))
    orphans = 0
    for path in store.pending_files():
        if path.name in known:
            continue
        try:
            if not older_than(path, PENDING_MAX_AGE.total_seconds(), stamp):
                continue  # its record is being written right now
        except FileNotFoundError:
            continue
        path.unlink(missing_ok=True)
        orphans += 1
    if old or orphans:
        log.info("pending uploads: deleted %d not used within %s (and %d files without a "
                 "record)", len(old), PENDING_MAX_AGE, orphans)
    return len(old) + orphans

"""The trash (issue 18): a deleted document waits here TRASH_DAYS days before it is purged.

Deleting (kb.services.documents.delete_document: admins, a withdrawn document) marks the
document ``trashed_at`` and takes it out of the index; kb.policy then hides it from every
page, search, list and harvest, for everyone. Admins list the trash, open a document in
it, restore it as it was (withdrawn, with its files and history) or purge it at once;
`kb purge` and the worker (daily) purge those whose time is up.

A purge removes the record, its history and its text, keeps a tombstone (the id and the
deletion time: its URL answers 410 Gone, and OAI-PMH keeps telling harvesters it was
deleted), and deletes each stored file that no other record names any more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from kb import audit, clock, context, policy
from kb.errors import NotFound
from kb.extensions import db
from kb.models import Document, StoredFile, Tombstone
from kb.services import history, translations
from kb.services.documents import MAX_DOC_ID, queue_index

log = logging.getLogger(__name__)

# The worker purges at its start, then this often (seconds).
PURGE_EVERY = 24 * 3600.0


def lifetime() -> timedelta:
    """TRASH_DAYS: how long a deleted document stays in the trash."""
    return timedelta(days=float(current_app.config["TRASH_DAYS"]))


def purge_at(doc: Document) -> datetime | None:
    """When a document in the trash will be purged (None if it is not in the trash)."""
    return None if doc.trashed_at is None else doc.trashed_at + lifetime()


@dataclass(frozen=True)
class Trashed:
    """A document in the trash, as the admins' list shows it."""

    doc: Document
    deleted_at: datetime
    purge_at: datetime


def listing(user: object) -> list[Trashed]:
    """The documents in the trash, last deleted first (admins; others see nothing)."""
    if not policy.can_manage_trash(user):
        return []
    docs = db.session.scalars(select(Document).where(Document.trashed_at.is_not(None))
                              .order_by(Document.trashed_at.desc(), Document.doc_id.desc()))
    return [Trashed(d, d.trashed_at, d.trashed_at + lifetime()) for d in docs
            if d.trashed_at is not None]


def find(doc_id: int, user: object) -> Document | None:
    """A document in the trash, for an admin; None for anyone else or any other id."""
    if not policy.can_manage_trash(user) or not 0 < doc_id <= MAX_DOC_ID:
        return None
    return db.session.scalar(select(Document).where(Document.doc_id == doc_id,
                                                    Document.trashed_at.is_not(None)))


def get_trashed(doc_id: int, user: object) -> Document:
    """A document in the trash, for an admin; NotFound for anyone else or any other id."""
    doc = find(doc_id, user)
    if doc is None:
        raise NotFound(_("No such document."))
    return doc


def restore(doc_id: int, user: object) -> Document:
    """Take a document out of the trash as it was: withdrawn, with its files, history and
    workflow comment; it goes back into the index (editors see it, and may republish it)."""
    doc = get_trashed(doc_id, user)
    before = history.snapshot(doc)
    deleted_at = doc.trashed_at
    doc.trashed_at = None
    history.record(doc, before, user, "untrash", extra={"trash": [True, False]})
    queue_index(doc)
    audit.record("trash-restore", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=f"{doc.title} (deleted on {deleted_at:%Y-%m-%d %H:%M})", commit=False)
    db.session.commit()
    return doc


def purge(doc_id: int, user: object) -> None:
    """Purge one document in the trash now (admins)."""
    _purge(get_trashed(doc_id, user), user, "purged by an administrator")


def purge_expired(now: datetime | None = None) -> list[int]:
    """Purge every document whose time in the trash is up; returns their ids."""
    now = clock.now() if now is None else now
    due = db.session.scalars(select(Document).where(
        Document.trashed_at.is_not(None), Document.trashed_at <= now - lifetime())
        .order_by(Document.doc_id)).all()
    purged = []
    for doc in due:
        doc_id = doc.doc_id
        _purge(doc, None, f"in the trash for more than {current_app.config['TRASH_DAYS']} days")
        purged.append(doc_id)
    return purged


def _purge(doc: Document, user: object, why: str) -> None:
    """Remove the record (and with it its history, text and jobs), keep a tombstone, then
    delete the stored files no record names any more."""
    doc_id, shas = doc.doc_id, [f.sha256 for f in doc.files]
    deleted_at = doc.trashed_at or clock.now()
    stone = db.session.get(Tombstone, doc_id) or Tombstone(doc_id=doc_id)
    stone.deleted_at, stone.purged_at = deleted_at, clock.now()
    db.session.add(stone)
    translations.hand_over(doc, user)  # an original's work passes to a translation
    audit.record("purge", actor=user, target_type="document", target_id=doc_id,
                 detail=f"{doc.title}: {why}; files {', '.join(shas) or 'none'}",
                 commit=False)
    db.session.delete(doc)
    db.session.commit()
    # After the commit: a crash in between leaves a file no record names, which the
    # leftovers sweep moves to quarantine; never a record without its file.
    store = context.store()
    for sha in shas:
        # Asked again for each file just before deleting it: another document (or an
        # upload of the same bytes recorded meanwhile) keeps it.
        if db.session.scalar(select(StoredFile.file_id).where(StoredFile.sha256 == sha)
                             .limit(1)) is None:
            store.delete(sha)


def purge_when_due() -> None:
    """Purge what expired at the first call in this app, then every PURGE_EVERY seconds of
    the app's clock (the worker's loop calls it on each turn)."""
    state = current_app.extensions.setdefault("kb.trash", {"last": None})
    now = clock.now()
    if state["last"] is not None and (now - state["last"]).total_seconds() < PURGE_EVERY:
        return
    state["last"] = now
    purged = purge_expired(now)
    if purged:
        log.info("trash: purged %d documents whose time in the trash was up: %s",
                 len(purged), ", ".join(map(str, purged)))

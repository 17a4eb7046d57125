"""Document operations: ingest, metadata, lookup and download bookkeeping."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import IO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kb import audit, clock, context, policy, vocabularies
from kb.errors import (
    DuplicateError,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    UnsupportedType,
    ValidationError,
)
from kb.extensions import db
from kb.extract import ACCEPTED_KINDS, Sniffed, sniff
from kb.models import (
    Document,
    DocumentAgency,
    DocumentCountry,
    DocumentGroup,
    DocumentTerm,
    DocumentTheme,
    Group,
    Job,
    StoredFile,
    Tombstone,
)
from kb.services import groups as groups_service
from kb.services import history, mail, usage
from kb.services.metadata import Metadata, validate
from kb.services.queue import Owner
from kb.storage import StagedFile

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
    doc.group_rows = [DocumentGroup(group_id=g) for g in meta.group_ids]
    set_terms(doc, {name: meta.terms(name) for name in vocabularies.NAMES})


def set_terms(doc: Document, terms: Mapping[str, Sequence[str]]) -> None:
    """Give a document these codes of the lists named (the other lists keep theirs).
    Rows that stay keep their identity: a list left as it was writes nothing."""
    wanted = {(name, code): i for name, codes in terms.items()
              for i, code in enumerate(codes)}
    kept: list[DocumentTerm] = []
    for row in doc.term_rows:
        if row.vocabulary not in terms:
            kept.append(row)
        elif (row.vocabulary, row.code) in wanted:
            row.position = wanted.pop((row.vocabulary, row.code))
            kept.append(row)
    kept += [DocumentTerm(vocabulary=name, code=code, position=i)
             for (name, code), i in wanted.items()]
    if [(r.vocabulary, r.code, r.position) for r in kept] != \
            [(r.vocabulary, r.code, r.position) for r in doc.term_rows]:
        doc.term_rows = sorted(kept, key=lambda r: (vocabularies.NAMES.index(r.vocabulary)
                                                    if r.vocabulary in vocabularies.NAMES
                                                    else len(vocabularies.NAMES),
                                                    r.position))


def existing_by_sha(sha256: str) -> int | None:
    """The document holding these exact bytes, if any."""
    return db.session.scalar(select(StoredFile.doc_id).where(StoredFile.sha256 == sha256))


def ingest(
    stream: IO[bytes],
    filename: str | None,
    raw_meta: Mapping[str, Sequence[str]],
    user: object,
    *,
    job_owner: Owner | None = None,
    workflow: str | None = None,
) -> Document:
    """Store an upload, record it and queue its extraction; returns the new document.

    The file is written to the store before anything else happens, so that nothing a user
    sent is lost once this returns; extraction and indexing run in the background.
    """
    # A person's upload names only groups they may see; `kb import` (which sets the
    # workflow itself) is the operator's, who may name any.
    meta = validate(raw_meta, groups=None if workflow else groups_service.choosable(user))
    store = context.store()
    staged, sniffed = store_upload(stream, filename)
    mime = str(sniffed.mime)
    existing = existing_by_sha(staged.sha256)
    if existing is not None:
        store.discard(staged)
        raise duplicate_error(existing, user)
    store.keep(staged)
    return record_stored(meta, StoredFile(filename=clean_filename(filename), size=staged.size,
                                          sha256=staged.sha256, content_type=mime),
                         sniffed.mismatch, user, job_owner=job_owner, workflow=workflow)


def store_upload(stream: IO[bytes], filename: str | None) -> tuple[StagedFile, Sniffed]:
    """Stage an upload in the store (hashed while copied, MAX_UPLOAD_MB at most) and sniff
    its type from the bytes; an unreadable kind is discarded and refused."""
    store = context.store()
    max_bytes = int(current_app.config["MAX_UPLOAD_MB"]) * 1024 * 1024
    staged = store.stage(stream, max_bytes)
    sniffed = sniff(staged.path, filename)
    if sniffed.mime is None:
        store.discard(staged)
        raise UnsupportedType(" ".join(filter(None, (
            _("This kind of file cannot be read."), sniffed.detail,
            _("Upload %(kinds)s.", kinds=ACCEPTED_KINDS)))))
    return staged, sniffed


MAX_NOTE = 200
# Tries at recording a new version while others are being recorded for the same document
# (each takes the next number; the stored bytes are kept meanwhile).
VERSION_ATTEMPTS = 5


def add_version(doc_id: int, stream: IO[bytes], filename: str | None, note: str | None,
                user: object, *, job_owner: Owner | None = None) -> Document:
    """Store a new file as the document's next (current) version and queue its extraction;
    a contributor's new version of a published document goes back to review."""
    doc = _versionable(doc_id, user)
    note = " ".join((note or "").split()) or None
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationError(_("Keep the note under %(num)d characters.", num=MAX_NOTE),
                              fields={"note": f"at most {MAX_NOTE} characters"})
    store = context.store()
    staged, sniffed = store_upload(stream, filename)
    try:
        _check_version_bytes(doc, staged.sha256, user)
    except DuplicateError:
        store.discard(staged)
        raise
    store.keep(staged)
    for attempt in range(VERSION_ATTEMPTS):
        if attempt:  # another version was recorded meanwhile: this one comes after it
            doc = _versionable(doc_id, user)
            _check_version_bytes(doc, staged.sha256, user)  # kept: the other may share it
        try:
            stored, review = _record_version(doc, staged, sniffed, filename, note, user)
            db.session.flush()
            break
        except IntegrityError as e:
            db.session.rollback()
            if attempt == VERSION_ATTEMPTS - 1:
                raise ValidationError(_("Other versions of this document were being sent at "
                                        "the same time; send yours again.")) from e
    db.session.add(_job(doc.doc_id, "extract", job_owner))
    audit.record("new-version", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=" ".join(filter(None, (
                     f"version {stored.version}: {stored.filename} ({stored.size} bytes)",
                     "back to review" if review else None, sniffed.mismatch))),
                 commit=False)
    if review:
        mail.tell_of_submission(doc, resubmitted=True)
    db.session.commit()
    return doc


def _versionable(doc_id: int, user: object) -> Document:
    """The document, if the user may see it and send a new version of it."""
    doc = get_visible(doc_id, user)
    if not policy.can_add_version(user, doc):
        raise Forbidden(_("Your account may not send a new version of this document."))
    return doc


def _record_version(doc: Document, staged: StagedFile, sniffed: Sniffed, filename: str | None,
                    note: str | None, user: object) -> tuple[StoredFile, bool]:
    """Add the stored bytes as the document's next version, with its history; whether it
    goes back to review."""
    before = history.snapshot(doc)
    previous = doc.current_file
    stored = StoredFile(version=(previous.version if previous else 0) + 1,
                        filename=clean_filename(filename), size=staged.size,
                        sha256=staged.sha256, content_type=str(sniffed.mime),
                        uploader_id=getattr(user, "user_id", None), note=note)
    doc.files.append(stored)
    doc.status, doc.error, doc.error_code = "processing", None, None
    doc.upload_warning = sniffed.mismatch
    review = policy.version_needs_review(user, doc)
    if review:
        doc.workflow, doc.workflow_comment = "submitted", None
    history.record(doc, before, user, "new-version", note=note, extra={"file": [
        f"{previous.version}: {previous.filename}" if previous else None,
        f"{stored.version}: {stored.filename}"]})
    return stored, review


def _check_version_bytes(doc: Document, sha256: str, user: object) -> None:
    """Bytes already a version of this document are refused; bytes of another document are
    shared only with one the user may edit (else the usual duplicate answer)."""
    rows = db.session.execute(select(StoredFile.doc_id, StoredFile.version)
                              .where(StoredFile.sha256 == sha256)
                              .order_by(StoredFile.doc_id, StoredFile.version)).all()
    for other_id, version in rows:
        if other_id == doc.doc_id:
            raise DuplicateError(_("This file is already version %(version)s of this document.",
                                   version=version),
                                 doc.doc_id, visible=True)
    for other_id, _version in rows:
        other = db.session.get(Document, other_id)
        if other is None or not policy.can_edit(user, other):
            raise duplicate_error(other_id, user)


def find_version(doc: Document, version: int | None, user: object) -> StoredFile:
    """One version of a document's file (the current one for None) if the user may see it;
    NotFound otherwise (never confirm that a hidden version exists)."""
    stored = doc.current_file if version is None else next(
        (f for f in doc.files if f.version == version), None)
    if stored is None or not policy.can_see_version(user, doc, stored):
        raise NotFound(_("No such version of this document."))
    return stored


def visible_versions(doc: Document, user: object) -> list[StoredFile]:
    """The versions of a document's file the user may see, oldest first."""
    return [f for f in doc.files if policy.can_see_version(user, doc, f)]


def set_version_public(doc_id: int, version: int, public: bool, user: object) -> Document:
    """Let readers download an older version too (or no more): editors and admins."""
    doc = get_visible(doc_id, user)
    if not policy.can_publish_version(user, doc):
        raise Forbidden(_("Only editors and admins choose which older versions readers see."))
    stored = find_version(doc, version, user)
    if stored is doc.current_file:
        raise ValidationError(_("The current version follows the document's own access."))
    if stored.public != public:
        stored.public = public
        history.record(doc, history.snapshot(doc), user,
                       "version-public" if public else "version-private",
                       extra={"file": [f"{stored.version}: "
                                       f"{'public' if not public else 'private'}",
                                       f"{stored.version}: "
                                       f"{'public' if public else 'private'}"]})
        audit.record("version-public" if public else "version-private", actor=user,
                     target_type="document", target_id=doc.doc_id,
                     detail=f"version {stored.version}: {stored.filename}", commit=False)
        db.session.commit()
    return doc


def record_stored(meta: Metadata, stored: StoredFile, mismatch: str | None, user: object, *,
                  job_owner: Owner | None = None, workflow: str | None = None) -> Document:
    """Record a file already in the store as a new document (with whatever else the
    session holds, in the same commit) and queue its extraction; returns the document."""
    if workflow is None:
        workflow = "published" if policy.publishes_directly(user) else "submitted"
    doc = Document(status="processing", uploader_id=getattr(user, "user_id", None),
                   workflow=workflow)
    apply_metadata(doc, meta)
    # Not stored: said once, in the answer to this upload (see kb.serialize.document).
    doc.upload_warning = mismatch
    stored.version = 1
    doc.files = [stored]
    db.session.add(doc)
    try:
        db.session.flush()
        db.session.add(_job(doc.doc_id, "extract", job_owner))
        audit.record("upload", actor=user, target_type="document", target_id=doc.doc_id,
                     detail=" ".join(filter(None, (
                         f"{stored.filename} ({stored.size} bytes, {workflow})",
                         mismatch))),
                     commit=False)
        if workflow == "submitted":
            mail.tell_of_submission(doc)
        db.session.commit()
    except IntegrityError as e:
        # The same bytes were recorded by a concurrent upload between our check and now.
        db.session.rollback()
        other = existing_by_sha(stored.sha256)
        if other is None:
            raise
        raise duplicate_error(other, user) from e
    return doc


def duplicate_error(doc_id: int, user: object) -> DuplicateError:
    """The error for bytes already stored in ``doc_id``: the same words whether or not the
    user may see that document; its id goes into the answer only if they may. An admin is
    told when it is in the trash (where they restore it); anyone else hears what they
    would of any document they may not see."""
    doc = db.session.get(Document, doc_id)
    if doc is not None and doc.trashed_at is not None and policy.can_manage_trash(user):
        return DuplicateError(_("This file is in the trash, as document %(id)s: restore it "
                                "from the trash instead of uploading it again.", id=doc_id),
                              doc_id, in_trash=True)
    return DuplicateError(_("This file is already in the repository."), doc_id,
                          visible=doc is not None and policy.can_view(user, doc))


def _job(doc_id: int, kind: str, owner: Owner | None) -> Job:
    if owner is None:
        return Job(doc_id=doc_id, kind=kind)
    return Job(doc_id=doc_id, kind=kind, **owner.claim_values())


def update_metadata(doc: Document, raw_meta: Mapping[str, Sequence[str]],
                    user: object) -> Document:
    """Change a document's metadata and queue its re-indexing (a returned document stays
    returned: its uploader resubmits it when ready, kb.services.workflow.resubmit)."""
    if not policy.can_edit(user, doc):
        raise Forbidden(_("Your account may not edit this document."))
    known = groups_service.choosable(user)
    if known is not None:
        # The groups the document has stay choosable: its uploader keeps those an editor
        # added, whose names they could not choose themselves.
        known = {**{name.casefold(): group_id for group_id, name in _group_names(doc)},
                 **known}
    meta = validate(raw_meta, groups=known)
    from kb.services import translations  # it builds on this module

    translations.check_language(doc, meta.language, user)
    before = history.snapshot(doc)
    apply_metadata(doc, meta)
    history.record(doc, before, user, "metadata-edit")
    queue_index(doc)
    from kb.services import term_suggestions

    term_suggestions.refresh_after_edit(doc, before)
    audit.record("metadata-edit", actor=user, target_type="document", target_id=doc.doc_id,
                 commit=False)
    db.session.commit()
    return doc


def edit_metadata(doc_id: int, changes: Mapping[str, Sequence[str]], user: object, *,
                  if_match: Collection[str] | None = None) -> Document:
    """Change the fields named in ``changes``, the others keeping their values (the API's
    PATCH): 404 if the user may not see the document, 403 if they may not edit it, 412 if
    ``if_match`` (the entity tags the caller holds, or ``*``) is not its ``etag`` any more,
    then the metadata's own validation, as an upload's."""
    doc = get_visible(doc_id, user)
    if not policy.can_edit(user, doc):
        raise Forbidden(_("Your account may not edit this document."))
    if if_match is not None and "*" not in if_match and etag(doc) not in if_match:
        raise PreconditionFailed(
            _("The document has changed since you read it (If-Match is not its ETag any "
              "more); nothing was saved. Read it again and make your change to that."))
    if "access" in changes and not "".join(changes["access"]).strip():
        # An upload without access is public; an edit never makes a document public
        # because a field was sent empty.
        raise ValidationError(_("Please correct the metadata: name the access level."),
                              fields={"access": _("Say public, internal or restricted.")})
    if not changes:
        return doc
    return update_metadata(doc, {**present_metadata(doc), **changes}, user)


def present_metadata(doc: Document) -> dict[str, list[str]]:
    """A document's metadata as the metadata service takes it (where a partial edit
    starts from)."""
    return {
        "title": [doc.title], "summary": [doc.summary or ""], "type": [doc.doc_type or ""],
        "countries": doc.countries, "agencies": doc.agencies, "themes": doc.themes,
        "language": [doc.language or ""],
        "year": ["" if doc.year is None else str(doc.year)], "phase": [doc.phase or ""],
        "access": [doc.access], "groups": [name for _, name in _group_names(doc)],
        **{name: doc.terms(name) for name in vocabularies.NAMES},
    }


def _group_names(doc: Document) -> list[tuple[int, str]]:
    if not doc.group_ids:
        return []
    return [(group_id, name) for group_id, name in db.session.execute(
        select(Group.group_id, Group.name).where(Group.group_id.in_(doc.group_ids))
        .order_by(Group.name))]


def etag(doc: Document) -> str:
    """The document's entity tag (strong, unquoted): a digest of everything an edit, a
    review decision or processing changes in its API answer. The download counter is left
    out: someone reading the document is no reason to refuse an edit made meanwhile."""
    state = [doc.doc_id, doc.title, doc.summary, doc.doc_type, doc.countries, doc.agencies,
             doc.themes, doc.language, doc.year, doc.phase, doc.access, sorted(doc.group_ids),
             doc.workflow, doc.workflow_comment, doc.status, doc.error, doc.error_code,
             doc.translation_of, [[f.version, f.sha256, f.pages] for f in doc.files],
             [doc.terms(name) for name in vocabularies.NAMES]]
    return hashlib.sha256(json.dumps(state, ensure_ascii=False).encode()).hexdigest()[:32]


def queue_extraction(doc_id: int, user: object) -> Document:
    """Read the stored file again (after a failure, or with a newer extractor): editors."""
    doc = get_visible(doc_id, user)
    if not policy.can_review(user):
        raise Forbidden(_("Only editors and admins can retry an extraction."))
    before = history.snapshot(doc)
    requeue_extraction([doc])
    history.record(doc, before, user, "reextract")
    audit.record("reextract", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=f"was {doc.status}" + (f" ({doc.error_code})" if doc.error_code else ""),
                 commit=False)
    db.session.commit()
    return doc


def requeue_extraction(docs: Sequence[Document]) -> None:
    """Mark documents processing again and queue their extraction (no commit)."""
    for doc in docs:
        doc.status, doc.error, doc.error_code = "processing", None, None
        db.session.add(_job(doc.doc_id, "extract", None))


def delete_document(doc_id: int, user: object) -> None:
    """Move a withdrawn document to the trash (admins): it leaves the index and every
    channel (kb.policy), and is purged for good TRASH_DAYS later unless an admin restores
    it (kb.services.trash). Its record, history and stored files stay until then."""
    doc = get_visible(doc_id, user)
    if not policy.can_delete(user):
        raise Forbidden(_("Only administrators delete documents; editors can withdraw them."))
    if doc.workflow != "withdrawn":
        raise ValidationError(_("Withdraw the document first; only withdrawn documents can "
                                    "be deleted."))
    from kb import search

    search.delete_documents(context.index_dir(), [doc.doc_id], context.lock_timeout())
    current = doc.current_file
    before = history.snapshot(doc)
    doc.trashed_at = clock.now()
    history.record(doc, before, user, "trash", extra={"trash": [False, True]})
    audit.record("delete", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=f"{doc.title} ({current.sha256 if current else 'no file'}): "
                        "moved to the trash",
                 commit=False)
    db.session.commit()


def queue_index(doc: Document) -> None:
    """Have the worker re-index a document (its text is already extracted)."""
    if doc.status != "processing":
        db.session.add(_job(doc.doc_id, "index", None))


# The largest id a document can have (PostgreSQL's integer; SQLite's is wider): a larger
# one in a URL is no document's, and the database must not be asked (it would overflow).
MAX_DOC_ID = 2**31 - 1


def get_visible(doc_id: int, user: object) -> Document:
    """The document if the user may see it; otherwise NotFound (never confirm it exists)."""
    if not 0 < doc_id <= MAX_DOC_ID:
        raise NotFound(_("No such document."))
    # One statement with the policy inside it, whether the id is missing or hidden: the
    # two answers cannot be told apart by their time (a hidden row is never loaded).
    doc = db.session.scalar(select(Document).where(
        Document.doc_id == doc_id, policy.viewable_documents_clause(user)))
    if doc is None:
        # Asked whether hidden or missing (the same cost either way): a purged document's
        # id answers 410 Gone, to everyone (the tombstone says nothing of what it was).
        gone = db.session.get(Tombstone, doc_id)
        if gone is not None:
            raise Gone(_("This document was deleted on %(day)s and is no longer in the "
                         "repository.", day=f"{gone.deleted_at:%Y-%m-%d}"))
        raise NotFound(_("No such document."))
    return doc


def get_downloadable(doc_id: int, user: object) -> Document:
    """The document if the user may download its files (404 hidden, 403 withdrawn)."""
    doc = get_visible(doc_id, user)
    if not policy.can_download(user, doc):
        raise Forbidden(_("This document is withdrawn; restore it to download its file."))
    return doc


def record_download(doc: Document, user: object, user_agent: str | None) -> None:
    """Count a download (and, for a person's, the day's usage); those of restricted
    documents go into the audit trail."""
    if policy.is_sensitive(doc):
        audit.record("download-restricted", actor=user, target_type="document",
                     target_id=doc.doc_id, commit=False)
    count_download(doc, user_agent)


def count_download(doc: Document, user_agent: str | None) -> None:
    """Add one to the download counter without losing concurrent increments, and to the
    day's downloads when a person asked (kb.services.usage)."""
    db.session.execute(
        update(Document).where(Document.doc_id == doc.doc_id)
        .values(downloads=Document.downloads + 1)
        .execution_options(synchronize_session=False)
    )
    usage.count(doc.doc_id, "downloads", user_agent, commit=False)
    db.session.commit()

"""Database models: the source of truth (the search index is derived from them)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kb.extensions import db

ROLES = ("admin", "editor", "contributor", "reader")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "user"

    user_id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="reader")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The interface language the user chose (a code of KB_LANGUAGES, e.g. "fr"); None
    # follows the browser (issue 17).
    locale: Mapped[str | None] = mapped_column(String(10))

    groups: Mapped[list[Group]] = relationship(secondary="group_member", lazy="selectin",
                                               back_populates="members")

    def get_id(self) -> str:
        # Which session this is lives in the cookie beside it (see kb.services.sessions).
        return str(self.user_id)

    @property
    def is_active(self) -> bool:
        return self.active


class UserSession(db.Model):  # type: ignore[name-defined]
    """One signed-in browser session; the cookie carries its secret, we keep its hash.

    Live while ``ended_at`` is empty and neither its idle nor its absolute lifetime has
    passed (kb.services.sessions decides); sign-out ends it, so a copied cookie dies too.
    """

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_id", "user_id"),)

    session_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.user_id", ondelete="CASCADE"))
    # SHA-256 of the session's random secret: a copy of the database opens no session.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Moved on at most once a minute (kb.services.sessions.TOUCH_EVERY), not every request.
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class ApiToken(db.Model):  # type: ignore[name-defined]
    __tablename__ = "api_token"

    token_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.user_id", ondelete="CASCADE"))
    # SHA-256 of the token: tokens are long random strings, so a fast hash is enough.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Group(db.Model):  # type: ignore[name-defined]
    """A named set of users (e.g. "Moldova country team") that restricted documents name."""

    __tablename__ = "group"

    group_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(secondary="group_member", lazy="selectin",
                                               back_populates="groups")


class GroupMember(db.Model):  # type: ignore[name-defined]
    __tablename__ = "group_member"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("group.group_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.user_id", ondelete="CASCADE"), primary_key=True
    )


class AuditEvent(db.Model):  # type: ignore[name-defined]
    """Who did what, when, to what, with what outcome. Written by kb.audit, never edited."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),
                      Index("ix_audit_event_action", "action"))

    event_id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None]
    # Kept as text so that the trail survives the account's deletion.
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    detail: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))


class Agency(db.Model):  # type: ignore[name-defined]
    __tablename__ = "agency"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))


class Document(db.Model):  # type: ignore[name-defined]
    __tablename__ = "document"

    doc_id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    doc_type: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(2))
    year: Mapped[int | None]
    phase: Mapped[str | None] = mapped_column(String(20))
    access: Mapped[str] = mapped_column(String(20), default="public")
    # submitted | published | returned | withdrawn (the review workflow)
    workflow: Mapped[str] = mapped_column(String(20), default="published")
    workflow_comment: Mapped[str | None] = mapped_column(Text)
    # processing | ready | failed
    status: Mapped[str] = mapped_column(String(20), default="processing")
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    downloads: Mapped[int] = mapped_column(default=0)
    # Set when an editor marks the document as a featured tool or methodology (home page).
    featured_at: Mapped[datetime | None]
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("user.user_id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when an admin deletes the document: it is in the trash (hidden from every channel
    # by kb.policy) until restored, or purged KB_TRASH_DAYS later (kb.services.trash).
    trashed_at: Mapped[datetime | None]
    # Set on a translation: the document it translates (the work's original, issue 18).
    # One level only, and no foreign key: the service keeps the link true, and a purge of
    # the original hands the work to its oldest translation (kb.services.trash).
    translation_of: Mapped[int | None] = mapped_column(index=True)

    country_rows: Mapped[list[DocumentCountry]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentCountry.position", lazy="selectin"
    )
    agency_rows: Mapped[list[DocumentAgency]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentAgency.position", lazy="selectin"
    )
    theme_rows: Mapped[list[DocumentTheme]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentTheme.position", lazy="selectin"
    )
    group_rows: Mapped[list[DocumentGroup]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    term_rows: Mapped[list[DocumentTerm]] = relationship(
        cascade="all, delete-orphan", order_by="DocumentTerm.position", lazy="selectin"
    )
    files: Mapped[list[StoredFile]] = relationship(
        back_populates="document", order_by="StoredFile.version", lazy="selectin",
        cascade="all, delete-orphan"
    )
    uploader: Mapped[User | None] = relationship()

    @property
    def countries(self) -> list[str]:
        return [r.code for r in self.country_rows]

    @property
    def agencies(self) -> list[str]:
        return [r.code for r in self.agency_rows]

    @property
    def themes(self) -> list[str]:
        return [r.theme for r in self.theme_rows]

    @property
    def group_ids(self) -> list[int]:
        return [r.group_id for r in self.group_rows]

    def terms(self, vocabulary: str) -> list[str]:
        """The codes of one controlled vocabulary ("gcm", "sdg", "area") on this document."""
        return [r.code for r in self.term_rows if r.vocabulary == vocabulary]

    @property
    def current_file(self) -> StoredFile | None:
        return self.files[-1] if self.files else None


class DocumentChange(db.Model):  # type: ignore[name-defined]
    """One change to a document's metadata, access, workflow state or file: who, when, and
    each changed field's value before and after (kb.services.history). Never edited; it
    goes with the document when the document is purged."""

    __tablename__ = "document_change"
    __table_args__ = (Index("ix_document_change_doc_id", "doc_id", "change_id"),)

    change_id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("document.doc_id", ondelete="CASCADE"))
    # Kept as text beside the id, so that the history survives the account's deletion.
    user_id: Mapped[int | None]
    user_email: Mapped[str | None] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # metadata-edit, publish, return, withdraw, restore, resubmit, feature, unfeature,
    # reextract, trash, untrash, revert
    action: Mapped[str] = mapped_column(String(30))
    # {field: [before, after]} as JSON.
    changes: Mapped[str] = mapped_column(Text, default="{}")
    note: Mapped[str | None] = mapped_column(String(200))


class Tombstone(db.Model):  # type: ignore[name-defined]
    """What is left of a purged document: its id (its URL answers 410 Gone, harvesters keep
    their deleted record), when it went to the trash and when it was purged. No title, no
    metadata: a restricted document's tombstone tells nobody what it was."""

    __tablename__ = "tombstone"

    # No foreign key: the document is gone.
    doc_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deleted_at: Mapped[datetime]
    purged_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentCountry(db.Model):  # type: ignore[name-defined]
    __tablename__ = "document_country"

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class DocumentAgency(db.Model):  # type: ignore[name-defined]
    __tablename__ = "document_agency"

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(
        ForeignKey("agency.code", onupdate="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(default=0)


class DocumentTheme(db.Model):  # type: ignore[name-defined]
    __tablename__ = "document_theme"

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    theme: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class DocumentTerm(db.Model):  # type: ignore[name-defined]
    """A code of one of the programme's controlled vocabularies on a document: a GCM
    objective ("gcm", "gcm-20"), a migration-related SDG target ("sdg", "sdg-10.7") or an
    outcome area ("area", ...). One table for every list, so a new list is data only."""

    __tablename__ = "document_term"
    __table_args__ = (Index("ix_document_term_vocabulary_code", "vocabulary", "code"),)

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    vocabulary: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)


class DocumentUsage(db.Model):  # type: ignore[name-defined]
    """How often people opened a document's page and downloaded its file on one day (UTC):
    the usage statistics of kb.services.usage (known robots are not counted)."""

    __tablename__ = "document_usage"
    __table_args__ = (Index("ix_document_usage_day", "day"),)

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    views: Mapped[int] = mapped_column(default=0)
    downloads: Mapped[int] = mapped_column(default=0)


class TermSuggestion(db.Model):  # type: ignore[name-defined]
    """A vocabulary code that kb proposes for a document from its text (issue 17), kept
    until an editor accepts it (it becomes a DocumentTerm) or dismisses it (it is not
    proposed again for that document)."""

    __tablename__ = "term_suggestion"

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    vocabulary: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    # Why it was proposed, as JSON: the phrases found and where (title, summary, body).
    evidence: Mapped[str] = mapped_column(Text, default="[]")
    # "open", "accepted" or "dismissed".
    state: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None]


class DocumentGroup(db.Model):  # type: ignore[name-defined]
    """The groups that may see a restricted document."""

    __tablename__ = "document_group"

    doc_id: Mapped[int] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("group.group_id", ondelete="CASCADE"), primary_key=True
    )


class StoredFile(db.Model):  # type: ignore[name-defined]
    """One stored version of a document's file; the bytes live in storage by SHA-256."""

    __tablename__ = "stored_file"
    __table_args__ = (
        UniqueConstraint("doc_id", "version"),
        # The same bytes never start two documents (an upload of them is refused as a
        # duplicate; this index settles two concurrent ones). A later version may hold
        # bytes another document also holds: a purge deletes them only when no row
        # names them any more (kb.services.trash).
        Index("uq_stored_file_first_sha256", "sha256", unique=True,
              sqlite_where=text("version = 1"), postgresql_where=text("version = 1")),
        Index("ix_stored_file_sha256", "sha256"),
    )

    file_id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("document.doc_id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    # The user's file name: metadata only, never part of a path.
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    pages: Mapped[int | None]
    # What the file says about itself (title, author, created, modified), as JSON.
    file_metadata: Mapped[str | None] = mapped_column(Text)
    # The first-page thumbnail's size in pixels, once rendered (PDFs); none: a type icon.
    thumb_width: Mapped[int | None]
    thumb_height: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who sent this version and why ("final version after review"); none on version 1
    # (the document's own uploader and upload).
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("user.user_id"))
    note: Mapped[str | None] = mapped_column(String(200))
    # An older version readers may download too (an editor's choice); the current version
    # follows the document's own access.
    public: Mapped[bool] = mapped_column(default=False, server_default=false())

    document: Mapped[Document] = relationship(back_populates="files")
    sender: Mapped[User | None] = relationship()

    @property
    def said(self) -> dict[str, str]:
        """The file's own metadata, as extraction found it."""
        import json

        return dict(json.loads(self.file_metadata)) if self.file_metadata else {}


class PendingUpload(db.Model):  # type: ignore[name-defined]
    """A file sent ahead of the upload form: stored at once, so that no validation error
    loses it; the form that follows names it by ``public_id`` and becomes its document.

    Only its owner may use it; ones never claimed are swept (kb.services.leftovers)."""

    __tablename__ = "pending_upload"
    __table_args__ = (Index("ix_pending_upload_user_id", "user_id"),)

    pending_id: Mapped[int] = mapped_column(primary_key=True)
    # Random and unguessable: what the browser holds between the transfer and the form.
    public_id: Mapped[str] = mapped_column(String(43), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.user_id", ondelete="CASCADE"))
    # The user's file name: metadata only, never part of a path.
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(100))
    # What the file says about itself (title, year, language, ...), as JSON.
    file_metadata: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HarvestRecord(db.Model):  # type: ignore[name-defined]
    """What OAI-PMH harvesters are told about a document that was ever harvestable (kb.policy):
    kept after the document is withdrawn, hidden or deleted (then ``deleted``), so that they
    remove their copy. kb.services.harvest keeps it true from one session hook."""

    __tablename__ = "harvest_record"
    __table_args__ = (Index("ix_harvest_record_datestamp", "datestamp", "doc_id"),)

    # No foreign key: the record outlives the document.
    doc_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # The last change harvesters see (whole seconds, UTC): metadata, file, or visibility.
    datestamp: Mapped[datetime]
    deleted: Mapped[bool] = mapped_column(default=False)
    # The record's sets, e.g. " country:MDA agency:IOM type:report " (padded with spaces,
    # so that one set is matched as a whole word); kept as they were when it was deleted.
    set_specs: Mapped[str] = mapped_column(Text, default="")
    # SHA-256 of what the metadata formats show: the datestamp moves only when it changes.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")


class PageText(db.Model):  # type: ignore[name-defined]
    """Extracted text of one page (numbered from 1): what `kb reindex` rebuilds from."""

    __tablename__ = "page_text"

    file_id: Mapped[int] = mapped_column(
        ForeignKey("stored_file.file_id", ondelete="CASCADE"), primary_key=True
    )
    page: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class Job(db.Model):  # type: ignore[name-defined]
    """Background work on a document, claimed atomically so several workers can share it."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_state_run_after", "state", "run_after"),)

    job_id: Mapped[int] = mapped_column(primary_key=True)
    # Empty for work that concerns no document (an email to send).
    doc_id: Mapped[int | None] = mapped_column(
        ForeignKey("document.doc_id", ondelete="CASCADE"))
    # extract: read the file's text, then index; ocr: read its scanned pages by OCR (a
    # lane of its own), then index; index: re-index metadata and stored text
    kind: Mapped[str] = mapped_column(String(20))
    # queued | running | done | failed
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_at: Mapped[datetime | None]
    # Who holds a running job: host, process id and that process's start time (clock
    # ticks since boot, /proc/<pid>/stat), so that a reused pid is not taken for the holder.
    locked_host: Mapped[str | None] = mapped_column(String(255))
    locked_pid: Mapped[int | None]
    locked_started: Mapped[int | None] = mapped_column(BigInteger)
    # Refreshed while the holder works: a job whose heartbeat stops is given back.
    heartbeat_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # A name for the kind of the last error, e.g. "disk-full" (retried without limit).
    last_error_code: Mapped[str | None] = mapped_column(String(40))
    # What a job that needs more than a document carries (an email's message), as JSON.
    payload: Mapped[str | None] = mapped_column(Text)


class Worker(db.Model):  # type: ignore[name-defined]
    """A running `kb worker` process, seen alive at ``last_seen`` (its heartbeat)."""

    __tablename__ = "worker"
    __table_args__ = (UniqueConstraint("host", "pid", "started"),)

    worker_id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    # The process's start time in clock ticks since boot (see Job.locked_started).
    started: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class Concept(db.Model):  # type: ignore[name-defined]
    """A concept of an imported multilingual thesaurus (e.g. UNBIS): its labels name it."""

    __tablename__ = "concept"
    __table_args__ = (Index("ix_concept_source", "source"),)

    concept_id: Mapped[int] = mapped_column(primary_key=True)
    # What it was imported as (the file's stem by default); a new import of the same
    # source replaces the old one.
    source: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    labels: Mapped[list[ConceptLabel]] = relationship(
        back_populates="concept", cascade="all, delete-orphan", passive_deletes=True
    )


class ConceptLabel(db.Model):  # type: ignore[name-defined]
    """One concept's label in one language, with the folded form that queries match."""

    __tablename__ = "concept_label"
    __table_args__ = (Index("ix_concept_label_folded", "folded"),
                      Index("ix_concept_label_lang_folded", "lang", "folded"),
                      Index("ix_concept_label_concept", "concept_id"))

    label_id: Mapped[int] = mapped_column(primary_key=True)
    concept_id: Mapped[int] = mapped_column(
        ForeignKey("concept.concept_id", ondelete="CASCADE")
    )
    lang: Mapped[str] = mapped_column(String(2))  # ISO 639-1
    label: Mapped[str] = mapped_column(String(500))  # as written in the thesaurus
    # Case-folded, accents stripped, Serbian Cyrillic in Latin, words joined by one space.
    folded: Mapped[str] = mapped_column(String(500))

    concept: Mapped[Concept] = relationship(back_populates="labels")


class ThesaurusState(db.Model):  # type: ignore[name-defined]
    """One row: bumped by every thesaurus import, so that each process (web workers, the
    background worker) notices a new import at its next query, without a restart."""

    __tablename__ = "thesaurus_state"

    state_id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(Document, "before_insert")
def _never_reuse_an_id(_mapper: object, connection: Connection, doc: Document) -> None:
    """A new document's id is past every id there ever was: SQLite gives a new row the
    highest id plus one, so the id of the newest document, once purged, would go to the
    next upload, and its address, citations and OAI-PMH identifier would name another
    work. (PostgreSQL's sequences never go back.) One INSERT computes it, atomically."""
    if doc.doc_id is not None or connection.dialect.name != "sqlite":
        return
    highest = union_all(select(func.max(Document.doc_id).label("doc_id")),
                        select(func.max(Tombstone.doc_id)),
                        select(func.max(HarvestRecord.doc_id))).subquery()
    doc.doc_id = select(func.coalesce(func.max(highest.c.doc_id), 0) + 1).scalar_subquery()

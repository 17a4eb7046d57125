"""A document's history (issue 18): every change of its metadata, access, workflow state or
file, with who made it, when, and each changed field's value before and after.

The services that change a document take a ``snapshot`` before, change it, and ``record``
the difference in the same commit. The audit trail (kb.audit) still says who did what
across the site; this is the per-document story its page shows (kb.policy.can_see_history)
and the metadata an editor can go back to (``revert``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from kb import audit, clock, policy, vocabularies
from kb.errors import Forbidden, NotFound, ValidationError
from kb.extensions import db
from kb.i18n import N_
from kb.models import Document, DocumentChange, Group
from kb.services.metadata import FIELDS, validate

# The metadata fields, named as the upload form and the API name them (what ``revert``
# restores); the others a change may touch are recorded, never reverted.
METADATA = FIELDS
OTHER = ("workflow", "comment", "featured", "status", "file")
# What the history table calls each field.
# What the history table calls each field and each action, in English: messages that the
# page translates (kb.i18n.N_ marks them for the catalogues).
LABELS = {"title": N_("Title"), "summary": N_("Summary"), "type": N_("Type"),
          "countries": N_("Countries"), "agencies": N_("Agencies"), "themes": N_("Themes"),
          "language": N_("Language"), "year": N_("Year"), "phase": N_("Programme phase"),
          "access": N_("Access"), "groups": N_("Groups"), "workflow": N_("State"),
          "comment": N_("Review comment"), "featured": N_("Featured"),
          "status": N_("Processing"), "file": N_("File"), "trash": N_("In the trash"),
          "translation_of": N_("Translation of"), "gcm": N_("GCM objectives"),
          "sdg": N_("SDG targets"), "area": N_("Outcome areas")}
ACTION_LABELS = {
    "metadata-edit": N_("Metadata edited"), "new-version": N_("New version"),
    "version-public": N_("Version made public"),
    "version-private": N_("Version made private"),
    "reextract": N_("Text extracted again"), "trash": N_("Moved to the trash"),
    "untrash": N_("Restored from the trash"), "revert": N_("Reverted"),
    "publish": N_("Published"), "return": N_("Returned to the uploader"),
    "withdraw": N_("Withdrawn"), "restore": N_("Published again"),
    "resubmit": N_("Sent for review again"), "feature": N_("Featured"),
    "unfeature": N_("No longer featured"), "bulk-edit": N_("Edited with others"),
    "translation-link": N_("Linked as a translation"),
    "translation-unlink": N_("No longer a translation"),
    "suggestion-accept": N_("Suggestion accepted"),
}

Snapshot = dict[str, Any]


def snapshot(doc: Document) -> Snapshot:
    """The document's recorded fields now, as JSON values (lists for the many-valued)."""
    names = {g.group_id: g.name for g in db.session.scalars(
        select(Group).where(Group.group_id.in_(doc.group_ids)))} if doc.group_ids else {}
    current = doc.current_file
    return {
        "title": doc.title, "summary": doc.summary or "", "type": doc.doc_type,
        "countries": list(doc.countries), "agencies": list(doc.agencies),
        "themes": list(doc.themes), "language": doc.language, "year": doc.year,
        "phase": doc.phase, "access": doc.access,
        "groups": sorted(names.get(g, f"#{g}") for g in doc.group_ids),
        "workflow": doc.workflow, "comment": doc.workflow_comment,
        "featured": doc.featured_at is not None, "status": doc.status,
        "file": current.filename if current is not None else None,
        **{name: doc.terms(name) for name in vocabularies.NAMES},
    }


def record(doc: Document, before: Snapshot, user: object, action: str, *,
           extra: dict[str, list[Any]] | None = None,
           note: str | None = None) -> DocumentChange | None:
    """Add the difference between ``before`` and the document now to its history (no
    commit); nothing when nothing changed."""
    after = snapshot(doc)
    changes = {name: [before.get(name), after[name]] for name in after
               if before.get(name) != after[name]}
    changes.update(extra or {})
    if not changes:
        return None
    authenticated = getattr(user, "is_authenticated", False)
    row = DocumentChange(
        doc_id=doc.doc_id, at=clock.now(), action=action,
        user_id=getattr(user, "user_id", None) if authenticated else None,
        user_email=getattr(user, "email", None) if authenticated else None,
        changes=json.dumps(changes, ensure_ascii=False, sort_keys=True), note=note)
    db.session.add(row)
    return row


@dataclass(frozen=True)
class Change:
    """One line of a document's history, as its page shows it."""

    change_id: int
    at: datetime
    who: str
    action: str
    note: str | None
    fields: tuple[tuple[str, Any, Any], ...]  # (field, before, after)

    @property
    def touches_metadata(self) -> bool:
        return any(name in METADATA for name, _before, _after in self.fields)


def _change(row: DocumentChange) -> Change:
    changes: dict[str, list[Any]] = json.loads(row.changes or "{}")
    order = [*METADATA, *OTHER]
    fields = sorted(changes.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                     else len(order), kv[0]))
    return Change(change_id=row.change_id, at=row.at, who=row.user_email or "kb",
                  action=row.action, note=row.note,
                  fields=tuple((name, pair[0], pair[1]) for name, pair in fields))


def changes_of(doc: Document, user: object) -> list[Change]:
    """The document's history, newest first, for those who may see it (else empty)."""
    if not policy.can_see_history(user, doc):
        return []
    rows = db.session.scalars(select(DocumentChange).where(DocumentChange.doc_id == doc.doc_id)
                              .order_by(DocumentChange.change_id.desc()))
    return [_change(r) for r in rows]


def metadata_after(doc: Document, change_id: int) -> Snapshot:
    """The document's metadata as it was just after change ``change_id``: today's values,
    with every later change's metadata fields undone, newest first."""
    state = {name: value for name, value in snapshot(doc).items() if name in METADATA}
    later = db.session.scalars(
        select(DocumentChange).where(DocumentChange.doc_id == doc.doc_id,
                                     DocumentChange.change_id > change_id)
        .order_by(DocumentChange.change_id.desc()))
    for row in later:
        for name, (before, _after) in json.loads(row.changes or "{}").items():
            if name in METADATA:
                state[name] = before
    return state


def _raw(state: Snapshot) -> dict[str, Sequence[str]]:
    """A metadata state as the fields of a form (what ``validate`` reads)."""
    raw: dict[str, Sequence[str]] = {}
    for name, value in state.items():
        if value is None:
            raw[name] = []
        elif isinstance(value, list):
            raw[name] = [str(v) for v in value]
        else:
            raw[name] = [str(value)]
    return raw


def revert(doc: Document, change_id: int, user: object) -> Document:
    """Put the document's metadata back as they were just after change ``change_id``
    (editors); the revert is itself a change of the history."""
    from kb.services import documents, term_suggestions, translations

    if not policy.can_revert(user, doc):
        raise Forbidden(_("Only editors and admins revert a document's metadata."))
    target = db.session.scalar(select(DocumentChange).where(
        DocumentChange.change_id == change_id, DocumentChange.doc_id == doc.doc_id))
    if target is None:
        raise NotFound(_("No such change in this document's history."))
    try:
        meta = validate(_raw(metadata_after(doc, change_id)))
    except ValidationError as e:
        prefix = _("Please correct the metadata: %(problem)s", problem="")
        raise ValidationError(_("These metadata cannot be restored as they were: %(problem)s",
                                problem=e.message.removeprefix(prefix)),
                              fields=e.fields) from e
    translations.check_language(doc, meta.language, user)
    before = snapshot(doc)
    documents.apply_metadata(doc, meta)
    db.session.flush()
    if record(doc, before, user, "revert", note=f"to the metadata after change {change_id}") \
            is None:
        raise ValidationError(_("The metadata are already as they were after that change."))
    documents.queue_index(doc)
    term_suggestions.refresh_after_edit(doc, before)
    audit.record("metadata-revert", actor=user, target_type="document",
                 target_id=doc.doc_id, detail=f"to the metadata after change {change_id}",
                 commit=False)
    db.session.commit()
    return doc

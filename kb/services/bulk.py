"""Bulk edits (issue 17): add or remove one code of a controlled vocabulary on several
documents at once, from a results page or the API. Editors and admins only (kb.policy);
each document's change is in its history and the audit trail, and it is re-indexed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from kb import audit, policy, vocabularies
from kb.errors import Forbidden, ValidationError
from kb.extensions import db
from kb.models import Document
from kb.services import documents, history

# The most documents one request changes (a results page holds at most 100).
MAX_DOCUMENTS = 100
ACTIONS = ("add", "remove")


@dataclass(frozen=True)
class Outcome:
    """What a bulk edit did: the documents it changed, those that already were as asked,
    and the ids it could not touch (unknown, hidden or not editable by the user)."""

    changed: tuple[int, ...]
    unchanged: tuple[int, ...]
    skipped: tuple[int, ...]


def parse_ids(values: Sequence[str]) -> list[int]:
    """Document ids as sent (a form's repeated field, or JSON numbers), checked and
    bounded; ValidationError names what is wrong."""
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if not text.isdigit() or not 0 < int(text) <= documents.MAX_DOC_ID:
            raise ValidationError(_("%(text)s is not a document number.", text=repr(text)),
                                  fields={"ids": "document numbers"})
        ids.append(int(text))
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise ValidationError(_("Select at least one document."),
                              fields={"ids": "select at least one document"})
    if len(ids) > MAX_DOCUMENTS:
        raise ValidationError(_("Select at most %(num)s documents at a time.", num=MAX_DOCUMENTS),
                              fields={"ids": f"at most {MAX_DOCUMENTS}"})
    return ids


def change_terms(user: object, doc_ids: Sequence[int], code: str, action: str,
                 vocabulary: str | None = None) -> Outcome:
    """Add (``action`` "add") or remove a code on each document (editors and admins)."""
    if not policy.can_bulk_edit(user):
        raise Forbidden(_("Only editors and admins edit several documents at once."))
    if action not in ACTIONS:
        raise ValidationError(_("The action must be add or remove, not %(action)s.",
                                action=repr(action)),
                              fields={"action": "add or remove"})
    names = [vocabulary] if vocabulary else list(vocabularies.NAMES)
    found = [(name, vocabularies.normalise(name, code)) for name in names
             if name in vocabularies.VOCABULARIES]
    matches = [(name, c) for name, c in found if c is not None]
    if not matches:
        raise ValidationError(_("%(code)s is no code of %(list)s.", code=repr(code),
                                list=repr(vocabulary)) if vocabulary else
                              _("%(code)s is no code of the vocabularies.", code=repr(code)),
                              fields={"code": "a code of /api/v1/taxonomy's gcm, sdg or area"})
    name, term = matches[0]
    if len(doc_ids) > MAX_DOCUMENTS:
        raise ValidationError(_("Select at most %(num)s documents at a time.", num=MAX_DOCUMENTS),
                              fields={"ids": f"at most {MAX_DOCUMENTS}"})
    rows = {d.doc_id: d for d in db.session.scalars(
        select(Document).where(Document.doc_id.in_(list(doc_ids)),
                               policy.viewable_documents_clause(user)))}
    changed, unchanged, skipped = [], [], []
    for doc_id in doc_ids:
        doc = rows.get(doc_id)
        if doc is None or doc.trashed_at is not None or not policy.can_edit(user, doc):
            skipped.append(doc_id)
            continue
        codes = doc.terms(name)
        if action == "add":
            wanted = codes if term in codes else [*codes, term]
        else:
            wanted = [c for c in codes if c != term]
        if wanted == codes:
            unchanged.append(doc_id)
            continue
        before = history.snapshot(doc)
        documents.set_terms(doc, {name: wanted})
        db.session.flush()
        history.record(doc, before, user, "bulk-edit", note=f"{action} {term}")
        documents.queue_index(doc)
        audit.record("bulk-edit", actor=user, target_type="document", target_id=doc_id,
                     detail=f"{action} {term}", commit=False)
        changed.append(doc_id)
    db.session.commit()
    return Outcome(tuple(changed), tuple(unchanged), tuple(skipped))

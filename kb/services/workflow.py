"""The review workflow: submitted -> published, or returned with a comment; withdrawn and
restored by editors. Each change is audited and re-indexes the document."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from kb import audit, policy, taxonomy
from kb.errors import Forbidden, ValidationError
from kb.extensions import db
from kb.models import Document
from kb.services import history, mail
from kb.services.documents import get_visible, queue_index

# action -> (states it applies to, state it leads to)
TRANSITIONS = {
    "publish": (("submitted", "returned"), "published"),
    "return": (("submitted", "published"), "returned"),
    "withdraw": (("submitted", "published", "returned"), "withdrawn"),
    "restore": (("withdrawn",), "published"),
}


def change(doc_id: int, action: str, user: object, comment: str = "") -> Document:
    """Apply a workflow action as ``user``: 404 if hidden, 403 if not a reviewer."""
    doc = get_visible(doc_id, user)
    if action not in TRANSITIONS:
        raise ValidationError(f"unknown workflow action {action!r}")
    if not policy.can_review(user):
        raise Forbidden(_("Only editors and admins review documents."))
    sources, target = TRANSITIONS[action]
    if doc.workflow not in sources:
        raise ValidationError(
            _("This cannot be done to a document in the state “%(state)s”.",
              state=taxonomy.label("workflow", doc.workflow))
        )
    # NUL is never meant and PostgreSQL refuses it in text (as kb.services.metadata does).
    comment = comment.replace("\x00", "").strip()
    if action == "return" and not comment:
        raise ValidationError(_("Say what the uploader should change."),
                              fields={"comment": "required"})
    previous = doc.workflow
    before = history.snapshot(doc)
    doc.workflow = target
    doc.workflow_comment = comment or None
    history.record(doc, before, user, action)
    queue_index(doc)
    audit.record(action, actor=user, target_type="document", target_id=doc.doc_id,
                 detail=f"{previous} -> {target}" + (f": {comment}" if comment else ""),
                 commit=False)
    mail.tell_uploader(doc, action, user)
    db.session.commit()
    return doc


def resubmit(doc: Document, user: object) -> Document:
    """Send a returned document back to the editors (its uploader, once it is changed);
    the editors are told by email. The editor's comment stays until the next decision."""
    if not policy.can_resubmit(user, doc):
        if not policy.submits(user, doc):
            raise Forbidden(_("Only the uploader resubmits a returned document."))
        raise ValidationError(
            _("The document is already waiting for review.") if doc.workflow == "submitted"
            else _("A document in the state “%(state)s” cannot be resubmitted: only a "
                   "returned one can.", state=taxonomy.label("workflow", doc.workflow)))
    before = history.snapshot(doc)
    doc.workflow = "submitted"
    history.record(doc, before, user, "resubmit")
    queue_index(doc)
    audit.record("resubmit", actor=user, target_type="document", target_id=doc.doc_id,
                 detail="returned -> submitted", commit=False)
    mail.tell_of_submission(doc, resubmitted=True)
    db.session.commit()
    return doc


def uploaded_by(user: object) -> Sequence[Document]:
    """The documents ``user`` uploaded that they may still open, newest first."""
    return db.session.scalars(
        select(Document).where(Document.uploader_id == getattr(user, "user_id", None),
                               policy.viewable_documents_clause(user))
        .order_by(Document.created_at.desc(), Document.doc_id.desc())).all()


def waiting(newest_first: bool = False) -> dict[str, list[Document]]:
    """The documents not published, by state (submitted, returned, withdrawn), each list
    by upload date: oldest first (the longest waiting) unless ``newest_first``."""
    when = Document.created_at.desc() if newest_first else Document.created_at
    order = Document.doc_id.desc() if newest_first else Document.doc_id
    rows = db.session.scalars(select(Document).where(Document.workflow != "published",
                                                     Document.trashed_at.is_(None))
                              .order_by(when, order)).all()
    by_state: dict[str, list[Document]] = {"submitted": [], "returned": [], "withdrawn": []}
    for doc in rows:
        by_state.setdefault(doc.workflow, []).append(doc)
    return by_state

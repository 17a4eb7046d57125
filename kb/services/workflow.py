"""The review workflow: submitted -> published, or returned with a comment; withdrawn and
restored by editors. Each change is audited and re-indexes the document."""

from __future__ import annotations

from kb import audit, policy
from kb.errors import Forbidden, ValidationError
from kb.extensions import db
from kb.models import Document
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
        raise Forbidden("Only editors and admins review documents.")
    sources, target = TRANSITIONS[action]
    if doc.workflow not in sources:
        raise ValidationError(
            f"A document that is {doc.workflow} cannot be {target} this way."
        )
    # NUL is never meant and PostgreSQL refuses it in text (as kb.services.metadata does).
    comment = comment.replace("\x00", "").strip()
    if action == "return" and not comment:
        raise ValidationError("Say what the uploader should change.",
                              fields={"comment": "required"})
    previous = doc.workflow
    doc.workflow = target
    doc.workflow_comment = comment or None
    queue_index(doc)
    audit.record(action, actor=user, target_type="document", target_id=doc.doc_id,
                 detail=f"{previous} -> {target}" + (f": {comment}" if comment else ""),
                 commit=False)
    db.session.commit()
    return doc

"""The audit trail: one call records who did what, when, to what and with what outcome."""

from __future__ import annotations

from flask import has_request_context, request

from kb.extensions import db
from kb.models import AuditEvent

# Every action the trail knows; record() refuses others so that typos do not hide events.
ACTIONS = frozenset({
    "upload", "metadata-edit", "publish", "return", "withdraw", "restore", "delete",
    "download-restricted", "sign-in", "sign-out", "sign-out-everywhere", "password-change",
    "role-change", "account-create", "account-disable", "account-enable",
    "group-create", "group-member-add", "group-member-remove",
    "token-create", "token-revoke", "agency-save", "reextract", "thesaurus-import",
    "resubmit", "password-reset-requested", "password-reset",
    "feature", "unfeature", "metadata-revert", "trash-restore", "purge",
    "new-version", "version-public", "version-private",
    "translation-link", "translation-unlink", "bulk-edit",
    "term-accept", "term-dismiss",
})


def record(action: str, *, actor: object = None, target_type: str | None = None,
           target_id: object = None, outcome: str = "success", detail: str | None = None,
           actor_email: str | None = None, commit: bool = True) -> AuditEvent:
    """Add one event to the trail (committed at once unless ``commit`` is False)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    authenticated = getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        actor_id=getattr(actor, "user_id", None) if authenticated else None,
        actor_email=(getattr(actor, "email", None) if authenticated else None) or actor_email,
        action=action, target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome, detail=detail,
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event

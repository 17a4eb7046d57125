"""Forgotten passwords: a signed link, sent by email, that expires and works once.

The link carries the account's id and a fingerprint of its current password hash, signed
with the secret key and dated (itsdangerous): setting a new password changes the hash, so
the link (and every other link asked for before) stops working; the date makes it expire
after PASSWORD_RESET_HOURS, measured against kb.clock.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC

from flask import current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from werkzeug.security import generate_password_hash

from kb import audit, clock
from kb.errors import ValidationError
from kb.extensions import db
from kb.models import User
from kb.services import accounts, mail, sessions

log = logging.getLogger(__name__)

SALT = "kb.password-reset"
LINK_INVALID = lazy_gettext("This link does not work: it was already used, it expired, or "
                            "it was cut short. Ask for a new one.")
LINK_EXPIRED = lazy_gettext("This link has expired. Ask for a new one.")


class _ClockSigner(TimestampSigner):
    """itsdangerous's dated signature, dated by kb's clock (which tests can move)."""

    def get_timestamp(self) -> int:
        return int(clock.now().replace(tzinfo=UTC).timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT,
                                  signer=_ClockSigner)


def fingerprint(user: User) -> str:
    """Changes whenever the account's password does (keyed: no hash material leaks)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def make_token(user: User) -> str:
    """A reset token for ``user``'s current password."""
    return _serializer().dumps({"user": user.user_id, "fp": fingerprint(user)})


def hours_text() -> str:
    hours = float(current_app.config["PASSWORD_RESET_HOURS"])
    if hours < 1:
        minutes = round(hours * 60)
        return ngettext("%(num)d minute", "%(num)d minutes", minutes)
    if hours == int(hours):
        return ngettext("%(num)d hour", "%(num)d hours", int(hours))
    return _("%(hours)s hours", hours=f"{hours:g}")


def available() -> bool:
    """Whether "forgot password" can work here: email is set up, and the site's address
    for the link is known."""
    return mail.enabled() and bool(current_app.config.get("SITE_URL"))


def request_reset(email: str) -> bool:
    """Queue a reset link to the active account of ``email``, if there is one; the
    caller answers the same either way. Returns whether a message was queued."""
    typed = accounts.normalise_email(email)[:254]
    user = accounts.find_user(typed)
    reason = None
    if user is None:
        reason = "no such account"
    elif not user.active:
        reason = "account disabled"
    elif not mail.enabled():
        reason = "email is not set up (KB_SMTP_URL)"
    elif not current_app.config.get("SITE_URL"):
        reason = "KB_SITE_URL is not set"
        log.error("A password reset was asked for, but no mail is sent without KB_SITE_URL "
                  "(the site's address, which the link starts with)")
    if user is None or reason is not None:
        audit.record("password-reset-requested", actor_email=typed, outcome="failure",
                     target_type="user" if user else None,
                     target_id=user.user_id if user else None, detail=reason)
        return False
    link = mail.site_link("auth.reset_password", token=make_token(user))
    assert link is not None  # SITE_URL is set
    with mail.in_language_of(user):
        subject = _("Choose a new password")
        body = render_template("mail/password_reset.txt", email=user.email, link=link,
                               hours=hours_text())
    mail.queue(mail.Message(user.email, subject, body))
    audit.record("password-reset-requested", actor_email=user.email, target_type="user",
                 target_id=user.user_id, commit=False)
    db.session.commit()
    return True


def user_for_token(token: str) -> User:
    """The account a reset link is for; ValidationError when it expired, was used, or
    was altered."""
    max_age = round(float(current_app.config["PASSWORD_RESET_HOURS"]) * 3600)
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as e:
        raise ValidationError(LINK_EXPIRED) from e
    except BadSignature as e:
        raise ValidationError(LINK_INVALID) from e
    user_id = data.get("user") if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active \
            or not hmac.compare_digest(str(data.get("fp", "")), fingerprint(user)):
        raise ValidationError(LINK_INVALID)
    return user


def reset_password(token: str, new_password: str) -> User:
    """Set a new password through a reset link. As with a password change, every session
    of the account ends and its API tokens are revoked; the link stops working."""
    user = user_for_token(token)
    accounts.check_password(new_password, user.email)
    user.password_hash = generate_password_hash(new_password)
    ended = sessions.end_all(user)
    revoked = accounts.revoke_all_tokens(user)
    audit.record("password-reset", actor=user, target_type="user", target_id=user.user_id,
                 detail=f"sessions_ended={ended}; tokens_revoked={revoked}", commit=False)
    db.session.commit()
    return user

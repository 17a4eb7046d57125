"""Browser sessions kept server-side: sign-out ends one for good, and each has an idle and
an absolute lifetime (``SESSION_IDLE_MINUTES``, ``SESSION_MAX_HOURS``).

The signed session cookie carries a random secret; the database keeps its SHA-256 with
the account and the session's times. A session is live while its row says so, so a copy
of the cookie taken before sign-out, or after the lifetime, opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from kb import clock
from kb.extensions import db
from kb.models import User, UserSession

# last_seen_at is written at most this often: idle expiry is exact to within this much,
# and a busy reader's clicks cost no write each.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def idle_lifetime() -> timedelta:
    return timedelta(minutes=float(current_app.config["SESSION_IDLE_MINUTES"]))


def max_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config["SESSION_MAX_HOURS"]))


def start(user: User) -> str:
    """Open a session for the user; returns its secret (for the cookie, never stored)."""
    now = clock.now()
    # The account's dead sessions are of no further use: drop them while we are here.
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user.user_id,
        or_(UserSession.ended_at.is_not(None),
            UserSession.last_seen_at < now - idle_lifetime(),
            UserSession.created_at < now - max_lifetime())))
    secret = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.user_id, secret_hash=_hash(secret),
                               created_at=now, last_seen_at=now))
    db.session.commit()
    return secret


def resume(user_id: str, secret: str) -> User | None:
    """The account of a live session (its last use noted); None for an ended, expired or
    unknown one, or a disabled account."""
    row = db.session.scalar(select(UserSession).where(UserSession.secret_hash == _hash(secret)))
    if row is None or row.ended_at is not None or str(row.user_id) != user_id:
        return None
    now = clock.now()
    if now - row.last_seen_at > idle_lifetime() or now - row.created_at > max_lifetime():
        row.ended_at = now
        db.session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return user


def end(secret: str | None) -> None:
    """End one session (sign-out)."""
    if not secret:
        return
    db.session.execute(update(UserSession)
                       .where(UserSession.secret_hash == _hash(secret),
                              UserSession.ended_at.is_(None))
                       .values(ended_at=clock.now()))
    db.session.commit()


def end_all(user: User) -> int:
    """End every session of the account (no commit: the caller's change commits it)."""
    result = db.session.execute(update(UserSession)
                                .where(UserSession.user_id == user.user_id,
                                       UserSession.ended_at.is_(None))
                                .values(ended_at=clock.now())
                                .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)

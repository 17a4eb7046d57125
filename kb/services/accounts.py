"""Accounts, passwords, sessions and API tokens; each change is written to the audit trail."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from kb import audit, taxonomy
from kb.errors import Forbidden, NotFound, ValidationError
from kb.extensions import db
from kb.models import ROLES, Agency, ApiToken, User, utcnow
from kb.services import sessions

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 10
# Hashing a huge "password" costs the server; nobody types more than this.
MAX_PASSWORD = 1024
# zxcvbn's scores run from 0 (guessable in a few tries) to 4; 2 resists online guessing.
MIN_PASSWORD_SCORE = 2
# zxcvbn only looks at this many characters (and refuses longer input).
ZXCVBN_MAX = 72
WEAK_PASSWORD = lazy_gettext("This password is too common or too easy to guess: choose a "
                             "longer or less predictable one, for example a few unrelated "
                             "words.")
TOKEN_PREFIX = "kb_"

# zxcvbn keeps the caller's words in a module-level dictionary: one check at a time.
_zxcvbn_lock = threading.Lock()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str = "") -> None:
    """Refuse a password that is too short, too long, too common or too easy to guess."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(_("The password needs at least %(num)d characters.",
                                num=MIN_PASSWORD),
                              fields={"password": "too short"})
    if len(password) > MAX_PASSWORD:
        raise ValidationError(_("The password may have at most %(num)d characters.",
                                num=MAX_PASSWORD),
                              fields={"password": "too long"})
    if _too_guessable(password, email):
        raise ValidationError(WEAK_PASSWORD, fields={"password": "too common"})


def _too_guessable(password: str, email: str) -> bool:
    # The account's own email and the site's name are the first things an attacker tries.
    local, _, domain = normalise_email(email).partition("@")
    words = [w for w in (local, domain, *re.split(r"[^a-z0-9]+", email.lower()),
                         "kb", "knowledge", "migration", "development") if w]
    if password.strip().lower() in {normalise_email(email), local}:
        return True
    with _zxcvbn_lock:
        result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=words)
    if result["score"] < MIN_PASSWORD_SCORE:
        return True
    # A whole password that is one entry of the common-password list (even reversed or in
    # l33t) is refused whatever its score.
    sequence = result["sequence"]
    return len(sequence) == 1 and sequence[0].get("dictionary_name") == "passwords"


def create_user(email: str, password: str, role: str, *, actor: object = None,
                via: str | None = None) -> User:
    """Add an account; the password is checked, then stored hashed (scrypt)."""
    email = normalise_email(email)
    if not EMAIL.match(email) or len(email) > 254:
        raise ValidationError(_("%(email)r is not an email address.", email=email),
                              fields={"email": "invalid"})
    if role not in ROLES:
        raise ValidationError(_("role must be one of %(roles)s", roles=", ".join(ROLES)),
                              fields={"role": role})
    check_password(password, email)
    if find_user(email) is not None:
        raise ValidationError(_("An account for %(email)s exists already.", email=email),
                              fields={"email": "taken"})
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.flush()
    audit.record("account-create", actor=actor, target_type="user", target_id=user.user_id,
                 detail=_detail(email=email, role=role, via=via), commit=False)
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such account."))
    return user


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt; ``reason`` is for the audit trail only."""

    user: User | None
    reason: str


def check_credentials(email: str, password: str) -> SignIn:
    """Check a sign-in attempt; every failure takes the same time and gives no user."""
    user = find_user(email)
    if user is None:
        # Spend the same time as a real check, so timing does not reveal accounts.
        check_password_hash(_DUMMY_HASH, password)
        return SignIn(None, "no such account")
    if not check_password_hash(user.password_hash, password):
        return SignIn(None, "wrong password")
    if not user.active:
        return SignIn(None, "account disabled")
    return SignIn(user, "")


def sign_in(email: str, password: str) -> User | None:
    """Check the credentials and record the attempt (never the password) in the trail."""
    attempt = check_credentials(email, password)
    if attempt.user is None:
        audit.record("sign-in", outcome="failure", actor_email=normalise_email(email)[:254],
                     detail=attempt.reason)
    else:
        audit.record("sign-in", actor=attempt.user, target_type="user",
                     target_id=attempt.user.user_id)
    return attempt.user


def record_sign_out(user: User) -> None:
    audit.record("sign-out", actor=user, target_type="user", target_id=user.user_id)


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def count_users() -> int:
    return int(db.session.scalar(select(func.count()).select_from(User)) or 0)


def set_role(user: User, role: str, *, actor: object = None) -> None:
    """Change an account's role."""
    if role not in ROLES:
        raise ValidationError(_("role must be one of %(roles)s", roles=", ".join(ROLES)))
    if role == user.role:
        return
    before, user.role = user.role, role
    audit.record("role-change", actor=actor, target_type="user", target_id=user.user_id,
                 detail=_detail(email=user.email, before=before, after=role), commit=False)
    db.session.commit()


def set_active(user: User, active: bool, *, actor: object = None) -> None:
    """Disable or re-enable an account. Disabling ends its sessions and revokes its API
    tokens for good: re-enabling brings neither back (new ones are made)."""
    if not active and getattr(actor, "user_id", None) == user.user_id:
        raise Forbidden(_("You cannot disable your own account."))
    if user.active == active:
        return
    user.active = active
    detail = _detail(email=user.email)
    if not active:
        ended = sessions.end_all(user)
        revoked = revoke_all_tokens(user)
        detail = _detail(email=user.email, sessions_ended=str(ended),
                         tokens_revoked=str(revoked))
    audit.record("account-enable" if active else "account-disable", actor=actor,
                 target_type="user", target_id=user.user_id, detail=detail, commit=False)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    """Replace the password after checking the current one.

    Every session of the account ends and every API token is revoked: a password is changed
    when it may be known to someone else, who may have made sessions and tokens with it.
    """
    if not check_password_hash(user.password_hash, current):
        audit.record("password-change", actor=user, target_type="user",
                     target_id=user.user_id, outcome="failure",
                     detail="wrong current password")
        raise ValidationError(_("The current password is not right."),
                              fields={"current_password": "wrong"})
    try:
        check_password(new, user.email)
    except ValidationError as e:
        raise ValidationError(e.message, fields={"new_password": e.fields["password"]}) from e
    user.password_hash = generate_password_hash(new)
    ended = sessions.end_all(user)
    revoked = revoke_all_tokens(user)
    audit.record("password-change", actor=user, target_type="user", target_id=user.user_id,
                 detail=_detail(sessions_ended=str(ended), tokens_revoked=str(revoked)),
                 commit=False)
    db.session.commit()


def sign_out_everywhere(user: User) -> None:
    """End every session of the account, this one included (API tokens are not touched)."""
    sessions.end_all(user)
    audit.record("sign-out-everywhere", actor=user, target_type="user",
                 target_id=user.user_id, commit=False)
    db.session.commit()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(user: User, name: str | None = None, *, actor: object = None,
                via: str | None = None) -> tuple[ApiToken, str]:
    """A new API token for the user: the secret is returned once, only its hash is kept."""
    name = " ".join((name or "").split())[:100] or None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.user_id, token_hash=_hash_token(token), name=name)
    db.session.add(row)
    db.session.flush()
    audit.record("token-create", actor=actor, target_type="token", target_id=row.token_id,
                 detail=_detail(owner=user.email, name=name, via=via), commit=False)
    db.session.commit()
    return row, token


def create_token(user: User, name: str | None = None, *, actor: object = None,
                 via: str | None = None) -> str:
    """A new API token for the user: returned once, only its hash is kept."""
    return issue_token(user, name, actor=actor, via=via)[1]


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (hashes only: the secrets are never kept)."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.user_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.token_id.desc())))


def user_for_token(token: str) -> User | None:
    """The owner of a valid, unrevoked token."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _hash_token(token.strip()),
                               ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    return row.user


def revoke_all_tokens(user: User) -> int:
    """Revoke every live token of the account (no commit); returns how many."""
    now = utcnow()
    live = [t for t in tokens_of(user) if t.revoked_at is None]
    for row in live:
        row.revoked_at = now
    return len(live)


def revoke_token(user: User | None, token_id: int, *, actor: object = None,
                 via: str | None = None) -> ApiToken:
    """Revoke a token of ``user`` (any user's when None: the operator's command line)."""
    row = db.session.get(ApiToken, token_id)
    if row is None or (user is not None and row.user_id != user.user_id):
        raise NotFound(_("No such token."))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record("token-revoke", actor=actor, target_type="token", target_id=token_id,
                     detail=_detail(owner=row.user.email, name=row.name, via=via),
                     commit=False)
        db.session.commit()
    return row


def _detail(**parts: str | None) -> str:
    return "; ".join(f"{k}={v}" for k, v in parts.items() if v)


def seed_agencies() -> int:
    """Add the seed agencies that are missing; returns how many were added."""
    have = set(db.session.scalars(select(Agency.code)))
    added = 0
    for term in taxonomy.AGENCY_SEED:
        if term.code not in have:
            db.session.add(Agency(code=term.code, label=term.label))
            added += 1
    db.session.commit()
    return added


def agencies() -> list[Agency]:
    return list(db.session.scalars(select(Agency).order_by(Agency.code)))


def save_agency(code: str, label: str) -> Agency:
    """Add an agency or change its label (admins only: checked by the caller's policy)."""
    code, label = code.strip(), " ".join(label.split())
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,39}", code):
        raise ValidationError(_("An agency code is its acronym: letters, digits and hyphens."),
                              fields={"code": "invalid"})
    if not label:
        raise ValidationError(_("An agency needs a label."), fields={"label": "required"})
    agency = db.session.get(Agency, code) or Agency(code=code, label=label)
    agency.label = label
    db.session.add(agency)
    db.session.commit()
    return agency

"""Accounts and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from kb import taxonomy
from kb.errors import NotFound, ValidationError
from kb.extensions import db
from kb.models import ROLES, Agency, ApiToken, User, utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "kb_"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, role: str) -> User:
    """Add an account; the password is stored hashed (scrypt)."""
    email = normalise_email(email)
    if not EMAIL.match(email):
        raise ValidationError(f"{email!r} is not an email address.", fields={"email": "invalid"})
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", fields={"role": role})
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"The password needs at least {MIN_PASSWORD} characters.",
                              fields={"password": "too short"})
    if find_user(email) is not None:
        raise ValidationError(f"An account for {email} exists already.",
                              fields={"email": "taken"})
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    db.session.add(user)
    db.session.commit()
    return user


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active account with these credentials, else None (same answer for every failure)."""
    user = find_user(email)
    if user is None:
        # Spend the same time as a real check, so timing does not reveal accounts.
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password")


def count_users() -> int:
    return int(db.session.scalar(select(func.count()).select_from(User)) or 0)


def set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    user.role = role
    db.session.commit()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str | None = None) -> str:
    """A new API token for the user: returned once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.user_id, token_hash=_hash_token(token), name=name))
    db.session.commit()
    return token


def user_for_token(token: str) -> User | None:
    """The owner of a valid, unrevoked token."""
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _hash_token(token.strip()),
                               ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    return row.user


def revoke_token(user: User, token_id: int) -> None:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.user_id:
        raise NotFound("No such token.")
    row.revoked_at = utcnow()
    db.session.commit()


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
        raise ValidationError("An agency code is its acronym: letters, digits and hyphens.",
                              fields={"code": "invalid"})
    if not label:
        raise ValidationError("An agency needs a label.", fields={"label": "required"})
    agency = db.session.get(Agency, code) or Agency(code=code, label=label)
    agency.label = label
    db.session.add(agency)
    db.session.commit()
    return agency

"""The access policy: the one place that decides what a user may see and do.

Every way in (pages, API, downloads, search, the CLI) asks this module; nothing else
compares roles or access levels.
"""

from __future__ import annotations

from typing import Protocol

from kb.search import Visibility


class Actor(Protocol):
    """A user as the policy sees it; anonymous visitors have no role."""

    @property
    def is_authenticated(self) -> bool: ...


def role_of(user: object) -> str | None:
    """The user's role, or None for an anonymous visitor or a disabled account."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "active", True):
        return None
    return str(getattr(user, "role", None) or "reader")


def visibility(user: object) -> Visibility:
    """The documents a user may find: the search filter built from it runs inside Whoosh."""
    role = role_of(user)
    if role is None:
        return Visibility(access_levels=frozenset({"public"}))
    if role in ("admin", "editor"):
        return Visibility(access_levels=None)
    return Visibility(access_levels=frozenset({"public", "internal"}))


def can_view(user: object, doc: object) -> bool:
    """Whether the user may see the document's page, metadata and file."""
    levels = visibility(user).access_levels
    return levels is None or getattr(doc, "access", None) in levels


def can_upload(user: object) -> bool:
    return role_of(user) in ("admin", "editor", "contributor")


def can_edit(user: object, doc: object) -> bool:
    """Editors and admins edit any document's metadata."""
    return role_of(user) in ("admin", "editor")


def can_admin(user: object) -> bool:
    """Admins manage users and the controlled lists."""
    return role_of(user) == "admin"

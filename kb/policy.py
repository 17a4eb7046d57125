"""The access policy: the one place that decides what a user may see and do.

Every way in (pages, API, downloads, search and its facets and snippets, the CLI) asks
this module; nothing else compares roles, access levels, groups or workflow states.
Refusals: a document the user may not see does not exist for them (404); an action on
a document they can see but may not act on is forbidden (403).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, true

from kb.models import Document, DocumentGroup, User
from kb.search import Visibility

REVIEWERS = ("admin", "editor")
UPLOADERS = ("admin", "editor", "contributor")


def role_of(user: object) -> str | None:
    """The user's role, or None for an anonymous visitor or a disabled account."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not getattr(user, "active", True):
        return None
    return str(getattr(user, "role", None) or "reader")


def _user_id(user: object) -> int | None:
    return getattr(user, "user_id", None) if role_of(user) else None


def _group_ids(user: object) -> frozenset[int]:
    if role_of(user) is None:
        return frozenset()
    return frozenset(g.group_id for g in getattr(user, "groups", []))


def visibility(user: object) -> Visibility:
    """The documents a user may find; the search applies it inside the Whoosh query."""
    role = role_of(user)
    if role in REVIEWERS:
        return Visibility(all_states=True)
    if role is None:
        return Visibility(access_levels=frozenset({"public"}))
    return Visibility(access_levels=frozenset({"public", "internal"}),
                      group_ids=_group_ids(user), uploader_id=_user_id(user))


def visible_documents_clause(user: object) -> ColumnElement[bool]:
    """``visibility`` as a SQL condition on Document: the same documents, for queries that
    list titles or themes outside the search index (suggestions)."""
    return _documents_clause(user, withdrawn_for_reviewers=False)


def viewable_documents_clause(user: object) -> ColumnElement[bool]:
    """``can_view`` as a SQL condition on Document: the documents whose page the user may
    open (editors' include withdrawn ones). A hidden document and a missing id then cost
    the same single statement (kb.services.documents.get_visible)."""
    return _documents_clause(user, withdrawn_for_reviewers=True)


def _documents_clause(user: object, *, withdrawn_for_reviewers: bool) -> ColumnElement[bool]:
    # A document in the trash is in no one's view: not a page, a search, a list, a feed
    # or a harvest; admins reach it only through the trash (kb.services.trash).
    return and_(Document.trashed_at.is_(None),
                _visible_clause(user, withdrawn_for_reviewers=withdrawn_for_reviewers))


def _visible_clause(user: object, *, withdrawn_for_reviewers: bool) -> ColumnElement[bool]:
    seen = visibility(user)
    not_withdrawn = Document.workflow != "withdrawn"
    if seen.all_states:
        return true() if withdrawn_for_reviewers else not_withdrawn
    allowed: list[ColumnElement[bool]] = []
    if seen.access_levels:
        allowed.append(Document.access.in_(sorted(seen.access_levels)))
    if seen.group_ids:
        allowed.append(and_(Document.access == "restricted", Document.group_rows.any(
            DocumentGroup.group_id.in_(sorted(seen.group_ids)))))
    visible: list[ColumnElement[bool]] = []
    if allowed:
        visible.append(and_(Document.workflow == "published", or_(*allowed)))
    if seen.uploader_id is not None:
        visible.append(and_(Document.uploader_id == seen.uploader_id, not_withdrawn))
    return or_(*visible) if visible else false()


def harvestable_clause() -> ColumnElement[bool]:
    """The documents every channel to the outside (OAI-PMH, the sitemap, feeds) may expose,
    whoever asks: an anonymous visitor's view, published and public ones."""
    return visible_documents_clause(None)


def is_harvestable(doc: object) -> bool:
    """``harvestable_clause`` for one loaded document."""
    return can_view(None, doc)


def can_view(user: object, doc: object) -> bool:
    """Whether the user may know the document exists: its page, metadata and API answer.
    Nobody's for a document in the trash (admins open it there: ``can_manage_trash``)."""
    if getattr(doc, "trashed_at", None) is not None:
        return False
    role = role_of(user)
    workflow = getattr(doc, "workflow", "published")
    if role in REVIEWERS:
        return True  # withdrawn ones too: editors restore them
    if workflow == "withdrawn":
        return False
    if role is not None and getattr(doc, "uploader_id", None) == _user_id(user):
        return True
    if workflow != "published":
        return False
    access = getattr(doc, "access", None)
    if access == "public":
        return True
    if access == "internal":
        return role is not None
    if access == "restricted":
        return bool(_group_ids(user) & set(getattr(doc, "group_ids", ())))
    return False


def sees_every_group(user: object) -> bool:
    """Editors and admins see (and choose) every group's name; others only those of the
    groups they belong to."""
    return role_of(user) in REVIEWERS


def member_group_ids(user: object) -> frozenset[int]:
    """The groups a (signed-in, active) user belongs to."""
    return _group_ids(user)


def can_download(user: object, doc: object) -> bool:
    """Files of withdrawn documents are not served, not even to editors (restore first)."""
    return can_view(user, doc) and getattr(doc, "workflow", "published") != "withdrawn"


def can_upload(user: object) -> bool:
    return role_of(user) in UPLOADERS


def publishes_directly(user: object) -> bool:
    """Editors' and admins' uploads are published at once; contributors' are submitted."""
    return role_of(user) in REVIEWERS


def can_review(user: object) -> bool:
    """Publish, return, withdraw and restore documents."""
    return role_of(user) in REVIEWERS


def can_feature(user: object) -> bool:
    """Mark and unmark documents as featured tools and methodologies (the home page)."""
    return role_of(user) in REVIEWERS


def can_see_usage(user: object) -> bool:
    """Read the usage statistics (kb.services.usage): page views and downloads a day, of
    the documents the user may see."""
    return role_of(user) in REVIEWERS


def can_bulk_edit(user: object) -> bool:
    """Add or remove a vocabulary's code on several documents at once, from a results
    page (editors and admins: a contributor edits only their own, one at a time)."""
    return role_of(user) in REVIEWERS


def can_edit(user: object, doc: object) -> bool:
    """Editors edit any document; uploaders edit their own until it is published."""
    role = role_of(user)
    if role in REVIEWERS:
        return True
    return (role in UPLOADERS and getattr(doc, "uploader_id", None) == _user_id(user)
            and getattr(doc, "workflow", None) in ("submitted", "returned"))


def can_add_version(user: object, doc: object) -> bool:
    """Send a new file to a document: editors and admins to any they can see; its uploader
    to their own, in any state but withdrawn (a published one goes back to review)."""
    if not can_view(user, doc):
        return False
    if role_of(user) in REVIEWERS:
        return True
    return submits(user, doc) and getattr(doc, "workflow", None) != "withdrawn"


def version_needs_review(user: object, doc: object) -> bool:
    """A new version sent by someone who does not publish directly takes a published
    document back to review (readers lose it until an editor publishes it again)."""
    return not publishes_directly(user) and getattr(doc, "workflow", None) == "published"


def can_see_version(user: object, doc: object, file: object) -> bool:
    """The current file follows the document; an older version is for those who can edit
    the document, and for anyone who can see the document once an editor made it public.
    Admins see every version of a document in the trash."""
    if getattr(doc, "trashed_at", None) is not None:
        return can_manage_trash(user)
    if not can_view(user, doc):
        return False
    files = getattr(doc, "files", None) or []
    if files and file is files[-1]:
        return True
    return can_edit(user, doc) or bool(getattr(file, "public", False))


def can_publish_version(user: object, doc: object) -> bool:
    """Make an older version downloadable by readers (or private again): editors, admins."""
    return role_of(user) in REVIEWERS and can_view(user, doc)


def can_resubmit(user: object, doc: object) -> bool:
    """A returned document goes back to the editors when its uploader says so."""
    return submits(user, doc) and getattr(doc, "workflow", None) == "returned"


def submits(user: object, doc: object) -> bool:
    """Whether the user is the one who sends this document (back) for review, whatever its
    state now: its uploader, in a role that uploads."""
    return (role_of(user) in UPLOADERS
            and getattr(doc, "uploader_id", None) == _user_id(user))


def told_of_submissions(fallback: bool = False) -> ColumnElement[bool]:
    """The accounts emailed about a new submission (a condition on User): the active
    editors; with ``fallback``, for an instance without editors, the active admins."""
    return and_(User.active.is_(True), User.role == ("admin" if fallback else "editor"))


def sees_processing(user: object, doc: object) -> bool:
    """Whether the document's processing state, extraction failures and their remedies are
    shown to the user (and its page refreshes while processing): its uploader, editors and
    admins, who can act on them. Others only learn whether its text is searchable."""
    role = role_of(user)
    if role in REVIEWERS:
        return True
    uploader = getattr(doc, "uploader_id", None)
    return role is not None and uploader is not None and uploader == _user_id(user)


def can_delete(user: object) -> bool:
    """Deleting a (withdrawn) document, into the trash, is for admins."""
    return role_of(user) == "admin"


def can_manage_trash(user: object) -> bool:
    """Admins list the trash, open a document in it, restore it or purge it."""
    return role_of(user) == "admin"


def can_see_history(user: object, doc: object) -> bool:
    """A document's history of changes is shown to editors, admins and its uploader."""
    if not can_view(user, doc) and not (can_manage_trash(user)
                                        and getattr(doc, "trashed_at", None) is not None):
        return False
    role = role_of(user)
    if role in REVIEWERS:
        return True
    uploader = getattr(doc, "uploader_id", None)
    return role is not None and uploader is not None and uploader == _user_id(user)


def can_revert(user: object, doc: object) -> bool:
    """Editors and admins put a document's metadata back as they were after a change (not
    while it is in the trash: restore it first)."""
    return role_of(user) in REVIEWERS and can_view(user, doc)


def can_link_translation(user: object, doc: object) -> bool:
    """Editors and admins link a document as a language version of another (and unlink it)."""
    return role_of(user) in REVIEWERS and can_view(user, doc)


def can_decide_suggestions(user: object, doc: object) -> bool:
    """Editors and admins see the GCM objectives and SDG targets proposed from a document's
    text, and accept or dismiss them (readers and contributors never see them)."""
    return role_of(user) in REVIEWERS and can_view(user, doc)


def can_admin(user: object) -> bool:
    """Admins manage users, groups, the controlled lists and read the audit trail."""
    return role_of(user) == "admin"


def is_sensitive(doc: object) -> bool:
    """Downloads of these are recorded in the audit trail."""
    return getattr(doc, "access", None) == "restricted"

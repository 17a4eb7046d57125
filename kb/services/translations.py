"""Language versions of one work (issue 18): a document linked as a translation of another.

A work is an original plus every document whose ``translation_of`` names it (one level:
an original is never itself a translation). Its key, ``work_id``, is the original's id;
the search index stores it. Editors and admins link and unlink (kb.policy); each change
goes into the document's history and the audit trail. Readers only ever see the members
of a work they may view (``members`` asks with kb.policy's clause inside the query).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pycountry
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select

from kb import audit, policy, taxonomy
from kb.errors import Forbidden, Gone, NotFound, ValidationError
from kb.extensions import db
from kb.i18n import RTL
from kb.models import Document
from kb.services import documents, history


def work_id(doc: Document) -> int:
    """The key of the document's work: its original's id (its own, for an original)."""
    return doc.translation_of or doc.doc_id


def members(doc: Document, user: object) -> list[Document]:
    """The other documents of the document's work that the user may view, by language."""
    key = work_id(doc)
    return list(db.session.scalars(select(Document).where(
        or_(Document.doc_id == key, Document.translation_of == key),
        Document.doc_id != doc.doc_id, policy.viewable_documents_clause(user))
        .order_by(Document.language, Document.doc_id)))


def visible_original(doc: Document, user: object) -> int | None:
    """The id of the document's original when the user may view it; else None (a hidden
    original is never named)."""
    if doc.translation_of is None:
        return None
    return db.session.scalar(select(Document.doc_id).where(
        Document.doc_id == doc.translation_of, policy.viewable_documents_clause(user)))


@cache
def endonym(code: str) -> str:
    """A language's name for itself ("Français", "Русский", "العربية"): kb.taxonomy's."""
    return taxonomy.native_name(code)


def direction(code: str | None) -> str:
    """The writing direction of a language ("rtl" or "ltr")."""
    return "rtl" if code in RTL else "ltr"


def _label(code: str | None) -> str:
    """A language's name in the interface's language (ISO 639's English name in English)."""
    shown = get_locale()
    if code and shown is not None and shown.language != "en":
        name = shown.languages.get(code)
        if name:
            return str(name)
    lang = pycountry.languages.get(alpha_2=code) if code else None
    return lang.name if lang is not None else str(code)


def _target(original_id: int, user: object) -> Document:
    try:
        return documents.get_visible(original_id, user)
    except (NotFound, Gone) as e:
        raise ValidationError(
            _("There is no document #%(id)s to link to: check the number (documents in the "
              "trash cannot be linked).", id=original_id),
            fields={"original": "no such document"}) from e


def _editable(doc_id: int, user: object) -> Document:
    doc = documents.get_visible(doc_id, user)
    if not policy.can_link_translation(user, doc):
        raise Forbidden(_("Only editors and admins link and unlink translations."))
    return doc


def link(doc_id: int, original_id: int, user: object) -> Document:
    """Record document ``doc_id`` as a translation of ``original_id`` (editors); a
    translation linked to another original moves to that one."""
    doc = _editable(doc_id, user)
    if original_id == doc.doc_id:
        raise ValidationError(_("A document cannot be a translation of itself."),
                              fields={"original": "the same document"})
    original = _target(original_id, user)
    if original.translation_of is not None:
        raise ValidationError(
            _("#%(id)s is itself a translation of #%(original)s: link to #%(original)s "
              "instead.", id=original.doc_id, original=original.translation_of),
            fields={"original": "a translation"})
    own = db.session.execute(select(Document.doc_id, Document.trashed_at).where(
        Document.translation_of == doc.doc_id).order_by(Document.doc_id)).all()
    live = [doc_id for doc_id, trashed_at in own if trashed_at is None]
    if live:
        raise ValidationError(
            _("#%(id)s has translations of its own (%(ids)s): unlink them first, or link "
              "them to #%(original)s.", id=doc.doc_id, ids=_ids(live), original=original.doc_id),
            fields={"original": "has translations"})
    if own:  # only in the trash: named to those who manage it
        raise ValidationError(
            _("#%(id)s has translations of its own in the trash (%(ids)s): restore and unlink "
              "them, or purge them, first.", id=doc.doc_id, ids=_ids([i for i, _t in own]))
            if policy.can_manage_trash(user) else
            _("#%(id)s has translations of its own in the trash: an administrator restores "
              "and unlinks them, or purges them, first.", id=doc.doc_id),
            fields={"original": "has translations in the trash"})
    for d in (doc, original):
        if not d.language:
            raise ValidationError(_("Give #%(id)s a language first (edit its metadata).",
                                    id=d.doc_id),
                                  fields={"original": "no language"})
    if doc.language == original.language:
        raise ValidationError(
            _("#%(id)s and #%(original)s are both in %(language)s: a translation is in "
              "another language.", id=doc.doc_id, original=original.doc_id,
              language=_label(doc.language)),
            fields={"original": "same language"})
    if doc.translation_of == original.doc_id:
        return doc  # already so: nothing changes, nothing is recorded
    for other in db.session.scalars(select(Document).where(
            Document.translation_of == original.doc_id, Document.doc_id != doc.doc_id,
            Document.trashed_at.is_(None)).order_by(Document.doc_id)):
        if other.language == doc.language:
            raise ValidationError(
                (_("The work already has an %(language)s version: #%(id)s.",
                   language=_label(doc.language), id=other.doc_id) if _an(doc.language)
                 else _("The work already has a %(language)s version: #%(id)s.",
                        language=_label(doc.language), id=other.doc_id)),
                fields={"original": "language taken"})
    before_doc = history.snapshot(doc)
    was = doc.translation_of
    doc.translation_of = original.doc_id
    history.record(doc, before_doc, user, "translation-link",
                   extra={"translation_of": [was, original.doc_id]})
    documents.queue_index(doc)
    audit.record("translation-link", actor=user, target_type="document",
                 target_id=doc.doc_id,
                 detail=f"#{doc.doc_id} ({doc.language}) is a translation of "
                        f"#{original.doc_id} ({original.language})"
                        + (f"; was of #{was}" if was is not None else ""),
                 commit=False)
    db.session.commit()
    return doc


def check_language(doc: Document, language: str | None, user: object) -> None:
    """Refuse a metadata change that would leave a linked document without a language, or
    give it one its work already has (naming that version only if the user may see it)."""
    if language == doc.language:
        return
    key = work_id(doc)
    others = db.session.scalars(select(Document).where(
        or_(Document.doc_id == key, Document.translation_of == key),
        Document.doc_id != doc.doc_id, Document.trashed_at.is_(None))).all()
    if not others:
        return
    if not language:
        raise ValidationError(_("Please correct the metadata: a language version needs its "
                                "language (remove its translation links first)."),
                              fields={"language": "required in a work"})
    for other in others:
        if other.language == language:
            name = _label(language)
            if policy.can_view(user, other):
                problem = (_("the work already has an %(language)s version: #%(id)s.",
                             language=name, id=other.doc_id) if _an(language) else
                           _("the work already has a %(language)s version: #%(id)s.",
                             language=name, id=other.doc_id))
            else:
                problem = (_("the work already has an %(language)s version.", language=name)
                           if _an(language) else
                           _("the work already has a %(language)s version.", language=name))
            raise ValidationError(_("Please correct the metadata: %(problem)s", problem=problem),
                                  fields={"language": "already in the work"})


def _an(code: str | None) -> str:
    return "n" if _label(code)[:1] in "AEIOU" else ""


def unlink(doc_id: int, user: object) -> Document:
    """Make a translation a work of its own again (editors)."""
    doc = _editable(doc_id, user)
    if doc.translation_of is None:
        raise ValidationError(
            _("#%(id)s is not linked as a translation; to separate one of its translations, "
              "remove the link on that translation's page.", id=doc.doc_id))
    before = history.snapshot(doc)
    was = doc.translation_of
    doc.translation_of = None
    history.record(doc, before, user, "translation-unlink", extra={"translation_of": [was, None]})
    documents.queue_index(doc)
    audit.record("translation-unlink", actor=user, target_type="document",
                 target_id=doc.doc_id,
                 detail=f"#{doc.doc_id} is no longer a translation of #{was}", commit=False)
    db.session.commit()
    return doc


def hand_over(original: Document, user: object) -> None:
    """Before an original is purged: its oldest remaining translation (one out of the
    trash if any) becomes the work's original, and the others its translations (no
    commit; the purge commits)."""
    rest = db.session.scalars(select(Document).where(
        Document.translation_of == original.doc_id)
        .order_by(Document.trashed_at.is_not(None), Document.doc_id)).all()
    if not rest:
        return
    heir = rest[0]
    for doc in rest:
        before = history.snapshot(doc)
        new = None if doc is heir else heir.doc_id
        doc.translation_of = new
        history.record(doc, before, user, "translation-link",
                       extra={"translation_of": [original.doc_id, new]},
                       note=f"the original #{original.doc_id} was purged")
        documents.queue_index(doc)
    others = [d.doc_id for d in rest[1:]]
    audit.record("translation-link", actor=user, target_type="document",
                 target_id=heir.doc_id,
                 detail=f"#{heir.doc_id} is the original of the work of purged "
                        f"#{original.doc_id}"
                        + (f"; its translations {_ids(others)}" if others else ""),
                 commit=False)


def parse_reference(text: str, host: str | None = None) -> int:
    """A document number as an editor types it: "12", "#12", "/documents/12/slug" or a
    full URL of this site."""
    from urllib.parse import urlsplit

    value = text.strip()
    if value.startswith("#"):
        value = value[1:].strip()
    if value.isdigit():
        return _number(value)
    parts = urlsplit(value)
    if parts.netloc and host is not None and parts.netloc.lower() != host.lower():
        raise ValidationError(_("Give a document number, or the address of a document of "
                                "this site."), fields={"original": "another site"})
    path = [p for p in parts.path.split("/") if p]
    if len(path) >= 2 and path[0] == "documents" and path[1].isdigit():
        return _number(path[1])
    raise ValidationError(_("Give the original's number (such as 12 or #12) or its address "
                            "(/documents/12/...)."), fields={"original": "not a document"})


def _number(digits: str) -> int:
    number = int(digits)
    if not 0 < number <= documents.MAX_DOC_ID:
        raise ValidationError(_("There is no document #%(num)s to link to.", num=number),
                              fields={"original": "no such document"})
    return number


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)

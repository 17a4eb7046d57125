"""What feed readers see: the newest public documents (/feed.atom) and the newest of any
search (/search.atom), with each one's last change.

A feed URL is shared and read without cookies, so whoever asks, a feed holds what an
anonymous visitor may see: public, published documents (kb.policy.harvestable_clause),
the channel rule of OAI-PMH and the sitemap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from kb import policy
from kb.errors import QueryError
from kb.extensions import db
from kb.models import Document, HarvestRecord
from kb.services import searching

# Entries a feed holds unless ?per_page asks otherwise, and at most.
DEFAULT_ENTRIES, MAX_ENTRIES = 20, 50
# The parameters of /search a feed ignores: it is always the first page, newest first.
IGNORED = ("page", "sort")


@dataclass(frozen=True)
class Entry:
    doc: Document
    # The last change of what outsiders see (the OAI-PMH datestamp).
    updated: datetime


@dataclass(frozen=True)
class Feed:
    entries: tuple[Entry, ...]
    # The repository's last change as outsiders see it (a document added, changed,
    # withdrawn or deleted): never earlier than an entry's, and never going back, so that
    # a reader's If-Modified-Since cannot keep a feed that lost an entry.
    updated: datetime
    # How many documents the search finds (None for the feed of the whole repository).
    total: int | None = None
    per_page: int = DEFAULT_ENTRIES


def entry_count(args: Mapping[str, Sequence[str]]) -> int:
    """The feed's size: ?per_page, 1 to MAX_ENTRIES, DEFAULT_ENTRIES without it."""
    values = [v for v in args.get("per_page", ()) if v.strip()]
    if not values:
        return DEFAULT_ENTRIES
    try:
        count = int(values[-1])
    except ValueError as e:
        raise QueryError(_("per_page must be a whole number, not %(value)r",
                           value=values[-1])) from e
    if not 1 <= count <= MAX_ENTRIES:
        raise QueryError(_("per_page must be between 1 and %(num)d in a feed", num=MAX_ENTRIES))
    return count


def latest(limit: int = DEFAULT_ENTRIES) -> Feed:
    """The ``limit`` public, published documents most recently added."""
    docs = list(db.session.scalars(
        select(Document).where(policy.harvestable_clause())
        .order_by(Document.created_at.desc(), Document.doc_id.desc()).limit(limit)))
    return _feed(docs, None, limit)


def search(args: Mapping[str, Sequence[str]]) -> Feed:
    """The newest documents a search finds (its words and filters, as /search takes them),
    among the public, published ones only, whoever asks."""
    limit = entry_count(args)
    kept = {k: v for k, v in args.items() if k not in (*IGNORED, "per_page")}
    req = replace(searching.parse_request(kept, per_page=limit), sort="added",
                  spelling=False)
    page = searching.run(None, req, expand=searching.expand_wanted(args), snippets=0)
    docs = [f.doc for f in page.found if policy.is_harvestable(f.doc)]
    return _feed(docs, page.result.total, limit)


def _feed(docs: list[Document], total: int | None, limit: int) -> Feed:
    stamps: dict[int, datetime] = {}
    if docs:
        stamps.update((doc_id, stamp) for doc_id, stamp in db.session.execute(
            select(HarvestRecord.doc_id, HarvestRecord.datestamp)
            .where(HarvestRecord.doc_id.in_([d.doc_id for d in docs]))))
    # A record is kept for every harvestable document; the creation time stands in for a
    # record not yet written (a change made with SQL outside kb).
    entries = tuple(Entry(d, max(stamps.get(d.doc_id, d.created_at), d.created_at))
                    for d in docs)
    updated = max([_last_public_change(), *(e.updated for e in entries)])
    return Feed(entries, updated, total, limit)


def _last_public_change() -> datetime:
    found = db.session.scalar(select(func.max(HarvestRecord.datestamp)))
    # Nothing was ever public: a fixed time, so that the empty feed's validators hold.
    return found if found is not None else datetime(2000, 1, 1)

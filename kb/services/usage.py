"""Usage statistics: how often people open each document's page and download its file, a
day at a time (UTC), and the report editors read of a period.

Counted: a document page answered 200 to a GET, and a download that starts at the file's
first byte (a reader fetching later parts of the same file is not a new download). Not
counted: requests whose User-Agent names a robot, a crawler, a link preview or a script,
or that send none (harvesters and monitors would otherwise outnumber people). One row a
document and a day, incremented in the database itself, so that concurrent workers and
processes lose no count; a purge removes the document's rows with it.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from kb import clock, csvsafe, policy
from kb.errors import QueryError
from kb.extensions import db
from kb.models import Document, DocumentAgency, DocumentCountry, DocumentUsage

log = logging.getLogger(__name__)

Kind = Literal["views", "downloads"]

# User-Agents that are not a person at a browser: search engines' and archives' robots,
# link previews of chat and social applications, monitors, and HTTP libraries and tools.
ROBOTS = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|archiver|facebookexternalhit|embedly|preview|"
    r"monitor|uptime|pingdom|python-|curl/|wget/|libwww|httpclient|okhttp|go-http|"
    r"java/|headless|scrapy|feedfetcher|oai-pmh|harvest", re.IGNORECASE)

# The longest period a report covers (days), the default one and the rows it lists.
MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30
TOP = 50


def is_person(user_agent: str | None) -> bool:
    """Whether a request's User-Agent looks like a person's browser."""
    return user_agent is not None and user_agent != "" and ROBOTS.search(user_agent) is None


def count(doc_id: int, kind: Kind, user_agent: str | None, *, commit: bool = True) -> bool:
    """Add one to the document's ``kind`` today, unless a robot asked; whether it counted."""
    if not is_person(user_agent):
        return False
    table = DocumentUsage.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {"doc_id": doc_id, "day": clock.now().date(), "views": 0, "downloads": 0, kind: 1}
    db.session.execute(insert(table).values(**row).on_conflict_do_update(
        index_elements=[table.c.doc_id, table.c.day], set_={kind: table.c[kind] + 1}))
    if commit:
        db.session.commit()
    return True


def count_quietly(doc_id: int, kind: Kind, user_agent: str | None) -> None:
    """``count``, for a page already answered: a count that cannot be written (a database
    busy past its wait, a full disk) is logged and lost, the page is not."""
    try:
        count(doc_id, kind, user_agent)
    except SQLAlchemyError as e:
        db.session.rollback()
        log.warning("a %s of document %s was not counted: %s", kind[:-1], doc_id, e,
                    extra={"doc_id": doc_id})


@dataclass(frozen=True)
class Period:
    """The days a report covers, both included."""

    start: date
    end: date


def period(start: str | None, end: str | None) -> Period:
    """The period of ``start`` and ``end`` (YYYY-MM-DD; empty: the last DEFAULT_DAYS days up
    to today); QueryError for a date that is not one, an end before the start, or a
    period over MAX_DAYS."""
    today = clock.now().date()

    def parse(name: str, value: str | None, default: date) -> date:
        if not value:
            return default
        try:
            return date.fromisoformat(value.strip())
        except ValueError as e:
            raise QueryError(_("%(name)s must be a date like 2026-11-27", name=name)) from e

    last = parse("to", end, today)
    first = parse("from", start, last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise QueryError(_("The period ends before it starts."))
    if (last - first).days + 1 > MAX_DAYS:
        raise QueryError(_("A report covers at most %(num)d days.", num=MAX_DAYS))
    return Period(first, last)


@dataclass(frozen=True)
class Line:
    """One document's (or one country's, one agency's) use in the period."""

    key: str
    views: int
    downloads: int
    doc: Document | None = None


@dataclass(frozen=True)
class Report:
    period: Period
    views: int
    downloads: int
    documents: list[Line]
    countries: list[Line]
    agencies: list[Line]
    by_day: list[Line]


def _summed(user: object, when: Period, key: Any) -> Select[Any]:
    """The period's views and downloads summed by ``key`` (a DocumentUsage column), over the
    documents the user may see (the trash and what their access hides are left out)."""
    return (select(key, func.sum(DocumentUsage.views).label("views"),
                   func.sum(DocumentUsage.downloads).label("downloads"))
            .join(Document, Document.doc_id == DocumentUsage.doc_id)
            .where(DocumentUsage.day.between(when.start, when.end),
                   policy.viewable_documents_clause(user))
            .group_by(key))


def _used(user: object, when: Period) -> Select[Any]:
    """Each document's views and downloads in the period (doc_id, views, downloads)."""
    return _summed(user, when, DocumentUsage.doc_id)


def _by(user: object, when: Period, link: type[DocumentCountry] | type[DocumentAgency]
        ) -> list[Line]:
    used = _used(user, when).subquery()
    rows = db.session.execute(
        select(link.code, func.sum(used.c.views), func.sum(used.c.downloads))
        .join(used, used.c.doc_id == link.doc_id).group_by(link.code)
        .order_by(func.sum(used.c.downloads).desc(), func.sum(used.c.views).desc(),
                  link.code))
    return [Line(code, int(v or 0), int(d or 0)) for code, v, d in rows]


def report(user: object, when: Period, top: int = TOP) -> Report:
    """What was used in the period, among the documents the user may see: totals, the
    ``top`` documents by downloads then views, each country and agency, and each day."""
    used = _used(user, when).subquery()
    views, downloads = db.session.execute(
        select(func.coalesce(func.sum(used.c.views), 0),
               func.coalesce(func.sum(used.c.downloads), 0))).one()
    ranked = db.session.execute(
        select(used.c.doc_id, used.c.views, used.c.downloads)
        .order_by(used.c.downloads.desc(), used.c.views.desc(), used.c.doc_id).limit(top)).all()
    docs = {d.doc_id: d for d in db.session.scalars(
        select(Document).where(Document.doc_id.in_([r.doc_id for r in ranked])))}
    days = db.session.execute(
        _summed(user, when, DocumentUsage.day).order_by(DocumentUsage.day))
    return Report(
        period=when, views=int(views), downloads=int(downloads),
        documents=[Line(str(r.doc_id), int(r.views), int(r.downloads), docs[r.doc_id])
                   for r in ranked],
        countries=_by(user, when, DocumentCountry), agencies=_by(user, when, DocumentAgency),
        by_day=[Line(day.isoformat(), int(v), int(d)) for day, v, d in days])


CSV_COLUMNS = ("doc_id", "title", "countries", "agencies", "year", "type", "language",
               "views", "downloads")


def export_csv(user: object, when: Period) -> Iterator[str]:
    """Every document used in the period that the user may see, as CSV (a header first),
    by downloads then views; cells a spreadsheet would run as formulas are defused."""
    used = _used(user, when).subquery()
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = db.session.execute(
        select(Document, used.c.views, used.c.downloads)
        .join(used, used.c.doc_id == Document.doc_id)
        .order_by(used.c.downloads.desc(), used.c.views.desc(), Document.doc_id))
    for doc, views, downloads in rows:
        writer.writerow([doc.doc_id, doc.title, " ".join(doc.countries),
                         " ".join(doc.agencies), doc.year or "", doc.doc_type or "",
                         doc.language or "", int(views), int(downloads)])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()

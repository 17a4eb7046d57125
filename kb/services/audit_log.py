"""Reading the audit trail: filters, pages and CSV export (admins only; read-only)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from kb import csvsafe
from kb.errors import QueryError
from kb.extensions import db
from kb.models import AuditEvent

CSV_COLUMNS = ("event_id", "at", "actor_id", "actor_email", "action", "target_type",
               "target_id", "outcome", "detail", "ip")


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor: str = ""
    target: str = ""
    date_from: str = ""
    date_to: str = ""


def _day(value: str, name: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise QueryError(_("%(name)s must be a date like 2026-11-27", name=name)) from e


def _query(f: AuditFilter) -> Select[AuditEvent]:
    q = select(AuditEvent)
    if f.action:
        q = q.where(AuditEvent.action == f.action)
    if f.actor:
        q = q.where(func.lower(AuditEvent.actor_email).contains(f.actor.strip().lower()))
    if f.target:
        q = q.where(AuditEvent.target_id == f.target.strip())
    start, end = _day(f.date_from, "From"), _day(f.date_to, "To")
    if start:
        q = q.where(AuditEvent.at >= datetime.combine(start, datetime.min.time()))
    if end:
        q = q.where(AuditEvent.at < datetime.combine(end + timedelta(days=1),
                                                     datetime.min.time()))
    return q


def page(f: AuditFilter, number: int = 1, size: int = 50) -> tuple[list[AuditEvent], int]:
    """One page of events, newest first, and the total matching the filter."""
    q = _query(f)
    total = int(db.session.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = db.session.scalars(
        q.order_by(AuditEvent.event_id.desc()).offset((number - 1) * size).limit(size)
    ).all()
    return list(rows), total


def export_csv(f: AuditFilter) -> Iterator[str]:
    """Every matching event as CSV, oldest first, streamed in chunks; no cell is a live
    spreadsheet formula (a failed sign-in's email or a file name is the user's text)."""
    buffer = io.StringIO()
    writer = csvsafe.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in db.session.scalars(_query(f).order_by(AuditEvent.event_id)).yield_per(500):
        writer.writerow([
            event.event_id, event.at.isoformat() + "Z", event.actor_id or "",
            event.actor_email or "", event.action, event.target_type or "",
            event.target_id or "", event.outcome, event.detail or "", event.ip or "",
        ])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()

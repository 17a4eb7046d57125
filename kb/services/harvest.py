"""What harvesters see: the records OAI-PMH serves, their sets, the resumption tokens that
page through them, and the pages the sitemap lists.

A harvest record is kept for every document that was ever harvestable (kb.policy: an
anonymous visitor's view, published and public) and outlives it: a document withdrawn,
made internal or restricted, or deleted keeps its record, marked deleted, so that
harvesters remove their copy. One session hook keeps the records true: every path that
changes a document (pages, API, CLI, import, worker, workflow, delete) flushes the change
through the ORM, and the hook recomputes the records of the documents the flush touched.
A record's datestamp moves only when what harvesters see changes (its fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import ColumnElement, and_, event, func, inspect, or_, select
from sqlalchemy.orm import Session

from kb import clock, policy, taxonomy, vocabularies
from kb.errors import OaiError
from kb.extensions import db
from kb.models import (
    Agency,
    Document,
    DocumentAgency,
    DocumentCountry,
    DocumentTerm,
    DocumentTheme,
    HarvestRecord,
    StoredFile,
)


@dataclass(frozen=True)
class SetKind:
    plural: str  # the parent set's name
    singular: str  # before each member's label: "Country: Moldova"


# The kinds of set, in the order ListSets gives them, by spec prefix (which is also the
# kb.taxonomy vocabulary that labels their members; agencies' labels are in the
# database). A later taxonomy (a programme phase, say) is one more entry here, one more
# line in ``set_specs`` and one in ``sets``.
SET_KINDS: dict[str, SetKind] = {
    "country": SetKind("Countries", "Country"),
    "agency": SetKind("Agencies", "Agency"),
    "type": SetKind("Document types", "Document type"),
    # The programme's controlled vocabularies (kb.vocabularies): gcm:gcm-20, sdg:sdg-10.7.
    "gcm": SetKind("GCM objectives", "GCM objective"),
    "sdg": SetKind("SDG targets", "SDG target"),
    "area": SetKind("Programme outcome areas", "Outcome area"),
}
# The protocol's syntax of a setSpec (OAI-PMH 2.0, section 4.6 and its schema).
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_CHUNK = 500
_TOUCHED = "kb.harvest.touched"
_AGENCIES = "kb.harvest.agencies"


@dataclass(frozen=True)
class FileFacts:
    content_type: str
    size: int
    pages: int | None


@dataclass(frozen=True)
class Described:
    """A document as the metadata formats show it: its fingerprint is of these values."""

    doc_id: int
    title: str
    summary: str
    doc_type: str | None
    language: str | None
    year: int | None
    phase: str | None
    access: str
    countries: tuple[str, ...]
    agencies: tuple[tuple[str, str], ...]  # (code, label)
    themes: tuple[str, ...]
    created: str  # ISO date of the record's creation
    file: FileFacts | None
    # The controlled vocabularies' codes, (vocabulary, code) in the document's order.
    terms: tuple[tuple[str, str], ...] = ()


# What ``describe`` reads: a flush that changes none of these (a status, a download count,
# a review comment) leaves the record alone without looking. Keep them in step.
WATCHED_DOCUMENT = ("title", "summary", "doc_type", "language", "year", "phase", "access",
                    "workflow", "trashed_at", "created_at", "country_rows", "agency_rows",
                    "theme_rows", "files", "term_rows")
WATCHED_FILE = ("content_type", "size", "pages")


def describe(doc: Document, agency_labels: dict[str, str]) -> Described:
    """The harvestable facts of one document."""
    current = doc.current_file
    return Described(
        doc_id=doc.doc_id, title=doc.title, summary=doc.summary or "", doc_type=doc.doc_type,
        language=doc.language, year=doc.year, phase=doc.phase, access=doc.access,
        countries=tuple(doc.countries),
        agencies=tuple((c, agency_labels.get(c, c)) for c in doc.agencies),
        themes=tuple(doc.themes), created=doc.created_at.date().isoformat(),
        file=None if current is None else FileFacts(current.content_type, current.size,
                                                     current.pages),
        terms=tuple((r.vocabulary, r.code) for r in doc.term_rows))


def set_specs(d: Described) -> tuple[str, ...]:
    """The sets a document belongs to: country:ISO3, agency:CODE, type:CODE."""
    specs = [f"country:{c}" for c in d.countries]
    specs += [f"agency:{code}" for code, _label in d.agencies]
    if d.doc_type:
        specs.append(f"type:{d.doc_type}")
    specs += [f"{vocabulary}:{code}" for vocabulary, code in d.terms
              if vocabulary in SET_KINDS]
    return tuple(dict.fromkeys(s for s in specs if SET_SPEC.fullmatch(s)))


def fingerprint(d: Described) -> str:
    facts = asdict(d)
    if not facts["terms"]:
        # A document without codes keeps the fingerprint it had before there were any.
        del facts["terms"]
    return hashlib.sha256(json.dumps(facts, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def datestamp_now() -> datetime:
    """Now, in the protocol's granularity (whole seconds, UTC, naive as stored)."""
    return clock.now().replace(microsecond=0)


def agency_labels() -> dict[str, str]:
    return {code: label for code, label in db.session.execute(select(Agency.code, Agency.label))}


# ---------------------------------------------------------------------------------------
# The session hook


def install() -> None:
    """Keep harvest records true on every ORM session (once per process)."""
    if not event.contains(Session, "after_flush", _note_touched):
        event.listen(Session, "after_flush", _note_touched)
        event.listen(Session, "after_flush_postexec", _update_touched)


def _note_touched(session: Session, _context: Any) -> None:
    """Note the documents (and agencies) this flush changed; ids are known by now."""
    touched: set[int] = session.info.setdefault(_TOUCHED, set())
    agencies: set[str] = session.info.setdefault(_AGENCIES, set())
    changed = [(obj, False) for obj in session.dirty]
    changed += [(obj, True) for obj in (*session.new, *session.deleted)]
    for obj, whole in changed:
        state = inspect(obj)
        if isinstance(obj, Document):
            if state.identity and (whole or _changes(state, WATCHED_DOCUMENT)):
                touched.add(int(state.identity[0]))
        elif isinstance(obj, DocumentCountry | DocumentAgency | DocumentTheme | DocumentTerm
                        | StoredFile):
            doc_id: int | None = state.dict.get("doc_id")
            if doc_id is not None and (whole or not isinstance(obj, StoredFile)
                                       or _changes(state, WATCHED_FILE)):
                touched.add(int(doc_id))
        elif isinstance(obj, Agency):
            agencies.add(str(state.dict.get("code")))


def _changes(state: Any, names: tuple[str, ...]) -> bool:
    return any(state.attrs[name].history.has_changes() for name in names)


def _update_touched(session: Session, _context: Any) -> None:
    """Bring the touched documents' records up to date; they are flushed with the next
    flush of the same transaction (commit flushes until nothing is left)."""
    touched: set[int] = session.info.pop(_TOUCHED, set())
    agencies: set[str] = session.info.pop(_AGENCIES, set())
    if agencies:
        touched |= set(session.scalars(select(DocumentAgency.doc_id)
                                       .where(DocumentAgency.code.in_(sorted(agencies)))))
    if touched:
        refresh(session, touched)


def refresh(session: Session, doc_ids: Iterable[int]) -> None:
    """Recompute the harvest records of these documents (no commit)."""
    ids = sorted(set(doc_ids))
    labels: dict[str, str] | None = None
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        # Those the session holds (the flush's own) as they are; the others in one query.
        docs: dict[int, Document] = {}
        for doc_id in chunk:
            held = session.identity_map.get(session.identity_key(Document, doc_id))
            if isinstance(held, Document):
                docs[doc_id] = held
        others = [i for i in chunk if i not in docs]
        if others:
            docs.update((d.doc_id, d) for d in session.scalars(
                select(Document).where(Document.doc_id.in_(others))))
        records = {r.doc_id: r for r in session.scalars(
            select(HarvestRecord).where(HarvestRecord.doc_id.in_(chunk)))}
        for doc_id in chunk:
            doc, record = docs.get(doc_id), records.get(doc_id)
            if doc is not None and policy.is_harvestable(doc):
                if labels is None and doc.agency_rows:
                    labels = {c: label for c, label in session.execute(
                        select(Agency.code, Agency.label))}
                described = describe(doc, labels or {})
                mark = fingerprint(described)
                if record is None:
                    record = HarvestRecord(doc_id=doc_id)
                    session.add(record)
                elif not record.deleted and record.fingerprint == mark:
                    continue
                record.deleted = False
                record.datestamp = datestamp_now()
                record.set_specs = padded(set_specs(described))
                record.fingerprint = mark
            elif record is not None and not record.deleted:
                # Sets and fingerprint stay as harvesters last saw them: nothing of the
                # document's new (non-public) state goes out.
                record.deleted = True
                record.datestamp = datestamp_now()


def padded(specs: tuple[str, ...]) -> str:
    return " " + " ".join(specs) + " " if specs else ""


def specs_of(record: HarvestRecord) -> list[str]:
    return record.set_specs.split()


# ---------------------------------------------------------------------------------------
# Reading records


@dataclass(frozen=True)
class Selection:
    """What a ListRecords or ListIdentifiers request asks for (bounds inclusive)."""

    metadata_prefix: str
    set_spec: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Position:
    """The last record of a page: the next page starts after it."""

    datestamp: datetime
    doc_id: int


def _selected(sel: Selection) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if sel.since is not None:
        where.append(HarvestRecord.datestamp >= sel.since)
    if sel.until is not None:
        where.append(HarvestRecord.datestamp <= sel.until)
    if sel.set_spec is not None:
        # The set and the sets below it (country matches country:MDA).
        where.append(or_(_holds(HarvestRecord.set_specs, f" {sel.set_spec} "),
                         _holds(HarvestRecord.set_specs, f" {sel.set_spec}:")))
    return where


def _holds(column: Any, text: str) -> ColumnElement[bool]:
    """``text`` occurs in ``column``, case counting (setSpecs are case-sensitive, and
    SQLite's LIKE is not): PostgreSQL's strpos, SQLite's instr."""
    position = func.strpos if db.engine.dialect.name == "postgresql" else func.instr
    return position(column, text) > 0


def _after(pos: Position | None) -> list[ColumnElement[bool]]:
    if pos is None:
        return []
    return [or_(HarvestRecord.datestamp > pos.datestamp,
                and_(HarvestRecord.datestamp == pos.datestamp,
                     HarvestRecord.doc_id > pos.doc_id))]


def records_page(sel: Selection, after: Position | None,
                 limit: int) -> tuple[list[HarvestRecord], bool]:
    """Up to ``limit`` records in datestamp order after ``after``, and whether more follow.

    Paging by position, not by offset: a record that changes during a harvest moves past
    the position and comes in a later page of the same harvest, so none is skipped.
    """
    found = list(db.session.scalars(
        select(HarvestRecord).where(*_selected(sel), *_after(after))
        .order_by(HarvestRecord.datestamp, HarvestRecord.doc_id).limit(limit + 1)))
    return found[:limit], len(found) > limit


def count_records(sel: Selection, after: Position | None = None) -> int:
    return int(db.session.scalar(select(func.count()).select_from(HarvestRecord)
                                 .where(*_selected(sel), *_after(after))) or 0)


def record(doc_id: int) -> HarvestRecord | None:
    """The harvest record of a document, None if it was never harvestable."""
    return db.session.get(HarvestRecord, doc_id)


def live_documents(records: Iterable[HarvestRecord]) -> dict[int, Document]:
    """The documents of records not marked deleted, asking the policy again: one that is
    not harvestable now is shown as deleted, whatever its record says."""
    ids = [r.doc_id for r in records if not r.deleted]
    found: dict[int, Document] = {}
    for start in range(0, len(ids), _CHUNK):
        found.update((d.doc_id, d) for d in db.session.scalars(
            select(Document).where(Document.doc_id.in_(ids[start:start + _CHUNK]),
                                   policy.harvestable_clause())))
    return found


def earliest_datestamp() -> datetime:
    found = db.session.scalar(select(func.min(HarvestRecord.datestamp)))
    return found if found is not None else datestamp_now()


@dataclass(frozen=True)
class HarvestSet:
    spec: str
    name: str


def sets() -> list[HarvestSet]:
    """The parent sets, then every set a harvestable document belongs to now."""
    found = [HarvestSet(spec, kind.plural) for spec, kind in SET_KINDS.items()]
    harvestable = policy.harvestable_clause()
    agency_names = agency_labels()
    codes: dict[str, Iterable[str | None]] = {
        "country": db.session.scalars(
            select(DocumentCountry.code).join(Document).where(harvestable).distinct()),
        "agency": db.session.scalars(
            select(DocumentAgency.code).join(Document).where(harvestable).distinct()),
        "type": db.session.scalars(
            select(Document.doc_type).where(harvestable).distinct()),
    }
    for kind, values in codes.items():
        for code in sorted(c for c in values if c):
            spec = f"{kind}:{code}"
            if not SET_SPEC.fullmatch(spec):
                continue
            label = (agency_names.get(code, code) if kind == "agency"
                     else taxonomy.label(kind, code))
            found.append(HarvestSet(spec, f"{SET_KINDS[kind].singular}: {label}"))
    held = {(vocabulary, code) for vocabulary, code in db.session.execute(
        select(DocumentTerm.vocabulary, DocumentTerm.code).join(Document)
        .where(harvestable).distinct())}
    for vocabulary in vocabularies.NAMES:
        for concept in vocabularies.concepts(vocabulary):
            if (vocabulary, concept.code) in held:
                found.append(HarvestSet(f"{vocabulary}:{concept.code}",
                                        f"{SET_KINDS[vocabulary].singular}: "
                                        f"{concept.label('en')}"))
    return found


# ---------------------------------------------------------------------------------------
# Resumption tokens: signed and stateless, so they survive a restart and need no table.


@dataclass(frozen=True)
class Resumption:
    verb: str
    selection: Selection
    after: Position
    cursor: int  # records given before the next page
    issued: datetime


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kb.oai.resumption")


def token_lifetime() -> timedelta:
    return timedelta(seconds=float(current_app.config["OAI_TOKEN_LIFETIME"]))


def issue_token(r: Resumption) -> tuple[str, datetime]:
    """The token for the page after ``r.after``, and when it expires."""
    s = r.selection
    payload = {"v": r.verb, "m": s.metadata_prefix, "s": s.set_spec,
               "f": _iso(s.since), "u": _iso(s.until),
               "d": _iso(r.after.datestamp), "i": r.after.doc_id, "c": r.cursor,
               "t": _iso(r.issued)}
    return str(_serializer().dumps(payload)), r.issued + token_lifetime()


def read_token(token: str, verb: str) -> Resumption:
    """The resumption a token stands for; badResumptionToken if it was not made here, for
    this verb, or has expired."""
    try:
        p = _serializer().loads(token)
        issued = _parse_iso(p["t"])
        r = Resumption(
            verb=str(p["v"]),
            selection=Selection(str(p["m"]), p["s"], _parse_iso(p["f"]), _parse_iso(p["u"])),
            after=Position(_required(_parse_iso(p["d"])), int(p["i"])), cursor=int(p["c"]),
            issued=_required(issued))
    except (BadData, KeyError, TypeError, ValueError) as e:
        raise OaiError("badResumptionToken", "The resumption token is not one this "
                       "repository issued; start the list again without it.") from e
    if r.verb != verb:
        raise OaiError("badResumptionToken",
                       f"The resumption token belongs to {r.verb}, not {verb}.")
    if clock.now() > r.issued + token_lifetime():
        raise OaiError("badResumptionToken", "The resumption token has expired; start the "
                       "list again (with from= the last datestamp you received).")
    return r


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_iso(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _required(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("missing time")
    return value


def utc_text(value: datetime) -> str:
    """A stored (naive UTC) time as the protocol writes it: 2024-05-01T12:00:00Z."""
    return value.replace(microsecond=0).isoformat() + "Z"


# ---------------------------------------------------------------------------------------
# The sitemap


def sitemap_count() -> int:
    """How many document pages the sitemap lists."""
    return int(db.session.scalar(select(func.count()).select_from(HarvestRecord)
                                 .join(Document, Document.doc_id == HarvestRecord.doc_id)
                                 .where(~HarvestRecord.deleted,
                                        policy.harvestable_clause())) or 0)


def sitemap_entries(offset: int, limit: int) -> list[tuple[int, datetime]]:
    """(document id, last change) of harvestable documents in id order."""
    rows = db.session.execute(
        select(HarvestRecord.doc_id, HarvestRecord.datestamp)
        .join(Document, Document.doc_id == HarvestRecord.doc_id)
        .where(~HarvestRecord.deleted, policy.harvestable_clause())
        .order_by(HarvestRecord.doc_id).offset(offset).limit(limit))
    return [(int(doc_id), stamp) for doc_id, stamp in rows]

"""OAI-PMH 2.0 at /oai, harvested over real HTTP by a real harvester (Sickle): full and
selective harvests with resumption, deleted records, token expiry and restarts, and
every error code. Every answer is checked against the protocol's schema structure."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sickle import Sickle, oaiexceptions
from sickle.iterator import OAIResponseIterator
from werkzeug.serving import make_server

from kb.extensions import db
from tests.conftest import Account, Clock, free_port, kb_env, make_app, wait_for

KB = Path(sys.executable).parent / "kb"
OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
MODS = "http://www.loc.gov/mods/v3"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
REPO = "kb.example.org"
START = datetime(2024, 3, 1, 9, 0, 0)
PAGE = 4
LIFETIME = 600


# ---------------------------------------------------------------------------------------
# The protocol's schema (OAI-PMH.xsd, oai_dc.xsd, MODS 3.7), as far as it can be checked
# without fetching the schemas: namespaces, element names and order, enumerations and the
# UTC datetime syntax.

UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
ERROR_CODES = {"cannotDisseminateFormat", "idDoesNotExist", "badArgument", "badVerb",
               "noMetadataFormats", "noRecordsMatch", "badResumptionToken", "noSetHierarchy"}
REQUEST_ATTRIBUTES = {"verb", "identifier", "metadataPrefix", "from", "until", "set",
                      "resumptionToken"}
DC_ELEMENTS = {"title", "creator", "subject", "description", "publisher", "contributor",
               "date", "type", "format", "identifier", "source", "language", "relation",
               "coverage", "rights"}
MODS_TOP = {"abstract", "accessCondition", "classification", "extension", "genre",
            "identifier", "language", "location", "name", "note", "originInfo", "part",
            "physicalDescription", "recordInfo", "relatedItem", "subject", "tableOfContents",
            "targetAudience", "titleInfo", "typeOfResource"}
SET_SPEC = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def names(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element]


def check_oai_pmh(body: bytes) -> etree._Element:
    """The answer's structure as OAI-PMH.xsd defines it; returns the parsed root."""
    root = etree.fromstring(body)  # well-formed, or this raises
    assert root.tag == q(OAI, "OAI-PMH")
    assert root.get(q(XSI, "schemaLocation")).split() == [
        OAI, "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"]
    children = list(root)
    assert all(etree.QName(c).namespace == OAI for c in children), names(root)
    assert names(root)[:2] == ["responseDate", "request"]
    assert UTC.fullmatch(children[0].text)
    request = children[1]
    assert set(request.attrib) <= REQUEST_ATTRIBUTES
    assert request.text.endswith("/oai")
    rest = children[2:]
    if rest and etree.QName(rest[0]).localname == "error":
        assert all(etree.QName(e).localname == "error" for e in rest)
        assert {e.get("code") for e in rest} <= ERROR_CODES
        if {e.get("code") for e in rest} & {"badVerb", "badArgument"}:
            assert not request.attrib, "badVerb/badArgument: the request has no attributes"
        return root
    assert len(rest) == 1 and etree.QName(rest[0]).localname == request.get("verb")
    CHECKS[request.get("verb")](rest[0])
    return root


def _identify(e: etree._Element) -> None:
    got = names(e)
    assert got[:5] == ["repositoryName", "baseURL", "protocolVersion", "adminEmail",
                       "earliestDatestamp"]
    assert got[5:7] == ["deletedRecord", "granularity"]
    assert set(got[7:]) <= {"compression", "description"}
    assert e.find(q(OAI, "protocolVersion")).text == "2.0"
    assert UTC.fullmatch(e.find(q(OAI, "earliestDatestamp")).text)
    assert e.find(q(OAI, "deletedRecord")).text in {"no", "persistent", "transient"}
    assert e.find(q(OAI, "granularity")).text in {"YYYY-MM-DD", "YYYY-MM-DDThh:mm:ssZ"}


def _formats(e: etree._Element) -> None:
    assert names(e) and set(names(e)) == {"metadataFormat"}
    for f in e:
        assert names(f) == ["metadataPrefix", "schema", "metadataNamespace"]


def _sets(e: etree._Element) -> None:
    assert names(e) and set(names(e)) <= {"set", "resumptionToken"}
    for s in e.findall(q(OAI, "set")):
        assert names(s)[:2] == ["setSpec", "setName"]
        assert SET_SPEC.fullmatch(s[0].text)


def _header(h: etree._Element) -> None:
    assert h.tag == q(OAI, "header")
    assert set(h.attrib) <= {"status"} and h.get("status", "deleted") == "deleted"
    got = names(h)
    assert got[:2] == ["identifier", "datestamp"] and set(got[2:]) <= {"setSpec"}
    assert UTC.fullmatch(h[1].text)
    assert all(SET_SPEC.fullmatch(s.text) for s in h[2:])


def _record(r: etree._Element) -> None:
    assert r.tag == q(OAI, "record")
    got = names(r)
    assert got[0] == "header" and set(got[1:]) <= {"metadata", "about"}
    _header(r[0])
    metadata = r.find(q(OAI, "metadata"))
    if r[0].get("status") == "deleted":
        assert metadata is None, "a deleted record carries no metadata"
        return
    assert metadata is not None and len(metadata) == 1
    inner = metadata[0]
    if inner.tag == q(OAI_DC, "dc"):
        check_oai_dc(inner)
    else:
        check_mods(inner)


def _token(e: etree._Element) -> None:
    token = e.find(q(OAI, "resumptionToken"))
    if token is None:
        return
    assert names(e)[-1] == "resumptionToken"
    assert set(token.attrib) <= {"expirationDate", "completeListSize", "cursor"}
    if "expirationDate" in token.attrib:
        assert UTC.fullmatch(token.get("expirationDate"))
    assert int(token.get("cursor", "0")) >= 0


def _list_records(e: etree._Element) -> None:
    assert "record" in names(e) and set(names(e)) <= {"record", "resumptionToken"}
    for r in e.findall(q(OAI, "record")):
        _record(r)
    _token(e)


def _list_identifiers(e: etree._Element) -> None:
    assert "header" in names(e) and set(names(e)) <= {"header", "resumptionToken"}
    for h in e.findall(q(OAI, "header")):
        _header(h)
    _token(e)


def _get_record(e: etree._Element) -> None:
    assert names(e) == ["record"]
    _record(e[0])


CHECKS: dict[str, Callable[[etree._Element], None]] = {
    "Identify": _identify, "ListMetadataFormats": _formats, "ListSets": _sets,
    "GetRecord": _get_record, "ListRecords": _list_records,
    "ListIdentifiers": _list_identifiers,
}


def check_oai_dc(dc: etree._Element) -> None:
    """oai_dc.xsd: an oai_dc:dc of Dublin Core's fifteen elements, in any order."""
    assert dc.get(q(XSI, "schemaLocation")).split() == [
        OAI_DC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"]
    for child in dc:
        assert etree.QName(child).namespace == DC, child.tag
        assert etree.QName(child).localname in DC_ELEMENTS, child.tag
        assert set(child.attrib) <= {"{http://www.w3.org/XML/1998/namespace}lang"}
        assert child.text and child.text.strip()


def check_mods(mods: etree._Element) -> None:
    """MODS 3.7's top-level elements and the enumerations used here."""
    assert mods.tag == q(MODS, "mods") and mods.get("version") == "3.7"
    assert mods.get(q(XSI, "schemaLocation")).split() == [
        MODS, "http://www.loc.gov/standards/mods/v3/mods-3-7.xsd"]
    for element in mods.iter():
        if isinstance(element.tag, str):
            assert etree.QName(element).namespace == MODS, element.tag
    assert set(names(mods)) <= MODS_TOP, names(mods)
    for url in mods.iter(q(MODS, "url")):
        assert url.get("access") in {None, "preview", "raw object", "object in context"}
        assert url.get("usage") in {None, "primary display", "primary"}
    for type_ in mods.iter(q(MODS, "typeOfResource")):
        assert type_.text == "text"
    for code in mods.iter(q(MODS, "geographicCode")):
        assert code.get("authority") in {"marcgac", "marccountry", "iso3166"}


class CheckedSickle(Sickle):
    """Sickle, checking every answer it receives against the protocol's structure."""

    def harvest(self, **kwargs: Any) -> Any:
        response = super().harvest(**kwargs)
        assert response.http_response.status_code == 200
        assert response.http_response.headers["Content-Type"].startswith("text/xml")
        check_oai_pmh(response.http_response.content)
        return response


# ---------------------------------------------------------------------------------------
# Fixtures: a real app on its own database with a clock the test moves, served over HTTP.


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def app(tmp_path: Path, database_url: str | None, clock: Clock) -> Iterator[Flask]:
    app = make_app(tmp_path, database_url, CLOCK=clock, OAI_PAGE_SIZE=PAGE,
                   OAI_TOKEN_LIFETIME=float(LIFETIME), OAI_REPOSITORY_IDENTIFIER=REPO)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def harvester(served: str) -> Sickle:
    return CheckedSickle(served + "/oai", timeout=30)


@pytest.fixture
def add(upload: Callable[..., Any]) -> Callable[..., int]:
    """Upload a document through the API (as an editor: published at once); its id."""
    counter = iter(range(1, 10_000))

    def make(title: str, account: Account | None = None, **meta: Any) -> int:
        n = next(counter)
        res = upload(f"{title}: a report on migration and development, number {n}."
                     .encode(), f"doc{n}.txt", account=account, title=title, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    return make


def oai_id(doc_id: int) -> str:
    return f"oai:{REPO}:{doc_id}"


def doc_of(identifier: str) -> int:
    return int(identifier.rsplit(":", 1)[1])


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def raw(served: str, method: str = "GET", **params: str) -> etree._Element:
    """One request as sent, answered and checked: the parsed root."""
    data = urllib.parse.urlencode(params).encode()
    if method == "GET":
        req = urllib.request.Request(f"{served}/oai?{data.decode()}")
    else:
        req = urllib.request.Request(f"{served}/oai", data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        assert answer.status == 200
        return check_oai_pmh(answer.read())


def error_code(root: etree._Element) -> str | None:
    error = root.find(q(OAI, "error"))
    return None if error is None else error.get("code")


# ---------------------------------------------------------------------------------------
# Harvests


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_full_harvest_pages_through_every_public_record_once(served, add, make_user,
                                                               method):
    """Eleven public documents, four a page: three answers joined by resumption tokens;
    internal and unpublished ones are never among them."""
    public = [add(f"Public report {i}", countries="MDA", agencies="IOM") for i in range(11)]
    add("Internal memo", access="internal")
    add("Contributor draft", account=make_user("contributor"))
    harvester = CheckedSickle(served + "/oai", http_method=method, timeout=30)

    records = list(harvester.ListRecords(metadataPrefix="oai_dc"))
    assert [r.header.identifier for r in records] == [oai_id(i) for i in public]
    assert not any(r.deleted for r in records)
    assert [r.metadata["title"] for r in records] == [[f"Public report {i}"]
                                                      for i in range(11)]

    pages = list(CheckedSickle(served + "/oai", http_method=method, timeout=30,
                               iterator=OAIResponseIterator)
                 .ListIdentifiers(metadataPrefix="mods"))
    tokens = [p.xml.find(f".//{q(OAI, 'resumptionToken')}") for p in pages]
    assert len(pages) == 3
    assert [t.get("cursor") for t in tokens] == ["0", "4", "8"]
    assert {t.get("completeListSize") for t in tokens} == {"11"}
    assert tokens[0].text and tokens[1].text and not tokens[2].text  # the last is empty
    headers = [h for p in pages for h in p.xml.iter(q(OAI, "header"))]
    assert [h.findtext(q(OAI, "identifier")) for h in headers] == [oai_id(i) for i in public]


def test_a_records_metadata_in_dublin_core_and_mods(harvester, add, served):
    doc = add("Lessons learned: remittances in Moldova", countries=["MDA", "EU"],
              agencies=["IOM", "UNDP"], type="lessons-learned", themes=["diaspora"],
              language="ro", year="2014", phase="phase-2",
              summary="What hometown associations did with remittances.")

    dc = harvester.GetRecord(identifier=oai_id(doc), metadataPrefix="oai_dc").metadata
    assert dc["title"] == ["Lessons learned: remittances in Moldova"]
    assert dc["publisher"] == ["International Organization for Migration"]
    assert dc["contributor"] == ["United Nations Development Programme"]
    assert dc["subject"] == ["diaspora"]
    assert dc["coverage"] == ["Moldova", "European Union"]
    assert dc["description"] == ["What hometown associations did with remittances."]
    assert dc["type"] == ["Text", "Lessons learned"]
    assert dc["language"] == ["ro"] and dc["date"] == ["2014"]
    assert dc["identifier"] == [f"{served}/documents/{doc}",
                                f"{served}/documents/{doc}/download"]
    assert "info:eu-repo/semantics/openAccess" in dc["rights"]

    record = harvester.GetRecord(identifier=oai_id(doc), metadataPrefix="mods")
    mods = record.xml.find(f".//{q(MODS, 'mods')}")
    codes = [c.text for c in mods.iter(q(MODS, "geographicCode"))]
    assert codes == ["MDA"]  # EU is no ISO 3166 code: named, not coded
    agencies = [(n.findtext(q(MODS, "nameIdentifier")),
                 n.findtext(f"{q(MODS, 'role')}/{q(MODS, 'roleTerm')}"))
                for n in mods.iter(q(MODS, "name"))]
    assert agencies == [("IOM", "pbl"), ("UNDP", "ctb")]
    language = mods.find(f"{q(MODS, 'language')}/{q(MODS, 'languageTerm')}")
    assert (language.get("authority"), language.text) == ("iso639-1", "ro")
    urls = {u.get("access"): u.text for u in mods.iter(q(MODS, "url"))}
    assert urls == {"object in context": f"{served}/documents/{doc}",
                    "raw object": f"{served}/documents/{doc}/download"}
    assert mods.findtext(f"{q(MODS, 'originInfo')}/{q(MODS, 'dateIssued')}") == "2014"
    assert mods.findtext(q(MODS, "note")) == "Phase 2 (2014-2018)"


def test_text_that_xml_cannot_carry_is_escaped_or_replaced(app, harvester, add):
    doc = add("Tags <b>&amp; ampersands & \"quotes\"")
    with app.app_context():
        from kb.models import Document

        db.session.get(Document, doc).summary = "Control\x01character and </dc:title>"
        db.session.commit()
    dc = harvester.GetRecord(identifier=oai_id(doc), metadataPrefix="oai_dc").metadata
    assert dc["title"] == ['Tags <b>&amp; ampersands & "quotes"']
    assert dc["description"] == ["Control\ufffdcharacter and </dc:title>"]


def test_a_selective_harvest_by_set(harvester, add):
    moldova = add("Moldova", countries="MDA", agencies=["IOM", "UNDP"], type="report")
    jamaica = add("Jamaica", countries="JAM", agencies="IOM", type="policy-brief")
    untagged = add("No country")

    def ids(spec: str) -> list[int]:
        return [doc_of(h.identifier)
                for h in harvester.ListIdentifiers(metadataPrefix="oai_dc", set=spec)]

    assert ids("country:MDA") == [moldova]
    assert ids("agency:IOM") == [moldova, jamaica]
    assert ids("agency:UNDP") == [moldova]
    assert ids("type:policy-brief") == [jamaica]
    assert ids("country") == [moldova, jamaica]  # a parent set holds its children's records
    assert untagged not in ids("agency") + ids("type")
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        ids("country:ECU")
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        ids("country:mda")  # setSpecs are case-sensitive, on SQLite as on PostgreSQL

    sets = {s.setSpec: s.setName for s in harvester.ListSets()}
    assert sets == {
        "country": "Countries", "agency": "Agencies", "type": "Document types",
        "gcm": "GCM objectives", "sdg": "SDG targets", "area": "Programme outcome areas",
        "country:MDA": "Country: Moldova", "country:JAM": "Country: Jamaica",
        "agency:IOM": "Agency: International Organization for Migration",
        "agency:UNDP": "Agency: United Nations Development Programme",
        "type:report": "Document type: Report",
        "type:policy-brief": "Document type: Policy brief"}
    header = harvester.GetRecord(identifier=oai_id(moldova), metadataPrefix="oai_dc").header
    assert header.setSpecs == ["country:MDA", "agency:IOM", "agency:UNDP", "type:report"]


def test_a_selective_harvest_by_date_at_both_granularities(app, harvester, add, clock,
                                                          editor):
    first = add("First")  # 2024-03-01 09:00:00
    clock.advance(hours=1)
    second = add("Second")  # 10:00:00
    clock.advance(days=1)
    third = add("Third")  # 2024-03-02 10:00:00

    def ids(**bounds: str) -> list[int]:
        return [doc_of(h.identifier)
                for h in harvester.ListIdentifiers(metadataPrefix="oai_dc", **bounds)]

    assert ids(**{"from": "2024-03-01T10:00:00Z"}) == [second, third]
    assert ids(**{"from": "2024-03-01T10:00:01Z"}) == [third]
    assert ids(until="2024-03-01T10:00:00Z") == [first, second]
    assert ids(until="2024-03-01T09:59:59Z") == [first]
    assert ids(**{"from": "2024-03-01", "until": "2024-03-01"}) == [first, second]
    assert ids(**{"from": "2024-03-02"}) == [third]
    assert ids(until="2024-03-02") == [first, second, third]
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        ids(**{"from": "2024-03-03"})

    # A change harvesters see moves the record to the time of the change.
    clock.advance(days=1)  # 2024-03-03 10:00:00
    with app.app_context():
        from kb.models import User
        from kb.services import documents

        user = db.session.scalar(db.select(User).where(User.email == editor.email))
        documents.update_metadata(documents.get_visible(first, user),
                                  {"title": ["First, revised"], "access": ["public"]}, user)
    assert ids(**{"from": "2024-03-03"}) == [first]
    assert ids() == [second, third, first]  # datestamp order


def test_the_datestamp_moves_only_for_changes_harvesters_see(app, harvester, add, client,
                                                             clock, process, editor):
    iom = add("An IOM report", agencies="IOM")
    sdc = add("An SDC report", agencies="SDC")
    process()  # extraction adds the page count MODS shows: a change, made at 09:00

    def datestamps() -> dict[int, str]:
        return {doc_of(h.identifier): h.datestamp
                for h in harvester.ListIdentifiers(metadataPrefix="oai_dc")}

    before = datestamps()
    assert before == {iom: "2024-03-01T09:00:00Z", sdc: "2024-03-01T09:00:00Z"}
    clock.advance(hours=1)
    # Downloads, a new extraction with the same outcome, a review comment: unseen.
    with client.get(f"/documents/{iom}/download") as download:
        assert download.status_code == 200
    assert client.post(f"/api/v1/documents/{iom}/reextract",
                       headers=editor.headers).status_code == 202
    process()
    assert datestamps() == before

    # An agency's new label changes every record that names it, and only those.
    with app.app_context():
        from kb.services import accounts

        accounts.save_agency("IOM", "IOM, UN Migration")
    assert datestamps() == {iom: "2024-03-01T10:00:00Z", sdc: "2024-03-01T09:00:00Z"}
    dc = harvester.GetRecord(identifier=oai_id(iom), metadataPrefix="oai_dc").metadata
    assert dc["publisher"] == ["IOM, UN Migration"]


@pytest.mark.parametrize(("field", "value", "deleted"), [
    ("title", "Another title", False), ("summary", "Another summary", False),
    ("doc_type", "tool", False), ("language", "fr", False), ("year", 2019, False),
    ("phase", "pilot", False), ("access", "internal", True), ("access", "restricted", True),
    ("workflow", "withdrawn", True), ("workflow", "returned", True),
])
def test_each_change_harvesters_see_moves_the_datestamp(app, client, add, clock, field,
                                                        value, deleted):
    """One column changed through the ORM alone (no service): the hook still sees it."""
    doc = add("A report", type="report", language="en", year="2014", phase="phase-2")
    clock.advance(hours=1)
    with app.app_context():
        from kb.models import Document

        setattr(db.session.get(Document, doc), field, value)
        db.session.commit()
    body = client.get("/oai", query_string={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                            "identifier": oai_id(doc)}).data
    header = check_oai_pmh(body).find(f".//{q(OAI, 'header')}")
    assert header.findtext(q(OAI, "datestamp")) == stamp(START + timedelta(hours=1))
    assert (header.get("status") == "deleted") is deleted


def test_withdrawn_hidden_and_deleted_documents_are_reported_deleted(app, served, harvester,
                                                                     add, clock, client,
                                                                     editor, make_user):
    kept, withdrawn, hidden = add("Kept"), add("Withdrawn later"), add("Made internal later")
    clock.advance(minutes=1)
    first = harvester.harvest(verb="ListIdentifiers", metadataPrefix="oai_dc")
    since = first.xml.findtext(q(OAI, "responseDate"))  # what a harvester asks from next
    assert since == stamp(START + timedelta(minutes=1))

    clock.advance(minutes=4)
    assert client.post(f"/api/v1/documents/{withdrawn}/withdraw",
                       headers=editor.headers).status_code == 200
    with app.app_context():
        from kb.models import User
        from kb.services import documents

        user = db.session.scalar(db.select(User).where(User.email == editor.email))
        documents.update_metadata(documents.get_visible(hidden, user), {
            "title": ["Made internal later"], "access": ["internal"],
            "countries": ["KGZ"]}, user)

    # The next (incremental) harvest: both gone, with no metadata and their old sets.
    changed = list(harvester.ListRecords(metadataPrefix="oai_dc", **{"from": since}))
    assert [(doc_of(r.header.identifier), r.deleted) for r in changed] == [
        (withdrawn, True), (hidden, True)]
    assert all(r.xml.find(q(OAI, "metadata")) is None and r.header.setSpecs == []
               for r in changed)
    assert changed[0].header.datestamp == stamp(START + timedelta(minutes=5))
    record = harvester.GetRecord(identifier=oai_id(hidden), metadataPrefix="mods")
    assert record.deleted and "KGZ" not in record.raw and "internal" not in record.raw
    assert error_code(raw(served, verb="ListMetadataFormats",
                          identifier=oai_id(hidden))) == "noMetadataFormats"

    # Deleted for good: still reported, persistently.
    clock.advance(minutes=5)
    admin = make_user("admin")
    assert client.delete(f"/api/v1/documents/{withdrawn}",
                         headers=admin.headers).status_code == 204
    gone = harvester.GetRecord(identifier=oai_id(withdrawn), metadataPrefix="oai_dc")
    assert gone.deleted and gone.header.datestamp == stamp(START + timedelta(minutes=5))

    # Public again: back, dated by the change.
    clock.advance(minutes=5)
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == editor.email))
        documents.update_metadata(documents.get_visible(hidden, user), {
            "title": ["Public again"], "access": ["public"]}, user)
    back = harvester.GetRecord(identifier=oai_id(hidden), metadataPrefix="oai_dc")
    assert not back.deleted and back.metadata["title"] == ["Public again"]
    assert back.header.datestamp == stamp(START + timedelta(minutes=15))
    everything = {doc_of(h.identifier): h.deleted
                  for h in harvester.ListIdentifiers(metadataPrefix="oai_dc")}
    assert everything == {kept: False, withdrawn: True, hidden: False}


def test_resumption_tokens_expire_by_the_clock(harvester, add, clock):
    for i in range(PAGE + 1):
        add(f"Report {i}")
    headers = harvester.ListIdentifiers(metadataPrefix="oai_dc")
    assert [next(headers) for _ in range(PAGE)]  # the first page
    clock.advance(seconds=LIFETIME + 1)
    with pytest.raises(oaiexceptions.BadResumptionToken, match="expired"):
        next(headers)

    headers = harvester.ListIdentifiers(metadataPrefix="oai_dc")
    assert [next(headers) for _ in range(PAGE)]
    clock.advance(seconds=LIFETIME - 1)
    assert next(headers).identifier  # still valid a second before it expires


def test_every_error_code(served, harvester, add, make_user):
    public = add("Public")
    internal = add("Internal", access="internal")
    draft = add("Draft", account=make_user("contributor"))
    for _ in range(PAGE):
        add("Filler")
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "badVerb"),
        ({"verb": "ListEverything"}, "badVerb"),
        ({"verb": "identify"}, "badVerb"),  # verbs are case-sensitive
        ({"verb": "GetRecord", "identifier": oai_id(public)}, "badArgument"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-3-1"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-02-30"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "2024-03-01T10:00Z"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-03-01",
          "until": "2024-03-02T00:00:00Z"}, "badArgument"),  # two granularities
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-03-02",
          "until": "2024-03-01"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "country MDA"},
         "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"},
         "badArgument"),  # exclusive
        ({"verb": "ListRecords", "resumptionToken": "not.a.token"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "x"}, "badResumptionToken"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        ({"verb": "GetRecord", "identifier": oai_id(public), "metadataPrefix": "dc"},
         "cannotDisseminateFormat"),
        ({"verb": "GetRecord", "identifier": oai_id(999), "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),
        ({"verb": "GetRecord", "identifier": oai_id(internal), "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),  # never public: as unknown as a missing one
        ({"verb": "GetRecord", "identifier": oai_id(draft), "metadataPrefix": "oai_dc"},
         "idDoesNotExist"),
        ({"verb": "GetRecord", "identifier": f"oai:elsewhere.org:{public}",
          "metadataPrefix": "oai_dc"}, "idDoesNotExist"),
        ({"verb": "ListMetadataFormats", "identifier": "42"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2099-01-01"},
         "noRecordsMatch"),
        ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "agency:WHO"},
         "noRecordsMatch"),
    ]
    for method in ("GET", "POST"):
        for params, code in cases:
            assert error_code(raw(served, method, **params)) == code, (method, params)

    # Repeated arguments (urlencode above cannot send them).
    for query, code in (("verb=Identify&verb=Identify", "badVerb"),
                        ("verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc",
                         "badArgument")):
        with urllib.request.urlopen(f"{served}/oai?{query}", timeout=30) as answer:
            assert error_code(check_oai_pmh(answer.read())) == code

    # A token of one verb is not one of another, nor one altered by a character.
    page = harvester.harvest(verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = page.xml.findtext(f".//{q(OAI, 'resumptionToken')}")
    assert token
    assert error_code(raw(served, verb="ListRecords", resumptionToken=token)) \
        == "badResumptionToken"
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert error_code(raw(served, verb="ListIdentifiers", resumptionToken=altered)) \
        == "badResumptionToken"

    # The harvester library's own reading of the errors it meets while harvesting.
    with pytest.raises(oaiexceptions.CannotDisseminateFormat):
        next(harvester.ListRecords(metadataPrefix="marc21"))
    with pytest.raises(oaiexceptions.IdDoesNotExist):
        harvester.GetRecord(identifier=oai_id(internal), metadataPrefix="oai_dc")
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        next(harvester.ListIdentifiers(metadataPrefix="oai_dc", set="country:MDA"))
    with pytest.raises(oaiexceptions.BadArgument):
        next(harvester.ListIdentifiers(metadataPrefix="oai_dc", **{"from": "yesterday"}))
    with pytest.raises(oaiexceptions.BadResumptionToken):
        next(harvester.ListRecords(resumptionToken=token))


def test_an_empty_repository_still_has_sets_so_no_set_hierarchy_never_applies(served,
                                                                             harvester):
    """noSetHierarchy means "this repository has no sets": kb always has its set
    kinds, so it never answers it. An empty repository answers noRecordsMatch instead."""
    assert [s.setSpec for s in harvester.ListSets()] == ["country", "agency", "type", "gcm",
                                                         "sdg", "area"]
    with pytest.raises(oaiexceptions.NoRecordsMatch):
        next(harvester.ListRecords(metadataPrefix="oai_dc", set="country"))
    identify = harvester.Identify()
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.baseURL == served + "/oai"
    assert identify.repositoryIdentifier == REPO  # the oai-identifier description
    formats = {f.metadataPrefix: f.metadataNamespace
               for f in harvester.ListMetadataFormats()}
    assert formats == {"oai_dc": OAI_DC, "mods": MODS}


# ---------------------------------------------------------------------------------------
# A token survives a restart of the real `kb serve`


class Server:
    """A `kb serve` on an instance of its own, started and stopped by the test."""

    def __init__(self, app: Flask, root: Path) -> None:
        self.env = kb_env(app, KB_OAI_PAGE_SIZE="2", KB_OAI_REPOSITORY_IDENTIFIER=REPO)
        self.root = root
        self.log = root / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def kb(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([str(KB), *args], cwd=self.root, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"kb {args[0]}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [str(KB), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1"], cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_for(f"kb serve on {self.url} (log: {self.log})", self.answers, 60)
                yield
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/oai?verb=Identify", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False


def test_a_resumption_token_survives_a_restart_of_kb_serve(app, tmp_path):
    """Five documents imported by `kb import`, two a page: the harvest goes on with the
    token the first server gave, after the server has stopped and started again."""
    server = Server(app, tmp_path)
    server.kb("user", "add", "ed@example.org", "--role", "editor", "--password-stdin",
              stdin="correct horse battery\n")
    folder = tmp_path / "batch"
    folder.mkdir()
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "title", "countries"])
        for i in range(5):
            (folder / f"r{i}.txt").write_text(f"Report {i} on labour migration.")
            writer.writerow([f"r{i}.txt", f"Imported report {i}", "SRB"])
    server.kb("import", str(folder), "--manifest", str(folder / "manifest.csv"),
              "--workers", "1", "--as", "ed@example.org")

    with server.running():
        headers = CheckedSickle(server.url + "/oai", timeout=30).ListIdentifiers(
            metadataPrefix="oai_dc", set="country:SRB")
        seen = [next(headers).identifier, next(headers).identifier]
    with server.running():  # a new process: nothing of the first one's memory is left
        seen += [h.identifier for h in headers]
    assert [doc_of(i) for i in seen] == [1, 2, 3, 4, 5]

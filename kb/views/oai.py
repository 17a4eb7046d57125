"""OAI-PMH 2.0 at /oai: harvesters (library catalogues, aggregators) copy the metadata of
the public, published documents, and learn which ones have gone.

GET or POST (application/x-www-form-urlencoded; no CSRF token: the protocol only reads).
Every answer is XML with status 200, errors included (as <error code="...">), as the
protocol says. Formats: ``oai_dc`` (simple Dublin Core, which every harvester reads) and
``mods`` (MODS 3.7: it keeps what Dublin Core flattens into text, such as ISO 3166
country codes, ISO 639-1 language codes, agencies as named organisations with their
codes and roles, the file's type and size, the page and file links told apart).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request, url_for
from lxml import etree

from kb import taxonomy
from kb.errors import OaiError
from kb.extensions import csrf
from kb.extract import unit_for
from kb.models import Document, HarvestRecord
from kb.services import harvest
from kb.services.harvest import Described, FileFacts, Position, Resumption, Selection

bp = Blueprint("oai", __name__)
csrf.exempt(bp)

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
MODS = "http://www.loc.gov/mods/v3"
OAI_IDENTIFIER = "http://www.openarchives.org/OAI/2.0/oai-identifier"

# verb -> (required arguments, optional ones); resumptionToken, where allowed, is exclusive.
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"})),
    "ListSets": (frozenset(), frozenset({"resumptionToken"})),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": (frozenset({"metadataPrefix"}),
                        frozenset({"from", "until", "set", "resumptionToken"})),
    "ListRecords": (frozenset({"metadataPrefix"}),
                    frozenset({"from", "until", "set", "resumptionToken"})),
}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SECOND = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
# Characters XML 1.0 cannot carry (text extracted from files may hold some).
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# A repositoryIdentifier as the oai-identifier schema allows it (a domain name).
REPOSITORY_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+")


@dataclass(frozen=True)
class Context:
    """What a metadata record says besides the document's own facts."""

    identifier: str
    datestamp: datetime
    page_url: str
    download_url: str | None
    repository: str


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    write: Callable[[Described, Context], etree._Element]


@bp.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    """Answer one OAI-PMH request (any error as the protocol's <error>, status 200)."""
    params = request.form if request.method == "POST" else request.args
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _text(root, "responseDate", harvest.utc_text(harvest.datestamp_now()))
    asked = _text(root, "request", url_for("oai.endpoint", _external=True))
    try:
        verb, args = _arguments(params)
        for name, value in {"verb": verb, **args}.items():
            asked.set(name, _clean(value))
        root.append(HANDLERS[verb](args))
    except OaiError as e:
        if e.code in ("badVerb", "badArgument"):
            asked.attrib.clear()  # the protocol: the base URL alone for these two
        error = _text(root, "error", e.message)
        error.set("code", e.code)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Response(body, mimetype="text/xml", content_type="text/xml; charset=utf-8")


def _arguments(params: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, checked as the protocol says (badVerb, badArgument)."""
    getlist = params.getlist  # type: ignore[attr-defined]
    verbs = getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "The verb argument is missing, repeated or not one of "
                       + ", ".join(VERBS) + ".")
    verb = verbs[0]
    required, optional = VERBS[verb]
    args: dict[str, str] = {}
    for name in params:
        if name == "verb":
            continue
        values = getlist(name)
        if name not in required | optional:
            raise OaiError("badArgument", f"{verb} takes no argument {name!r}.")
        if len(values) != 1:
            raise OaiError("badArgument", f"The argument {name!r} is repeated.")
        args[name] = values[0]
    if "resumptionToken" in args:
        if len(args) > 1:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument: send "
                           "it with the verb alone.")
        return verb, args
    missing = sorted(required - args.keys())
    if missing:
        raise OaiError("badArgument", f"{verb} needs the argument {missing[0]!r}.")
    return verb, args


# ---------------------------------------------------------------------------------------
# The verbs


def identify(_args: dict[str, str]) -> etree._Element:
    config = current_app.config
    found = etree.Element(f"{{{OAI}}}Identify")
    _text(found, "repositoryName", str(config["OAI_REPOSITORY_NAME"]))
    _text(found, "baseURL", url_for("oai.endpoint", _external=True))
    _text(found, "protocolVersion", "2.0")
    _text(found, "adminEmail", str(config["OAI_ADMIN_EMAIL"] or config["ADMIN_EMAIL"]))
    _text(found, "earliestDatestamp", harvest.utc_text(harvest.earliest_datestamp()))
    _text(found, "deletedRecord", "persistent")
    _text(found, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    repository = repository_identifier()
    if REPOSITORY_ID.fullmatch(repository):
        description = _text(found, "description")
        ident = etree.SubElement(description, f"{{{OAI_IDENTIFIER}}}oai-identifier",
                                 nsmap={None: OAI_IDENTIFIER})
        ident.set(f"{{{XSI}}}schemaLocation",
                  f"{OAI_IDENTIFIER} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")
        for name, value in (("scheme", "oai"), ("repositoryIdentifier", repository),
                            ("delimiter", ":"), ("sampleIdentifier", identifier_of(1))):
            etree.SubElement(ident, f"{{{OAI_IDENTIFIER}}}{name}").text = value
    return found


def list_metadata_formats(args: dict[str, str]) -> etree._Element:
    if "identifier" in args:
        record = _record_for(args["identifier"])
        if not harvest.live_documents([record]):
            raise OaiError("noMetadataFormats", "The item is deleted: it has no metadata.")
    found = etree.Element(f"{{{OAI}}}ListMetadataFormats")
    for fmt in FORMATS.values():
        item = _text(found, "metadataFormat")
        _text(item, "metadataPrefix", fmt.prefix)
        _text(item, "schema", fmt.schema)
        _text(item, "metadataNamespace", fmt.namespace)
    return found


def list_sets(args: dict[str, str]) -> etree._Element:
    if "resumptionToken" in args:
        raise OaiError("badResumptionToken", "ListSets is answered in one go; this "
                       "repository issues no resumption token for it.")
    found = etree.Element(f"{{{OAI}}}ListSets")
    for each in harvest.sets():
        item = _text(found, "set")
        _text(item, "setSpec", each.spec)
        _text(item, "setName", each.name)
    return found


def get_record(args: dict[str, str]) -> etree._Element:
    fmt = _format(args["metadataPrefix"])
    record = _record_for(args["identifier"])
    live = harvest.live_documents([record])
    found = etree.Element(f"{{{OAI}}}GetRecord")
    found.append(_record(record, live.get(record.doc_id), fmt, harvest.agency_labels()))
    return found


def list_identifiers(args: dict[str, str]) -> etree._Element:
    return _list("ListIdentifiers", args)


def list_records(args: dict[str, str]) -> etree._Element:
    return _list("ListRecords", args)


def _list(verb: str, args: dict[str, str]) -> etree._Element:
    resumed = (harvest.read_token(args["resumptionToken"], verb)
               if "resumptionToken" in args else None)
    if resumed is not None:
        sel, after, cursor = resumed.selection, resumed.after, resumed.cursor
    else:
        sel, after, cursor = _selection(args), None, 0
    fmt = _format(sel.metadata_prefix)
    records, more = harvest.records_page(sel, after, int(current_app.config["OAI_PAGE_SIZE"]))
    if not records:
        raise OaiError("noRecordsMatch", "No record matches these arguments.")
    live = harvest.live_documents(records)
    found = etree.Element(f"{{{OAI}}}{verb}")
    if verb == "ListRecords":
        labels = harvest.agency_labels()
        for record in records:
            found.append(_record(record, live.get(record.doc_id), fmt, labels))
    else:
        for record in records:
            found.append(_header(record, deleted=record.doc_id not in live))
    given = cursor + len(records)
    if more:
        last = Position(records[-1].datestamp, records[-1].doc_id)
        token, expires = harvest.issue_token(Resumption(verb, sel, last, given,
                                                        harvest.datestamp_now()))
        element = _text(found, "resumptionToken", token)
        element.set("expirationDate", harvest.utc_text(expires))
        element.set("completeListSize", str(given + harvest.count_records(sel, last)))
        element.set("cursor", str(cursor))
    elif resumed is not None:
        # The last page of a list given in several: an empty token says it is complete.
        element = _text(found, "resumptionToken")
        element.set("completeListSize", str(given))
        element.set("cursor", str(cursor))
    return found


HANDLERS: dict[str, Callable[[dict[str, str]], etree._Element]] = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": list_identifiers,
    "ListRecords": list_records,
}


# ---------------------------------------------------------------------------------------
# Arguments


def repository_identifier() -> str:
    """The middle part of oai:REPOSITORY:42: configured, else the host name asked for."""
    configured = current_app.config.get("OAI_REPOSITORY_IDENTIFIER")
    return str(configured or urlsplit(request.host_url).hostname or "localhost")


def identifier_of(doc_id: int) -> str:
    return f"oai:{repository_identifier()}:{doc_id}"


def _record_for(identifier: str) -> HarvestRecord:
    """The harvest record an identifier names; idDoesNotExist for one that never was
    harvestable (the same answer as for a document that never existed)."""
    prefix = f"oai:{repository_identifier()}:"
    number = identifier[len(prefix):] if identifier.startswith(prefix) else ""
    record = (harvest.record(int(number)) if re.fullmatch(r"[1-9][0-9]{0,17}", number)
              else None)
    if record is None:
        raise OaiError("idDoesNotExist", f"This repository has no item {identifier!r}.")
    return record


def _format(prefix: str) -> MetadataFormat:
    fmt = FORMATS.get(prefix)
    if fmt is None:
        raise OaiError("cannotDisseminateFormat", f"The metadata format {prefix!r} is not "
                       "one of " + ", ".join(FORMATS) + ".")
    return fmt


def _selection(args: dict[str, str]) -> Selection:
    since = _moment(args.get("from"), "from", end=False)
    until = _moment(args.get("until"), "until", end=True)
    if since and until:
        if since[1] != until[1]:
            raise OaiError("badArgument", "from and until must have the same granularity.")
        if since[0] > until[0]:
            raise OaiError("badArgument", "from is later than until.")
    set_spec = args.get("set")
    if set_spec is not None and not harvest.SET_SPEC.fullmatch(set_spec):
        raise OaiError("badArgument", f"{set_spec!r} is not a setSpec (e.g. country:MDA).")
    _format(args["metadataPrefix"])
    return Selection(args["metadataPrefix"], set_spec, since[0] if since else None,
                     until[0] if until else None)


def _moment(raw: str | None, name: str, *, end: bool) -> tuple[datetime, str] | None:
    """A from or until argument, as the first (or, for until, last) second it covers."""
    if raw is None:
        return None
    try:
        if SECOND.fullmatch(raw):
            return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ"), "second"
        if DAY.fullmatch(raw):
            day = datetime.strptime(raw, "%Y-%m-%d")
            return (day + timedelta(days=1, seconds=-1) if end else day), "day"
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name} must be a UTC date (YYYY-MM-DD) or time "
                   f"(YYYY-MM-DDThh:mm:ssZ), not {raw!r}.")


# ---------------------------------------------------------------------------------------
# Records


def _header(record: HarvestRecord, *, deleted: bool) -> etree._Element:
    header = etree.Element(f"{{{OAI}}}header")
    if deleted:
        header.set("status", "deleted")
    _text(header, "identifier", identifier_of(record.doc_id))
    _text(header, "datestamp", harvest.utc_text(record.datestamp))
    for spec in harvest.specs_of(record):
        _text(header, "setSpec", spec)
    return header


def _record(record: HarvestRecord, doc: Document | None, fmt: MetadataFormat,
            labels: dict[str, str]) -> etree._Element:
    """A record: its header, and its metadata unless it is deleted (``doc`` None)."""
    found = etree.Element(f"{{{OAI}}}record")
    found.append(_header(record, deleted=doc is None))
    if doc is not None:
        context = Context(
            identifier=identifier_of(doc.doc_id), datestamp=record.datestamp,
            page_url=url_for("documents.detail", doc_id=doc.doc_id, _external=True),
            download_url=url_for("documents.download", doc_id=doc.doc_id, _external=True)
            if doc.current_file is not None else None,
            repository=str(current_app.config["OAI_REPOSITORY_NAME"]))
        _text(found, "metadata").append(fmt.write(harvest.describe(doc, labels), context))
    return found


def oai_dc(d: Described, c: Context) -> etree._Element:
    """Simple Dublin Core: agencies as publisher (the first) and contributors, themes as
    subjects, countries as coverage, access as rights."""
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")

    def dc(name: str, value: str | None) -> None:
        if value:
            etree.SubElement(root, f"{{{DC}}}{name}").text = _clean(value)

    dc("title", d.title)
    for i, (_code, label) in enumerate(d.agencies):
        dc("publisher" if i == 0 else "contributor", label)
    for theme in d.themes:
        dc("subject", theme)
    dc("description", d.summary)
    dc("date", str(d.year) if d.year else None)
    dc("type", "Text")  # the DCMI Type Vocabulary's
    dc("type", taxonomy.label("type", d.doc_type) if d.doc_type else None)
    dc("format", d.file.content_type if d.file else None)
    dc("identifier", c.page_url)
    dc("identifier", c.download_url)
    dc("language", d.language)
    for code in d.countries:
        dc("coverage", taxonomy.label("country", code))
    dc("rights", f"Access: {taxonomy.label('access', d.access)}")
    if d.access == "public":
        dc("rights", "info:eu-repo/semantics/openAccess")
    return root


def mods(d: Described, c: Context) -> etree._Element:
    """MODS 3.7: the same facts with their codes and authorities kept."""
    root = etree.Element(f"{{{MODS}}}mods", nsmap={None: MODS, "xsi": XSI})
    root.set("version", "3.7")
    root.set(f"{{{XSI}}}schemaLocation", f"{MODS} http://www.loc.gov/standards/mods/v3/mods-3-7.xsd")

    def sub(parent: etree._Element, name: str, value: str | None = None,
            **attrs: str) -> etree._Element:
        element = etree.SubElement(parent, f"{{{MODS}}}{name}")
        for key, val in attrs.items():
            element.set(key, val)
        if value is not None:
            element.text = _clean(value)
        return element

    sub(sub(root, "titleInfo"), "title", d.title)
    for i, (code, label) in enumerate(d.agencies):
        name = sub(root, "name", type="corporate")
        sub(name, "namePart", label)
        role = sub(name, "role")
        sub(role, "roleTerm", "pbl" if i == 0 else "ctb", type="code", authority="marcrelator")
        sub(role, "roleTerm", "Publisher" if i == 0 else "Contributor", type="text")
        sub(name, "nameIdentifier", code, type="local")
    sub(root, "typeOfResource", "text")
    if d.doc_type:
        sub(root, "genre", taxonomy.label("type", d.doc_type), authority="local")
    origin = sub(root, "originInfo")
    if d.agencies:
        sub(origin, "publisher", d.agencies[0][1])
    if d.year:
        sub(origin, "dateIssued", str(d.year), encoding="w3cdtf", keyDate="yes")
    if d.language:
        language = sub(root, "language")
        sub(language, "languageTerm", d.language, type="code", authority="iso639-1")
        sub(language, "languageTerm", taxonomy.label("language", d.language), type="text")
    if d.file:
        physical = sub(root, "physicalDescription")
        sub(physical, "internetMediaType", d.file.content_type)
        sub(physical, "extent", _extent(d.file))
    if d.summary:
        sub(root, "abstract", d.summary)
    if d.phase:
        sub(root, "note", taxonomy.label("phase", d.phase), type="programme phase")
    for theme in d.themes:
        sub(sub(root, "subject"), "topic", theme)
    for code in d.countries:
        subject = sub(root, "subject")
        sub(subject, "geographic", taxonomy.label("country", code))
        if len(code) == 3:  # ISO 3166-1 alpha-3; EU is a region of kb's, not an ISO code
            sub(subject, "geographicCode", code, authority="iso3166")
    sub(root, "identifier", c.page_url, type="uri")
    location = sub(root, "location")
    sub(location, "url", c.page_url, usage="primary display", access="object in context")
    if c.download_url:
        sub(location, "url", c.download_url, access="raw object")
    sub(root, "accessCondition", f"Access: {taxonomy.label('access', d.access)}",
        type="restriction on access")
    info = sub(root, "recordInfo")
    sub(info, "recordContentSource", c.repository)
    sub(info, "recordCreationDate", d.created, encoding="w3cdtf")
    sub(info, "recordChangeDate", harvest.utc_text(c.datestamp), encoding="w3cdtf")
    sub(info, "recordIdentifier", c.identifier)
    return root


def _extent(file: FileFacts) -> str:
    """'12 pages', '1 slide', '3 sheets', or the size when the count is unknown."""
    if not file.pages:
        return f"{file.size} bytes"
    unit = unit_for(file.content_type)
    return f"{file.pages} {unit}{'s' if file.pages != 1 else ''}"


FORMATS: dict[str, MetadataFormat] = {
    "oai_dc": MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                             OAI_DC, oai_dc),
    "mods": MetadataFormat("mods", "http://www.loc.gov/standards/mods/v3/mods-3-7.xsd",
                           MODS, mods),
}


def _text(parent: etree._Element, name: str, value: str | None = None) -> etree._Element:
    """A child in the OAI namespace, with text (cleaned of what XML cannot carry)."""
    element = etree.SubElement(parent, f"{{{OAI}}}{name}")
    if value is not None:
        element.text = _clean(value)
    return element


def _clean(value: str) -> str:
    return NOT_XML.sub("\ufffd", value)

"""Channel by channel, what the repository sends to the outside (harvesters, crawlers,
feed readers) holds only public, published documents: nothing internal, restricted,
unpublished or withdrawn, not even a title, a country or an id; and a document withdrawn
after a harvest is gone from the next one (reported deleted where the channel can say so).

A new channel (an Atom feed, a citation export) is one more entry in CHANNELS: a function
that reads everything the channel offers an anonymous visitor.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from flask.testing import FlaskClient
from lxml import etree

from kb.services import groups as groups_service

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass
class Seen:
    """What one channel showed: documents present, documents reported gone, all its text."""

    live: set[int] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)
    text: str = ""


@dataclass(frozen=True)
class Channel:
    name: str
    read: Callable[[FlaskClient, list[int]], Seen]
    # Whether the channel tells of documents that went (else they just disappear).
    reports_deletions: bool = False
    # Whether it lists documents (ids) at all, or only names things (sets, suggestions).
    lists_documents: bool = True


def _oai_list(verb: str, prefix: str) -> Callable[[FlaskClient, list[int]], Seen]:
    def read(client: FlaskClient, _ids: list[int]) -> Seen:
        seen = Seen()
        params = {"verb": verb, "metadataPrefix": prefix}
        while True:
            body = client.get("/oai", query_string=params).get_data()
            seen.text += body.decode()
            root = etree.fromstring(body)
            for header in root.iter(f"{OAI}header"):
                doc_id = int(header.findtext(f"{OAI}identifier").rsplit(":", 1)[1])
                (seen.deleted if header.get("status") == "deleted" else seen.live).add(doc_id)
            token = root.findtext(f".//{OAI}resumptionToken")
            if not token:
                return seen
            params = {"verb": verb, "resumptionToken": token}

    return read


def _oai_get_record(client: FlaskClient, ids: list[int]) -> Seen:
    """GetRecord of every id there is, and of a few past the last one."""
    seen = Seen()
    host = client.get("/oai?verb=Identify").get_data(as_text=True)
    seen.text += host
    for doc_id in [*ids, max(ids) + 1, max(ids) + 2]:
        for prefix in ("oai_dc", "mods"):
            body = client.get("/oai", query_string={
                "verb": "GetRecord", "metadataPrefix": prefix,
                "identifier": f"oai:localhost:{doc_id}"}).get_data()
            seen.text += body.decode()
            header = etree.fromstring(body).find(f".//{OAI}header")
            if header is not None:
                (seen.deleted if header.get("status") == "deleted" else seen.live).add(doc_id)
    return seen


def _oai_sets(client: FlaskClient, _ids: list[int]) -> Seen:
    """ListSets names no country, agency or type only hidden documents have."""
    return Seen(text=client.get("/oai?verb=ListSets").get_data(as_text=True))


def _citation_files(client: FlaskClient, ids: list[int]) -> Seen:
    """Every document's BibTeX, RIS and CSL-JSON (and a few past the last id)."""
    seen = Seen()
    for doc_id in [*ids, max(ids) + 1, max(ids) + 2]:
        for fmt in ("bib", "ris", "json"):
            res = client.get(f"/documents/{doc_id}/cite.{fmt}")
            if res.status_code == 200:
                seen.live.add(doc_id)
                seen.text += res.get_data(as_text=True)
            else:
                # 410: a purged document's tombstone (no title, nothing of what it was)
                assert res.status_code in (404, 410), (doc_id, fmt, res.status_code)
    return seen


def _search_exports(client: FlaskClient, _ids: list[int]) -> Seen:
    """Every document a search finds, as each export file (once the worker has indexed
    what was uploaded or changed)."""
    res = client.application.test_cli_runner().invoke(args=["worker", "--once"])
    assert res.exit_code == 0, res.output
    seen = Seen()
    for fmt in ("bib", "ris", "json", "csv"):
        for query in ("", "?q=report", "?q=secret"):
            seen.text += client.get(f"/search/export.{fmt}{query}").get_data(as_text=True)
    seen.live = {int(n) for n in re.findall(r"/documents/(\d+)\b", seen.text)}
    return seen


def _sitemap(client: FlaskClient, _ids: list[int]) -> Seen:
    text = client.get("/sitemap.xml").get_data(as_text=True)
    text += client.get("/robots.txt").get_data(as_text=True)
    return Seen(live={int(n) for n in re.findall(r"/documents/(\d+)<", text)}, text=text)


def _atom_ids(body: bytes) -> set[int]:
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    return {int(e.findtext(f"{ATOM}id").rsplit("/", 1)[1]) for e in root.iter(f"{ATOM}entry")}


def _feed(client: FlaskClient, _ids: list[int]) -> Seen:
    body = client.get("/feed.atom?per_page=50").get_data()
    return Seen(live=_atom_ids(body), text=body.decode())


# Searches whose feeds are read: every document, words of hidden titles, a filter.
FEED_SEARCHES = ("", "q=notes", "q=secret", "q=delta OR zeta OR theta", "country=MDA",
                 "q=notes&sort=newest&per_page=50")


def _search_feeds(client: FlaskClient, _ids: list[int]) -> Seen:
    """The feeds of a few searches, asked by a signed-in editor: a feed is public all the
    same (its address is shared, feed readers send no cookies)."""
    cli = client.application.test_cli_runner()
    run = cli.invoke(args=["worker", "--once"])
    assert run.exit_code == 0, run.output
    # An editor of its own (added once; already there on a later read).
    cli.invoke(args=["user", "add", "feeds@example.org", "--role", "editor",
                     "--password-stdin"], input="correct horse battery\n")
    token = cli.invoke(args=["token", "create", "feeds@example.org"])
    assert token.exit_code == 0, token.output
    seen = Seen()
    for params in FEED_SEARCHES:
        for headers in ({}, {"Authorization": f"Bearer {token.output.strip()}"}):
            body = client.get(f"/search.atom?{params}", headers=headers).get_data()
            seen.live |= _atom_ids(body)
            seen.text += body.decode()
    return seen


def _opensearch(client: FlaskClient, _ids: list[int]) -> Seen:
    """The browser's search box: the description and suggestions for hidden titles."""
    seen = Seen(text=client.get("/opensearch.xml").get_data(as_text=True))
    for q in ("secret", "sec", "soon", "visible", "kyrg", "high"):
        seen.text += client.get("/opensearch/suggest", query_string={"q": q}).get_data(
            as_text=True)
    return seen


CHANNELS = [
    Channel("OAI-PMH ListRecords oai_dc", _oai_list("ListRecords", "oai_dc"), True),
    Channel("OAI-PMH ListRecords mods", _oai_list("ListRecords", "mods"), True),
    Channel("OAI-PMH ListIdentifiers", _oai_list("ListIdentifiers", "oai_dc"), True),
    Channel("OAI-PMH GetRecord", _oai_get_record, True),
    Channel("OAI-PMH ListSets", _oai_sets, lists_documents=False),
    Channel("sitemap.xml and robots.txt", _sitemap),
    Channel("Atom feed of the newest documents", _feed),
    Channel("Atom feeds of searches", _search_feeds),
    Channel("OpenSearch description and suggestions", _opensearch, lists_documents=False),
    Channel("citation files (cite.bib, cite.ris, cite.json)", _citation_files),
    Channel("search exports (BibTeX, RIS, CSL-JSON, CSV)", _search_exports),
]
# What only hidden documents carry: none of it may reach any channel.
HIDDEN_COUNTRY, HIDDEN_COUNTRY_NAME = "KGZ", "Kyrgyzstan"
HIDDEN_AGENCY, HIDDEN_AGENCY_NAME = "UNHCR", "High Commissioner for Refugees"
HIDDEN_TYPE = "training"


@pytest.fixture
def world(app, client, make_user, upload):
    """A public document in each state a document can be in, and two public ones."""
    # Every export in every state, from one address: more than EXPORT_RATE_LIMIT allows
    # (test_citations checks the limit itself).
    app.config["EXPORT_RATE_LIMIT"] = "10000 per minute"
    editor, contributor, admin = make_user("editor"), make_user("contributor"), \
        make_user("admin")
    with app.app_context():
        groups_service.create_group("Moldova country team", None)

    def make(title: str, account, **meta) -> int:
        res = upload(f"{title}: notes on migration and development.".encode(),
                     f"{title}.txt", account=account, title=title, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    hidden_meta = {"countries": [HIDDEN_COUNTRY], "agencies": [HIDDEN_AGENCY],
                   "type": HIDDEN_TYPE}
    ids = {
        "public": make("Visible report alpha", editor, countries=["MDA"], agencies=["IOM"]),
        "also-public": make("Visible report beta", editor, type="report"),
        "to-withdraw": make("Soon withdrawn gamma", editor, countries=["JAM"]),
        "internal": make("Secret internal delta", editor, access="internal", **hidden_meta),
        "restricted": make("Secret restricted epsilon", editor, access="restricted",
                           groups=["Moldova country team"], **hidden_meta),
        "submitted": make("Secret submitted zeta", contributor, **hidden_meta),
        "returned": make("Secret returned eta", contributor, **hidden_meta),
        "withdrawn-unseen": make("Secret withdrawn theta", contributor, **hidden_meta),
    }
    headers = editor.headers
    assert client.post(f"/api/v1/documents/{ids['returned']}/return", headers=headers,
                       data={"comment": "Add the annex"}).status_code == 200
    assert client.post(f"/api/v1/documents/{ids['withdrawn-unseen']}/withdraw",
                       headers=headers).status_code == 200
    return ids, editor, admin


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_only_public_published_documents_reach_a_channel(client, runner, world, channel):
    ids, editor, admin = world
    public = {ids["public"], ids["also-public"], ids["to-withdraw"]}
    never_public = {v for k, v in ids.items() if k.startswith(("internal", "restricted",
                                                             "submitted", "returned",
                                                             "withdrawn"))}
    assert client.get("/oai?verb=Identify").status_code == 200

    seen = channel.read(client, sorted(ids.values()))
    if channel.lists_documents:
        assert seen.live == public, channel.name
    assert not seen.deleted, "nothing public has gone yet"
    _no_trace_of_hidden_documents(seen, never_public)

    # Withdrawn after that harvest: gone from the next one, and said so where it can be.
    withdrawn = ids["to-withdraw"]
    assert client.post(f"/api/v1/documents/{withdrawn}/withdraw",
                       headers=editor.headers).status_code == 200
    seen = channel.read(client, sorted(ids.values()))
    assert withdrawn not in seen.live
    assert seen.deleted == ({withdrawn} if channel.reports_deletions else set())
    assert "Soon withdrawn gamma" not in seen.text
    _no_trace_of_hidden_documents(seen, never_public)

    # Deleted (into the trash), then purged for good: still reported gone (persistently),
    # still without a title.
    assert client.delete(f"/api/v1/documents/{withdrawn}",
                         headers=admin.headers).status_code == 204
    for step in ("trash", "purge"):
        if step == "purge":
            assert runner.invoke(args=["purge", str(withdrawn)]).exit_code == 0
        seen = channel.read(client, sorted(ids.values()))
        assert seen.deleted == ({withdrawn} if channel.reports_deletions else set()), step
        assert seen.live == ({ids["public"], ids["also-public"]}
                             if channel.lists_documents else set()), step
        assert "Soon withdrawn gamma" not in seen.text


def _no_trace_of_hidden_documents(seen: Seen, never_public: set[int]) -> None:
    assert not seen.live & never_public
    assert not seen.deleted & never_public, "a never-public document's id went out"
    for leak in ("Secret", HIDDEN_COUNTRY, HIDDEN_COUNTRY_NAME, HIDDEN_AGENCY,
                 HIDDEN_AGENCY_NAME, HIDDEN_TYPE, "Training material"):
        assert leak not in seen.text, leak
    for doc_id in never_public:
        assert f"/documents/{doc_id}<" not in seen.text
        assert f"/documents/{doc_id}/" not in seen.text


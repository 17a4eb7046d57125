"""A document page describes itself to machines: Highwire Press citation_* meta tags as
Google Scholar reads them, schema.org JSON-LD, and rel=canonical; the JSON-LD cannot be
broken out of by a title, and the real Chromium runs the page under kb's CSP without a
violation."""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree, html
from reportlab.pdfgen import canvas

from tests.browser_kit import Site, new_context, site_fixture
from tests.conftest import login

HOSTILE = '</script><script>alert(1)</script> & <!-- "quoted" \'single\''
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def tiny_pdf(text: str = "Remittance corridors pilot") -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


class Page:
    """A document page as a crawler reads it: its meta tags and its JSON-LD."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree = html.fromstring(text)

    def meta(self, name: str) -> list[str]:
        return [str(m.get("content")) for m in self.tree.xpath("//head/meta[@name=$n]", n=name)]

    def canonical(self) -> list[str]:
        return [str(link.get("href")) for link in self.tree.xpath("//head/link[@rel='canonical']")]

    def json_ld(self) -> dict[str, Any]:
        blocks = self.tree.xpath("//script[@type='application/ld+json']")
        assert len(blocks) == 1, self.text
        found: dict[str, Any] = json.loads(blocks[0].text)
        return found


def page_of(client: Any, doc_id: int) -> Page:
    res = client.get(f"/documents/{doc_id}")
    assert res.status_code == 200, res.get_data(as_text=True)
    return Page(res.get_data(as_text=True))


@pytest.fixture
def add(upload: Callable[..., Any]) -> Callable[..., int]:
    def make(data: bytes, filename: str, **meta: Any) -> int:
        res = upload(data, filename, **meta)
        assert res.status_code == 201, res.get_data(as_text=True)
        return int(res.json["id"])

    return make


def test_a_public_pdf_report_has_scholar_tags_and_json_ld(client, add, process):
    pdf = tiny_pdf()
    doc = add(pdf, "corridors.pdf", title="Remittance corridors: a pilot in Moldova",
              summary="What the pilot learned about remittance corridors.", type="report",
              countries=["MDA", "EU"], agencies=["IOM", "UNDP"],
              themes=["remittances", "diaspora"], language="ro", year="2014")
    process()
    page = page_of(client, doc)
    url = f"http://localhost/documents/{doc}"
    assert page.canonical() == [url]

    assert page.meta("citation_title") == ["Remittance corridors: a pilot in Moldova"]
    assert page.meta("citation_author") == ["International Organization for Migration",
                                            "United Nations Development Programme"]
    assert page.meta("citation_publication_date") == ["2014"]
    assert page.meta("citation_publisher") == ["International Organization for Migration"]
    assert page.meta("citation_technical_report_institution") == [
        "International Organization for Migration"]
    assert page.meta("citation_language") == ["ro"]
    assert page.meta("citation_keywords") == ["remittances", "diaspora"]
    assert page.meta("citation_abstract_html_url") == [url]
    assert page.meta("citation_pdf_url") == [f"{url}/download"]
    # Scholar fetches it: an anonymous visitor gets the PDF itself at that address.
    with client.get(urllib.parse.urlsplit(page.meta("citation_pdf_url")[0]).path) as got:
        assert got.status_code == 200 and got.data == pdf

    ld = page.json_ld()
    assert ld["@context"] == "https://schema.org"
    assert ld["@type"] == "Report"
    assert ld["@id"] == ld["url"] == url
    assert ld["name"] == "Remittance corridors: a pilot in Moldova"
    assert ld["description"] == "What the pilot learned about remittance corridors."
    assert ld["inLanguage"] == "ro"
    assert ld["datePublished"] == "2014"
    assert ld["keywords"] == ["remittances", "diaspora"]
    assert ld["isAccessibleForFree"] is True
    moldova, europe = ld["spatialCoverage"]
    assert moldova["@type"] == "Country" and moldova["name"] == "Moldova"
    assert {(i["propertyID"], i["value"]) for i in moldova["identifier"]} == {
        ("ISO 3166-1 alpha-3", "MDA"), ("ISO 3166-1 alpha-2", "MD")}
    assert europe == {"@type": "Place", "name": "European Union", "identifier": "EU"}
    assert ld["publisher"] == {"@type": "Organization", "alternateName": "IOM",
                               "name": "International Organization for Migration"}
    assert [a["alternateName"] for a in ld["author"]] == ["IOM", "UNDP"]
    assert ld["encoding"] == {"@type": "MediaObject", "contentUrl": f"{url}/download",
                              "encodingFormat": "application/pdf",
                              "contentSize": f"{len(pdf)} B"}
    # The last change is the one the sitemap gives for the same page.
    sitemap = etree.fromstring(client.get("/sitemap.xml").data)
    lastmod = {u.findtext(f"{SITEMAP}loc"): u.findtext(f"{SITEMAP}lastmod")
               for u in sitemap.iter(f"{SITEMAP}url")}
    assert ld["dateModified"] == lastmod[url]


def test_a_text_tool_is_a_creative_work_without_a_pdf_url(client, add):
    doc = add(b"A checklist for local authorities.", "checklist.txt",
              title="Checklist for mainstreaming", type="tool", agencies=["IOM"])
    page = page_of(client, doc)
    assert page.meta("citation_title") == ["Checklist for mainstreaming"]
    assert page.meta("citation_pdf_url") == []
    assert page.meta("citation_technical_report_institution") == []  # not a report
    assert page.meta("citation_publication_date") == []  # no year: none invented
    ld = page.json_ld()
    assert ld["@type"] == "CreativeWork"
    assert ld["encoding"]["encodingFormat"].startswith("text/plain")
    assert "datePublished" not in ld and "spatialCoverage" not in ld


def test_no_file_link_for_a_visitor_who_may_not_download(client, add, editor):
    doc = add(tiny_pdf(), "withdrawn.pdf", title="A withdrawn report", type="report")
    assert client.post(f"/api/v1/documents/{doc}/withdraw", headers=editor.headers,
                       json={}).status_code == 200
    login(client, editor)  # editors still see a withdrawn document, not its file
    page = page_of(client, doc)
    assert page.meta("citation_title") == ["A withdrawn report"]
    assert page.meta("citation_pdf_url") == []
    assert "encoding" not in page.json_ld()
    assert page.canonical() == [f"http://localhost/documents/{doc}"]


def test_an_internal_document_shows_nothing_to_an_anonymous_visitor(client, add):
    doc = add(tiny_pdf(), "internal.pdf", title="Internal corridor notes", access="internal")
    res = client.get(f"/documents/{doc}")
    assert res.status_code == 404
    body = res.get_data(as_text=True)
    assert "Internal corridor notes" not in body
    assert "citation_" not in body and "ld+json" not in body


def test_a_hostile_title_stays_inside_the_json_ld(client, add):
    doc = add(b"Notes.", "notes.txt", title=HOSTILE, summary=f"Summary {HOSTILE}")
    page = page_of(client, doc)
    # Nothing closed the data block: the page's only script elements are kb's own.
    scripts = page.tree.xpath("//script")
    assert [s.get("type") for s in scripts if not s.get("src")] == ["application/ld+json"]
    assert "<script>alert(1)" not in page.text
    ld = page.json_ld()
    assert ld["name"] == HOSTILE
    assert ld["description"] == f"Summary {HOSTILE}"
    assert page.meta("citation_title") == [HOSTILE]


# --- in the real browser ------------------------------------------------------------------

site = site_fixture(seed=False)

# Collected before any script of the page runs (an init script, outside the page's CSP).
WATCH_CSP = """window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.mark.browser
def test_the_browser_runs_the_page_under_the_csp_without_a_violation(site: Site, browser):
    token = site.kb("token", "create", "editor@example.org").stdout.strip()
    query = urllib.parse.urlencode({"filename": "hostile.pdf", "title": HOSTILE,
                                    "type": "report", "agencies": "IOM", "year": "2016"})
    request = urllib.request.Request(
        f"{site.url}/api/v1/documents?{query}", data=tiny_pdf(), method="POST",
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(request, timeout=30) as r:
        doc = json.load(r)["id"]

    context = new_context(browser, site)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.add_init_script(WATCH_CSP)
    answer = page.goto(f"/documents/{doc}")
    assert answer is not None and answer.status == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert page.evaluate("window.__violations") == []
    assert problems == []
    found = page.evaluate("JSON.parse(document.querySelector("
                          "'script[type=\"application/ld+json\"]').textContent)")
    assert found["name"] == HOSTILE and found["@type"] == "Report"
    assert page.locator("meta[name=citation_pdf_url]").get_attribute("content") \
        == f"{site.url}/documents/{doc}/download"
    context.close()

"""Every readable format, built here with real libraries: sniffed by content, extracted page
by page (slides and sheets as pages), found by a unique word; hostile archives refused."""

from __future__ import annotations

import io
import os
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from odf import dc, draw, style, table, text
from odf import meta as odfmeta
from odf.opendocument import (
    OpenDocumentPresentation,
    OpenDocumentSpreadsheet,
    OpenDocumentText,
)

from kb.errors import ExtractionError
from kb.extract import (
    DOCX,
    EPUB,
    HTML,
    MARKDOWN,
    ODP,
    ODS,
    ODT,
    PDF,
    PPTX,
    RTF,
    TEXT,
    XLSX,
    epub,
    extract,
    opendocument,
    pdf,
    sniff,
    unit_for,
    webpage,
    word,
    zipguard,
)
from tests.conftest import PDF_SAMPLES, need_corpora

# --- builders: real files of each format, made with the libraries people's tools use ---


def docx_bytes(*paragraphs: str, title: str = "", author: str = "") -> bytes:
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    grid = document.add_table(rows=1, cols=2)
    grid.cell(0, 0).text, grid.cell(0, 1).text = "cell one", "cell two"
    props = document.core_properties
    props.title, props.author, props.language = title, author, "es-EC"
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def pptx_bytes(*slides: str) -> bytes:
    deck = pptx.Presentation()
    for words in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = f"Slide about {words.split()[0]}"
        slide.placeholders[1].text = words
    deck.slides[0].notes_slide.notes_text_frame.text = "speaker notes pptxnoteword"
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def xlsx_bytes(**sheets: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def _odf_bytes(document: object) -> bytes:
    buf = io.BytesIO()
    document.write(buf)  # type: ignore[attr-defined]
    return buf.getvalue()


def odt_bytes(*paragraphs: str, title: str = "", author: str = "") -> bytes:
    document = OpenDocumentText()
    if title:
        document.meta.addElement(dc.Title(text=title))
    if author:
        document.meta.addElement(odfmeta.InitialCreator(text=author))
    document.meta.addElement(dc.Language(text="fr-FR"))
    for p in paragraphs:
        document.text.addElement(text.P(text=p))
    return _odf_bytes(document)


def ods_bytes(**sheets: list[list[str]]) -> bytes:
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        sheet = table.Table(name=name)
        for row in rows:
            tr = table.TableRow()
            for value in row:
                cell = table.TableCell(valuetype="string")
                cell.addElement(text.P(text=value))
                tr.addElement(cell)
            # Trailing padding as LibreOffice writes it: one element standing for many.
            tr.addElement(table.TableCell(numbercolumnsrepeated=1000))
            sheet.addElement(tr)
        sheet.addElement(table.TableRow(numberrowsrepeated=1_000_000))
        document.spreadsheet.addElement(sheet)
    return _odf_bytes(document)


def odp_bytes(*slides: str) -> bytes:
    document = OpenDocumentPresentation()
    layout = style.PageLayout(name="Layout")
    document.automaticstyles.addElement(layout)
    master = style.MasterPage(name="Master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for words in slides:
        page = draw.Page(masterpagename=master)
        frame = draw.Frame(width="20cm", height="5cm", x="1cm", y="1cm")
        box = draw.TextBox()
        box.addElement(text.P(text=words))
        frame.addElement(box)
        page.addElement(frame)
        document.presentation.addElement(page)
    return _odf_bytes(document)


def epub_bytes(*chapters: str, title: str = "A book", author: str = "An author") -> bytes:
    """An EPUB 3 as the specification lays it out: an uncompressed `mimetype` first."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip",
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/container.xml", """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf"
    media-type="application/oebps-package+xml"/></rootfiles>
</container>""")
        items = "".join(f'<item id="c{i}" href="text/chapter%20{i}.xhtml" '
                        'media-type="application/xhtml+xml"/>' for i in range(len(chapters)))
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        zf.writestr("OEBPS/content.opf", f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1</dc:identifier>
    <dc:title>{title}</dc:title><dc:creator>{author}</dc:creator>
    <dc:language>ru</dc:language><dc:date>2016-03-01</dc:date>
    <meta property="dcterms:modified">2017-01-02T03:04:05Z</meta>
  </metadata>
  <manifest>{items}</manifest>
  <spine>{spine}</spine>
</package>""")
        for i, words in enumerate(chapters):
            zf.writestr(f"OEBPS/text/chapter {i}.xhtml", f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Chapter {i}</title>
<style>p {{ color: red }} epubstyleword</style></head>
<body><h1>Chapter {i}</h1><p>{words}</p></body></html>""")
    return buf.getvalue()


RTF_DOC = (rb"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times New Roman;}}"
           rb"{\info{\title Informe anual}{\author Ana P\'e9rez}{\creatim\yr2015\mo6\dy2}}"
           rb"\f0\fs24 Migraci\'f3n y desarrollo: rtfuniqueword.\par Segunda l\'ednea.\par}")

HTML_DOC = b"""<!DOCTYPE html>
<html lang="ro-MD"><head><meta charset="utf-8"><title>Raport privind migra\xc8\x9bia</title>
<meta name="author" content="Ion Popescu"><style>body { font: htmlstyleword }</style>
<script>var htmlscriptword = "<p>not text</p>";</script></head>
<body><nav>Menu</nav><h1>Remiten\xc8\x9be</h1>
<p>The htmlvisibleword &amp; its neighbours.</p>
<noscript>htmlnoscriptword</noscript><template><p>htmltemplateword</p></template>
<div hidden>htmlhiddenword</div>
</body></html>"""

MARKDOWN_DOC = b"# Diaspora engagement\n\nA *markdownword* in a list:\n\n- one\n- two\n"


# name, builder, unique word, the page it is on, the type sniffed from the bytes
FORMATS: list[tuple[str, Callable[[], bytes], str, int, str]] = [
    ("report.docx", lambda: docx_bytes("Intro.", "The docxword is here."), "docxword", 1,
     DOCX),
    ("deck.pptx", lambda: pptx_bytes("alpha one", "beta two", "gamma pptxslideword"),
     "pptxslideword", 3, PPTX),
    ("deck notes.pptx", lambda: pptx_bytes("alpha one", "beta two"), "pptxnoteword", 1, PPTX),
    ("indicators.xlsx", lambda: xlsx_bytes(
        Summary=[["Country", "Year"], ["MDA", 2014]],
        Remittances=[["Year", "Share", "Note"], [2015, 0.25, "xlsxsheetword"]],
        Empty=[]), "xlsxsheetword", 2, XLSX),
    ("paper.odt", lambda: odt_bytes("First.", "The odtword here."), "odtword", 1, ODT),
    ("table.ods", lambda: ods_bytes(One=[["a", "b"]], Two=[["c"]], Three=[["x", "odsword"]]),
     "odsword", 3, ODS),
    ("slides.odp", lambda: odp_bytes("first slide", "second odpword"), "odpword", 2, ODP),
    ("book.epub", lambda: epub_bytes("Prologue.", "Middle epubword.", "End."), "epubword", 2,
     EPUB),
    ("letter.rtf", lambda: RTF_DOC, "rtfuniqueword", 1, RTF),
    ("page.html", lambda: HTML_DOC, "htmlvisibleword", 1, HTML),
    ("notes.md", lambda: MARKDOWN_DOC, "markdownword", 1, MARKDOWN),
    ("notes.txt", lambda: b"Plain textword.\fSecond page textpagetwo.", "textpagetwo", 2,
     TEXT),
]


@pytest.mark.parametrize(("filename", "build", "word", "page", "mime"), FORMATS,
                         ids=[f[0] for f in FORMATS])
def test_each_format_is_found_by_its_words_on_the_right_page(
        upload, client, process, filename, build, word, page, mime):
    res = upload(build(), filename, title=f"Sample {filename}")
    assert res.status_code == 201, res.json
    assert "warning" not in res.json
    doc_id = res.json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["status"], doc["error"]) == ("ready", None)
    assert doc["files"][0]["content_type"] == mime
    found = client.get("/api/v1/search", query_string={"q": word}).json
    assert [r["id"] for r in found["results"]] == [doc_id]
    snippets = found["results"][0]["snippets"]
    assert snippets[0]["page"] == page
    assert f"<mark>{word}</mark>" in snippets[0]["html"]


def test_sheets_keep_cells_in_rows_and_numbers_as_people_write_them(tmp_path):
    path = tmp_path / "w.xlsx"
    path.write_bytes(xlsx_bytes(Data=[["Year", "Share", None, "Note"], [2015, 0.25, None, "x"],
                                      [2016.0, 1 / 3]]))
    result = extract(path, XLSX)
    assert result.unit == "sheet"
    assert result.pages == ("Year\tShare\t\tNote\n2015\t0.25\t\tx\n2016\t0.333333333333333",)
    path = tmp_path / "t.ods"
    path.write_bytes(ods_bytes(A=[["x", "y"], ["z"]], B=[]))
    # Repeated padding rows and columns are not written out.
    assert extract(path, ODS).pages == ("x\ty\nz", "")


def test_units_name_slides_and_sheets():
    assert (unit_for(PPTX), unit_for(ODP)) == ("slide", "slide")
    assert (unit_for(XLSX), unit_for(ODS)) == ("sheet", "sheet")
    assert unit_for(DOCX) == unit_for(PDF) == unit_for("application/x-unknown") == "page"


def test_html_scripts_styles_and_hidden_parts_are_not_indexed(upload, client, process):
    doc_id = upload(HTML_DOC, "page.html").json["id"]
    process()
    assert client.get("/api/v1/search", query_string={"q": "htmlvisibleword"}).json["total"] == 1
    for hidden in ("htmlscriptword", "htmlstyleword", "htmlnoscriptword", "htmltemplateword",
                   "htmlhiddenword"):
        res = client.get("/api/v1/search", query_string={"q": hidden}).json
        assert res["total"] == 0, hidden
    assert client.get(f"/api/v1/documents/{doc_id}").json["status"] == "ready"


def test_visible_text_survives_a_head_without_end_tag_and_one_huge_line():
    page = webpage.parse("<html><head><title>T</title><body><p>seen</p><pre>a\n  b</pre>")
    assert page.text() == "seen\na\nb"
    huge = "<p>" + "word " * 2_000_000 + "end</p>"  # 10 MB on one line
    started = time.monotonic()
    assert webpage.parse(huge).text().endswith("word end")
    assert time.monotonic() - started < 30


def test_html_encoding_comes_from_its_meta_charset(tmp_path):
    path = tmp_path / "p.html"
    path.write_bytes('<html><head><meta http-equiv="Content-Type" content="text/html; '
                     'charset=windows-1251"></head><body>Миграция</body></html>'
                     .encode("windows-1251"))
    assert webpage.extract(path).pages == ("Миграция",)


def test_a_name_that_disagrees_with_the_content_is_reported(upload, client, process):
    res = upload(docx_bytes("The mismatchword report."), "report.pdf")
    assert res.status_code == 201
    assert res.json["warning"] == ("The name says .pdf but the content is a Word document "
                                   "(DOCX).")
    assert res.json["files"][0]["content_type"] == DOCX
    process()
    found = client.get("/api/v1/search", query_string={"q": "mismatchword"}).json
    assert [r["id"] for r in found["results"]] == [res.json["id"]]
    # Said once, at upload: the document's own answer stays as it was.
    assert "warning" not in client.get(f"/api/v1/documents/{res.json['id']}").json


def test_sniffing_reads_bytes_not_names(tmp_path):
    def sniffed(data: bytes, name: str | None) -> tuple[str | None, str | None]:
        path = tmp_path / "f"
        path.write_bytes(data)
        result = sniff(path, name)
        return result.mime, result.mismatch

    assert sniffed(b"%PDF-1.4\n", "x.txt") == (
        PDF, "The name says .txt but the content is a PDF.")
    assert sniffed(b"\xef\xbb\xbf  \n<!doctype HTML><p>x", None) == (HTML, None)
    assert sniffed(b'<?xml version="1.0"?>\n<!-- c --><html><body>x', "a.htm") == (HTML, None)
    assert sniffed("<html><body>x</body>".encode("utf-16"), "a.html") == (HTML, None)
    assert sniffed(b"Prose that mentions <html> later.", "a.txt") == (TEXT, None)
    assert sniffed(b"# Title\n", "README.markdown") == (MARKDOWN, None)
    assert sniffed(b"# Title\n", "README.txt") == (TEXT, None)
    assert sniffed(b"plain", "data.csv") == (TEXT, None)
    assert sniffed(b"{\\rtf1\\ansi x}", "x.doc") == (
        RTF, "The name says .doc but the content is an RTF document.")
    assert sniffed(xlsx_bytes(A=[["x"]]), "x.xlsx") == (XLSX, None)
    assert sniffed(pptx_bytes("x"), None) == (PPTX, None)
    assert sniffed(ods_bytes(A=[["x"]]), "x.xlsx")[0] == ODS
    assert sniffed(odp_bytes("x"), "x.odp") == (ODP, None)
    assert sniffed(epub_bytes("x"), "x.zip") == (
        EPUB, "The name says .zip but the content is an EPUB book.")
    assert sniffed(epub_bytes("x"), "book") == (EPUB, None)
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("a.txt", "x")
    assert sniffed(plain_zip.getvalue(), "a.docx") == (None, None)


def test_unknown_binary_is_refused_with_the_accepted_kinds(upload):
    res = upload(os.urandom(2048) + b"\x00\x01", "data.bin")
    assert res.status_code == 415
    assert "Word (DOCX), OpenDocument (ODT, ODS, ODP), PowerPoint (PPTX)" in res.json["error"]
    assert "EPUB, Markdown or plain text" in res.json["error"]
    old_word = upload(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096), "old.doc")
    assert old_word.status_code == 415
    assert "older Office file" in old_word.json["error"]


# --- hostile archives -------------------------------------------------------------------


def raw_zip(entries: list[dict[str, object]]) -> bytes:
    """A ZIP written byte by byte, so that tests can say what zipfile would refuse to write.

    Each entry: name, data (already compressed), method, crc, size; optionally
    ``offset`` (the central directory's claim of where the entry starts) and ``mode``.
    """
    out = io.BytesIO()
    central = []
    for e in entries:
        name = str(e["name"]).encode()
        data = bytes(e["data"])  # type: ignore[arg-type]
        at = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, e["method"], 0, 0, e["crc"],
                              len(data), e["size"], len(name), 0) + name + data)
        central.append(struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 0x0314, 20, 0, e["method"], 0, 0, e["crc"],
            len(data), e["size"], len(name), 0, 0, 0, 0, int(e.get("mode", 0o644)) << 16,
            int(e.get("offset", at))) + name)  # type: ignore[call-overload]
    start = out.tell()
    out.write(b"".join(central))
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))
    return out.getvalue()


def deflated(data: bytes) -> dict[str, object]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return {"data": c.compress(data) + c.flush(), "method": 8, "crc": zlib.crc32(data),
            "size": len(data)}


def deflated_zeros(megabytes: int) -> dict[str, object]:
    """Deflated zeros, built from one compressed megabyte: after a full flush the
    compressor starts afresh, so every further megabyte compresses to the same bytes."""
    block = bytes(1024 * 1024)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    return {"data": one * megabytes + c.flush(), "method": 8, "crc": crc,
            "size": megabytes * len(block)}


CONTENT_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
                 b'2006/content-types"><Override PartName="/word/document.xml" ContentType="'
                 b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.'
                 b'main+xml"/></Types>')


def test_a_zip_bomb_named_docx_fails_quickly_and_stays_downloadable(upload, client, process):
    bomb = raw_zip([{"name": "[Content_Types].xml", **deflated(CONTENT_TYPES)},
                    {"name": "word/document.xml", **deflated_zeros(1024)}])
    assert len(bomb) < 2 * 1024 * 1024  # 1 GB inside
    res = upload(bomb, "annual report.docx", title="Bomb")
    assert res.status_code == 201, res.json
    assert res.json["files"][0]["content_type"] == DOCX
    started = time.monotonic()
    process()
    assert time.monotonic() - started < 20
    doc = client.get(f"/api/v1/documents/{res.json['id']}").json
    assert (doc["status"], doc["error_code"]) == ("failed", "too-large")
    assert "word/document.xml" in doc["error"] and "1.0 GB" in doc["error"]
    with client.get(f"/documents/{res.json['id']}/download") as download:
        assert download.data == bomb


def with_part(archive: bytes, name: str, data: bytes) -> bytes:
    """The archive with one part's content replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, data if info.filename == name else src.read(info))
    return out.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE w:document [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:body><w:p><w:r><w:t>&g;</w:t></w:r></w:p></w:body></w:document>"""


def test_an_xml_entity_bomb_in_a_docx_fails_by_name_and_the_worker_goes_on(
        upload, client, process):
    hostile = with_part(docx_bytes("x"), "word/document.xml", BILLION_LAUGHS)
    bad_id = upload(hostile, "laughs.docx").json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{bad_id}").json
    assert (doc["status"], doc["error_code"]) == ("failed", "corrupt")
    assert "word/document.xml" in doc["error"] and "XML" in doc["error"]
    with client.get(f"/documents/{bad_id}/download") as download:
        assert download.data == hostile

    good_id = upload(docx_bytes("The afterbombword."), "next.docx").json["id"]
    process()
    assert client.get(f"/api/v1/documents/{good_id}").json["status"] == "ready"
    found = client.get("/api/v1/search", query_string={"q": "afterbombword"}).json
    assert [r["id"] for r in found["results"]] == [good_id]


def _guard(tmp_path: Path, archive: bytes, **limits: int) -> ExtractionError:
    path = tmp_path / "a.zip"
    path.write_bytes(archive)
    with pytest.raises(ExtractionError) as caught:
        zipguard.check_document(path, limits=zipguard.ZipLimits(**limits))
    return caught.value


@pytest.mark.parametrize(("name", "mode"), [
    ("../../etc/passwd", 0o644), ("/etc/passwd", 0o644), ("C:/boot.ini", 0o644),
    ("word\\..\\..\\x", 0o644), ("a\x00b.xml", 0o644), ("word/link.xml", 0o120777),
])
def test_unsafe_entry_names_and_symlinks_are_corrupt(tmp_path, name, mode):
    archive = raw_zip([{"name": name, "mode": mode, **deflated(b"<x/>")}])
    error = _guard(tmp_path, archive)
    assert error.code == "corrupt"
    assert "unsafe name" in error.message or "symbolic link" in error.message


def test_overlapping_entries_are_refused_as_a_bomb(tmp_path):
    part = deflated(b"<a>" + b"x" * 1000 + b"</a>")
    archive = raw_zip([{"name": "a.xml", **part}, {"name": "b.xml", "offset": 0, **part}])
    error = _guard(tmp_path, archive)
    assert error.code == "too-large"
    assert "overlap" in error.message


def test_limits_on_entries_sizes_and_ratio(tmp_path):
    many = raw_zip([{"name": f"p{i}.xml", **deflated(b"<x/>")} for i in range(6)])
    assert "more than 5 parts" in _guard(tmp_path, many, max_entries=5).message
    big = raw_zip([{"name": "a.xml", **deflated(os.urandom(3000))},
                   {"name": "b.xml", **deflated(os.urandom(3000))}])
    assert _guard(tmp_path, big, max_entry=2000).code == "too-large"
    error = _guard(tmp_path, big, max_total=5000)
    assert error.code == "too-large" and "more than the limit" in error.message
    squeezed = raw_zip([{"name": "z.xml", **deflated_zeros(2)}])
    error = _guard(tmp_path, squeezed)
    assert error.code == "too-large" and "100 to 1" in error.message


def test_truncated_and_encrypted_archives(tmp_path):
    whole = docx_bytes("x")
    assert _guard(tmp_path, whole[: len(whole) // 2]).code == "corrupt"
    locked = bytearray(raw_zip([{"name": "a.xml", **deflated(b"<a/>")}]))
    locked[6] |= 1  # the local header's "encrypted" flag
    central = locked.rindex(b"PK\x01\x02")
    locked[central + 8] |= 1
    assert _guard(tmp_path, bytes(locked)).code == "encrypted"


def test_entity_declarations_in_any_encoding_are_refused(tmp_path):
    payload = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x/>'
    archive = raw_zip([{"name": "content.xml", **deflated(payload.encode("utf-16"))}])
    assert _guard(tmp_path, archive).code == "corrupt"
    # EPUB's XHTML may name a DOCTYPE, but not declare entities.
    path = tmp_path / "b.epub"
    path.write_bytes(with_part(epub_bytes("x"), "OEBPS/content.opf",
                               b'<!DOCTYPE p [<!ENTITY a "b">]><package/>'))
    with pytest.raises(ExtractionError) as caught:
        epub.extract(path)
    assert caught.value.code == "corrupt"


# --- metadata read from the files themselves --------------------------------------------


def test_pdf_metadata_from_info_and_xmp():
    sample = need_corpora(PDF_SAMPLES) / "020-xmp/output_with_metadata_pymupdf.pdf"
    found = pdf.extract(sample).metadata
    # Title and author are only in the XMP packet; the creation date is in the info dictionary.
    assert found["title"] == "Sample PDF with XMP Metadata"
    assert found["author"] == "John Doe"
    assert found["created"].startswith("2023-04-")


def test_docx_metadata_from_core_properties(tmp_path):
    path = tmp_path / "m.docx"
    path.write_bytes(docx_bytes("x", title="Informe de remesas", author="María López"))
    found = word.extract(path).metadata
    assert found["title"] == "Informe de remesas"
    assert found["author"] == "María López"
    assert found["language"] == "es"
    assert found["modified"].endswith("Z")


def test_missing_core_properties_are_not_invented(tmp_path):
    # python-docx would fill them in ("python-docx" as last editor, the time of reading).
    path = tmp_path / "bare.docx"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes("x", title="Gone"))) as src, \
            zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "_rels/.rels":
                data = re.sub(rb"<Relationship [^>]*core-properties[^>]*/>", b"", data)
            if info.filename != "docProps/core.xml":
                dst.writestr(info.filename, data)
    path.write_bytes(out.getvalue())
    result = word.extract(path)
    assert result.pages == ("x\ncell one\ncell two",)
    assert result.metadata == {}


def test_other_formats_metadata(tmp_path):
    path = tmp_path / "m.odt"
    path.write_bytes(odt_bytes("x", title="Rapport", author="Jean"))
    assert opendocument.extract(path).metadata == {"title": "Rapport", "author": "Jean",
                                                   "language": "fr"}
    path = tmp_path / "m.epub"
    path.write_bytes(epub_bytes("x", title="Книга", author="Автор"))
    assert epub.extract(path).metadata == {
        "title": "Книга", "author": "Автор", "created": "2016-03-01",
        "modified": "2017-01-02T03:04:05Z", "language": "ru"}
    path = tmp_path / "m.html"
    path.write_bytes(HTML_DOC)
    assert webpage.extract(path).metadata == {"title": "Raport privind migrația",
                                              "author": "Ion Popescu", "language": "ro"}
    path = tmp_path / "m.rtf"
    path.write_bytes(RTF_DOC)
    found = extract(path, RTF)
    assert found.metadata == {"title": "Informe anual", "author": "Ana Pérez",
                              "created": "2015-06-02"}
    assert "Migración y desarrollo" in found.pages[0]


def test_pages_name_slides_and_sheets_where_they_apply(upload, client, process):
    deck = upload(pptx_bytes("Opening", "Findings on quixotrope"), "deck.pptx",
                  title="Workshop deck").json["id"]
    book = upload(xlsx_bytes(Summary=[["total"]], Data=[["indicator", "quixotrope"]]),
                  "book.xlsx", title="Indicators").json["id"]
    process()
    html = client.get("/", query_string={"q": "quixotrope"}).get_data(as_text=True)
    assert '<span class="page">slide 2</span>' in html
    assert '<span class="page">sheet 2</span>' in html
    detail = client.get(f"/documents/{deck}", query_string={"q": "quixotrope"})
    assert '<span class="page">slide 2</span>' in detail.get_data(as_text=True)
    assert book


def test_the_files_own_title_is_offered_after_upload(client, upload, process, editor):
    from tests.conftest import login

    doc_id = upload(docx_bytes("Text of the review", title="Annual migration review"),
                    "scan0001.docx", title="scan0001").json["id"]
    process()
    login(client, editor)
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "The file calls itself “Annual migration review”" in page
    form = client.get(f"/documents/{doc_id}/edit", query_string={"from_file": 1})
    assert 'value="Annual migration review"' in form.get_data(as_text=True)
    # Offered, not applied: the title changes only when the user saves.
    assert client.get(f"/api/v1/documents/{doc_id}").json["title"] == "scan0001"

"""Upload, extraction, download and the document API, through HTTP."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.conftest import PDF_SAMPLES, need_corpora

GEOTOPO = "009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"


def test_upload_returns_processing_then_ready_with_pages(upload, client, process):
    pdf = need_corpora(PDF_SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
    res = upload(pdf, "four pages.pdf", title="Four pages", countries=["MDA", "srb"],
                 agencies=["iom"], themes=[" Remittances ; DIASPORA", "remittances"],
                 type="report", year="2014", language="en", phase="phase-2")
    assert res.status_code == 201, res.json
    body = res.json
    assert body["status"] == "processing"
    assert body["countries"] == ["MDA", "SRB"]
    assert body["agencies"] == ["IOM"]
    assert body["themes"] == ["remittances", "diaspora"]
    process()
    doc = client.get(f"/api/v1/documents/{body['id']}").json
    assert doc["status"] == "ready"
    assert doc["error"] is None
    assert doc["files"][0]["pages"] == 4
    assert doc["files"][0]["filename"] == "four pages.pdf"
    assert doc["files"][0]["content_type"] == "application/pdf"
    assert doc["phase"] == "phase-2"


def test_real_pdfs_are_found_by_their_words_with_page_numbers(upload, client, process):
    samples = need_corpora(PDF_SAMPLES)
    ids = {}
    for name in (GEOTOPO, "011-google-doc-document/google-doc-document.pdf",
                 "021-pdfa/crazyones-pdfa.pdf", "015-arabic/habibi.pdf"):
        res = upload(samples / name, os.path.basename(name), title=os.path.basename(name))
        assert res.status_code == 201, res.json
        ids[name] = res.json["id"]
    process()

    res = client.get("/api/v1/search", query_string={"q": "Kurvensatz"}).json
    assert [r["id"] for r in res["results"]] == [ids[GEOTOPO]]
    snippets = res["results"][0]["snippets"]
    assert snippets and {s["page"] for s in snippets} == {23}
    assert "<mark>Kurvensatz</mark>" in snippets[0]["html"]

    res = client.get("/api/v1/search", query_string={"q": "misfits OR \"Beautiful is better\""})
    found = {r["id"] for r in res.json["results"]}
    assert ids["011-google-doc-document/google-doc-document.pdf"] in found
    for r in res.json["results"]:
        assert all(s["page"] == 1 for s in r["snippets"])

    # pypdf gives "misﬁts" with a ligature; people type "misfits".
    res = client.get("/api/v1/search", query_string={"q": "misfits"}).json
    assert [r["id"] for r in res["results"]] == [ids["021-pdfa/crazyones-pdfa.pdf"]]

    res = client.get("/api/v1/search", query_string={"q": "حَبيبي"}).json
    assert [r["id"] for r in res["results"]] == [ids["015-arabic/habibi.pdf"]]


def test_snippet_html_is_escaped_text_with_marks(upload, client, process):
    upload(b"Before <script>alert(1)</script> the remittance & migration study.", "x.txt",
           title="Escaping")
    process()
    snippet = client.get("/api/v1/search?q=remittance").json["results"][0]["snippets"][0]
    assert "<script>" not in snippet["html"]
    assert "&lt;script&gt;" in snippet["html"]
    assert "<mark>remittance</mark>" in snippet["html"]
    assert "&amp;" in snippet["html"]


def test_download_returns_the_same_bytes_with_headers_and_ranges(upload, client, process):
    pdf = need_corpora(PDF_SAMPLES) / "021-pdfa/crazyones-pdfa.pdf"
    original = pdf.read_bytes()
    doc_id = upload(pdf, "Crazy ones (final).pdf").json["id"]
    process()
    with client.get(f"/documents/{doc_id}/download") as res:
        data = res.data
    assert res.status_code == 200
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(original).hexdigest()
    assert res.headers["Content-Type"] == "application/pdf"
    assert res.headers["Content-Length"] == str(len(original))
    assert 'filename="Crazy ones (final).pdf"' in res.headers["Content-Disposition"]
    etag = res.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(original).hexdigest()

    with client.get(f"/documents/{doc_id}/download", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
    with client.get(f"/documents/{doc_id}/download", headers={"Range": "bytes=100-199"}) as part:
        assert part.status_code == 206
        assert part.data == original[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(original)}"
    # Two full downloads (the 304 and the later range do not count as new downloads).
    assert client.get(f"/api/v1/documents/{doc_id}").json["downloads"] == 2


def test_duplicate_upload_is_409_with_the_existing_id(upload):
    first = upload(b"the same bytes twice", "a.txt")
    second = upload(b"the same bytes twice", "b.txt", title="Another title")
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json["id"] == first.json["id"]
    assert "already" in second.json["error"]


def test_bad_metadata_names_every_wrong_field(upload):
    res = upload(b"text", "a.txt", title="", countries=["MDA", "XYZ"], agencies=["NOPE"],
                 type="memo", year="20x4", language="english", phase="phase-9", access="secret")
    assert res.status_code == 400
    fields = res.json["fields"]
    assert set(fields) == {"title", "countries", "agencies", "type", "year", "language",
                           "phase", "access"}
    assert "XYZ" in fields["countries"]
    assert "NOPE" in fields["agencies"]


def test_unknown_form_field_is_refused(upload):
    res = upload(b"text", "a.txt", colour="blue")
    assert res.status_code == 400
    assert res.json["fields"] == {"colour": "unknown field"}


def test_upload_needs_credentials_and_the_right_role(client, upload, make_user):
    anonymous = client.post("/api/v1/documents", data={"title": "x"})
    assert anonymous.status_code == 401
    bad_token = client.post("/api/v1/documents", data={"title": "x"},
                            headers={"Authorization": "Bearer kb_not-a-token"})
    assert bad_token.status_code == 401
    reader = make_user("reader")
    assert upload(b"text", "a.txt", account=reader).status_code == 403
    contributor = make_user("contributor")
    assert upload(b"text", "a.txt", account=contributor).status_code == 201


def test_empty_unreadable_and_too_large_files(app, upload):
    assert upload(b"", "empty.txt").status_code == 400
    binary = upload(os.urandom(4096) + b"\x00\x00", "random.pdf")
    assert binary.status_code == 415
    assert "PDF" in binary.json["error"]
    app.config["MAX_UPLOAD_MB"] = 1
    big = upload(b"a" * (1024 * 1024 + 10), "big.txt")
    assert big.status_code == 413
    assert "1 MB" in big.json["error"]


def test_file_names_never_become_paths(app, upload, client):
    res = upload(b"safe content", "../../etc/passwd\x00.txt")
    assert res.status_code == 201
    assert res.json["files"][0]["filename"] == "passwd.txt"
    long_name = "a" * 300 + ".pdf"
    res = upload(b"other content", long_name)
    assert len(res.json["files"][0]["filename"]) == 255
    assert res.json["files"][0]["filename"].endswith(".pdf")
    stored = [p.name for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()]
    assert all(len(n) == 64 for n in stored), stored


@pytest.mark.parametrize(("raw", "word"), [
    ("\ufeffMigración y desarrollo: remesas".encode(), "remesas"),
    ("Миграция и развитие: денежные переводы".encode("windows-1251"), "переводы"),
    ("Migrația și dezvoltarea: remitențe".encode("utf-16"), "remitențe"),
])
def test_text_in_other_encodings_is_read(upload, client, process, raw, word):
    doc_id = upload(raw, "t.txt", title="Encoded").json["id"]
    process()
    assert client.get(f"/api/v1/documents/{doc_id}").json["status"] == "ready"
    res = client.get("/api/v1/search", query_string={"q": word}).json
    assert [r["id"] for r in res["results"]] == [doc_id]


def test_unreadable_pdf_is_kept_findable_and_downloadable(upload, client, process):
    broken = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 9 0 R >>\n"
    doc_id = upload(broken, "broken.pdf", title="Broken agreement", countries=["TUN"]).json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert doc["status"] == "failed"
    assert doc["error_code"] == "corrupt"
    assert "save a new copy" in doc["error"]
    res = client.get("/api/v1/search", query_string={"q": "agreement", "country": "TUN"}).json
    assert [r["id"] for r in res["results"]] == [doc_id]
    with client.get(f"/documents/{doc_id}/download") as res:
        assert res.data == broken


def test_password_protected_pdf_is_named_encrypted(upload, client, process):
    pdf = (need_corpora(PDF_SAMPLES)
           / "005-libreoffice-writer-password/libreoffice-writer-password.pdf")
    doc_id = upload(pdf, "locked.pdf").json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["status"], doc["error_code"]) == ("failed", "encrypted")
    assert "password" in doc["error"]


def test_unknown_document_is_404_json(client):
    res = client.get("/api/v1/documents/999")
    assert res.status_code == 404
    assert res.json == {"error": "No such document."}
    assert client.get("/documents/999/download").status_code == 404


def test_taxonomy_lists_codes_and_labels(client):
    tax = client.get("/api/v1/taxonomy").json
    codes = [c["code"] for c in tax["countries"]]
    assert codes[:8] == ["BGD", "JAM", "MDA", "TUN", "ECU", "KGZ", "MAR", "SRB"]
    assert len(codes) > 240 and "FRA" in codes and "EU" in codes
    assert {"IOM", "UNDP", "SDC", "UN-Women", "WB"} <= {a["code"] for a in tax["agencies"]}
    assert "lessons-learned" in {t["code"] for t in tax["types"]}
    assert {p["code"] for p in tax["phases"]} == {"pilot", "phase-2", "other"}
    assert [lang["code"] for lang in tax["languages"]][:7] == ["en", "fr", "es", "ru", "ro",
                                                               "sr", "ar"]


def test_healthz(client):
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.json["status"] == "ok" and res.json["reasons"] == []
    assert res.json["database"] == "ok" and res.json["index"] == "ok"
    assert res.json["queue"]["queued"] == 0

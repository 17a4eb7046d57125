"""Hostile and broken input through the real upload path: each ends in a named state
within the limits, the worker lives on, and the original bytes stay downloadable."""

from __future__ import annotations

import time
import zlib

import pytest

from tests.conftest import PDF_SAMPLES, need_corpora


def make_pdf(*objects: bytes) -> bytes:
    """A PDF with a correct cross-reference table around the given objects (1-based)."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def stream(data: bytes, flate: bool = True) -> bytes:
    head = b"<< /Length %d%s >>\nstream\n" % (len(data), b" /Filter /FlateDecode" if flate else b"")
    return head + data + b"\nendstream"


def bomb_pdf(megabytes: int) -> bytes:
    """One page whose content stream inflates to ``megabytes`` MB of zeros."""
    comp = zlib.compressobj(9)
    zeros = b"\0" * (1 << 20)
    data = b"".join(comp.compress(zeros) for _ in range(megabytes)) + comp.flush()
    return make_pdf(b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
                    stream(data))


LOOP_PDF = make_pdf(b"<< /Type /Catalog /Pages 2 0 R >>",
                    b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                    b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>")


def outcome(client, doc_id):
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    return doc["status"], doc["error_code"], doc["error"]


def still_serves(client, doc_id, original: bytes) -> None:
    with client.get(f"/documents/{doc_id}/download") as res:
        assert res.status_code == 200
        assert res.data == original


def worker_lives_on(client, upload, process) -> None:
    doc_id = upload(b"an ordinary report after the hostile one", "after.txt").json["id"]
    process()
    assert outcome(client, doc_id)[0] == "ready"


def test_a_pdf_stream_inflating_to_gigabytes_fails_by_name(app, client, upload, process):
    data = bomb_pdf(1024)
    assert len(data) < 2 * 1024 * 1024
    doc_id = upload(data, "bomb.pdf", title="Bomb").json["id"]
    started = time.monotonic()
    process()
    assert time.monotonic() - started < app.config["EXTRACT_TIMEOUT"] + 10
    status, code, error = outcome(client, doc_id)
    assert (status, code) == ("failed", "too-large"), error
    still_serves(client, doc_id, data)
    worker_lives_on(client, upload, process)


def test_a_pdf_with_a_reference_loop_fails_by_name(client, upload, process):
    doc_id = upload(LOOP_PDF, "loop.pdf", title="Loop").json["id"]
    process()
    status, code, error = outcome(client, doc_id)
    assert status == "failed" and code in ("corrupt", "timed-out"), (code, error)
    assert "damaged" in error or "longer than" in error
    still_serves(client, doc_id, LOOP_PDF)
    worker_lives_on(client, upload, process)


def test_a_truncated_pdf_is_read_as_far_as_possible_or_named_corrupt(client, upload, process):
    original = (need_corpora(PDF_SAMPLES) / "004-pdflatex-4-pages/pdflatex-4-pages.pdf"
                ).read_bytes()
    cut = original[: len(original) // 2]
    doc_id = upload(cut, "cut.pdf", title="Cut short").json["id"]
    process()
    status, code, error = outcome(client, doc_id)
    assert (status, code) in (("failed", "corrupt"), ("ready", None),
                              ("ready", "no-text-layer")), error
    still_serves(client, doc_id, cut)
    worker_lives_on(client, upload, process)


def test_extraction_over_the_time_limit_is_timed_out(app, client, upload, process):
    pdf = need_corpora(PDF_SAMPLES) / "009-pdflatex-geotopo/GeoTopo-komprimiert.pdf"
    app.config["EXTRACT_TIMEOUT"] = 0.3
    doc_id = upload(pdf, "slow.pdf", title="A long book", countries=["SRB"]).json["id"]
    started = time.monotonic()
    process()
    assert time.monotonic() - started < 10
    status, code, error = outcome(client, doc_id)
    assert (status, code) == ("failed", "timed-out")
    assert "longer than 0.3 seconds" in error
    # Still findable by its metadata.
    found = client.get("/api/v1/search", query_string={"q": "book", "country": "SRB"}).json
    assert [r["id"] for r in found["results"]] == [doc_id]
    app.config["EXTRACT_TIMEOUT"] = 60.0
    worker_lives_on(client, upload, process)


def test_extraction_over_the_memory_limit_is_named(app, client, upload, process):
    app.config["EXTRACT_MEMORY_MB"] = 200
    data = b"remittances " * 10_000_000  # 120 MB of text: reading it needs more than 200 MB
    doc_id = upload(data, "huge.txt", title="Huge").json["id"]
    process()
    status, code, error = outcome(client, doc_id)
    assert (status, code) == ("failed", "too-much-memory"), error
    assert "200 MB" in error
    app.config["EXTRACT_MEMORY_MB"] = 1024
    worker_lives_on(client, upload, process)


def test_text_over_the_character_cap_is_too_large(app, client, upload, process):
    app.config["EXTRACT_MAX_CHARS"] = 1000
    doc_id = upload(b"word " * 400, "long.txt", title="Long").json["id"]
    process()
    status, code, error = outcome(client, doc_id)
    assert (status, code) == ("failed", "too-large")
    assert "1,000 characters" in error


@pytest.mark.parametrize(("data", "name", "status"), [
    (b"", "empty.pdf", 400),
    (bytes(range(256)) * 64, "random.pdf", 415),
])
def test_empty_and_unrecognisable_files_are_refused_at_upload(client, upload, data, name,
                                                              status):
    res = upload(data, name)
    assert res.status_code == status
    assert res.json["error"]


def test_editors_retry_a_failed_extraction_from_the_page_api_and_cli(
        app, client, runner, upload, process, make_user):
    from tests.conftest import csrf_from, login

    app.config["EXTRACT_MAX_CHARS"] = 10
    first = upload(b"an evaluation of return migration", "a.txt", title="First").json["id"]
    second = upload(b"a methodology for diaspora mapping", "b.txt", title="Second").json["id"]
    process()
    assert outcome(client, first)[:2] == ("failed", "too-large")
    editor, reader = make_user("editor"), make_user("reader")
    login(client, editor)
    review = client.get("/review").get_data(as_text=True)
    assert 'data-error-code="too-large"' in review and "First" in review
    page = client.get(f"/documents/{first}").get_data(as_text=True)
    assert "Split it into parts" in page and "Retry extraction" in page

    app.config["EXTRACT_MAX_CHARS"] = 20_000_000
    assert client.post(f"/api/v1/documents/{first}/reextract",
                       headers=reader.headers).status_code == 403
    res = client.post(f"/api/v1/documents/{first}/reextract", headers=editor.headers)
    assert res.status_code == 202 and res.json["status"] == "processing"
    process()
    assert outcome(client, first) == ("ready", None, None)
    res = runner.invoke(args=["reextract", "--failed"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "re-extracted 1: 1 ready, 0 failed"
    assert outcome(client, second)[0] == "ready"
    assert client.get("/api/v1/search?q=diaspora").json["total"] == 1
    page = client.get(f"/documents/{second}").get_data(as_text=True)
    client.post(f"/documents/{second}/reextract", data={"csrf_token": csrf_from(page)})
    assert outcome(client, second)[0] == "processing"


def test_an_html_file_of_one_50_mb_line_ends_by_name_within_the_limits(app, client, upload,
                                                                   process):
    line = b"<html><body><p>" + b"migration " * 5_000_000 + b"xylocarpous</p></body></html>"
    assert len(line) > 50_000_000 and b"\n" not in line
    doc_id = upload(line, "one-line.html", title="One line").json["id"]
    started = time.monotonic()
    process()
    assert time.monotonic() - started < app.config["EXTRACT_TIMEOUT"] + 30
    status, code, error = outcome(client, doc_id)
    # 50 million characters of visible text: past the cap of 20 million, named as such.
    assert (status, code) == ("failed", "too-large"), error
    found = client.get("/api/v1/search", query_string={"q": "line"}).json
    assert [r["id"] for r in found["results"]] == [doc_id]  # by its title
    still_serves(client, doc_id, line)
    worker_lives_on(client, upload, process)

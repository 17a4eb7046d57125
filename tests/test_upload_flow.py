"""The upload form as a person meets it: a file sent ahead and read for its own title,
year and language; refusals next to the file field with nothing lost; a form corrected
after an error that still holds the file; first-page thumbnails of PDFs, shown only to
those who may see the document; pending uploads nobody used swept after a day."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from werkzeug.datastructures import FileStorage

from kb.extensions import db
from kb.models import Document, PendingUpload, StoredFile, utcnow
from tests.conftest import (
    PDF_SAMPLES,
    csrf_from,
    login,
    make_app,
    need_corpora,
    post_multipart,
)

GEOTOPO = PDF_SAMPLES / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
CRAZYONES = PDF_SAMPLES / "021-pdfa" / "crazyones-pdfa.pdf"
NOTE = b"Notes of a workshop on diaspora engagement and remittances in Moldova.\n"


def send_ahead(client: Any, data: bytes, filename: str) -> Any:
    """POST /upload/pending as the page's script does (CSRF header, JSON wanted)."""
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    # Encoded in memory: the test client's own encoder leaves large bodies' files open.
    return post_multipart(client, "/upload/pending",
                          {"file": FileStorage(io.BytesIO(data), filename)},
                          {"X-CSRFToken": token, "Accept": "application/json"})


def submit(client: Any, **fields: Any) -> Any:
    """POST the upload form with a fresh CSRF token (``file``: (bytes, name))."""
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    if "file" in fields:
        data, name = fields.pop("file")
        fields["file"] = FileStorage(io.BytesIO(data), name)
    return post_multipart(client, "/upload", {"csrf_token": token, **fields})


def counts(app: Any) -> tuple[int, int, int]:
    """Documents, stored files and pending uploads in the database."""
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Document, StoredFile, PendingUpload))  # type: ignore[return-value]


def thumbnail_status(client: Any, doc_id: int) -> int:
    with client.get(f"/documents/{doc_id}/thumbnail.png") as res:
        return int(res.status_code)


def pending_files(app: Any) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"]) / "pending"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def staged_files(app: Any) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"]) / "tmp"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_a_pdf_sent_ahead_answers_with_its_own_title_year_and_language(
        app, client, make_user):
    pdf = need_corpora(GEOTOPO)
    login(client, make_user("contributor"))
    res = send_ahead(client, pdf.read_bytes(), "geotopo.pdf")
    assert res.status_code == 201, res.get_data(as_text=True)
    body = res.json
    assert body["title"] == "Geometrie und Topologie"
    assert body["year"] == "2016"
    assert (body["language"], body["language_label"]) == ("de", "German")
    assert body["filename"] == "geotopo.pdf"
    assert body["size"] == pdf.stat().st_size
    assert body["size_label"] == "1.7 MB"
    assert body["kind"] == "a PDF"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["id"])
    # Kept at once, under its random id (never the user's file name), and recorded.
    assert [p.name for p in pending_files(app)] == [body["id"]]
    assert counts(app) == (0, 0, 1)


@pytest.mark.parametrize("data, filename, status, says", [
    (b"", "empty.txt", 400, "The file is empty."),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "photo.png", 415,
     "This kind of file cannot be read."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old.doc", 415,
     "older Office file"),
    (b"x" * (1024 * 1024 + 1), "big.txt", 413, "larger than the limit of 1 MB"),
    (b"x" * (2 * 1024 * 1024 + 10), "huge.txt", 413, "larger than the limit of 1 MB"),
])
def test_a_refused_file_is_named_on_the_file_field_and_nothing_is_kept(
        app, client, make_user, data, filename, status, says):
    app.config["MAX_UPLOAD_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    login(client, make_user("contributor"))
    res = send_ahead(client, data, filename)
    assert res.status_code == status, res.get_data(as_text=True)
    assert set(res.json["fields"]) == {"file"}
    assert says in res.json["fields"]["file"]
    assert counts(app) == (0, 0, 0)
    assert pending_files(app) == [] and staged_files(app) == []


def test_the_same_refusals_without_javascript_show_next_to_the_file_field(
        app, client, make_user):
    login(client, make_user("contributor"))
    res = submit(client, title="A photo", access="public",
                 file=(b"\x89PNG\r\n\x1a\n" + bytes(300), "photo.png"))
    assert res.status_code == 415
    html = res.get_data(as_text=True)
    error = re.search(r'<p class="error" id="file-error"[^>]*>([^<]*)</p>', html)
    assert error and "This kind of file cannot be read." in error.group(1)
    assert 'aria-invalid="true"' in html
    assert 'value="A photo"' in html  # the metadata typed so far are still there
    res = submit(client, title="Nothing chosen", access="public")
    assert res.status_code == 400
    assert re.search(r'id="file-error"[^>]*>Choose a file to upload.<', res.get_data(as_text=True))
    assert counts(app) == (0, 0, 0)


def test_a_form_corrected_after_an_error_claims_the_file_sent_ahead(
        app, client, make_user, process):
    login(client, make_user("contributor"))
    sent = send_ahead(client, NOTE, "notes.txt").json
    bad = submit(client, pending=sent["id"], title="Workshop notes", year="19",
                 access="internal", countries=["MDA"])
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "year must be between 1900 and 2100" in html
    assert f'name="pending" type="hidden" value="{sent["id"]}"' in html
    assert "Kept: <strong>notes.txt</strong> (71 bytes)" in html
    assert counts(app) == (0, 0, 1)

    good = submit(client, pending=sent["id"], title="Workshop notes", year="2019",
                  access="internal", countries=["MDA"])
    assert good.status_code == 302, good.get_data(as_text=True)
    doc_id = int(good.headers["Location"].rsplit("/", 1)[1])
    assert counts(app) == (1, 1, 0)  # one stored file; the pending upload became it
    assert pending_files(app) == []
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["title"], doc["year"], doc["countries"], doc["access"]) == \
        ("Workshop notes", 2019, ["MDA"], "internal")
    assert doc["files"][0]["filename"] == "notes.txt"
    with client.get(f"/documents/{doc_id}/download") as download:
        assert download.data == NOTE
    # Used once: the same id again is gone, and says so on the file field.
    again = submit(client, pending=sent["id"], title="Again", access="internal")
    assert again.status_code == 404
    assert "no longer on the server" in again.get_data(as_text=True)
    assert counts(app) == (1, 1, 0)


def test_without_javascript_a_file_sent_with_a_wrong_form_is_kept_and_prefilled(
        app, client, make_user):
    pdf = need_corpora(GEOTOPO)
    login(client, make_user("contributor"))
    res = submit(client, title="", access="public",
                 file=(pdf.read_bytes(), "geotopo.pdf"))
    assert res.status_code == 400
    html = res.get_data(as_text=True)
    kept = re.search(r'name="pending" type="hidden" value="([^"]+)"', html)
    assert kept, "the form does not carry the file sent with it"
    assert 'value="Geometrie und Topologie"' in html
    assert 'value="2016"' in html
    assert re.search(r'<option selected value="de">|<option value="de" selected>', html)
    assert "Your file is kept." in html
    res = submit(client, pending=kept.group(1), title="Geometrie und Topologie",
                 year="2016", language="de", access="public")
    assert res.status_code == 302, res.get_data(as_text=True)
    assert counts(app) == (1, 1, 0)


def test_only_its_owner_can_use_a_pending_upload(app, client, make_user):
    owner, other = make_user("contributor"), make_user("contributor")
    login(client, owner)
    sent = send_ahead(client, NOTE, "notes.txt").json
    intruder = app.test_client()
    login(intruder, other)
    res = submit(intruder, pending=sent["id"], title="Not mine", access="public")
    assert res.status_code == 404
    assert "no longer on the server" in res.get_data(as_text=True)
    assert 'name="pending" type="hidden" value=""' in res.get_data(as_text=True)
    assert counts(app) == (0, 0, 1)
    # The owner still can.
    res = submit(client, pending=sent["id"], title="Mine", access="public")
    assert res.status_code == 302
    assert counts(app) == (1, 1, 0)


def test_a_duplicate_sent_ahead_is_refused_with_a_link_only_if_visible(
        app, client, make_user, upload):
    first = upload(NOTE, "first.txt").json["id"]  # an editor's, published
    login(client, make_user("contributor"))
    res = send_ahead(client, NOTE, "again.txt")
    assert res.status_code == 409
    assert res.json["fields"]["file"] == "This file is already in the repository."
    assert res.json["url"] == f"/documents/{first}"
    assert counts(app) == (1, 1, 0) and pending_files(app) == []


def test_the_form_lists_every_readable_format_and_starts_internal(client, make_user):
    login(client, make_user("contributor"))
    html = client.get("/upload").get_data(as_text=True)
    assert "PDF or plain text" not in html
    for kind in ("PDF", "Word (DOCX)", "OpenDocument (ODT, ODS, ODP)", "PowerPoint (PPTX)",
                 "Excel (XLSX)", "HTML", "RTF", "EPUB", "Markdown", "plain text"):
        assert kind in html
    assert "up to 200 MB" in html
    assert re.search(r'<option selected value="internal">|<option value="internal" selected>',
                     html)
    # Without a choice the form's upload is Internal; the API's stays Public.
    assert 'data-multiselect="countries"' in html


def test_a_pdf_gets_a_thumbnail_shown_only_to_those_who_may_see_it(
        app, client, make_user, process):
    pdf = need_corpora(CRAZYONES)
    author = make_user("contributor")
    login(client, author)
    res = submit(client, title="The crazy ones", access="public",
                 file=(pdf.read_bytes(), "crazy ones.pdf"))
    assert res.status_code == 302
    doc_id = int(res.headers["Location"].rsplit("/", 1)[1])
    assert thumbnail_status(client, doc_id) == 404  # not yet
    process()
    with app.app_context():
        stored = db.session.scalar(select(StoredFile).where(StoredFile.doc_id == doc_id))
        size, sha = (stored.thumb_width, stored.thumb_height), stored.sha256
    assert size == (240, 311)
    uploads = Path(app.config["UPLOAD_DIR"])
    assert (uploads / "thumbs" / sha[:2] / f"{sha}.png").is_file()
    assert not [p for p in uploads.rglob("*") if "crazy" in p.name]  # no user name in paths

    with client.get(f"/documents/{doc_id}/thumbnail.png") as res:
        assert res.status_code == 200
        assert res.mimetype == "image/png"
        png = res.data
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (240, 311)
        # A white page with lines of text on it, not a blank or black square.
        grey = image.convert("L").histogram()
        inked = sum(grey[:200])
        assert grey[255] > 240 * 311 // 2 and inked > 1000
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert (f'<img class="thumb thumb-image" src="/documents/{doc_id}/thumbnail.png" '
            'width="240" height="311" alt=""') in page

    # Submitted, not yet published: the document is its uploader's and the editors' only.
    assert thumbnail_status(app.test_client(), doc_id) == 404
    stranger = app.test_client()
    login(stranger, make_user("contributor"))
    assert thumbnail_status(stranger, doc_id) == 404
    assert stranger.get(f"/documents/{doc_id}").status_code == 404
    editor = app.test_client()
    login(editor, make_user("editor"))
    assert thumbnail_status(editor, doc_id) == 200


def test_other_formats_show_an_icon_and_have_no_thumbnail(app, client, make_user, process):
    login(client, make_user("editor"))
    res = submit(client, title="Workshop notes", access="public",
                 file=(NOTE, "notes.txt"))
    doc_id = int(res.headers["Location"].rsplit("/", 1)[1])
    process()
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'data-status="ready"' in page
    assert '<span class="thumb thumb-icon" aria-hidden="true" data-format="txt">TXT</span>' \
        in page
    assert "thumbnail.png" not in page
    assert thumbnail_status(client, doc_id) == 404


def test_pending_uploads_unused_for_a_day_are_swept(app, client, make_user, runner):
    login(client, make_user("contributor"))
    old = send_ahead(client, NOTE, "old.txt").json["id"]
    young = send_ahead(client, b"another note, sent a moment ago", "young.txt").json["id"]
    with app.app_context():
        db.session.execute(update(PendingUpload).where(PendingUpload.public_id == old)
                           .values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    doctor = runner.invoke(args=["doctor"])
    assert "2 pending uploads" in doctor.output and "1 not used within 24 h" in doctor.output

    assert runner.invoke(args=["worker", "--once"]).exit_code == 0  # sweeps at its start
    assert [p.name for p in pending_files(app)] == [young]
    with app.app_context():
        assert list(db.session.scalars(select(PendingUpload.public_id))) == [young]
    res = submit(client, pending=old, title="Too late", access="public")
    assert res.status_code == 404
    assert "no longer on the server" in res.get_data(as_text=True)
    assert submit(client, pending=young, title="In time", access="public").status_code == 302


def test_a_pending_file_without_its_record_is_swept_after_a_day(app, client, make_user):
    from kb.services import pending

    login(client, make_user("contributor"))
    kept = send_ahead(client, NOTE, "kept.txt").json["id"]
    stray = Path(app.config["UPLOAD_DIR"]) / "pending" / ("x" * 43)
    stray.write_bytes(b"written, then the server was killed before recording it")
    with app.app_context():
        assert pending.sweep(time.time()) == 0  # too young
        assert pending.sweep(time.time() + 25 * 3600) == 2  # both a day later
    assert pending_files(app) == [] and kept


def test_a_backup_keeps_thumbnails_and_leaves_pending_uploads_out(
        app, client, make_user, process, tmp_path, new_database):
    pdf = need_corpora(CRAZYONES)
    login(client, make_user("editor"))
    res = submit(client, title="The crazy ones", access="public",
                 file=(pdf.read_bytes(), "crazy.pdf"))
    doc_id = int(res.headers["Location"].rsplit("/", 1)[1])
    process()
    with client.get(f"/documents/{doc_id}/thumbnail.png") as before:
        png = before.data
    send_ahead(client, NOTE, "draft.txt")  # sent ahead, never used
    runner = app.test_cli_runner()
    out = runner.invoke(args=["backup", str(tmp_path / "backup")])
    assert out.exit_code == 0, out.output

    # Its secret key made in its instance folder, as in production (and as backed up).
    target = make_app(tmp_path / "target", new_database(), SECRET_KEY=None)
    out = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "backup")])
    assert out.exit_code == 0, out.output
    restored = target.test_client()
    with restored.get(f"/documents/{doc_id}/thumbnail.png") as after:
        assert after.status_code == 200 and after.data == png
    assert counts(target) == (1, 1, 0)  # the pending upload's record did not come back
    assert pending_files(target) == []
    with target.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_damaged_pdf_fails_by_name_and_shows_an_icon(app, client, make_user, process):
    # Neither pypdf nor PDFium can read this one: no thumbnail is drawn for a failed file.
    pdf = need_corpora(PDF_SAMPLES / "017-unreadable-meta-data" / "unreadablemetadata.pdf")
    login(client, make_user("editor"))
    res = submit(client, title="Unreadable", access="public",
                 file=(pdf.read_bytes(), "unreadable.pdf"))
    doc_id = int(res.headers["Location"].rsplit("/", 1)[1])
    process()
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'data-status="failed"' in page and "could not be read" in page
    assert 'data-format="pdf">PDF</span>' in page
    assert thumbnail_status(client, doc_id) == 404

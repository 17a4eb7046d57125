"""Downloads check the stored file's size: a damaged or missing file is a clear, logged
error naming the problem, never wrong bytes under the original's ETag."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from tests.conftest import post_multipart

TEXT = b"Remittance corridors and labour migration in the western Balkans. " * 200


@pytest.fixture
def stored(upload, client, app) -> tuple[int, Path]:
    """A document's id and the path of its stored file."""
    res = upload(TEXT, "corridors.txt")
    assert res.status_code == 201
    sha = res.json["files"][0]["sha256"]
    path = Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == TEXT
    return res.json["id"], path


def test_intact_file_is_served(client, stored):
    doc_id, _ = stored
    with client.get(f"/documents/{doc_id}/download") as res:
        assert res.status_code == 200 and res.data == TEXT


def test_truncated_file_is_refused_with_a_logged_error(client, stored, caplog):
    doc_id, path = stored
    path.write_bytes(TEXT[:1000])
    with caplog.at_level(logging.ERROR), client.get(f"/documents/{doc_id}/download") as res:
        assert res.status_code == 500
        assert "ETag" not in res.headers
        html = res.get_data(as_text=True)
    assert (f"The stored file is damaged: it has 1,000 bytes where {len(TEXT):,} were "
            "stored") in html
    assert "An administrator should run `kb doctor`" in html
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"/documents/{doc_id}/download" in m and "damaged" in m for m in logged)


def test_truncated_file_is_refused_to_a_ranged_and_a_conditional_request(client, stored):
    doc_id, path = stored
    path.write_bytes(TEXT[:1000])
    url = f"/documents/{doc_id}/download"
    assert client.get(url, headers={"Range": "bytes=0-99"}).status_code == 500
    etag = f'"{path.name}"'
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 500


def test_missing_file_is_a_clear_logged_error(client, stored, caplog):
    doc_id, path = stored
    path.unlink()
    with caplog.at_level(logging.ERROR):
        res = client.get(f"/documents/{doc_id}/download")
    assert res.status_code == 500
    html = res.get_data(as_text=True)
    assert "The stored file is missing from the file store" in html
    assert "kb doctor" in html
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"/documents/{doc_id}/download" in m and "missing" in m for m in logged)


@pytest.mark.parametrize(("lang", "said"), [
    ("fr", "Le fichier conservé manque dans le stockage des fichiers"),
    ("es", "Falta el archivo guardado en el almacén de archivos"),
    ("ru", "Сохранённый файл отсутствует в хранилище файлов"),
])
def test_a_missing_file_is_told_in_the_readers_language(client, stored, lang, said):
    doc_id, path = stored
    path.unlink()
    res = client.get(f"/documents/{doc_id}/download", headers={"Accept-Language": lang})
    assert res.status_code == 500
    html = res.get_data(as_text=True)
    assert said in html and "kb doctor" in html


def test_upload_refusals_are_told_in_the_uploaders_language(client, editor):
    # Empty, then too large (the limit set to 1 MB): refused while being stored.
    client.application.config["MAX_UPLOAD_MB"] = 1
    headers = {**editor.headers, "Accept-Language": "fr"}
    empty = post_multipart(client, "/api/v1/documents", {
        "title": "Vide", "file": FileStorage(io.BytesIO(b""), "vide.txt")}, headers)
    assert empty.status_code == 400 and empty.json["error"] == "Le fichier est vide."
    large = post_multipart(client, "/api/v1/documents", {
        "title": "Gros", "file": FileStorage(io.BytesIO(b"x" * (2 * 1024 * 1024)), "gros.txt")},
        headers)
    assert large.status_code == 413
    assert large.json["error"] == "Le fichier dépasse la limite de 1 Mo."

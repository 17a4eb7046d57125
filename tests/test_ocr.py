"""OCR of a scanned page that the test makes itself, with Debian's ocrmypdf and tesseract."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from kb.config import DEFAULTS
from kb.errors import ExtractionError
from kb.extract import ocr

LANGUAGES = str(DEFAULTS["OCR_LANGUAGES"])
UNIQUE_WORD = "zymurgical"
FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
)


@pytest.fixture
def ocr_installed() -> None:
    """Skip without OCR, except under CI, where its absence is a failure."""
    ok, notice = ocr.available(LANGUAGES)
    if ok:
        return
    reason = f"{notice} `make ocr-deps`, run as root, installs ocrmypdf and tesseract."
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _font() -> Path:
    found = next((Path(p) for p in FONTS if Path(p).is_file()), None)
    for pattern in ("*.ttf", "*.otf"):  # ocrmypdf's Ghostscript brings URW fonts as .otf
        if found is None:
            found = next(Path("/usr/share/fonts").rglob(pattern), None)
    if found is None:
        pytest.skip("no TrueType font on this machine to draw the scanned page with "
                    "(Debian: fonts-dejavu-core)")
    return found


@pytest.fixture
def scanned_pdf(tmp_path: Path) -> Path:
    """An A4 page at 300 dpi holding only an image of two lines of text, like a scanner's."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(_font()), 56)
    page = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(page)
    draw.text((220, 320), f"Remittances corridor {UNIQUE_WORD}", font=font, fill=0)
    draw.text((220, 440), "Migration and development in Moldova", font=font, fill=0)
    path = tmp_path / "scan.pdf"
    page.save(path, format="PDF", resolution=300)
    assert not PdfReader(path).pages[0].extract_text().strip()  # no text layer yet
    return path


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point tempfile at a folder of our own, to see what ocr_pdf leaves behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_scanned_page_is_read(ocr_installed: None, scanned_pdf: Path, temp_dir: Path) -> None:
    before = _sha256(scanned_pdf)
    out = ocr.ocr_pdf(scanned_pdf, LANGUAGES, timeout=180)
    try:
        assert list(temp_dir.iterdir()) == [out]  # ocrmypdf's work folder is gone
        text = " ".join(page.extract_text() for page in PdfReader(out).pages)
        assert UNIQUE_WORD in text.lower()
        assert "remittances" in text.lower()
    finally:
        out.unlink()
    assert _sha256(scanned_pdf) == before


def _live_members(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies aside)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            live.append(int(stat.parent.name))
    return live


# 0.05 s stops ocrmypdf as it starts; 0.8 s stops it mid-page (the page takes 2-3 s here).
@pytest.mark.parametrize("timeout", [0.05, 0.8])
def test_timeout_stops_ocr_and_everything_it_started(
    ocr_installed: None, scanned_pdf: Path, temp_dir: Path, timeout: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = _sha256(scanned_pdf)
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    with pytest.raises(ExtractionError) as caught:
        ocr.ocr_pdf(scanned_pdf, LANGUAGES, timeout=timeout)
    assert caught.value.code == "timed-out"
    assert "longer than" in caught.value.message
    assert len(started) == 1
    deadline = time.monotonic() + 10
    while _live_members(started[0].pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_members(started[0].pid) == []  # ocrmypdf, Ghostscript, tesseract: all gone
    assert list(temp_dir.iterdir()) == []
    assert _sha256(scanned_pdf) == before


def test_a_file_that_is_no_pdf_is_named_corrupt(
    ocr_installed: None, tmp_path: Path, temp_dir: Path,
) -> None:
    src = tmp_path / "random.pdf"
    src.write_bytes(os.urandom(4096))
    before = _sha256(src)
    with pytest.raises(ExtractionError) as caught:
        ocr.ocr_pdf(src, LANGUAGES, timeout=120)
    assert caught.value.code == "corrupt"
    assert caught.value.message.startswith("The scanned pages could not be read by OCR (")
    assert list(temp_dir.iterdir()) == []
    assert _sha256(src) == before


def test_a_missing_language_is_named(ocr_installed: None) -> None:
    ok, notice = ocr.available("eng+zzz")
    assert not ok
    assert "zzz" in notice and "tesseract-ocr-zzz" in notice


def test_without_the_binaries_a_notice_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, temp_dir: Path,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ocr.available() == (False, ocr.NOT_INSTALLED)
    src = tmp_path / "scan.pdf"
    src.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(ExtractionError) as caught:
        ocr.ocr_pdf(src, LANGUAGES, timeout=10)
    assert caught.value.code == "no-text-layer"
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("languages", ["", "eng fra", "-l", "eng;rm", "eng++fra", "ENG"])
def test_languages_are_checked(languages: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        ocr.ocr_pdf(tmp_path / "scan.pdf", languages, timeout=10)


def test_a_scanned_upload_is_ocred_and_found_by_its_words(
        ocr_installed: None, scanned_pdf: Path, app, client, upload, process) -> None:
    original = scanned_pdf.read_bytes()
    doc_id = upload(original, "scan.pdf", title="Signed agreement").json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["status"], doc["error_code"]) == ("ready", None)
    found = client.get("/api/v1/search", query_string={"q": UNIQUE_WORD}).json
    assert [r["id"] for r in found["results"]] == [doc_id]
    assert found["results"][0]["snippets"][0]["page"] == 1
    page = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "by OCR" in page
    with client.get(f"/documents/{doc_id}/download") as res:
        assert res.data == original  # the stored original is never replaced


def test_with_ocr_off_a_scan_is_ready_without_a_text_layer(
        scanned_pdf: Path, app, client, upload, process) -> None:
    app.config["OCR"] = "off"
    doc_id = upload(scanned_pdf.read_bytes(), "scan.pdf", title="Scan, no OCR",
                    countries=["JAM"]).json["id"]
    process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert (doc["status"], doc["error_code"]) == ("ready", "no-text-layer")
    assert client.get("/api/v1/search", query_string={"q": UNIQUE_WORD}).json["total"] == 0
    found = client.get("/api/v1/search", query_string={"country": "JAM"}).json
    assert [r["id"] for r in found["results"]] == [doc_id]


def test_uploads_get_the_language_of_their_text_unless_the_user_set_one(
        app, client, upload, process) -> None:
    spanish = upload("Lecciones aprendidas sobre la migración laboral y las remesas de los "
                     "trabajadores migrantes en Ecuador.".encode(), "es.txt").json["id"]
    russian = upload("Извлечённые уроки о трудовой миграции и денежных переводах мигрантов "
                     "в Кыргызстане.".encode(), "ru.txt", language="en").json["id"]
    process()
    assert client.get(f"/api/v1/documents/{spanish}").json["language"] == "es"
    assert client.get(f"/api/v1/documents/{russian}").json["language"] == "en"

"""OCR cannot block the queue: it runs in a lane of its own, ends when ocrmypdf ends (not
when every helper it started lets go of its output), and gets a time limit by page."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, NullObject

from kb.config import DEFAULTS
from kb.extensions import db
from kb.extract import ocr
from kb.models import Job
from tests.conftest import kb_env, wait_for

KB = str(Path(sys.executable).parent / "kb")
REAL_OCRMYPDF = "/usr/bin/ocrmypdf"


@pytest.fixture(autouse=True)
def ocr_installed() -> None:
    ok, notice = ocr.available(str(DEFAULTS["OCR_LANGUAGES"]))
    if not ok or not Path(REAL_OCRMYPDF).is_file():
        pytest.skip(f"{notice} `make ocr-deps`, run as root, installs ocrmypdf and tesseract.")


def blank_scan(null_mediabox: bool = False) -> bytes:
    """A one-page PDF holding only an image (no text layer); optionally damaged the way a
    fuzzer did it: its /MediaBox is null."""
    from PIL import Image

    image = io.BytesIO()
    Image.new("L", (600, 800), 255).save(image, format="PDF", resolution=100)
    writer = PdfWriter()
    writer.add_page(PdfReader(image).pages[0])
    if null_mediabox:
        writer.pages[0][NameObject("/MediaBox")] = NullObject()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def fake_ocrmypdf(folder: Path, before: str) -> Path:
    """A folder whose `ocrmypdf` runs ``before`` (shell) and then the real one."""
    folder.mkdir()
    script = folder / "ocrmypdf"
    script.write_text(f"#!/bin/sh\n{before}\nexec {REAL_OCRMYPDF} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


@pytest.fixture
def start_worker(app: Flask) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(path_first: Path, **extra: str) -> subprocess.Popen[bytes]:
        env = kb_env(app, KB_WORKER_POLL_SECONDS="0.1",
                     PATH=f"{path_first}:{os.environ['PATH']}", **extra)
        proc = subprocess.Popen([KB, "worker"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def doc(client: Any, doc_id: int) -> dict[str, Any]:
    return client.get(f"/api/v1/documents/{doc_id}").json  # type: ignore[no-any-return]


def test_a_pdf_with_a_null_mediabox_fails_ocr_without_waiting_for_the_time_limit(
        app, client, upload, start_worker, tmp_path):
    # ocrmypdf fails on this file in half a second; a helper it leaves behind (here a
    # sleeper, as Ghostscript can be) held its output open, and kb waited for that.
    marker = tmp_path / "helper.pid"
    bin_dir = fake_ocrmypdf(tmp_path / "bin", f"sleep 600 &\necho $! > {marker}")
    start_worker(bin_dir, KB_OCR_TIMEOUT="600", KB_OCR_TIMEOUT_PER_PAGE="600")
    doc_id = upload(blank_scan(null_mediabox=True), "fuzzed.pdf").json["id"]
    wait_for("OCR to give up on the damaged PDF",
             lambda: doc(client, doc_id)["status"] != "processing", bound=60)
    answer = doc(client, doc_id)
    assert (answer["status"], answer["error_code"]) == ("ready", "no-text-layer")
    assert "OCR did not succeed" in answer["error"] and "MediaBox" in answer["error"]
    helper = int(marker.read_text())
    wait_for("the helper to be ended with ocrmypdf",
             lambda: not Path(f"/proc/{helper}").exists()
             or Path(f"/proc/{helper}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
             bound=10)


def test_text_uploads_go_on_while_a_scan_is_being_read(
        app, client, upload, start_worker, tmp_path):
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    bin_dir = fake_ocrmypdf(tmp_path / "bin", f"cat {gate} > /dev/null")
    start_worker(bin_dir)
    scan = upload(blank_scan(), "scan.pdf").json["id"]

    def ocr_running() -> bool:
        with app.app_context():
            job = db.session.query(Job).filter_by(doc_id=scan).one()
            found = (job.kind, job.state) == ("ocr", "running")
            db.session.remove()
            db.engine.dispose()
            return found

    wait_for("the scan to be in OCR", ocr_running)
    text = upload(b"skills partnerships between origin and destination", "s.txt").json["id"]
    wait_for("the text upload to be ready while OCR runs",
             lambda: doc(client, text)["status"] == "ready", bound=30)
    assert doc(client, scan)["status"] == "processing"
    assert client.get("/api/v1/search", query_string={"q": "partnerships"}).json["total"] == 1

    opener = threading.Thread(target=lambda: gate.write_bytes(b"go"))  # lets OCR go on
    opener.start()
    wait_for("the scan to be done", lambda: doc(client, scan)["status"] == "ready", bound=120)
    opener.join()


def test_the_ocr_time_limit_scales_with_the_pages(app, client, upload, process):
    app.config.update(OCR_TIMEOUT=600.0, OCR_TIMEOUT_PER_PAGE=0.05)
    doc_id = upload(blank_scan(), "one-page.pdf").json["id"]
    process()
    answer = doc(client, doc_id)
    assert answer["status"] == "ready"
    # One page, and one page's worth for starting: 0.1 s, not 600.
    assert "took longer than 0.1 seconds" in answer["error"]

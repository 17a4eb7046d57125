"""End to end in a real headless Chromium: sign in, upload, wait, search, facet, download.

Runs the real `kb serve` (gunicorn plus the background worker) in a temporary instance.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
SAMPLE = (Path(__file__).resolve().parents[2]
          / "shared/corpora/pdf-samples/021-pdfa/crazyones-pdfa.pdf")
KB = Path(sys.executable).parent / "kb"
EMAIL = "editor@example.org"
PASSWORD = "correct horse battery staple"
TITLE = "Browser test: a one-page PDF/A"  # no word of the body, so hits come from the text

pytestmark = pytest.mark.browser


@dataclass
class Server:
    url: str
    log: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as e:
            return f"(no server log: {e})"
        return "\n".join(text.splitlines()[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (gunicorn, its workers, the kb worker), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is absent: install Debian's chromium package to run the browser test"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: a missing browser is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    env = {**os.environ,
           "KB_INSTANCE_DIR": str(tmp_path / "instance"),
           "KB_UPLOAD_DIR": str(tmp_path / "uploads")}

    def kb(*args: str, stdin: str = "") -> None:
        done = subprocess.run([str(KB), *args], cwd=tmp_path, env=env, input=stdin,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"kb {args[0]} failed:\n{done.stdout}\n{done.stderr}"

    kb("init")
    kb("user", "add", EMAIL, "--role", "editor", "--password-stdin", stdin=PASSWORD + "\n")

    port = free_port()
    log = tmp_path / "server.log"
    server = Server(f"http://127.0.0.1:{port}", log)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(KB), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"kb serve exited with {proc.returncode}:\n{server.log_tail()}")
                try:
                    with urllib.request.urlopen(server.url + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"/healthz did not answer 200 within 30 s:\n{server.log_tail()}")
                time.sleep(0.2)
            yield server
        finally:
            _stop(proc)


@pytest.fixture
def sample_pdf() -> Path:
    """The browser and the sample, checked before any server is started."""
    _need_chromium()
    if not SAMPLE.exists():
        pytest.skip(f"{SAMPLE} is absent: the shared corpora are only on the team's machines")
    return SAMPLE


def test_upload_search_facet_download(sample_pdf: Path, server: Server,
                                      browser: Browser) -> None:
    # The session's browser (conftest): a second sync Playwright in the same process
    # fails while the first one runs ("Sync API inside the asyncio loop").
    from playwright.sync_api import Error as PlaywrightError

    original = sample_pdf.read_bytes()
    try:
        context = browser.new_context(base_url=server.url, accept_downloads=True)
        try:
            page = context.new_page()
            page.set_default_timeout(10_000)
            _journey(page, sample_pdf, original)
        finally:
            context.close()
    except (AssertionError, PlaywrightError) as e:
        pytest.fail(f"{type(e).__name__}: {e}\n--- kb serve log (tail) ---\n{server.log_tail()}")


def _open(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, \
        f"GET {path} answered {response.status if response else 'nothing'}"


def _journey(page: Page, pdf: Path, original: bytes) -> None:
    from playwright.sync_api import expect

    # Sign in.
    _open(page, "/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_visible()

    # Upload the PDF with a title and a country.
    _open(page, "/upload")
    page.get_by_label("File", exact=True).set_input_files(str(pdf))
    # Sent ahead at once (kb/static/upload.js); the form then carries its id.
    expect(page.locator("[data-upload-kept]")).to_contain_text(f"Kept: {pdf.name}",
                                                               timeout=30_000)
    page.get_by_label("Title").fill(TITLE)
    countries = page.get_by_role("combobox", name="Countries")  # kb/static/multiselect.js
    countries.fill("mol")
    countries.press("Enter")
    expect(page.get_by_role("button", name="Remove Moldova")).to_be_visible()
    page.screenshot(path="/tmp/kb-upload.png", full_page=True)
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)

    # The page reloads itself once processing ends (kb/static/status.js).
    status = page.locator("p.status[data-status=ready], p.status[data-status=failed]")
    expect(status).to_be_visible(timeout=60_000)
    assert status.get_attribute("data-status") == "ready", status.inner_text()

    # Search for a word of the body from the search box.
    _open(page, "/")
    page.get_by_label("Search the documents").fill("crazy")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=crazy(&|$)"))
    hit = page.locator("li.hit").filter(has=page.get_by_role("link", name=TITLE))
    expect(hit).to_have_count(1)
    expect(hit.locator(".snippets li mark").first).to_have_text(re.compile("crazy", re.I))
    page.screenshot(path="/tmp/kb-search.png", full_page=True)

    # Narrow by the Moldova facet.
    facet = page.locator("section[data-facet=country] a[data-value=MDA]")
    expect(facet).to_contain_text("Moldova")
    expect(facet.locator(".count")).to_have_text("1")
    facet.click()
    expect(page).to_have_url(re.compile(r"[?&]country=MDA(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]q=crazy(&|$)"))
    expect(page.locator("p.total")).to_have_text(re.compile(r"^1 document\b"))
    expect(hit).to_have_count(1)
    expect(facet).to_have_attribute("aria-current", "true")
    expect(facet.locator(".count")).to_have_text("1")

    # Download: the very bytes uploaded, under the original name.
    with page.expect_download() as info:
        hit.get_by_role("link", name="Download", exact=True).click()
    download = info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename == pdf.name
    got = Path(download.path()).read_bytes()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(original).hexdigest()

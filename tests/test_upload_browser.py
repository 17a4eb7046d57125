"""The upload form in a real headless Chromium: a file dropped on the form goes ahead with
a progress bar and fills in its own title; Moldova is picked by typing "mol" with the
keyboard alone; a refused file is named next to the field; the page passes check_page at
desktop and phone widths."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, check_page, open_as, site_fixture
from tests.conftest import PDF_SAMPLES, need_corpora

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
site = site_fixture(seed=False)

GEOTOPO = PDF_SAMPLES / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"


def drop(page: Page, data: bytes, name: str, mime: str) -> None:
    """Drop a file on the upload form's drop zone, as a person dragging it there does."""
    page.evaluate("""([b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type: mime}));
        const zone = document.querySelector('[data-upload-zone]');
        for (const type of ['dragenter', 'dragover', 'drop']) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                                    cancelable: true}));
        }
    }""", [base64.b64encode(data).decode("ascii"), name, mime])


def test_drop_a_pdf_pick_moldova_by_keyboard_and_land_on_the_document(
        site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    pdf = need_corpora(GEOTOPO)
    page = open_as(browser, site, "contributor")
    page.goto("/upload")
    expect(page.locator(".upload-drop-text")).to_be_visible()  # the script runs
    drop(page, pdf.read_bytes(), "geotopo.pdf", "application/pdf")

    bar = page.get_by_role("progressbar", name="Sending the file")
    expect(bar).to_have_attribute("value", "100", timeout=30_000)
    expect(page.locator("[data-upload-percent]")).to_have_text("100 %")
    kept = page.locator("[data-upload-kept]")
    expect(kept).to_contain_text("Kept: geotopo.pdf (1.7 MB, a PDF).")
    expect(kept).to_contain_text("title, year and language filled in from the file")
    expect(page.get_by_label("Title")).to_have_value("Geometrie und Topologie")
    expect(page.get_by_label("Publication year")).to_have_value("2016")
    expect(page.get_by_label("Language")).to_have_value("de")
    page.get_by_label("Title").fill("Geometry and topology: lecture notes")

    # Countries: the keyboard only, from the year field on.
    page.get_by_label("Publication year").focus()
    countries = page.get_by_role("combobox", name="Countries")
    while not countries.evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")
    page.keyboard.type("mol")
    listbox = page.get_by_role("listbox", name="Countries")
    expect(listbox).to_be_visible()
    expect(listbox.get_by_role("option")).to_have_text(["Moldova"])
    expect(countries).to_have_attribute("aria-activedescendant", re.compile(r".+"))
    page.keyboard.press("Enter")
    expect(listbox).to_be_hidden()
    expect(page.get_by_role("button", name="Remove Moldova")).to_be_visible()
    expect(page.locator("select#countries")).to_have_values(["MDA"])
    check_page(page, "upload-filled")

    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+$"), timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Geometry and topology: lecture notes")
    meta = page.locator("dl.meta")
    expect(meta).to_contain_text("Moldova")
    expect(meta).to_contain_text("2016")
    expect(meta).to_contain_text("German")
    expect(meta).to_contain_text("Internal (signed-in users)")
    # The worker draws the first page; the page shows it once processed.
    status = page.locator("p.status[data-status=ready], p.status[data-status=failed]")
    expect(status).to_be_visible(timeout=60_000)
    thumb = page.locator(".doc-thumb img.thumb")
    expect(thumb).to_have_attribute("width", "240")
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 240
    check_page(page, "document-with-thumbnail")


def test_a_refused_file_is_named_next_to_the_field(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, site, "contributor")
    page.goto("/upload")
    page.get_by_label("File", exact=True).set_input_files(files=[{
        "name": "scan.png", "mimeType": "image/png",
        "buffer": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4}])
    error = page.locator("#file-error")
    expect(error).to_contain_text("This kind of file cannot be read.", timeout=30_000)
    file_input = page.get_by_label("File", exact=True)
    expect(file_input).to_have_attribute("aria-invalid", "true")
    expect(file_input).to_have_attribute("aria-describedby", "file-hint file-error")
    expect(page.locator("[data-upload-progress]")).to_be_hidden()
    expect(page.locator("input[name=pending]")).to_have_value("")
    page.get_by_label("Title").fill("A scan")
    check_page(page, "upload-refused")
    # An empty file is refused before it is sent.
    page.get_by_label("File", exact=True).set_input_files(files=[{
        "name": "empty.txt", "mimeType": "text/plain", "buffer": b""}])
    expect(error).to_have_text("The file is empty.")


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_upload_page_passes_check_page(site: Site, browser: Browser, width: str) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, site, "editor", width)
    page.goto("/upload")
    expect(page.get_by_role("combobox", name="Agencies")).to_be_visible()
    check_page(page, f"upload-{width}")
    # The list open, as a phone user sees it while typing.
    page.get_by_role("combobox", name="Countries").fill("a")
    expect(page.get_by_role("listbox", name="Countries")).to_be_visible()
    check_page(page, f"upload-list-{width}")


def test_without_javascript_the_form_still_uploads(site: Site, browser: Browser,
                                                   tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from tests.browser_kit import new_context

    page = open_as(browser, site, "contributor")  # signs in, keeps the cookies
    context = new_context(browser, site, java_script_enabled=False,
                          storage_state=page.context.storage_state())
    page = context.new_page()
    page.goto("/upload")
    expect(page.locator("select#countries")).to_be_visible()
    note = tmp_path / "fieldnotes.txt"
    note.write_text("Field notes on seasonal work and remittances in Moldova.", "utf-8")
    page.get_by_label("File", exact=True).set_input_files(str(note))
    page.get_by_label("Countries").select_option(["MDA"])
    page.get_by_role("button", name="Upload").click()  # no title: refused, file kept
    expect(page.locator("#title-error")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-upload-kept]")).to_contain_text("Kept: fieldnotes.txt")
    page.get_by_label("Title").fill("Field notes")
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+$"), timeout=30_000)
    expect(page.get_by_role("heading", level=1)).to_have_text("Field notes")
    context.close()

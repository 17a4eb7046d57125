"""Suggested GCM objectives and SDG targets in a real headless Chromium: an editor sees them
on a document `kb import` brought in, with why, and accepts one with its button; a reader
never sees them; the page passes check_page at desktop and phone widths."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, check_page, open_as, site_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser
site = site_fixture(seed=True)


def _moldova(site: Site) -> int:
    found = site.api("/api/v1/search?q=Moldova+remittances")["results"]
    return int(next(r["id"] for r in found if "Moldova" in r["title"]))


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_an_editor_sees_why_and_accepts(site: Site, browser: Browser, width: str) -> None:
    from playwright.sync_api import expect

    doc_id = _moldova(site)
    page = open_as(browser, site, "editor", width)
    page.goto(f"/documents/{doc_id}")
    section = page.locator("[data-suggestions]")
    expect(section.get_by_role("heading", name="Suggested from the text")).to_be_visible()
    if width == "phone":  # the phone run looks; the desktop run decides
        expect(section.locator('[data-suggestion="sdg-10.c"]')).to_contain_text("remittance")
        check_page(page, "suggestions-editor-phone")
        return
    item = section.locator('[data-suggestion="gcm-20"]')
    expect(item).to_contain_text("Promote faster, safer and cheaper transfer of remittances")
    expect(item).to_contain_text("remittance*")
    check_page(page, "suggestions-editor")
    item.get_by_role("button", name="Accept gcm-20").click()
    expect(page.get_by_text("Added gcm-20 to the document.")).to_be_visible()
    expect(page.locator('[data-suggestion="gcm-20"]')).to_have_count(0)
    expect(page.locator('[data-suggestion="sdg-10.c"]')).to_have_count(1)


def test_a_reader_never_sees_them(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, site, "reader")
    page.goto(f"/documents/{_moldova(site)}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Moldova")
    expect(page.locator("[data-suggestions]")).to_have_count(0)

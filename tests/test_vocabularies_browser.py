"""The vocabularies on the upload form in a real headless Chromium: a GCM objective and
an SDG target picked by typing, with the keyboard alone, through the page's searchable
multi-select; the form passes check_page (axe) with the new fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, check_page, open_as, site_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser
site = site_fixture(seed=False)


def test_pick_an_objective_and_a_target_by_typing(site: Site, browser: Browser) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, site, "editor")
    page.goto("/upload")
    gcm = page.get_by_role("combobox", name="GCM objectives")
    gcm.click()
    page.keyboard.type("remittances")
    listbox = page.get_by_role("listbox", name="GCM objectives")
    expect(listbox).to_be_visible()
    expect(listbox.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("select#gcm")).to_have_values(["gcm-20"])

    sdg = page.get_by_role("combobox", name="SDG targets")
    sdg.click()
    page.keyboard.type("10.7")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("select#sdg")).to_have_values(["sdg-10.7"])
    check_page(page, "upload-vocabularies")

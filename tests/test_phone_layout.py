"""Issue 14 item 9, on a phone (390 px): tables become one labelled card per row, a title
of one 300-letter word wraps instead of widening the page, and the navigation's links and
buttons are touch targets of at least 44 x 44 px. (tests/test_site_crawl.py checks every
page for sideways scroll and target sizes; these tests look closer at what it cannot
tell: that labels name the right columns, that rows stack, that desktops keep tables.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.browser_kit import Site, check_page, open_as, site_fixture
from tests.crawl_kit import LONG_TITLE, Extras, no_sideways_scroll, seed_extras, small_targets

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

site = site_fixture(seed=True)

# Every table of these pages names its columns in each cell (data-label).
TABLE_PAGES = ("/admin/users", "/admin/agencies", "/admin/audit", "/profile")


@pytest.fixture(scope="module")
def extras(site: Site, browser: Browser) -> Extras:
    return seed_extras(site, browser)


TABLES_JS = """() => [...document.querySelectorAll('main table')].map(table => {
  const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  const headBox = table.tHead ? table.tHead.getBoundingClientRect() : null;
  return {
    heads,
    headHeight: headBox ? headBox.height : 0,
    rows: [...table.tBodies].flatMap(b => [...b.rows]).map(tr => [...tr.cells].map(td => {
      const r = td.getBoundingClientRect();
      return {label: td.dataset.label, display: getComputedStyle(td).display,
              shown: getComputedStyle(td, '::before').content,
              top: r.top, bottom: r.bottom, left: r.left, right: r.right};
    })),
  };
})"""


def tables(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate(TABLES_JS))


@pytest.mark.parametrize("path", TABLE_PAGES)
def test_table_rows_become_labelled_cards_on_phones(site: Site, browser: Browser,
                                                    extras: Extras, path: str) -> None:
    page = open_as(browser, site, "admin", "phone")
    try:
        page.goto(path)
        found = tables(page)
        assert found and all(t["rows"] for t in found), f"{path}: no table rows to look at"
        width = page.evaluate("window.innerWidth")
        for table in found:
            assert table["headHeight"] <= 1, f"{path}: the column headings still show"
            for row in table["rows"]:
                assert [c["label"] for c in row] == table["heads"], \
                    f"{path}: cells' data-label do not name their columns"
                for cell, below in zip(row, row[1:], strict=False):
                    assert below["top"] >= cell["bottom"] - 1, f"{path}: cells side by side"
                for cell in row:
                    assert cell["right"] <= width and cell["left"] >= 0, f"{path}: {cell}"
                    if cell["label"]:
                        assert cell["shown"] == f'"{cell["label"]}"', \
                            f"{path}: the label {cell['label']!r} is not shown: {cell['shown']}"
        check_page(page, "cards" + path.replace("/", "-"))
    finally:
        page.context.close()


@pytest.mark.parametrize("path", TABLE_PAGES)
def test_desktops_keep_the_tables(site: Site, browser: Browser, extras: Extras,
                                  path: str) -> None:
    page = open_as(browser, site, "admin", "desktop")
    try:
        page.goto(path)
        for table in tables(page):
            assert table["headHeight"] > 1
            for row in table["rows"]:
                assert {c["display"] for c in row} == {"table-cell"}
                assert len({round(c["top"]) for c in row}) == 1, "a row's cells on one line"
                assert {c["shown"] for c in row} <= {"none", "normal"}, "no labels on desktop"
    finally:
        page.context.close()


def open_search(page: Page) -> None:
    """The search page, as a visitor finds it: the navigation's "Search" link."""
    page.goto("/help/search")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Search",
                                                            exact=True).click()
    page.wait_for_load_state()


@pytest.mark.parametrize(("role", "where"), [
    (None, "document"), (None, "list"), ("admin", "document"), ("admin", "edit")])
def test_a_long_unbroken_title_wraps(site: Site, browser: Browser, extras: Extras,
                                     role: str | None, where: str) -> None:
    long_id = extras.ids["long"]
    path = {"document": f"/documents/{long_id}", "list": "",
            "edit": f"/documents/{long_id}/edit"}[where]
    page = open_as(browser, site, role, "phone")
    try:
        if where == "list":
            open_search(page)
        else:
            page.goto(path)
        assert no_sideways_scroll(page) == []
        width = page.evaluate("window.innerWidth")
        if where == "edit":
            box = page.get_by_label("Title").bounding_box()
            assert page.get_by_label("Title").input_value() == LONG_TITLE
        elif where == "document":
            box = page.get_by_role("heading", level=1).bounding_box()
            assert page.get_by_role("heading", level=1).inner_text() == LONG_TITLE
        else:
            link = page.get_by_role("link", name=LONG_TITLE)
            box = link.first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
        if where != "edit":
            assert box["height"] > 100, f"the title is on {box['height']} px: not wrapped?"
    finally:
        page.context.close()


@pytest.mark.parametrize("role", [None, "reader", "contributor", "editor", "admin"])
def test_navigation_is_made_of_touch_sized_targets(site: Site, browser: Browser,
                                                   role: str | None) -> None:
    page = open_as(browser, site, role, "phone")
    try:
        page.goto("/help/search")
        targets = page.locator("header a[href], header button")
        assert targets.count() >= (2 if role is None else 4)
        for i in range(targets.count()):
            box = targets.nth(i).bounding_box()
            assert box is not None
            assert box["width"] >= 44 and box["height"] >= 44, \
                f"{targets.nth(i).inner_text()!r} is {box['width']} x {box['height']} px"
        if role == "admin":
            page.goto("/admin/users")
            subnav = page.get_by_role("navigation", name="Admin").get_by_role("link")
            for i in range(subnav.count()):
                box = subnav.nth(i).bounding_box()
                assert box is not None and box["height"] >= 44 and box["width"] >= 44
        assert small_targets(page) == []
    finally:
        page.context.close()


def test_facet_links_are_touch_sized(site: Site, browser: Browser) -> None:
    page = open_as(browser, site, None, "phone")
    try:
        open_search(page)
        facets = page.locator("[data-facet] a")
        assert facets.count() >= 5
        for i in range(facets.count()):
            if facets.nth(i).is_visible():
                box = facets.nth(i).bounding_box()
                assert box is not None and box["height"] >= 44, box
    finally:
        page.context.close()

"""The portal in a real headless Chromium: chips that remove their filter, "Clear all",
finding a value in a long facet by typing, the year range, the phone's "Filters" button,
and every portal page checked (one h1, no sideways scroll, axe-core clean) at laptop and
phone widths. The server is the real `kb serve` with the seed documents of browser_kit."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, check_page, email_of, open_as, site_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

site = site_fixture(seed=True)

# One more document with many countries and themes, so that those facets are long (more
# values than the list shows before "show all").
OVERVIEW = {
    "title": "Regional overview of migration and development",
    "type": "report", "countries": "NPL;PHL;IND;MEX;GHA;SEN", "agencies": "ILO;UNHCR",
    "themes": "gender;health;education;employment;skills;climate;integration;"
              "social protection",
    "language": "en", "year": "2013",
}


@pytest.fixture(scope="module")
def portal_site(site: Site) -> Site:
    folder = site.root / "overview"
    folder.mkdir()
    (folder / "overview.txt").write_text(
        "A regional overview of migration and development, remittances and return in "
        "Asia, Africa and the Americas.", encoding="utf-8")
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["file", *OVERVIEW])
        writer.writeheader()
        writer.writerow({"file": "overview.txt", **OVERVIEW})
    site.kb("import", str(folder), "--manifest", str(folder / "manifest.csv"),
            "--workers", "1", "--as", email_of("editor"))
    return site


@pytest.fixture
def visitor(browser: Browser, portal_site: Site) -> Iterator[Page]:
    page = open_as(browser, portal_site)
    yield page
    page.context.close()


def chips(page: Page) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("a.chip").all_inner_texts()]


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_portal_pages_pass_the_page_checks(browser: Browser, portal_site: Site,
                                          width: str) -> None:
    pages = [("home", "/", None), ("home-editor", "/", "editor"),
             ("search", "/search?q=migration", None),
             ("search-filtered", "/search?q=migration&country=MDA&year_from=2010", None),
             ("browse", "/browse/country/MDA", None),
             ("browse-theme-az", "/browse/theme", None),
             ("browse-country-az", "/browse/country", None),
             ("no-results", "/search?q=zzyzxq&country=MDA", None)]
    for name, url, role in pages:
        page = open_as(browser, portal_site, role, width)
        try:
            response = page.goto(url)
            assert response is not None and response.ok, url
            check_page(page, f"portal-{name}")
        finally:
            page.context.close()


def test_a_chip_removes_its_filter_and_clear_all_removes_them_all(visitor: Page) -> None:
    from playwright.sync_api import expect

    visitor.goto("/search?country=MDA&theme=diaspora")
    expect(visitor.locator("a.chip")).to_have_count(2)
    visitor.get_by_role("link", name="Remove filter: Moldova").click()
    expect(visitor).not_to_have_url(re.compile(r"country="))
    expect(visitor.get_by_role("link", name="Remove filter: Moldova")).to_have_count(0)
    expect(visitor.get_by_role("link", name="Remove filter: diaspora")).to_be_visible()
    # The facet value is no longer checked; the total is the theme's alone.
    expect(visitor.locator("section[data-facet=country] a[aria-current=true]")).to_have_count(0)
    theme = visitor.locator("section[data-facet=theme] a[data-value=diaspora] .count")
    expect(visitor.locator("p.total")).to_have_text(
        re.compile(rf"^{theme.inner_text()} documents?\b"))
    visitor.get_by_role("link", name="Clear all").click()
    expect(visitor).to_have_url(re.compile(r"/search$"))
    expect(visitor.locator("a.chip")).to_have_count(0)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("All documents")


def test_a_value_of_a_long_facet_is_found_by_typing(visitor: Page) -> None:
    from playwright.sync_api import expect

    visitor.goto("/search")
    facet = visitor.locator("section[data-facet=country]")
    philippines = facet.locator("a[data-value=PHL]")
    moldova = facet.locator("a[data-value=MDA]")
    more = facet.locator("details[data-facet-more]")
    expect(more).not_to_have_attribute("open", "")
    expect(philippines).to_be_hidden()  # behind "show all"
    find = facet.get_by_label("Find a country")
    find.fill("phil")
    expect(philippines).to_be_visible()
    expect(moldova).to_be_hidden()
    find.fill("no such place")
    expect(facet.get_by_text("No country matches.")).to_be_visible()
    find.fill("")
    expect(moldova).to_be_visible()
    expect(philippines).to_be_hidden()  # "show all" folds again
    find.fill("philippines")
    philippines.click()
    expect(visitor).to_have_url(re.compile(r"[?&]country=PHL(&|$)"))
    expect(visitor.get_by_role("link", name="Remove filter: Philippines")).to_be_visible()
    expect(visitor.locator("li.hit")).to_have_count(1)


def test_the_year_range_picks_from_and_to(visitor: Page, portal_site: Site) -> None:
    from playwright.sync_api import expect

    visitor.goto("/search")
    years = visitor.locator("#year-from option").evaluate_all(
        "options => options.map(o => o.value).filter(v => v)")
    assert years == sorted(years) and len(years) >= 5, years
    visitor.get_by_label("From", exact=True).select_option("2015")
    visitor.get_by_label("To", exact=True).select_option("2017")
    visitor.get_by_role("button", name="Apply the years").click()
    expect(visitor).to_have_url(re.compile(r"year_from=2015&year_to=2017"))
    wanted = portal_site.api("/api/v1/search?year_from=2015&year_to=2017")["total"]
    expect(visitor.locator("li.hit")).to_have_count(wanted)
    for year in visitor.locator("li.hit .meta-line span").all_inner_texts():
        if year.isdigit():
            assert 2015 <= int(year) <= 2017
    expect(visitor.get_by_role("link", name="Remove filter: 2015–2017")).to_be_visible()
    # Every year stays offered (counted without the range), the chosen ones selected.
    expect(visitor.locator("#year-from")).to_have_value("2015")
    assert visitor.locator("#year-to option").evaluate_all(
        "options => options.map(o => o.value).filter(v => v)") == years


def test_on_a_phone_the_filters_button_opens_them_above_the_results(
        browser: Browser, portal_site: Site) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, portal_site, None, "phone")
    try:
        page.goto("/search?q=migration&country=MDA")
        button = page.locator("details[data-filters] > summary")
        facets = page.locator("aside.facets")
        results = page.locator("section.results")
        expect(button).to_be_visible()
        expect(button).to_contain_text("Filters (1 on)")
        expect(facets).to_be_hidden()
        assert button.bounding_box()["y"] < results.bounding_box()["y"]
        button.click()
        expect(facets).to_be_visible()
        facets_box, results_box = facets.bounding_box(), results.bounding_box()
        assert facets_box["y"] + facets_box["height"] <= results_box["y"] + 1
        expect(page.locator("section[data-facet=country] a[data-value=MDA]")).to_be_visible()
        check_page(page, "portal-phone-filters-open")
    finally:
        page.context.close()
    wide = open_as(browser, portal_site, None, "desktop")
    try:
        wide.goto("/search?q=migration")
        expect(wide.locator("aside.facets")).to_be_visible()
        expect(wide.locator("details[data-filters] > summary")).to_be_hidden()
    finally:
        wide.context.close()


def test_an_editor_features_a_document_that_the_home_page_then_shows(
        browser: Browser, portal_site: Site) -> None:
    from playwright.sync_api import expect

    title = "Herramienta: integrar la migración en la planificación local (Ecuador)"
    [found] = portal_site.api("/api/v1/search?type=tool")["results"]
    editor = open_as(browser, portal_site, "editor")
    try:
        editor.goto(f"/documents/{found['id']}")
        editor.get_by_role("button", name="Feature on the home page").click()
        expect(editor.get_by_text("Featured on the home page.", exact=True)).to_be_visible()
        expect(editor.get_by_role("button", name="Stop featuring on the home page")
               ).to_be_visible()
    finally:
        editor.context.close()
    for width in ("desktop", "phone"):
        page = open_as(browser, portal_site, None, width)
        try:
            page.goto("/")
            featured = page.locator("section.featured")
            expect(featured.get_by_role("link", name=title)).to_be_visible()
            check_page(page, "portal-home-featured")
        finally:
            page.context.close()

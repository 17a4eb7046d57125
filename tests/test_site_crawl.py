"""Issue 14, "Done when": every page of the site, found by following its links, at phone
width (390 px) and at desktop width, as an anonymous visitor and as an admin, and each
role's own pages as that role.

At phone width a page must not scroll sideways, must have exactly one <h1>, touch targets
of at least 44 x 44 px (links inside running text exempt, see crawl_kit.SMALL_TARGETS_JS)
and no axe-core WCAG 2.1 A/AA violation; at desktop width one <h1> and no violation.
A role's "own pages" are those its crawl reaches that the anonymous crawl did not (its
account, upload, review, documents only it may see); the pages everybody sees are checked
as an anonymous visitor and as an admin, whose pages hold the most controls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, open_as, site_fixture
from tests.crawl_kit import (
    STARTS,
    Extras,
    Report,
    crawl,
    desktop_problems,
    phone_problems,
    revisit,
    seed_extras,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

site = site_fixture(seed=True)


@pytest.fixture(scope="module")
def extras(site: Site, browser: Browser) -> Extras:
    return seed_extras(site, browser)


@pytest.fixture(scope="module")
def crawls(site: Site, browser: Browser, extras: Extras
           ) -> Iterator[Callable[[str | None], Report]]:
    """The phone-width crawl of each role (None: anonymous), run once and shared by the
    phone and desktop tests. The long-titled and unreadable documents are starting points
    too, so that the bound on pages can never leave them out."""
    done: dict[str | None, Report] = {}
    starts = (*STARTS, *(f"/documents/{extras.ids[name]}" for name in ("long", "unreadable",
                                                                          "original")))
    # And the documents only some roles may open: the internal one for anyone signed in,
    # the submitted one for its contributor and the reviewers.
    own_starts = {
        None: (),
        "reader": ("internal",),
        "contributor": ("internal", "submitted"),
        "editor": ("internal", "submitted"),
        "admin": ("internal", "submitted", "withdrawn"),
    }

    def run(role: str | None) -> Report:
        if role not in done:
            # Other roles: only the pages the anonymous crawl did not see.
            everybody = set(run(None).visited) if role not in (None, "admin") else set()
            page = open_as(browser, site, role, "phone")
            try:
                mine = (f"/documents/{extras.ids[name]}" for name in own_starts[role])
                done[role] = crawl(page, site.url, (*starts, *mine), check=phone_problems,
                                   checks=lambda key: key not in everybody)
            finally:
                page.context.close()
        return done[role]

    yield run


@pytest.mark.parametrize("role", [None, "admin"], ids=["anonymous", "admin"])
def test_every_page_at_phone_width(crawls: Callable[[str | None], Report], extras: Extras,
                                   role: str | None) -> None:
    report = crawls(role)
    assert not report.problems, report.summary()
    reached = report.paths()
    assert {"/", "/login", "/help/search", f"/documents/{extras.ids['long']}",
            f"/documents/{extras.ids['unreadable']}",
            f"/documents/{extras.ids['original']}"} <= reached, sorted(reached)
    if role == "admin":
        assert {"/upload", "/review", "/profile", "/admin/users", "/admin/agencies",
                "/admin/groups", "/admin/audit",
                f"/documents/{extras.ids['withdrawn']}"} <= reached, sorted(reached)
    assert len(report.checked) >= 10, sorted(reached)


@pytest.mark.parametrize(("role", "own"), [
    ("reader", {"/profile"}),
    ("contributor", {"/profile", "/upload"}),
    ("editor", {"/profile", "/upload", "/review"}),
])
def test_own_pages_at_phone_width(crawls: Callable[[str | None], Report], extras: Extras,
                                  role: str, own: set[str]) -> None:
    report = crawls(role)
    assert not report.problems, report.summary()
    checked = report.checked_paths()
    assert own | {f"/documents/{extras.ids['internal']}"} <= checked, sorted(checked)
    if role != "reader":  # the contributor's own submitted document, and the editor's
        assert f"/documents/{extras.ids['submitted']}" in checked, sorted(checked)


@pytest.mark.parametrize("role", [None, "admin", "reader", "contributor", "editor"],
                         ids=["anonymous", "admin", "reader", "contributor", "editor"])
def test_the_same_pages_at_desktop_width(crawls: Callable[[str | None], Report], site: Site,
                                         browser: Browser, role: str | None) -> None:
    pages = crawls(role).checked
    assert pages
    page = open_as(browser, site, role, "desktop")
    try:
        report = revisit(page, pages, check=desktop_problems)
    finally:
        page.context.close()
    assert not report.problems, report.summary()

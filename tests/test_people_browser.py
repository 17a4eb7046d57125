"""People's pages in a real Chromium against a running `kb serve` (whose worker sends the
email to a real SMTP server on localhost): a contributor's My documents, Save and
Resubmit; an editor sorting the review queue; "forgot password" from the email to the
next sign-in. Every page passes check_page on a laptop and on a phone."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.browser_kit import (
    WIDTHS,
    Site,
    check_page,
    email_of,
    new_context,
    open_as,
    site_fixture,
)
from tests.conftest import free_port
from tests.mailbox import Mailbox, running_mailbox

pytestmark = pytest.mark.browser

# Chosen now, for the site's settings; the mailbox fixture listens there.
SMTP_PORT = free_port()
site = site_fixture(seed=False, SMTP_URL=f"smtp://127.0.0.1:{SMTP_PORT}",
                    MAIL_FROM="kb@example.org")
COMMENT = "Please add the annex on remittance costs (page 4) and the 2016 figures."
NEW_PASSWORD = "lantern orchard quietly seventeen"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox(SMTP_PORT)


def token_of(site: Site, role: str) -> str:
    return site.kb("token", "create", email_of(role)).stdout.strip()


def api(site: Site, path: str, token: str, fields: MultiDict) -> Any:
    boundary, body = encode_multipart(fields)
    request = urllib.request.Request(
        site.url + path, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def docs(mailbox: Mailbox, site: Site) -> dict[str, int]:
    """The contributor's uploads: one the editor returned with COMMENT, one submitted."""
    contributor, editor = token_of(site, "contributor"), token_of(site, "editor")
    ids = {}
    for key, title in (("returned", "Remittance costs in Moldova, draft"),
                       ("submitted", "Diaspora mapping in Jamaica, draft")):
        fields = MultiDict([("title", title), ("type", "report"), ("countries", "MDA"),
                            ("file", FileStorage(io.BytesIO(f"{title}: text.".encode()),
                                                 f"{key}.txt"))])
        ids[key] = api(site, "/api/v1/documents", contributor, fields)["id"]
    api(site, f"/api/v1/documents/{ids['returned']}/return", editor,
        MultiDict([("comment", COMMENT)]))
    return ids


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_contributor_reads_the_comment_on_my_documents(mailbox, site, docs, browser,
                                                        width):
    from playwright.sync_api import expect

    page = open_as(browser, site, "contributor", width)
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My documents") \
        .click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My documents")
    row = page.get_by_role("row").filter(has_text="Remittance costs in Moldova")
    expect(row).to_contain_text("Returned to the uploader")
    expect(row).to_contain_text(COMMENT)
    check_page(page, "my-documents")
    row.get_by_role("link", name=re.compile("Change and resubmit")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit metadata")
    expect(page.locator(".editor-comment")).to_have_text(COMMENT)
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Resubmit for review")).to_be_visible()
    check_page(page, "edit-returned")
    page.context.close()


def test_a_contributor_saves_then_resubmits(mailbox, site, docs, browser):
    from playwright.sync_api import expect

    page = open_as(browser, site, "contributor", "phone")
    page.goto(f"/documents/{docs['returned']}/edit")
    page.get_by_label("Title").fill("Remittance costs in Moldova, with the annex")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved. The search index is being updated.")).to_be_visible()
    expect(page.locator("[data-workflow]").first).to_have_attribute("data-workflow",
                                                                    "returned")
    page.goto("/my/documents")
    row = page.get_by_role("row").filter(has_text="with the annex")
    expect(row).to_contain_text("Returned to the uploader")

    row.get_by_role("link", name=re.compile("Change and resubmit")).click()
    page.get_by_role("button", name="Resubmit for review").click()
    expect(page.get_by_text("Saved and resubmitted for review.")).to_be_visible()
    expect(page.locator("[data-workflow]").first).to_have_attribute("data-workflow",
                                                                    "submitted")
    told = mailbox.wait_for(email_of("editor"), "Resubmitted for review")
    assert "Remittance costs in Moldova, with the annex" in told.body
    page.goto("/my/documents")
    expect(page.get_by_role("row").filter(has_text="with the annex")) \
        .to_contain_text("Submitted, awaiting review")
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_an_editor_sorts_the_review_queue(mailbox, site, docs, browser, width):
    from playwright.sync_api import expect

    page = open_as(browser, site, "editor", width)
    page.goto("/review")
    table = page.locator("table[data-state=submitted]")
    date = table.locator("th[aria-sort]")
    expect(date).to_have_attribute("aria-sort", "ascending")
    titles = table.locator("tbody tr td[data-label=Title]")
    expect(titles).not_to_have_count(0)
    before = titles.all_inner_texts()
    assert len(before) >= 2, before
    check_page(page, "review-queue")
    date.get_by_role("link").click()
    expect(table.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    assert titles.all_inner_texts() == before[::-1]
    check_page(page, "review-queue-newest")
    table.locator("th[aria-sort]").get_by_role("link").click()
    expect(table.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    assert titles.all_inner_texts() == before
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_forgot_password_pages(mailbox, site, browser, width):
    from playwright.sync_api import expect

    page = open_as(browser, site, None, width)
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Forgot your password?")
    check_page(page, "forgot-password")
    page.goto("/reset-password?token=not-a-real-one")
    expect(page.get_by_role("alert")).to_contain_text("does not work")
    check_page(page, "reset-password-refused")
    page.context.close()


def test_someone_who_forgot_their_password_signs_in_with_a_new_one(mailbox, site, browser):
    from playwright.sync_api import expect

    page = open_as(browser, site, None, "phone")
    page.goto("/forgot-password")
    page.get_by_label("Email").fill(email_of("reader"))
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("If an account uses that address")).to_be_visible()

    got = mailbox.wait_for(email_of("reader"), "Choose a new password")
    [link] = [u for u in got.links() if "/reset-password?token=" in u]
    assert link.startswith(site.url + "/")
    for width in WIDTHS:  # the page as it looks on each, before the link is used
        other = new_context(browser, site, width).new_page()
        other.goto(link)
        expect(other.get_by_text(email_of("reader"))).to_be_visible()
        check_page(other, "reset-password")
        other.context.close()

    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_text("Your password is changed. Sign in with it.")).to_be_visible()
    page.get_by_label("Email").fill(email_of("reader"))
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_attached()
    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("already used")
    page.context.close()
    assert urllib.parse.urlsplit(link).path == "/reset-password"

"""Issue 14 item 5: a document's processing and failure messages reach only those who can
act on them (its uploader, editors, admins); readers of a document whose text could not be
read learn that its text is not searchable and that the file can still be downloaded.
Destructive actions look dangerous and ask first (kb/static/confirm.js), and still work
without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.browser_kit import Site, axe_violations, email_of, open_as, site_fixture
from tests.conftest import Account, login, wait_for
from tests.crawl_kit import BROKEN_PDF, api_call, no_sideways_scroll

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

HELP_ENCRYPTED_OR_DAMAGED = "save a new copy and upload that"  # taxonomy.EXTRACTION_HELP
NOT_SEARCHABLE = "The text of this file is not searchable"
STILL_DOWNLOADABLE = "The file itself can still be downloaded."


def as_user(app: Flask, account: Account | None) -> FlaskClient:
    """A test client of its own, signed in as ``account`` (None: anonymous)."""
    client = app.test_client()
    if account is not None:
        login(client, account)
    return client


def page_of(client: FlaskClient, doc_id: int) -> str:
    res = client.get(f"/documents/{doc_id}")
    assert res.status_code == 200, res.status_code
    return res.get_data(as_text=True)


@pytest.fixture
def failed_doc(upload: Callable[..., Any], process: Callable[[], None]) -> int:
    """A published document (an editor's upload) whose PDF cannot be read."""
    res = upload(BROKEN_PDF, "broken.pdf", title="A damaged PDF")
    assert res.status_code == 201, res.json
    process()
    return int(res.json["id"])


def test_readers_of_a_failed_document_learn_only_that_its_text_is_not_searchable(
        app: Flask, client: FlaskClient, failed_doc: int,
        make_user: Callable[[str], Account]) -> None:
    doc = client.get(f"/api/v1/documents/{failed_doc}").json
    assert doc["status"] == "failed" and doc["error_code"] == "corrupt", doc
    for who in (None, make_user("reader"), make_user("contributor")):
        html = page_of(as_user(app, who), failed_doc)
        assert NOT_SEARCHABLE in html and STILL_DOWNLOADABLE in html, who
        assert "Failed:" not in html and "Ready: searchable" not in html, who
        assert doc["error"] not in html, who
        assert HELP_ENCRYPTED_OR_DAMAGED not in html.lower(), who
        assert "data-error-code" not in html and "Retry extraction" not in html, who
        assert f'href="/documents/{failed_doc}/download"' in html, who


def test_uploader_and_editors_see_the_failure_and_its_remedy(
        app: Flask, failed_doc: int, make_user: Callable[[str], Account],
        upload: Callable[..., Any], process: Callable[[], None]) -> None:
    editor_page = page_of(as_user(app, make_user("editor")), failed_doc)
    assert 'data-status="failed"' in editor_page and "Failed:" in editor_page
    assert 'data-error-code="corrupt"' in editor_page
    assert HELP_ENCRYPTED_OR_DAMAGED in editor_page.lower()
    assert "Retry extraction" in editor_page
    assert NOT_SEARCHABLE not in editor_page

    contributor = make_user("contributor")
    own = upload(BROKEN_PDF + b"%own\n", "mine.pdf", account=contributor, title="My damaged PDF")
    process()
    mine = page_of(as_user(app, contributor), own.json["id"])
    assert "Failed:" in mine and HELP_ENCRYPTED_OR_DAMAGED in mine.lower()
    assert "Retry extraction" not in mine  # contributors cannot retry; they upload again


@pytest.mark.parametrize(("lang", "failed", "remedy", "details"), [
    ("fr", "Échec.", "Le fichier est endommagé", "Détails (en anglais)"),
    ("es", "Error.", "El archivo está dañado", "Detalles (en inglés)"),
    ("ru", "Сбой.", "Файл повреждён", "Подробности (на английском)"),
])
def test_a_failure_is_explained_in_the_readers_language(
        app: Flask, failed_doc: int, make_user: Callable[[str], Account],
        lang: str, failed: str, remedy: str, details: str) -> None:
    """The reason the worker recorded is English: on a page in another language the status
    and the remedy are in that language, and the recorded reason is behind "Details";
    the review queue's remedies are translated too."""
    editor = as_user(app, make_user("editor"))
    reason = editor.get(f"/api/v1/documents/{failed_doc}").json["error"]
    headers = {"Accept-Language": lang}
    html = editor.get(f"/documents/{failed_doc}", headers=headers).get_data(as_text=True)
    status = re.search(r'data-status="failed">(.*?)</p>', html, re.S)
    assert status is not None and status.group(1).strip() == failed
    assert remedy in html and details in html
    assert f'<p lang="en">{reason}</p>' in html.replace("&#39;", "'")
    queue = editor.get("/review", headers=headers).get_data(as_text=True)
    assert 'data-error-code="corrupt"' in queue and remedy in queue
    assert "not what its type says" not in queue
    english = editor.get(f"/documents/{failed_doc}").get_data(as_text=True)
    assert "Details (in English)" not in english and "Failed:" in english


def test_processing_shows_and_refreshes_only_for_those_who_can_act(
        app: Flask, upload: Callable[..., Any], editor: Account,
        make_user: Callable[[str], Account]) -> None:
    doc_id = upload(b"Notes on circular migration.", "notes.txt", title="Notes").json["id"]
    watcher = f'data-status-url="/api/v1/documents/{doc_id}"'  # status.js: reload when done
    for who in (editor, make_user("editor"), make_user("admin")):
        html = page_of(as_user(app, who), doc_id)
        assert 'data-status="processing"' in html and watcher in html, who.role
        assert 'http-equiv="refresh"' not in html  # WCAG 2.2.1: no timed reloads
    for who in (None, make_user("reader"), make_user("contributor")):
        html = page_of(as_user(app, who), doc_id)
        assert "Processing" not in html and "data-status" not in html, who
        assert watcher not in html and "status.js" not in html, who
        assert NOT_SEARCHABLE not in html, who  # not failed: nothing to say


def test_ready_documents_say_nothing_about_processing_to_readers(
        app: Flask, upload: Callable[..., Any], process: Callable[[], None], editor: Account,
        make_user: Callable[[str], Account]) -> None:
    doc_id = upload(b"Diaspora bonds in Ethiopia.", "bonds.txt", title="Bonds").json["id"]
    process()
    assert "Ready: searchable." in page_of(as_user(app, editor), doc_id)
    for who in (None, make_user("reader")):
        html = page_of(as_user(app, who), doc_id)
        assert "Ready" not in html and "data-status" not in html and NOT_SEARCHABLE not in html


# --- Destructive actions: a danger style and a question, in the HTML -------------------

@dataclass
class Form:
    action: str
    attrs: dict[str, str]
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (text, class)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: list[str] | None = None
        self._class = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values))
        elif tag == "button" and self.forms:
            self._button, self._class = [], values.get("class", "")

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            text = " ".join("".join(self._button).split())
            self.forms[-1].buttons.append((text, self._class))
            self._button = None


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def button(html: str, name: str) -> tuple[Form, str]:
    """The form holding the button whose text starts with ``name``, and its class."""
    found = [(f, cls) for f in forms_of(html) for text, cls in f.buttons
             if text == name or text.startswith(name + " ")]
    assert len(found) >= 1, f"no button {name!r}"
    return found[0]


def test_destructive_actions_are_marked_dangerous_and_ask_first(
        app: Flask, upload: Callable[..., Any], process: Callable[[], None],
        make_user: Callable[[str], Account]) -> None:
    admin, contributor = make_user("admin"), make_user("contributor")
    published = upload(b"A brief on remittance costs.", "brief.txt", title="Brief").json["id"]
    submitted = upload(b"Draft notes.", "draft.txt", account=contributor,
                       title="Draft").json["id"]
    process()
    client = as_user(app, admin)

    html = page_of(client, published)
    form, cls = button(html, "Withdraw")
    assert "danger" in cls.split()
    assert form.attrs.get("data-confirm", "").startswith("Withdraw “Brief”?")

    html = page_of(client, submitted)
    publish_form, publish_cls = button(html, "Publish")
    _, return_cls = button(html, "Return to uploader")
    _, withdraw_cls = button(html, "Withdraw")
    assert "data-confirm" not in publish_form.attrs
    assert len({publish_cls, return_cls, withdraw_cls}) == 3  # three looks, not one
    assert "danger" not in publish_cls.split()

    client.post(f"/api/v1/documents/{published}/withdraw", headers=admin.headers)
    html = page_of(client, published)
    form, cls = button(html, "Delete (to the trash)")
    assert "danger" in cls.split() and "trash" in form.attrs.get("data-confirm", "")
    _, restore_cls = button(html, "Restore")
    assert "danger" not in restore_cls.split()

    html = client.get("/admin/users").get_data(as_text=True)
    form, cls = button(html, f"Disable {contributor.email}")
    assert "danger" in cls.split()
    assert form.attrs.get("data-confirm", "").startswith(f"Disable {contributor.email}?")
    change_role, save_cls = button(html, "Save")
    assert "danger" not in save_cls.split() and "data-confirm" not in change_role.attrs
    client.post(f"/admin/users/{_user_id(html, contributor.email)}/disable",
                data={"csrf_token": _csrf(html)})
    html = client.get("/admin/users").get_data(as_text=True)
    form, cls = button(html, f"Enable {contributor.email}")
    assert "danger" not in cls.split() and "data-confirm" not in form.attrs

    html = client.get("/profile").get_data(as_text=True)
    form, cls = button(html, "Revoke")
    assert "danger" in cls.split() and form.attrs.get("data-confirm", "").startswith("Revoke")
    _, create_cls = button(html, "Create token")
    assert "danger" not in create_cls.split()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _user_id(html: str, email: str) -> int:
    match = re.search(r'<tr data-user-id="(\d+)"><td data-label="Email">' + re.escape(email),
                      html)
    assert match, f"no row for {email}"
    return int(match.group(1))


# --- The question itself, in a real browser ---------------------------------------------

site = site_fixture(seed=True)


def _published_doc(site: Site, token: str, title: str) -> int:
    """An editor's upload, once processed."""
    doc_id = int(api_call(site, "POST", "/api/v1/documents", token,
                          f"{title}: a note for the confirmation test.".encode(),
                          filename=f"{title.lower().replace(' ', '-')}.txt", title=title)["id"])
    wait_for(f"document {doc_id} processed", lambda: api_call(
        site, "GET", f"/api/v1/documents/{doc_id}", token)["status"] != "processing")
    return doc_id


def _workflow(site: Site, token: str, doc_id: int) -> str:
    return str(api_call(site, "GET", f"/api/v1/documents/{doc_id}", token)["workflow"])


def _focus_in_dialog(page: Page) -> bool:
    return bool(page.evaluate("!!document.activeElement.closest('dialog[open]')"))


@pytest.mark.browser
def test_the_question_opens_escape_cancels_and_confirming_acts(site: Site,
                                                               browser: Browser) -> None:
    from playwright.sync_api import expect

    token = site.kb("token", "create", email_of("editor")).stdout.strip()
    doc_id = _published_doc(site, token, "Confirmation test")
    page = open_as(browser, site, "editor", "phone")
    try:
        page.goto(f"/documents/{doc_id}")
        withdraw = page.get_by_role("button", name="Withdraw", exact=True)
        dialog = page.get_by_role("dialog")

        withdraw.click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Withdraw “Confirmation test”?")
        assert _focus_in_dialog(page)
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        assert axe_violations(page) == [] and no_sideways_scroll(page) == []
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(withdraw).to_be_focused()
        assert _workflow(site, token, doc_id) == "published"
        assert page.url.endswith(f"/documents/{doc_id}")

        withdraw.click()
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        assert _workflow(site, token, doc_id) == "published"

        withdraw.click()
        dialog.get_by_role("button", name="Withdraw", exact=True).click()
        expect(page.locator(".flash")).to_contain_text("Withdrawn")
        assert _workflow(site, token, doc_id) == "withdrawn"
    finally:
        page.context.close()


@pytest.mark.browser
def test_without_javascript_destructive_forms_are_sent_at_once(site: Site,
                                                               browser: Browser) -> None:
    from playwright.sync_api import expect

    from tests.browser_kit import new_context, sign_in

    token = site.kb("token", "create", email_of("editor")).stdout.strip()
    doc_id = _published_doc(site, token, "No script test")
    context = new_context(browser, site, "phone", java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, "editor")
        page.goto(f"/documents/{doc_id}")
        page.get_by_role("button", name="Withdraw", exact=True).click()
        expect(page.locator(".flash")).to_contain_text("Withdrawn")
        assert _workflow(site, token, doc_id) == "withdrawn"
    finally:
        context.close()

"""The interface in French, Spanish and Russian in a real headless Chromium: chosen with
the switch on the page (and kept as the reader moves on), or from the browser's own
language (Accept-Language); the main pages show translated text, a translated validation
message and dates in the language's own form, and still pass check_page."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tests.browser_kit import Site, check_page, new_context, open_as, site_fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser
site = site_fixture(seed=True)

# What each language's pages say (from its catalogue; checked against it in
# tests/test_i18n_catalogues.py): home heading, search button, no-results heading, help
# heading, the required-field message (WTForms' own catalogue), a month of December.
SAYS = {
    "fr": {"home": "Connaissances sur la migration et le développement", "search": "Rechercher",
           "none": "Aucun document trouvé", "help": "Comment chercher",
           "required": "Ce champ est requis.", "type": "Enseignements tirés",
           "month": re.compile(r"\b(janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)")},
    "es": {"home": "Conocimientos sobre migración y desarrollo", "search": "Buscar",
           "none": "No se encontraron documentos", "help": "Cómo buscar",
           "required": "Este campo es obligatorio.", "type": "Lecciones aprendidas",
           "month": re.compile(r"\b(ene|feb|mar|abr|may|jun|jul|ago|sept|oct|nov|dic)\b")},
    "ru": {"home": "Знания о миграции и развитии", "search": "Поиск",
           "none": "Документы не найдены", "help": "Как искать",
           "required": "Обязательное поле.", "type": "Извлечённые уроки",
           "month": re.compile(r"(янв|февр|мар|апр|мая|июн|июл|авг|сент|окт|нояб|дек)")},
}


def main_pages_say(page: Page, lang: str) -> None:
    """Home, results, no results and the search help, in ``lang``."""
    from playwright.sync_api import expect

    says = SAYS[lang]
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_role("heading", level=1)).to_have_text(says["home"])
    expect(page.locator("form.home-search button[type=submit]")).to_have_text(says["search"])
    page.goto("/search?q=remittances")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator(".hits")).to_contain_text(says["type"])  # a vocabulary label
    page.goto("/search?q=zzxxqqww")
    expect(page.get_by_role("heading", level=1)).to_have_text(says["none"])
    page.goto("/help/search")
    expect(page.get_by_role("heading", level=1)).to_have_text(says["help"])


@pytest.mark.parametrize("lang", ["fr", "es", "ru"])
def test_the_switch_turns_every_page_into_the_language(site: Site, browser: Browser,
                                                       lang: str) -> None:
    from playwright.sync_api import expect

    page = open_as(browser, site, None)
    page.goto("/search?q=remittances")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Show the site in").select_option(lang)
    page.locator("[data-language-switch] button").click()
    # Back on the same page, now in the language.
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert page.url.endswith("/search?q=remittances")
    main_pages_say(page, lang)
    check_page(page, f"i18n-help-{lang}")
    page.context.close()


@pytest.mark.parametrize("lang", ["fr", "es", "ru"])
def test_the_browser_language_chooses_and_forms_answer_in_it(site: Site, browser: Browser,
                                                             lang: str) -> None:
    from playwright.sync_api import expect

    context = new_context(browser, site, "phone", locale=lang)
    page = context.new_page()
    main_pages_say(page, lang)
    page.goto("/")
    check_page(page, f"i18n-home-{lang}-phone")
    context.close()

    # An editor whose browser speaks the language: a form's validation message and the
    # dates of a document's page are in it.
    page = open_as(browser, site, "editor")
    page.context.set_extra_http_headers({"Accept-Language": f"{lang},en;q=0.3"})
    page.goto("/search?q=Moldova")
    page.locator(".hits h3 a").first.click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    dates = page.locator("td[data-date]")
    expect(dates.first).to_be_visible()
    assert SAYS[lang]["month"].search(dates.first.inner_text()), dates.first.inner_text()
    page.locator("a[href$='/edit']").first.click()
    page.locator("#title").fill("")
    page.locator("form button[name=save]").click()
    expect(page.locator(".field.invalid .error").first).to_have_text(SAYS[lang]["required"])
    check_page(page, f"i18n-edit-error-{lang}")
    page.context.close()

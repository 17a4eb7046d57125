"""The catalogues are complete, and no page shows an untranslated interface string.

Messages are extracted from the code and templates with Babel's own extraction (the
mapping in babel.cfg, the keywords `make translations` uses) and compared with every
catalogue: a message without a translation (or a fuzzy one), or a translation whose
placeholders or markup differ, fails, and so does a catalogue entry the code no longer
uses. Then every page of PAGES is rendered in each language and its visible text is
compared with the English catalogue: no English message may show through.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage

from kb import i18n
from tests.conftest import Account, csrf_from, login, post_multipart

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
TRANSLATED = tuple(code for code in i18n.LANGUAGES if code != "en")
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")
TAG = re.compile(r"</?([a-z]+)")


def extracted() -> dict[str | tuple[str, ...], list[str]]:
    """Every message of the code and templates, with where it is (file:line)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, "babel.cfg")
    found: dict[str | tuple[str, ...], list[str]] = {}
    for sub in ("kb", "templates"):
        prefix = f"{sub}/"
        mapped = [(pattern.removeprefix(prefix), method) for pattern, method in method_map
                  if pattern.startswith(prefix)]
        options = {pattern.removeprefix(prefix): opts for pattern, opts in options_map.items()
                   if pattern.startswith(prefix)}
        for filename, line, message, _comments, _context in extract_from_dir(
                ROOT / sub, mapped, options, KEYWORDS, strip_comment_tags=True):
            key = message if isinstance(message, str) else tuple(m for m in message if m)
            key = key[0] if isinstance(key, tuple) and len(key) == 1 else key
            found.setdefault(key, []).append(f"{sub}/{filename}:{line}")
    return found


def catalogue(lang: str) -> Catalog:
    path = i18n.TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        return read_po(po, locale=lang)


@pytest.fixture(scope="module")
def messages() -> dict[str | tuple[str, ...], list[str]]:
    return extracted()


def test_the_extraction_finds_the_interface_messages(messages):
    # A guard on the guard: were the mapping wrong, nothing would be compared.
    assert "How to search" in messages and "Please sign in to continue." in messages
    assert ("%(count)s document", "%(count)s documents") in messages
    assert "Lessons learned" in messages  # N_ in kb/taxonomy.py
    assert "Publication year" in messages  # lazy_gettext in kb/forms.py


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_has_a_translation_and_no_entry_is_obsolete(messages, lang):
    cat = catalogue(lang)
    held = {m.id: m for m in cat if m.id}
    untranslated = [f"{mid!r} ({', '.join(where[:2])})" for mid, where in messages.items()
                    if mid not in held or held[mid].fuzzy
                    or not all(held[mid].string if isinstance(held[mid].string, tuple)
                               else [held[mid].string])]
    assert not untranslated, (
        f"{len(untranslated)} message(s) without a {lang} translation (run `make "
        f"translations`, then translate them in kb/translations/{lang}/LC_MESSAGES/"
        "messages.po):\n" + "\n".join(untranslated))
    obsolete = [repr(mid) for mid in held if mid not in messages] + [
        repr(m.id) for m in cat.obsolete.values()]
    assert not obsolete, (
        f"kb/translations/{lang} holds messages the code no longer uses (`make "
        "translations` drops them):\n" + "\n".join(obsolete))


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_the_placeholders_and_markup(lang):
    wrong = []
    for m in catalogue(lang):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = {p for p in PLACEHOLDER.findall(ids[-1])} | {
            p for p in PLACEHOLDER.findall(ids[0])}
        tags = sorted(TAG.findall(ids[0]))
        for s in strings:
            # %(num)s may be left out of a plural form ("один документ").
            if {p for p in PLACEHOLDER.findall(s)} | {("num", "")} < wanted - {("num", "")}:
                wrong.append(f"{m.id!r}: {s!r} (placeholders)")
            if sorted(TAG.findall(s)) != tags:
                wrong.append(f"{m.id!r}: {s!r} (markup)")
    assert not wrong, "\n".join(wrong)


# --- every page, in every language --------------------------------------------------------

class Visible(HTMLParser):
    """The text a reader sees or hears: text nodes, and the attributes read out (not
    scripts, nor code such as <code>year:2015</code>, which is the same in every language)."""

    SPOKEN = ("title", "placeholder", "aria-label", "alt", "data-confirm")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "code"):
            self.skip += 1
        for name, value in attrs:
            if name in self.SPOKEN and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(data)


def visible_text(html: str) -> tuple[list[str], str]:
    parser = Visible()
    parser.feed(html)
    nodes = [" ".join(t.split()) for t in parser.texts]
    return nodes, " ".join(nodes)


def english_traces(lang: str) -> tuple[set[str], list[str]]:
    """What would betray an untranslated message: whole short messages (a text node equal
    to one), and the literal stretches of longer ones (between placeholders and markup).
    Messages whose translation is the same text ("Version", "Type" in French) are left
    out; so are stretches the translation itself holds."""
    whole: set[str] = set()
    stretches: list[str] = []
    for m in catalogue(lang):
        if not m.id:
            continue
        english = m.id[0] if isinstance(m.id, tuple) else m.id
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        translated = " ".join(forms)
        if english in forms:
            continue
        if not PLACEHOLDER.search(english) and "<" not in english and len(english) >= 4:
            whole.add(" ".join(english.split()))
        for part in re.split(r"<[^>]+>|%\(\w+\)s|\{\w+\}", english):
            part = " ".join(part.split()).strip(" .,:;()")
            if len(part) >= 16 and part.count(" ") >= 2 and part not in translated:
                stretches.append(part)
    return whole, stretches


def untranslated(html: str, lang: str) -> list[str]:
    whole, stretches = english_traces(lang)
    nodes, text = visible_text(html)
    found = sorted({n for n in nodes if n in whole} | {s for s in stretches if s in text})
    return found


@pytest.fixture
def site(client: FlaskClient, make_user: Callable[[str], Account], upload, process):
    """An admin (who sees every page an editor does, and the admin pages), a published
    document with a second version and a history, signed in."""
    editor = make_user("admin")
    doc_id = upload(b"Remittances and diaspora investment in Moldova, 2015.", "moldova.txt",
                    account=editor, title="Diaspora investment in Moldova",
                    countries="MDA", type="evaluation", language="en", year="2015",
                    themes="remittances; diaspora").json["id"]
    process()
    client.patch(f"/api/v1/documents/{doc_id}", json={"summary": "A short summary."},
                 headers=editor.headers)
    post_multipart(client, f"/api/v1/documents/{doc_id}/files",
                   {"file": FileStorage(io.BytesIO(b"Second version, remittances."), "v2.txt"),
                    "note": "final"}, editor.headers)
    process()
    login(client, editor)
    return {"doc": doc_id, "editor": editor}


def upload_without_title(client: FlaskClient) -> Any:
    page = client.get("/upload").get_data(as_text=True)
    return post_multipart(client, "/upload", {
        "csrf_token": csrf_from(page), "title": "", "access": "public",
        "file": FileStorage(io.BytesIO(b"Some text."), "x.txt")})


def anonymous(client: FlaskClient, site: dict[str, Any], path: str) -> Any:
    """A page as a visitor who is not signed in sees it, in the language under test."""
    other = client.application.test_client()
    other.set_cookie(i18n.COOKIE, site["lang"])
    return other.get(path)


# The pages this check renders, in one place: (name, how to get it). Not /api/docs: it
# shows the OpenAPI description, written in English for developers (its frame is
# checked in tests/test_i18n_pages.py).
PAGES: dict[str, Callable[[FlaskClient, dict[str, Any]], Any]] = {
    "home": lambda c, s: c.get("/"),
    "results": lambda c, s: c.get("/search", query_string={"q": "remittances"}),
    "no results": lambda c, s: c.get("/search", query_string={"q": "zzxxqq",
                                                              "country": "MDA"}),
    "all documents": lambda c, s: c.get("/search"),
    "search help": lambda c, s: c.get("/help/search"),
    "countries A-Z": lambda c, s: c.get("/browse/country"),
    "one country": lambda c, s: c.get("/browse/country/MDA"),
    "document": lambda c, s: c.get(f"/documents/{s['doc']}", query_string={"q": "diaspora"}),
    "upload form": lambda c, s: c.get("/upload"),
    "upload with an error": lambda c, s: upload_without_title(c),
    "edit": lambda c, s: c.get(f"/documents/{s['doc']}/edit"),
    "not found": lambda c, s: c.get("/documents/999999"),
    "objectives": lambda c, s: c.get("/browse/gcm"),
    "one objective": lambda c, s: c.get("/browse/gcm/gcm-20"),
    "SDG targets": lambda c, s: c.get("/browse/sdg"),
    "my documents": lambda c, s: c.get("/my/documents"),
    "review queue": lambda c, s: c.get("/review"),
    "usage": lambda c, s: c.get("/usage"),
    "profile": lambda c, s: c.get("/profile"),
    "users": lambda c, s: c.get("/admin/users"),
    "agencies": lambda c, s: c.get("/admin/agencies"),
    "trash": lambda c, s: c.get("/admin/trash"),
    "groups": lambda c, s: c.get("/admin/groups"),
    "audit trail": lambda c, s: c.get("/admin/audit"),
    "sign in": lambda c, s: anonymous(c, s, "/login"),
    "forgotten password": lambda c, s: anonymous(c, s, "/forgot-password"),
}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_no_page_shows_an_untranslated_message(client, site, lang):
    client.set_cookie(i18n.COOKIE, lang)
    site["lang"] = lang
    problems = {}
    for name, get in PAGES.items():
        res = get(client, site)
        assert res.status_code in (200, 400, 404), (name, res.status_code)
        html = res.get_data(as_text=True)
        assert f'<html lang="{lang}"' in html, name
        left = untranslated(html, lang)
        if left:
            problems[name] = left
    assert not problems, f"English left in the {lang} pages: {problems}"


def test_the_check_sees_english_where_it_is_left(client, site):
    # The same pages in English are all English: the check would see a missed message.
    html = client.get("/search", query_string={"q": "zzxxqq"}).get_data(as_text=True)
    assert "No document you may see matches" in " ".join(visible_text(html)[1:])
    assert "No documents found" in untranslated(html, "fr")


# What a reader of each language sees on the pages that carry a message, a date, a number.
REQUIRED_FIELD = {"fr": "Ce champ est requis.", "es": "Este campo es obligatorio.",
                  "ru": "Обязательное поле."}
MONTHS = {"fr": ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
                 "oct.", "nov.", "déc."),
          "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov",
                 "dic"),
          "ru": ("янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.",
                 "окт.", "нояб.", "дек.")}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_validation_messages_dates_and_labels_follow_the_language(client, site, lang):
    client.set_cookie(i18n.COOKIE, lang)
    res = upload_without_title(client)
    assert res.status_code == 400
    assert REQUIRED_FIELD[lang] in res.get_data(as_text=True)
    page = client.get(f"/documents/{site['doc']}").get_data(as_text=True)
    dates = re.findall(r"<td [^>]*data-date>([^<]+)</td>", page)
    assert dates and all(any(month in d for month in MONTHS[lang]) for d in dates), dates
    assert f"<dd>{catalogue(lang)['Evaluation'].string}</dd>" in page
    api = client.get("/api/v1/taxonomy").json
    assert {"code": "evaluation", "label": catalogue(lang)["Evaluation"].string} in api["types"]


def test_the_api_follows_accept_language_and_countries_are_named_by_cldr(client):
    for lang, moldova in (("fr", "Moldavie"), ("es", "Moldavia"), ("ru", "Молдова"),
                          ("en", "Moldova")):
        api = client.get("/api/v1/taxonomy", headers={"Accept-Language": f"{lang},en;q=0.5"})
        assert {"code": "MDA", "label": moldova} in api.json["countries"]
        assert api.json["types"][0]["label"] == (
            "Lessons learned" if lang == "en" else catalogue(lang)["Lessons learned"].string)


def test_the_switch_sets_the_cookie_and_the_profile_and_goes_back_safely(
        client, make_user):
    home = client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es"' in home and "Buscar" in home
    res = client.post("/language", data={"csrf_token": csrf_from(home), "language": "ru",
                                         "next": "/search?q=diaspora"})
    assert res.status_code == 303 and res.headers["Location"].endswith("/search?q=diaspora")
    assert '<html lang="ru"' in client.get("/").get_data(as_text=True)
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        res = client.post("/language", data={"csrf_token": csrf_from(home),
                                             "language": "fr", "next": evil})
        assert "evil" not in res.headers["Location"]
    # Without the form's token nothing changes.
    assert client.post("/language", data={"language": "en"}).status_code == 400
    # A signed-in user's choice is kept in the profile: another browser gets it.
    reader = make_user("reader")
    login(client, reader)
    page = client.get("/profile").get_data(as_text=True)
    assert 'data-profile-language' in page
    client.post("/language", data={"csrf_token": csrf_from(page), "language": "fr",
                                   "next": "/profile"})
    other = client.application.test_client()
    login(other, reader)
    assert '<html lang="fr"' in other.get("/", headers={"Accept-Language": "es"}).get_data(
        as_text=True)
    # "Browser default" forgets it: Accept-Language decides again.
    client.post("/language", data={"csrf_token": csrf_from(page), "language": "",
                                   "next": "/profile"})
    assert '<html lang="es"' in other.get("/", headers={"Accept-Language": "es"}).get_data(
        as_text=True)


def test_a_refused_query_is_explained_in_the_language(client):
    for lang, says in (("fr", "tapez au moins"), ("es", "escriba al menos"),
                       ("ru", "введите не менее")):
        page = client.get("/search", query_string={"q": "a*"},
                          headers={"Accept-Language": lang})
        assert page.status_code == 400 and says in page.get_data(as_text=True)
        api = client.get("/api/v1/search", query_string={"q": "a*"},
                         headers={"Accept-Language": lang})
        assert api.status_code == 400 and says in api.json["error"]
    english = client.get("/api/v1/search", query_string={"q": "a*"})
    assert "type at least" in english.json["error"]

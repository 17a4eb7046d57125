"""Language versions of one work (issue 18 item 2): an editor links a document as a
translation of another; each page says "Also in: ..." with the versions the reader may see,
the API lists them, and no link ever tells anyone of a document they may not see (a
restricted version, one in the trash)."""

from __future__ import annotations

import re

import pytest

from kb.services import groups as groups_service
from tests.conftest import csrf_from, login

GROUP = "Chisinau country team"


@pytest.fixture
def people(app, make_user):
    found = {role: make_user(role) for role in ("reader", "contributor", "editor", "admin")}
    found["member"] = make_user("reader")
    with app.app_context():
        group = groups_service.create_group(GROUP, None)
        groups_service.add_member(group.group_id, found["member"].email, None)
    return found


@pytest.fixture
def work(client, people, upload, process):
    """An English public original, its French translation restricted to a group and its
    Spanish one public (linked through the API by an editor)."""
    editor = people["editor"]

    def make(title: str, language: str, **meta) -> int:
        res = upload(f"{title}: lessons on labour migration.".encode(), f"{language}.txt",
                     account=editor, title=title, language=language, **meta)
        assert res.status_code == 201, res.json
        return res.json["id"]

    ids = {"en": make("Return and reintegration", "en"),
           "fr": make("Retour et réintégration", "fr", access="restricted", groups=[GROUP]),
           "es": make("Retorno y reintegración", "es")}
    process()
    assert client.put(f"/api/v1/documents/{ids['fr']}/translation_of",
                      json={"original": ids["en"]}, headers=editor.headers).status_code == 200
    res = client.put(f"/api/v1/documents/{ids['es']}/translation_of",
                     data={"original": f"#{ids['en']}"}, headers=editor.headers)
    assert res.status_code == 200, res.json
    assert res.json["translation_of"] == ids["en"]
    return ids


def _browser(app, account=None):
    browser = app.test_client()
    if account is not None:
        login(browser, account)
    return browser


def _also_in(html: str) -> dict[str, str]:
    """The "Also in" links of a page: label -> their attributes."""
    block = re.search(r'<p class="also-in"[^>]*>(.*?)</p>', html, re.S)
    if block is None:
        return {}
    return {label: attrs for attrs, label in re.findall(r"<a ([^>]*)>([^<]*)</a>",
                                                        block.group(1))}


def _alternates(html: str) -> set[str]:
    return set(re.findall(r'<link rel="alternate" hreflang="([^"]+)"', html))


def test_each_reader_sees_only_the_versions_they_may_see(app, people, work):
    en, fr, es = work["en"], work["fr"], work["es"]
    anonymous = _browser(app)
    page = anonymous.get(f"/documents/{en}").get_data(as_text=True)
    assert set(_also_in(page)) == {"Español"}
    assert 'hreflang="es"' in _also_in(page)["Español"] and f"/documents/{es}/" in page
    assert _alternates(page) == {"en", "es"}
    assert "Retour" not in page and f"/documents/{fr}" not in page
    assert anonymous.get(f"/documents/{fr}").status_code == 404
    spanish = anonymous.get(f"/documents/{es}").get_data(as_text=True)
    assert set(_also_in(spanish)) == {"English"}

    member = _browser(app, people["member"])
    page = member.get(f"/documents/{en}").get_data(as_text=True)
    assert set(_also_in(page)) == {"Français", "Español"}
    assert 'lang="fr"' in _also_in(page)["Français"]
    assert _alternates(page) == {"en", "fr", "es"}
    french = member.get(f"/documents/{fr}").get_data(as_text=True)
    assert set(_also_in(french)) == {"English", "Español"}
    # Readers get no link form.
    assert "data-translation-form" not in french


def test_the_api_lists_only_visible_versions(app, client, people, work):
    en, fr, es = work["en"], work["fr"], work["es"]
    reader, member = people["reader"].headers, people["member"].headers
    answer = client.get(f"/api/v1/documents/{en}", headers=reader).json
    assert answer["translation_of"] is None
    assert [(t["doc_id"], t["language"]) for t in answer["translations"]] == [(es, "es")]
    assert answer["translations"][0]["title"] == "Retorno y reintegración"
    assert answer["translations"][0]["url"].endswith(f"/documents/{es}")
    assert client.get(f"/api/v1/documents/{es}", headers=reader).json["translations"] == [
        {"doc_id": en, "language": "en", "title": "Return and reintegration",
         "url": f"http://localhost/documents/{en}"}]
    assert client.get(f"/api/v1/documents/{fr}", headers=reader).status_code == 404
    full = client.get(f"/api/v1/documents/{en}", headers=member).json
    assert {t["doc_id"] for t in full["translations"]} == {fr, es}
    assert client.get(f"/api/v1/documents/{fr}", headers=member).json["translation_of"] == en


def test_a_restricted_original_is_never_named(app, client, people, upload, process):
    editor = people["editor"]
    original = upload(b"Mobilitate si migratie.", "ro.txt", title="Mobilitate", language="ro",
                      access="restricted", groups=[GROUP]).json["id"]
    public = upload(b"Mobility and migration.", "en.txt", title="Mobility",
                    language="en").json["id"]
    process()
    assert client.put(f"/api/v1/documents/{public}/translation_of", json={"original": original},
                      headers=editor.headers).status_code == 200
    for headers in ({}, people["reader"].headers):
        answer = client.get(f"/api/v1/documents/{public}", headers=headers).json
        assert answer["translation_of"] is None and answer["translations"] == []
    page = _browser(app).get(f"/documents/{public}").get_data(as_text=True)
    assert _also_in(page) == {} and f"/documents/{original}" not in page
    assert "Mobilitate" not in page and 'rel="alternate" hreflang' not in page
    member = client.get(f"/api/v1/documents/{public}", headers=people["member"].headers).json
    assert member["translation_of"] == original
    assert [t["language"] for t in member["translations"]] == ["ro"]


def test_only_editors_and_admins_link(app, client, people, work, upload, process):
    en, fr, es = work["en"], work["fr"], work["es"]
    mine = upload(b"Contributor's own draft in Russian.", "ru.txt", account=people["contributor"],
                  title="Draft", language="ru").json["id"]
    process()
    url = "/api/v1/documents/{}/translation_of"
    assert client.put(url.format(es), json={"original": en}).status_code == 401
    assert client.put(url.format(es), json={"original": en},
                      headers=people["reader"].headers).status_code == 403
    assert client.delete(url.format(es), headers=people["reader"].headers).status_code == 403
    # A document the caller may not see does not exist for them.
    assert client.put(url.format(fr), json={"original": en},
                      headers=people["reader"].headers).status_code == 404
    res = client.put(url.format(mine), json={"original": en},
                     headers=people["contributor"].headers)
    assert res.status_code == 403 and "editors" in res.json["error"]
    # The web form too.
    contributor = _browser(app, people["contributor"])
    token = csrf_from(contributor.get(f"/documents/{mine}").get_data(as_text=True))
    assert contributor.post(f"/documents/{mine}/translation",
                            data={"original": str(en), "csrf_token": token}).status_code == 403
    assert contributor.post(f"/documents/{es}/translation/remove",
                            data={"csrf_token": token}).status_code == 403
    assert client.get(f"/api/v1/documents/{mine}",
                      headers=people["editor"].headers).json["translation_of"] is None


def test_the_rules_of_a_work_are_explained(client, people, work, upload, process):
    en, fr, es = work["en"], work["fr"], work["es"]
    editor = people["editor"].headers
    other_fr = upload(b"Un autre rapport.", "fr2.txt", title="Autre", language="fr").json["id"]
    bare = upload(b"No language given.", "x.txt", title="Bare").json["id"]
    english = upload(b"Another English one.", "en2.txt", title="Other", language="en").json["id"]
    process()
    # Language detection may have named one: this one has none.
    assert client.patch(f"/api/v1/documents/{bare}", json={"language": None},
                        headers=editor).status_code == 200

    def put(doc_id, original):
        res = client.put(f"/api/v1/documents/{doc_id}/translation_of",
                         json={"original": original}, headers=editor)
        assert res.status_code == 400, res.json
        return res.json["error"]

    assert "itself" in put(other_fr, other_fr)
    assert f"translation of #{en}: link to #{en} instead" in put(other_fr, es)
    assert f"#{en} has translations of its own (#{fr}, #{es})" in put(en, other_fr)
    assert f"The work already has a French version: #{fr}." == put(other_fr, en)
    assert "both in English" in put(english, en)
    assert f"Give #{bare} a language first" in put(bare, en)
    assert "There is no document #999999" in put(other_fr, 999999)
    res = client.delete(f"/api/v1/documents/{en}/translation_of", headers=editor)
    assert res.status_code == 400 and "not linked as a translation" in res.json["error"]


def test_editors_link_move_and_unlink_on_the_page(app, client, people, work, upload, process):
    en, _fr, es = work["en"], work["fr"], work["es"]
    ro = upload(b"Raport.", "ro.txt", title="Raport despre migratie", language="ro").json["id"]
    alone = upload(b"Reporte.", "es2.txt", title="Otro", language="ru").json["id"]
    process()
    editor = _browser(app, people["editor"])
    page = editor.get(f"/documents/{ro}").get_data(as_text=True)
    assert "data-translation-form" in page and "Remove the link" not in page
    token = csrf_from(page)
    for reference in (f"/documents/{es}/whatever", f"http://localhost/documents/{en}",
                      f"#{alone}", str(en)):
        res = editor.post(f"/documents/{ro}/translation",
                          data={"original": reference, "csrf_token": token},
                          follow_redirects=True)
        assert res.status_code == 200
    text = res.get_data(as_text=True)
    assert f"Linked as a translation of #{en}." in text
    assert set(_also_in(text)) == {"English", "Français", "Español"}
    # "/documents/es/..." named a translation (refused), then en, then "#alone" moved it,
    # then back to en.
    changes = client.get(f"/api/v1/documents/{ro}/history",
                         headers=people["editor"].headers).json["changes"]
    links = [c["changes"]["translation_of"] for c in changes if c["action"] == "translation-link"]
    assert links == [[alone, en], [en, alone], [None, en]]
    assert "Română" in _also_in(_browser(app).get(f"/documents/{en}").get_data(as_text=True))
    res = editor.post(f"/documents/{ro}/translation", data={
        "original": "https://elsewhere.example/documents/1", "csrf_token": token},
        follow_redirects=True)
    assert "this site" in res.get_data(as_text=True)
    res = editor.post(f"/documents/{ro}/translation/remove", data={"csrf_token": token},
                      follow_redirects=True)
    assert "No longer linked as a translation." in res.get_data(as_text=True)
    assert client.get(f"/api/v1/documents/{ro}").json["translations"] == []
    assert "Română" not in _browser(app).get(f"/documents/{en}").get_data(as_text=True)
    # Without the CSRF token: refused, on the page and through the API with a session.
    assert editor.post(f"/documents/{ro}/translation",
                       data={"original": str(en)}).status_code == 400
    assert editor.put(f"/api/v1/documents/{ro}/translation_of",
                      json={"original": en}).status_code == 400
    assert editor.put(f"/api/v1/documents/{ro}/translation_of", json={"original": en},
                      headers={"X-CSRFToken": token}).status_code == 200


def test_links_are_recorded_and_change_the_etag(app, client, people, work, upload, process):
    en, es = work["en"], work["es"]
    editor = people["editor"].headers
    before = client.get(f"/api/v1/documents/{es}", headers=editor).headers["ETag"]
    res = client.delete(f"/api/v1/documents/{es}/translation_of", headers=editor)
    assert res.status_code == 200 and res.json["translation_of"] is None
    assert res.headers["ETag"] != before
    assert client.get(f"/api/v1/documents/{es}", headers=editor).headers["ETag"] != before
    changes = client.get(f"/api/v1/documents/{es}/history", headers=editor).json["changes"]
    assert changes[0]["action"] == "translation-unlink"
    assert changes[0]["changes"] == {"translation_of": [en, None]}
    browser = _browser(app, people["admin"])
    for action, count in (("translation-link", 2), ("translation-unlink", 1)):
        csv = browser.get("/admin/audit/export.csv",
                          query_string={"action": action}).get_data(as_text=True)
        assert csv.count(action) == count, csv
    assert f"is no longer a translation of #{en}" in csv


def test_reverting_metadata_leaves_the_link_alone(client, people, work):
    en, es = work["en"], work["es"]
    editor = people["editor"].headers
    assert client.patch(f"/api/v1/documents/{es}", json={"title": "Retorno (final)"},
                        headers=editor).status_code == 200
    changes = client.get(f"/api/v1/documents/{es}/history", headers=editor).json["changes"]
    upload_change = changes[-1]["change_id"]
    res = client.post(f"/api/v1/documents/{es}/history/{upload_change}/revert", headers=editor)
    assert res.status_code == 200, res.json
    assert res.json["title"] == "Retorno y reintegración"
    assert res.json["translation_of"] == en  # linked after that change: still linked


def _trash(client, people, doc_id):
    assert client.post(f"/api/v1/documents/{doc_id}/withdraw",
                       headers=people["editor"].headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{doc_id}",
                         headers=people["admin"].headers).status_code == 204


def test_a_version_in_the_trash_is_nowhere_until_restored(app, client, people, work):
    en, fr, es = work["en"], work["fr"], work["es"]
    member = people["member"]
    _trash(client, people, es)
    for account in (None, member, people["editor"], people["admin"]):
        page = _browser(app, account).get(f"/documents/{en}").get_data(as_text=True)
        assert "Español" not in _also_in(page) and f"/documents/{es}" not in page
        headers = account.headers if account else {}
        assert es not in [t["doc_id"] for t in client.get(
            f"/api/v1/documents/{en}", headers=headers).json["translations"]]
    # An original in the trash cannot be linked to.
    res = client.put(f"/api/v1/documents/{fr}/translation_of", json={"original": es},
                     headers=people["editor"].headers)
    assert res.status_code == 400 and "trash" in res.json["error"]
    assert client.post(f"/api/v1/documents/{es}/restore",
                       headers=people["admin"].headers).status_code == 200
    assert client.post(f"/api/v1/documents/{es}/restore",
                       headers=people["editor"].headers).status_code == 200  # republish
    assert "Español" in _also_in(_browser(app).get(f"/documents/{en}").get_data(as_text=True))


def test_translations_in_the_trash_are_named_only_to_those_who_manage_it(
        client, people, work, upload, process):
    """An original whose translations are all in the trash still cannot become a
    translation itself (restored, they would be two levels deep): an editor is told so
    without the ids of documents only administrators see; an administrator gets the ids."""
    en, fr, es = work["en"], work["fr"], work["es"]
    arabic = upload(b"Another report.", "ar.txt", title="Arabic", language="ar").json["id"]
    process()
    _trash(client, people, fr)
    _trash(client, people, es)

    def put(account):
        res = client.put(f"/api/v1/documents/{en}/translation_of",
                         json={"original": arabic}, headers=account.headers)
        assert res.status_code == 400, res.json
        return res.json

    told = put(people["editor"])
    assert told["error"].startswith(f"#{en} has translations of its own in the trash:")
    assert f"#{fr}" not in told["error"] and f"#{es}" not in told["error"]
    assert "an administrator" in told["error"]
    told = put(people["admin"])
    assert f"in the trash (#{fr}, #{es})" in told["error"]
    assert client.get(f"/api/v1/documents/{en}",
                      headers=people["editor"].headers).json["translation_of"] is None


def test_purging_an_original_hands_the_work_to_its_oldest_translation(app, client, runner,
                                                                     people, work):
    en, fr, es = work["en"], work["fr"], work["es"]
    _trash(client, people, en)
    assert runner.invoke(args=["purge", str(en)]).exit_code == 0
    editor = people["editor"].headers
    assert client.get(f"/api/v1/documents/{fr}", headers=editor).json["translation_of"] is None
    spanish = client.get(f"/api/v1/documents/{es}", headers=editor).json
    assert spanish["translation_of"] == fr
    assert [t["doc_id"] for t in spanish["translations"]] == [fr]
    changes = client.get(f"/api/v1/documents/{es}/history", headers=editor).json["changes"]
    assert changes[0]["changes"] == {"translation_of": [en, fr]}
    assert f"#{en} was purged" in changes[0]["note"]
    # The French original is restricted: the public never learns of it.
    anonymous = client.get(f"/api/v1/documents/{es}").json
    assert anonymous["translation_of"] is None and anonymous["translations"] == []
    assert set(_also_in(_browser(app, people["member"]).get(f"/documents/{es}")
                        .get_data(as_text=True))) == {"Français"}


def test_an_edit_keeps_each_language_once_in_a_work(client, people, work):
    en, fr, es = work["en"], work["fr"], work["es"]
    editor = people["editor"].headers
    res = client.patch(f"/api/v1/documents/{es}", json={"language": "fr"}, headers=editor)
    assert res.status_code == 400
    assert res.json["error"].endswith(f"the work already has a French version: #{fr}.")
    res = client.patch(f"/api/v1/documents/{en}", json={"language": None}, headers=editor)
    assert res.status_code == 400 and "needs its language" in res.json["error"]
    assert client.patch(f"/api/v1/documents/{es}", json={"language": "ru"},
                        headers=editor).status_code == 200
    assert "Русский" in _also_in(client.get(f"/documents/{en}").get_data(as_text=True))

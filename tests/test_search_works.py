"""Search shows one result per work (an original and its translations), in the reader's
language when the work has a version in it, with its other versions listed; totals and
facet counts count works (issue 18)."""

from __future__ import annotations

import pytest

from kb.extensions import db
from kb.services import groups as groups_service


def link(app, original: int, *translations: int) -> None:
    """Mark documents as translations of ``original`` and have them re-indexed, as the
    linking service does."""
    with app.app_context():
        from kb.models import Document
        from kb.services import documents

        for doc_id in translations:
            doc = db.session.get(Document, doc_id)
            doc.translation_of = original
            documents.queue_index(doc)
        db.session.commit()


@pytest.fixture
def work(app, upload, process):
    """An English original, its French and Spanish translations, all holding one word,
    and an unrelated document holding it too."""
    ids = {}
    for key, lang, title, text in (
        ("en", "en", "Kaleidoscopia of return migration", "Return migration kaleidoscopia."),
        ("fr", "fr", "Kaleidoscopia des migrations de retour", "Migrations kaleidoscopia."),
        ("es", "es", "Kaleidoscopia de la migración de retorno", "Migración kaleidoscopia."),
        ("alone", "en", "Kaleidoscopia alone", "A lone kaleidoscopia report."),
    ):
        res = upload(text.encode(), f"{key}.txt", title=title, language=lang)
        assert res.status_code == 201, res.json
        ids[key] = res.json["id"]
    process()
    link(app, ids["en"], ids["fr"], ids["es"])
    process()
    return ids


def search(client, headers=None, **params):
    res = client.get("/api/v1/search", query_string=params, headers=headers or {})
    assert res.status_code == 200, res.json
    return res.json


def ids_of(answer):
    return [r["id"] for r in answer["results"]]


def counts(answer, facet):
    return {f["value"]: f["count"] for f in answer["facets"][facet]}


def test_one_result_per_work_counted_as_one(client, work):
    for params in ({"q": "kaleidoscopia"}, {"q": "kaleidoscopia", "sort": "title"},
                   {"q": '"kaleidoscopia"'}, {}):
        found = search(client, **params)
        assert found["total"] == 2, params
        assert sorted(ids_of(found)) == sorted([work["en"], work["alone"]]), params
        # The language facet counts the works with a version in each language: as many
        # as choosing it finds.
        assert counts(found, "language") == {"en": 2, "fr": 1, "es": 1}, params
    hit = next(r for r in search(client, q="kaleidoscopia")["results"] if r["id"] == work["en"])
    assert {(t["id"], t["language"]) for t in hit["translations"]} == {
        (work["fr"], "fr"), (work["es"], "es")}
    assert hit["translations"][0]["url"].endswith(f"/documents/{hit['translations'][0]['id']}")
    lone = next(r for r in search(client, q="kaleidoscopia")["results"]
                if r["id"] == work["alone"])
    assert lone["translations"] == []


def test_the_readers_language_else_the_original(client, work):
    french = search(client, {"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"}, q="kaleidoscopia")
    assert sorted(ids_of(french)) == sorted([work["fr"], work["alone"]])
    hit = next(r for r in french["results"] if r["id"] == work["fr"])
    assert {t["id"] for t in hit["translations"]} == {work["en"], work["es"]}
    assert counts(french, "language") == {"en": 2, "fr": 1, "es": 1}
    german = search(client, {"Accept-Language": "de"}, q="kaleidoscopia")
    assert sorted(ids_of(german)) == sorted([work["en"], work["alone"]])


def test_every_version_on_request_and_a_language_filter(client, work):
    every = search(client, q="kaleidoscopia", translations="all")
    assert every["total"] == 4
    assert all(r["translations"] == [] for r in every["results"])
    assert counts(every, "language") == {"en": 2, "fr": 1, "es": 1}
    spanish = search(client, q="kaleidoscopia", language="es")
    assert ids_of(spanish) == [work["es"]]
    # Counted without its own filter, the language facet still counts works.
    assert spanish["total"] == 1
    assert counts(spanish, "language") == {"en": 2, "fr": 1, "es": 1}
    french = search(client, q="kaleidoscopia", language="fr", sort="title")
    assert ids_of(french) == [work["fr"]] and french["total"] == 1
    assert client.get("/api/v1/search?translations=some").status_code == 400


def test_paging_counts_works(client, work):
    first = search(client, q="kaleidoscopia", per_page=1)
    second = search(client, q="kaleidoscopia", per_page=1, page=2)
    assert first["total"] == second["total"] == 2
    assert sorted(ids_of(first) + ids_of(second)) == sorted([work["en"], work["alone"]])


def test_the_results_page_lists_the_other_languages(client, work):
    # A French reader: the interface is French too (issue 17), the work shown in French.
    page = client.get("/search?q=kaleidoscopia", headers={"Accept-Language": "fr"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2 documents pour" in html
    assert html.count("Aussi en :") == 1
    assert f'href="/documents/{work["en"]}/kaleidoscopia-of-return-migration" hreflang="en" ' \
        'lang="en"' in html
    assert "Español</a>" in html
    assert f'href="/documents/{work["fr"]}/' in html.split("Aussi en :")[0]


def test_hidden_versions_neither_stand_for_nor_make_a_work_match(
        app, client, upload, process, make_user, editor):
    reader = make_user("reader")
    member = make_user("reader")
    with app.app_context():
        group = groups_service.create_group("Francophone team", None)
        groups_service.add_member(group.group_id, member.email, None)
    original = upload(b"Report on seasonal work.", "en.txt", title="Seasonal work",
                      language="en").json["id"]
    french = upload(b"Rapport zanzibarique sur le travail saisonnier.", "fr.txt",
                    title="Travail saisonnier", language="fr", access="restricted",
                    groups=["Francophone team"]).json["id"]
    process()
    link(app, original, french)
    process()
    # Only the restricted French version holds the word: the reader finds nothing.
    assert search(client, reader.headers, q="zanzibarique")["total"] == 0
    assert search(client, q="zanzibarique")["total"] == 0
    # Nor is it listed, nor does it stand for the work, for the reader.
    seen = search(client, {**reader.headers, "Accept-Language": "fr"}, q="seasonal")
    assert ids_of(seen) == [original]
    assert seen["results"][0]["translations"] == []
    assert counts(seen, "language") == {"en": 1}
    assert "Travail saisonnier" not in client.get(
        "/search?q=seasonal", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    # A member of the group finds the French version, and sees the original listed.
    found = search(client, member.headers, q="zanzibarique")
    assert ids_of(found) == [french]
    assert [t["id"] for t in found["results"][0]["translations"]] == [original]
    both = search(client, {**member.headers, "Accept-Language": "fr"}, q="seasonal OR saisonnier")
    assert ids_of(both) == [french] and both["total"] == 1


def test_exports_and_the_feed_follow_the_grouping(client, work):
    def exported(query):
        res = client.get(f"/search/export.csv{query}")
        assert res.status_code == 200
        return res.get_data(as_text=True)

    grouped = exported("?q=kaleidoscopia")
    assert "Kaleidoscopia of return migration" in grouped
    assert "Kaleidoscopia des migrations" not in grouped
    every = exported("?q=kaleidoscopia&translations=all")
    assert "Kaleidoscopia des migrations" in every and "Kaleidoscopia de la migración" in every
    feed = client.get("/search.atom?q=kaleidoscopia").get_data(as_text=True)
    assert "Kaleidoscopia of return migration" in feed
    assert "Kaleidoscopia des migrations" not in feed
    assert "Kaleidoscopia des migrations" in client.get(
        "/search.atom?q=kaleidoscopia&translations=all").get_data(as_text=True)


def test_a_spelling_correction_is_offered_only_when_it_finds_more_works(client, work):
    # "retrn" is in no document; "return" is, in the English original only. The corrected
    # query finds the same two works as the typed one (more documents, the translations
    # of one of them, but the page counts works): nothing better to offer.
    typed = search(client, q="kaleidoscopia retrn")
    assert typed["total"] == 2
    assert typed["did_you_mean"] is None
    # A correction that finds more works is still offered.
    assert search(client, q="retrn")["did_you_mean"] == "return"

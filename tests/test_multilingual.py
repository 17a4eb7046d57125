"""Search in the programme's seven languages, and natural-language queries as people type them."""

from __future__ import annotations

import pytest

# One real-looking sentence per language, and words a colleague would type instead: other
# inflections of one of its words (checked against the Snowball stemmers).
SENTENCES = {
    "en": ("Migrants send remittances home to their families.", ["remittance", "families"]),
    "fr": ("Les migrantes envoient des fonds à leurs familles.", ["migrante", "famille"]),
    "es": ("Las remesas de los migrantes sostienen a sus familias.", ["migrante", "remesa"]),
    "ru": ("Мигранты отправляют денежные переводы своим семьям.", ["мигрантов", "перевод"]),
    "ro": ("Remitențele migranților susțin familiile din țară.", ["remitențe", "migranţi"]),
    "sr": ("Миграција радне снаге утиче на развој земље.", ["migracija", "миграције"]),
    "ar": ("يرسل المهاجرون التحويلات المالية إلى أسرهم", ["المهاجرين", "والتحويلات"]),
}


def search(client, **params):
    res = client.get("/api/v1/search", query_string=params)
    assert res.status_code == 200, res.json
    return res.json


@pytest.fixture
def sentences(upload, process):
    ids = {}
    for lang, (text, _) in SENTENCES.items():
        res = upload(text.encode(), f"{lang}.txt", title=f"Note {lang}", language=lang)
        assert res.status_code == 201, res.json
        ids[lang] = res.json["id"]
    process()
    return ids


@pytest.mark.parametrize("lang,query", [
    (lang, q) for lang, (_, queries) in SENTENCES.items() for q in queries])
def test_each_language_is_found_by_another_form_of_its_words(client, sentences, lang, query):
    found = [r["id"] for r in search(client, q=query)["results"]]
    # Cognates may find other languages' sentences too ("migrante" is French and Spanish).
    assert sentences[lang] in found, (query, found)


def test_serbian_in_either_script_finds_both(client, upload, process):
    cyr = upload("Миграција и развој".encode(), "c.txt", title="Ћирилица", language="sr").json
    lat = upload(b"Migracija i razvoj", "l.txt", title="Latinica", language="sr").json
    process()
    for q in ("миграција", "migracija", "migracije"):
        assert {r["id"] for r in search(client, q=q)["results"]} == {cyr["id"], lat["id"]}


def test_the_query_language_is_analysed_per_language_too(client, sentences):
    ids = {r["id"] for r in search(client, q='"денежные переводы"')["results"]}
    assert ids == {sentences["ru"]}
    ids = {r["id"] for r in search(client, q="title:note AND remesa")["results"]}
    assert ids == {sentences["es"]}
    assert {r["id"] for r in search(client, q="remitt*")["results"]} == {sentences["en"]}
    assert {r["id"] for r in search(client, q="remitances~")["results"]} == {sentences["en"]}


NATURAL = [
    ("Proyecto", "Informe del proyecto piloto sobre remesas en Ecuador.", "es"),
    ("Co-development", "Co-development and diaspora engagement in Moldova.", "en"),
    ("Labour", "Labour migration and remittances: lessons from Serbia.", "en"),
    ("Other", "Health services for returning families.", "en"),
]


@pytest.fixture
def natural(upload, process):
    ids = {}
    for title, text, lang in NATURAL:
        ids[title] = upload(text.encode(), f"{title}.txt", title=title, language=lang).json["id"]
    process()
    return ids


@pytest.mark.parametrize("q,first", [
    ("what did we learn about remittances in Serbia?", "Labour"),
    ("remittances, diaspora, Moldova", "Co-development"),
    ("diaspora (Moldova", "Co-development"),
    ('"labour migration', "Labour"),
    ("co-development", "Co-development"),
    ("codevelopment co development", "Co-development"),
    ("remittances and lessons AND", "Labour"),
    ("remesas Ecuador?", "Proyecto"),
])
def test_natural_queries_as_people_type_them(client, natural, q, first):
    res = search(client, q=q)
    assert res["results"], q
    assert res["results"][0]["id"] == natural[first]
    assert res["total"] < len(NATURAL)  # none silently matches everything


@pytest.mark.parametrize("q", ["AND", "OR", "NOT", "?", "the of and", "(", '"', "-", "*"])
def test_a_lone_operator_or_punctuation_is_no_error_and_finds_nothing(client, natural, q):
    res = search(client, q=q)
    assert res["total"] == 0


@pytest.mark.parametrize("q", ["?", "(", '"', "...", "-"])
def test_a_query_of_nothing_says_so(client, natural, q):
    res = search(client, q=q)
    assert res["total"] == 0 and res["nothing_to_search"] is True
    html = client.get("/", query_string={"q": q}).get_data(as_text=True)
    assert "Nothing to search for" in html


def test_more_matching_words_rank_first_without_requiring_all(client, natural):
    res = search(client, q="labour migration remittances diaspora")
    ids = [r["id"] for r in res["results"]]
    assert ids[0] == natural["Labour"]  # three of the four words
    assert natural["Co-development"] in ids  # one of them is enough to be found
    assert natural["Other"] not in ids


def test_repeated_words_weigh_more(client, natural):
    once = [r["id"] for r in search(client, q="diaspora remittances")["results"]]
    twice = [r["id"] for r in search(client, q="diaspora diaspora remittances")["results"]]
    assert twice[0] == natural["Co-development"]
    assert once != twice or once[0] == natural["Co-development"]


def test_year_ranges_and_fields_in_the_query(client, upload, process):
    ids = {}
    for year in (2014, 2016, 2018):
        ids[year] = upload(f"Report on migration {year}".encode(), f"{year}.txt",
                           title=f"Report {year}", year=str(year), countries=["MDA"],
                           type="evaluation").json["id"]
    process()

    def found(q):
        return {r["id"] for r in search(client, q=q)["results"]}

    assert found("migration year:2015..2017") == {ids[2016]}
    assert found("year:2016..") == {ids[2016], ids[2018]}
    assert found("country:mda AND year:2014") == {ids[2014]}
    assert found("type:Evaluation AND report") == set(ids.values())
    res = client.get("/api/v1/search", query_string={"q": "year:2015..abc"})
    assert res.status_code == 400 and res.json["error"]


def test_help_page_documents_the_query_language(client):
    html = client.get("/help/search").get_data(as_text=True)
    for example in ('"labour migration"', "AND", "NOT", "title:", "country:", "year:2015..2017",
                    "migra*", "remitances~"):
        assert example in html
    assert 'href="/help/search"' in client.get("/").get_data(as_text=True)

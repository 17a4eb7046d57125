"""Per-language analysis: what a searcher types meets what the documents say."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from whoosh import fields, index, qparser

from kb.search.whoosh.analysis import LANGUAGES, OTHER, analyzer, field_language, fold

ROOT = Path(__file__).resolve().parent.parent
ALL = (*LANGUAGES, OTHER)


def terms(lang: str, text: str) -> list[str]:
    return [t.text for t in analyzer(lang)(text, mode="index")]


def query_terms(lang: str, text: str) -> list[str]:
    return [t.text for t in analyzer(lang)(text, mode="query")]


# A sentence per language, and other inflected forms of its words that a searcher may type.
SENTENCES = {
    "en": ("Migrants send remittances home to their families.",
           ["remittance", "migrant", "sending", "family"]),
    "fr": ("Les migrantes envoient des fonds à leurs familles.",
           ["migrante", "migrants", "famille", "fond"]),
    "es": ("Las remesas de los migrantes sostienen a sus familias.",
           ["remesa", "migrante", "familia"]),
    "ru": ("Мигранты отправляют денежные переводы своим семьям.",
           ["мигрантов", "денежный перевод", "семья", "отправлять"]),
    # Comma-below letters in the text; the cedilla letters still typed in Moldova and no
    # diacritics at all in the queries.
    "ro": ("Remitențele migranților susțin familiile din țară.",
           ["remitențe", "remitente", "migranți", "migranţi", "migranti", "familie", "tara"]),
    # Cyrillic text, Latin and Cyrillic queries.
    "sr": ("Миграција радне снаге утиче на развој земље.",
           ["migracija", "migracije", "миграције", "razvoja", "radna snaga"]),
    # The article, and "and the" (و + ال) that the Snowball stemmer alone does not remove.
    "ar": ("يرسل المهاجرون التحويلات المالية إلى أسرهم",
           ["مهاجر", "المهاجرين", "والمهاجرين", "والتحويلات", "مالية", "أسرة"]),
}


@pytest.mark.parametrize(
    ("lang", "query"),
    [(lang, q) for lang, (_, queries) in SENTENCES.items() for q in queries],
)
def test_inflected_query_meets_the_sentence(lang: str, query: str) -> None:
    sentence = terms(lang, SENTENCES[lang][0])
    wanted = query_terms(lang, query)
    assert wanted
    assert all(term in sentence for term in wanted), (wanted, sentence)


def test_pairs_the_stemmers_do_not_join() -> None:
    # Known limits of the Snowball rules, so that nobody promises them to users.
    assert terms("fr", "envoient") != terms("fr", "envoi")
    assert terms("ar", "تحويلات") != terms("ar", "التحويلات")  # without the article
    assert terms("sr", "radnika") != terms("sr", "radnici")  # k/c alternation


@pytest.mark.parametrize(
    ("lang", "text", "query"),
    [
        ("es", "La migración de los niños", "migracion ninos"),
        ("es", "Los migrantes además", "ademas"),
        ("fr", "L'émigration des travailleurs", "emigration travailleur"),
        ("fr", "Une œuvre collective", "oeuvre"),
        # The stemmer strips "-ité" but not "-ite": the index keeps both stems.
        ("fr", "Les activités économiques", "activite economique"),
        ("ro", "Migrația forței de muncă", "migratia fortei munca"),
        ("ro", "Guvernul actualizează strategia", "actualizeaza"),
        ("sr", "Saradnja država u oblasti migracija", "drzava"),
        ("sr", "Uređaji i uređaje", "uredaj"),
        ("en", "A café in Zürich", "cafe zurich"),
    ],
)
def test_accents_do_not_block_an_unaccented_query(lang: str, text: str, query: str) -> None:
    assert set(query_terms(lang, query)) <= set(terms(lang, text))


def test_an_accented_query_keeps_the_full_stemmer() -> None:
    # "activité" and "activités" meet through the accented stem, one term per query word.
    assert query_terms("fr", "activité") == query_terms("fr", "activités") == ["activ"]
    assert "activ" in terms("fr", "Les activités économiques")
    # Both stems sit at the word's position: phrases and highlighting stay right.
    tokens = [(t.text, t.pos) for t in analyzer("fr")("activités économiques",
                                                      positions=True, mode="index")]
    assert tokens == [("activ", 0), ("activit", 0), ("econom", 1)]


@pytest.mark.parametrize(
    ("lang", "text", "stop_words"),
    [
        ("en", "The migration of the workers", ["the", "of", "the"]),
        ("fr", "Les migrations des travailleurs et l'emploi", ["les", "des", "et", "l"]),
        ("es", "La migración de los trabajadores y el empleo", ["la", "de", "los", "y", "el"]),
        ("ru", "Миграция и занятость в регионе", ["и", "в"]),
    ],
)
def test_stop_words_are_dropped(lang: str, text: str, stop_words: list[str]) -> None:
    result = terms(lang, text)
    assert len(result) == len(text.replace("'", " ").split()) - len(stop_words)
    assert not set(stop_words) & set(result)


def test_state_is_not_a_spanish_stop_word() -> None:
    # "estado" is a form of "estar" in the Snowball list, and "the State" in our documents.
    assert terms("es", "el Estado y los Estados miembros") == ["estad", "estad", "miembr"]


def test_apostrophes_and_hyphens_split_words() -> None:
    assert terms("fr", "l'homme d'émigration") == terms("fr", "homme émigration")
    assert terms("en", "co-development") == ["co", "develop"]
    # The same split on the query side: "co-development" finds the hyphenated word.
    assert query_terms("en", "co-development") == terms("en", "co-development")


def test_numbers_are_words() -> None:
    assert terms("en", "SDG target 10.7 and Goal 8") == ["sdg", "target", "10.7", "goal", "8"]
    assert terms("ar", "عام ٢٠١٥") == terms("ar", "عام 2015")


def test_russian_keeps_short_i_and_folds_yo() -> None:
    assert terms("ru", "район") == ["район"]  # Whoosh's accent_map leaves й alone
    assert terms("ru", "йод") == ["йод"]
    assert terms("ru", "ёлка") == terms("ru", "елка")
    assert fold("Район") == "район"
    assert fold("ещё") == "еще"


def test_serbian_cyrillic_and_latin_meet() -> None:
    for cyrillic, latin in [
        ("љубав", "ljubav"),
        ("њега", "njega"),
        ("џемпер", "džemper"),
        ("ђак", "đak"),
        ("ћерка", "ćerka"),
        ("МИГРАЦИЈА", "Migracija"),
    ]:
        assert terms("sr", cyrillic) == terms("sr", latin), (cyrillic, latin)
    assert terms("sr", "Ђорђе") == terms("sr", "Đorđe") == terms("sr", "Djordje")
    assert terms("sr", "džemper") == terms("sr", "dzemper")


def test_arabic_marks_and_letter_forms() -> None:
    assert terms("ar", "مُهَاجِر") == terms("ar", "مهاجر")  # tashkeel
    assert terms("ar", "مهـــاجر") == terms("ar", "مهاجر")  # tatweel
    assert terms("ar", "إدارة") == terms("ar", "ادارة")  # hamza under alef
    assert fold("مُهَاجِرٌ") == fold("مهاجر")
    assert fold("إدارة") == fold("اداره")


def test_other_languages_fold_without_stemming() -> None:
    assert terms(OTHER, "ÄRZTE ohne Grenzen, Migrationen") == [
        "arzte", "ohne", "grenzen", "migrationen",
    ]
    assert terms(OTHER, "Straße") == ["strasse"]
    assert terms(OTHER, "ђак") == terms(OTHER, "đak") == ["dak"]


def test_fold() -> None:
    assert fold("Côte d'Ivoire") == "cote d'ivoire"
    assert fold("МИГРАЦИЈА радне снаге") == fold("Migracija radne snage") == "migracija radne snage"
    assert fold("Remitenţe") == fold("remitențe") == "remitente"
    assert fold("e\u0301migration") == "emigration"  # decomposed accent
    assert fold("mi\u00adgration") == "migration"  # soft hyphen from a PDF
    # Only words wholly in the Serbian alphabet are transliterated: no mixed scripts.
    assert fold("Миграция") == "миграция"
    assert fold("Міграція") == "міграція"


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("en", "en"), ("FR", "fr"), ("es-MX", "es"), ("ru", "ru"), ("ro", "ro"), ("mo", "ro"),
        ("sr", "sr"), ("hr", "sr"), ("bs", "sr"), ("sh", "sr"), ("cnr", "sr"), ("ar", "ar"),
        ("de", OTHER), ("mk", OTHER), ("", OTHER), (None, OTHER),
    ],
)
def test_field_language(code: str | None, lang: str) -> None:
    assert field_language(code) == lang


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="de"):
        analyzer("de")


@pytest.mark.parametrize("lang", ALL)
def test_pickle_and_copy_round_trip(lang: str) -> None:
    text = SENTENCES.get(lang, ("Ärzte und Migranten",))[0]
    a = analyzer(lang)
    for clone in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a)):
        assert clone == a
        assert [t.text for t in clone(text)] == terms(lang, text)
    assert analyzer(lang) == a
    assert analyzer(lang) != analyzer("en" if lang != "en" else "fr")


def test_threads_share_an_analyzer() -> None:
    a = analyzer("ru")
    text = " ".join(SENTENCES["ru"][0] for _ in range(200))
    expected = [t.text for t in a(text)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [t.text for t in a(text)], range(16)))
    assert all(r == expected for r in results)


def test_prefix_queries_are_stemmed_like_the_index() -> None:
    # What the query parser does with "migration*": the whole word, untokenized, with stops.
    def prefix(lang: str, text: str) -> list[str]:
        return [t.text for t in analyzer(lang)(text, mode="query", tokenize=False,
                                                removestops=False)]

    assert prefix("en", "migration*") == ["migrat*"]
    assert terms("en", "migration")[0].startswith("migrat")
    assert prefix("en", "migra*") == ["migra*"]
    assert prefix("fr", "Émigration*") == ["emigr*"]
    assert prefix("sr", "мигра*") == ["migr*"]
    assert prefix("ar", "والمهاجر*") == ["مهاجر*"]
    assert prefix("en", "m?gration") == ["m?gration"]  # other wildcards: as typed
    assert prefix("en", "the") == ["the"]  # a stop word typed alone is kept for the parser


DOCUMENTS = {lang: text for lang, (text, _) in SENTENCES.items()}
DOCUMENTS[OTHER] = "Die Überweisungen der Arbeitsmigranten"

# An inflected word of each document (never the form in the text), typed without a language.
QUERIES = {
    "en": "remittance",
    "fr": "migrante",
    "es": "remesa",
    "ru": "мигрантов",
    "ro": "migranţi",
    "sr": "migracije",
    "ar": "والمهاجرين",
    OTHER: "uberweisungen",
}


def _schema() -> fields.Schema:
    return fields.Schema(
        doc_id=fields.ID(stored=True, unique=True),
        **{f"body_{lang}": fields.TEXT(analyzer=analyzer(lang)) for lang in ALL},
    )


def _build_index(path: Path) -> None:
    ix = index.create_in(str(path), _schema())
    with ix.writer() as writer:
        for lang, text in DOCUMENTS.items():
            writer.add_document(doc_id=lang, **{f"body_{lang}": text})
    ix.close()


def _search(ix: index.Index, text: str) -> list[str]:
    parser = qparser.MultifieldParser([f"body_{lang}" for lang in ALL], ix.schema,
                                      group=qparser.OrGroup)
    with ix.searcher() as searcher:
        return [hit["doc_id"] for hit in searcher.search(parser.parse(text))]


def test_index_finds_each_language_by_an_inflected_word(tmp_path: Path) -> None:
    _build_index(tmp_path)
    ix = index.open_dir(str(tmp_path))
    try:
        assert ix.schema == _schema()
        for lang, query in QUERIES.items():
            # Cognates may find other languages too ("migrante": en, es, ro): fine.
            assert lang in _search(ix, query), query
        # Prefixes are stemmed like the index: "remittance*" is "remitt*" and finds
        # "remittances" although "remittance" is longer than the indexed stem.
        assert _search(ix, "remittance*") == ["en"]
        assert set(_search(ix, "migra*")) >= {"en", "fr", "es", "ro", "sr"}
        assert set(_search(ix, "мигра*")) == {"ru", "sr"}
    finally:
        ix.close()


def test_index_reopens_in_a_new_process(tmp_path: Path) -> None:
    # The schema and its analyzers are unpickled from the TOC by a process that never built
    # them: no Stemmer object may be in the pickle.
    _build_index(tmp_path)
    code = textwrap.dedent(f"""
        from whoosh import index, qparser
        ix = index.open_dir({str(tmp_path)!r})
        fieldnames = [n for n in ix.schema.names() if n.startswith("body_")]
        parser = qparser.MultifieldParser(fieldnames, ix.schema, group=qparser.OrGroup)
        with ix.searcher() as searcher:
            for query in {list(QUERIES.values())!r}:
                print(",".join(h["doc_id"] for h in searcher.search(parser.parse(query))))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    found = [line.split(",") for line in result.stdout.split()]
    assert all(lang in hits for lang, hits in zip(QUERIES, found, strict=True)), found

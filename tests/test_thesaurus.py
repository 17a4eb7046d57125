"""The multilingual thesaurus: import, cross-language expansion, theme choices, and the
suggestions that search-as-you-type offers (never a title or theme the user may not see)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text

from kb import create_app
from kb.extensions import db
from kb.models import Concept, ConceptLabel
from kb.services import groups as groups_service
from kb.services import thesaurus
from tests.conftest import CORPORA, kb_env, login, need_corpora, same_instance

UNBIS = CORPORA / "unbis" / "unbis-labels.tsv"
KB = str(Path(sys.executable).parent / "kb")

SMALL = ("en\tfr\tes\tru\n"
         "remittances\tenvois de fonds\tremesas\tДенежные переводы\n"
         "brain drain\texode des compétences\texodo intelectual\tУтечка умов\n")


def write(path: Path, content: str, encoding: str = "utf-8") -> Path:
    path.write_text(content, encoding=encoding)
    return path


def labels_of(found: list[thesaurus.Expansion]) -> set[tuple[str, str]]:
    return {pair for e in found for pair in e.labels}


@pytest.fixture(scope="module")
def unbis_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app with the real UNBIS thesaurus imported through the CLI, for reading tests."""
    need_corpora(UNBIS)
    root = tmp_path_factory.mktemp("unbis")
    app = create_app({"TESTING": True, "INSTANCE_DIR": str(root / "instance"),
                      "UPLOAD_DIR": str(root / "uploads"), "SECRET_KEY": "test-secret"})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init"]).exit_code == 0
    started = time.perf_counter()
    res = runner.invoke(args=["thesaurus", "import", str(UNBIS)])
    elapsed = time.perf_counter() - started
    assert res.exit_code == 0, res.output
    assert res.output.strip().endswith(
        "imported 7,121 concepts, 42,726 labels in ar, en, es, fr, ru, zh "
        "from unbis-labels (version 1)")
    assert elapsed < 30, f"the UNBIS import took {elapsed:.1f} s"
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- import -------------------------------------------------------------------------------


def test_unbis_import_and_stats(unbis_app):
    res = unbis_app.test_cli_runner().invoke(args=["thesaurus", "stats"])
    assert res.exit_code == 0, res.output
    assert "version 1" in res.output
    assert "source unbis-labels: 7,121 concepts" in res.output
    assert "ru 7,121" in res.output
    with unbis_app.app_context():
        assert thesaurus.label_languages() == ["ar", "en", "es", "fr", "ru", "zh"]
        folded = db.session.scalar(select(ConceptLabel.folded).where(
            ConceptLabel.lang == "ru", ConceptLabel.label == "Денежные переводы"))
        assert folded == thesaurus.normalise("денежные переводы")


def test_remesas_expands_to_the_other_languages(unbis_app):
    with unbis_app.app_context():
        found = thesaurus.expansions("remesas")
    assert [(e.matched, e.lang, e.label) for e in found] == [("remesas", "es", "remesas")]
    assert {("en", "remittances"), ("ru", "Денежные переводы"),
            ("fr", "envois de fonds")} <= labels_of(found)
    assert all(lang != "es" for lang, _ in found[0].labels)


def test_a_two_word_russian_label_is_one_concept(unbis_app):
    with unbis_app.app_context():
        found = thesaurus.expansions("денежные переводы")
    assert len(found) == 1
    assert found[0].matched == "денежные переводы"
    assert found[0].lang == "ru"
    assert ("en", "remittances") in found[0].labels


def test_longest_label_first_inside_a_longer_query(unbis_app):
    with unbis_app.app_context():
        found = thesaurus.expansions("Brain drain in Moldova")
        chinese = thesaurus.expansions("人才外流问题")
        accents = thesaurus.expansions("exode des compétences")
    assert found[0].matched == "Brain drain"
    assert ("fr", "exode des competences") in found[0].labels
    assert "drain" not in {e.matched for e in found}
    # Chinese has no spaces: the label is found inside a longer run of characters.
    assert chinese[0].matched == "人才外流"
    assert ("en", "brain drain") in chinese[0].labels
    assert accents[0].concept_id == found[0].concept_id


def test_function_words_never_expand(unbis_app):
    # UNBIS's French "thé" (tea) and "or" (gold) fold to English function words.
    with unbis_app.app_context():
        found = thesaurus.expansions("the impact of remittances or the diaspora")
        tea = thesaurus.expansions("thé")
        togo = thesaurus.expansions("Togo")
        operators = thesaurus.expansions("migra* AND remittances")
    assert "the" not in {e.matched for e in found}
    assert "or" not in {e.matched for e in found}
    assert "remittances" in {e.matched for e in found}
    assert ("en", "tea") in labels_of(tea)  # typed with its accent, it is tea
    assert togo and togo[0].lang in ("en", "fr", "es")
    assert [e.matched for e in operators] == ["remittances"]


def test_expansions_are_capped(unbis_app):
    query = " ".join(["migration", "remittances", "refugees", "brain drain", "diaspora",
                      "labour", "poverty", "peace", "health", "education"] * 50)
    with unbis_app.app_context():
        found = thesaurus.expansions(query)
        assert len(thesaurus.expansions(query, limit=2)) == 2
        assert thesaurus.expansions("") == []
        assert thesaurus.expansions("!!! ??? ***") == []
    assert len(found) == thesaurus.MAX_CONCEPTS
    assert len({e.concept_id for e in found}) == len(found)
    assert all(len(e.labels) <= thesaurus.MAX_LABELS_PER_CONCEPT for e in found)


def test_theme_choices_in_the_users_language(unbis_app):
    with unbis_app.app_context():
        french = thesaurus.theme_choices("envoi", "fr")
        russian = thesaurus.theme_choices("денеж", "ru")
        migration = thesaurus.theme_choices("migr", "fr", limit=5)
    assert "envois de fonds" in french
    assert "Денежные переводы" in russian
    assert len(migration) == 5
    assert migration[0].startswith("migr")


def test_themes_api_answers_in_french(unbis_app):
    client = unbis_app.test_client()
    res = client.get("/api/v1/themes", query_string={"q": "envoi", "lang": "fr"})
    assert res.status_code == 200
    assert res.json["lang"] == "fr"
    assert "envois de fonds" in res.json["themes"]
    browser = client.get("/api/v1/themes", query_string={"q": "migr"},
                         headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.5"})
    assert browser.json["lang"] == "fr"
    assert "politique migratoire" in browser.json["themes"]
    default = client.get("/api/v1/themes", query_string={"q": "remit"},
                         headers={"Accept-Language": "ro"})
    assert default.json["lang"] == "en"
    assert default.json["themes"] == ["remittances"]


def test_import_refuses_a_bad_header(runner, tmp_path, app):
    cases = {
        "en\txx\tfr\n": "Column 2 of the header, 'xx'",
        "en\tfr\ten\n": "Column 3 of the header repeats 'en' (column 1)",
        "en\t\tfr\n": "Column 2 of the header is empty",
        "en\teng\n": "Column 2 of the header, 'eng'",
        "": "is empty",
    }
    for header, message in cases.items():
        path = write(tmp_path / "bad.tsv", header + ("a\tb\tc\n" if header else ""))
        res = runner.invoke(args=["thesaurus", "import", str(path)])
        assert res.exit_code == 1, res.output
        assert message in res.output
        assert "Traceback" not in res.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Concept)) == 0


def test_wrong_column_counts_refuse_the_whole_file(runner, tmp_path, app):
    write(tmp_path / "good.tsv", SMALL)
    assert runner.invoke(args=["thesaurus", "import", str(tmp_path / "good.tsv"),
                               "--source", "unbis"]).exit_code == 0
    bad = write(tmp_path / "bad.tsv", "en\tfr\n" "a\tb\n" "only one\n" "c\td\n"
                "e\tf\tg\n")
    res = runner.invoke(args=["thesaurus", "import", str(bad), "--source", "unbis"])
    assert res.exit_code == 1
    assert "2 line(s) of bad.tsv do not have the header's 2 tab-separated columns" in res.output
    assert "line 3 (1), line 5 (3)" in res.output
    assert "Nothing was imported" in res.output
    with app.app_context():  # the earlier import of the same source is untouched
        assert thesaurus.stats().version == 1
        assert thesaurus.expansions("remesas")[0].label == "remesas"


def test_bom_blank_lines_and_empty_concepts(runner, tmp_path, app):
    content = "\ufeffen\tfr\n\nmigration\tmigration\n\t\n   \nrefugees\t\n"
    path = write(tmp_path / "mini.tsv", content)
    res = runner.invoke(args=["thesaurus", "import", str(path)])
    assert res.exit_code == 0, res.output
    assert "skipped 1 line with no label" in res.output
    assert "imported 2 concepts, 3 labels in en, fr from mini (version 1)" in res.output
    latin1 = path.with_name("latin1.tsv")
    latin1.write_bytes("en\tfr\nwater\teau de médecine\n".encode("latin-1"))
    res = runner.invoke(args=["thesaurus", "import", str(latin1)])
    assert res.exit_code == 1
    assert "Line 2 of latin1.tsv is not UTF-8" in res.output


def test_reimport_replaces_the_same_source_only(runner, tmp_path, app):
    first = write(tmp_path / "labels.tsv", SMALL)
    other = write(tmp_path / "other.tsv", "en\tfr\ndiaspora\tdiaspora\n")
    assert runner.invoke(args=["thesaurus", "import", str(first)]).exit_code == 0
    assert runner.invoke(args=["thesaurus", "import", str(other)]).exit_code == 0
    write(first, "en\tes\nremittances\tremesas familiares\n")
    res = runner.invoke(args=["thesaurus", "import", str(first)])
    assert res.exit_code == 0
    assert "replaced the 2 concepts of the previous import" in res.output
    assert "(version 3)" in res.output
    with app.app_context():
        assert thesaurus.expansions("remesas") == []
        found = thesaurus.expansions("remesas familiares")
        assert labels_of(found) == {("en", "remittances")}
        assert thesaurus.expansions("brain drain") == []
        stats = thesaurus.stats()
        assert dict(stats.sources) == {"labels": 1, "other": 1}
        assert stats.version == 3


def test_an_import_through_one_app_reaches_another_without_restart(app, runner, tmp_path):
    second = same_instance(app)
    try:
        with second.app_context():
            assert thesaurus.expansions("remesas") == []  # loads the empty thesaurus
        path = write(tmp_path / "t.tsv", SMALL)
        assert runner.invoke(args=["thesaurus", "import", str(path)]).exit_code == 0
        with second.app_context():
            assert ("en", "remittances") in labels_of(thesaurus.expansions("remesas"))
        write(path, "en\tes\nremittances\tgiros\n")
        assert runner.invoke(args=["thesaurus", "import", str(path)]).exit_code == 0
        with second.app_context():
            assert thesaurus.expansions("remesas") == []
            assert labels_of(thesaurus.expansions("giros")) == {("en", "remittances")}
    finally:
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_import_by_another_process_takes_effect_at_the_next_query(app, tmp_path):
    with app.app_context():
        assert thesaurus.expansions("brain drain") == []
    done = subprocess.run([KB, "thesaurus", "import", str(write(tmp_path / "t.tsv", SMALL))],
                          env=kb_env(app), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with app.app_context():
        assert ("ru", "Утечка умов") in labels_of(thesaurus.expansions("brain drain"))


def test_init_adds_the_thesaurus_tables_to_an_existing_database(app, runner):
    """An instance made before the thesaurus (and before migrations) gains its tables."""
    with app.app_context():
        with db.engine.begin() as conn:
            for table in ("concept_label", "concept", "thesaurus_state", "alembic_version"):
                conn.execute(text(f"DROP TABLE {table}"))
        assert "concept" not in inspect(db.engine).get_table_names()
    assert runner.invoke(args=["init"]).exit_code == 0
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        indexes = {i["name"] for i in inspect(db.engine).get_indexes("concept_label")}
    assert {"concept", "concept_label", "thesaurus_state"} <= tables
    assert {"ix_concept_label_folded", "ix_concept_label_lang_folded"} <= indexes


def test_thesaurus_commands_have_help():
    for command in (["thesaurus"], ["thesaurus", "import"], ["thesaurus", "stats"]):
        res = subprocess.run([KB, *command, "--help"], capture_output=True, text=True)
        assert res.returncode == 0
        assert "Usage: kb" in res.stdout
    res = subprocess.run([KB, "thesaurus", "import", "--help"], capture_output=True, text=True)
    assert "ISO 639-1" in res.stdout


# -- suggestions --------------------------------------------------------------------------

# One document per way of being hidden; each title and theme has a word of its own.
DOCS = {
    "public": "zanzibarite",
    "internal": "quokkalith",
    "restricted": "xylophonia",
    "submitted": "wombatose",
    "withdrawn": "umbrellite",
}
ROLES = ["anonymous", "reader", "member", "contributor", "other-contributor", "editor"]


def suggested(role: str, key: str) -> bool:
    """What the search would offer the role (withdrawn documents: nobody)."""
    if key == "withdrawn":
        return False
    if role == "editor":
        return True
    if key == "submitted":
        return role == "contributor"  # its uploader
    if key == "public":
        return True
    if key == "internal":
        return role != "anonymous"
    return role == "member"  # restricted


@pytest.fixture
def documents(app, client, make_user, upload, process):
    accounts = {role: make_user({"member": "reader", "other-contributor": "contributor"}
                                .get(role, role))
                for role in ROLES if role != "anonymous"}
    with app.app_context():
        group = groups_service.create_group("Moldova country team", None)
        groups_service.add_member(group.group_id, accounts["member"].email, None)

    def make(key: str, account: str, **meta: object) -> int:
        word = DOCS[key]
        res = upload(f"Notes on {word}.".encode(), f"{key}.txt", account=accounts[account],
                     title=f"{word.capitalize()} remittance corridors", themes=[f"{word} theme"],
                     **meta)
        assert res.status_code == 201, res.json
        return int(res.json["id"])

    ids = {
        "public": make("public", "editor"),
        "internal": make("internal", "editor", access="internal"),
        "restricted": make("restricted", "editor", access="restricted",
                           groups=["Moldova country team"]),
        "submitted": make("submitted", "contributor"),
        "withdrawn": make("withdrawn", "editor"),
    }
    assert client.post(f"/api/v1/documents/{ids['withdrawn']}/withdraw",
                       headers=accounts["editor"].headers).status_code == 200
    process()  # indexed, so that the search can be compared
    return ids, accounts


@pytest.mark.parametrize("role", ROLES)
def test_suggestions_never_leak_a_hidden_title_or_theme(client, documents, role):
    ids, accounts = documents
    headers = {} if role == "anonymous" else accounts[role].headers
    for key, word in DOCS.items():
        res = client.get("/api/v1/suggest", query_string={"q": word[:4]}, headers=headers)
        assert res.status_code == 200
        body = res.get_data(as_text=True)
        if suggested(role, key):
            assert {"text": f"{word.capitalize()} remittance corridors", "kind": "title",
                    "doc_id": ids[key]} in res.json["suggestions"]
            assert {"text": f"{word} theme", "kind": "theme"} in res.json["suggestions"]
        else:
            assert word not in body.lower(), (role, key)
    # A prefix that every title shares: only the visible ones come back.
    res = client.get("/api/v1/suggest", query_string={"q": "remittance corr", "limit": 50},
                     headers=headers)
    titles = {s["doc_id"] for s in res.json["suggestions"] if s["kind"] == "title"}
    assert titles == {ids[key] for key in DOCS if suggested(role, key)}
    # The SQL filter behind suggestions and the search's own filter agree.
    browse = client.get("/api/v1/search", query_string={"per_page": 100}, headers=headers)
    assert {r["id"] for r in browse.json["results"]} == titles


def test_suggestions_follow_the_signed_in_session(client, documents):
    _, accounts = documents
    assert client.get("/api/v1/suggest", query_string={"q": "xylo"}).json["suggestions"] == []
    login(client, accounts["member"])
    found = client.get("/api/v1/suggest", query_string={"q": "xylo"}).json["suggestions"]
    assert [s["kind"] for s in found] == ["title", "theme"]


def test_suggestions_include_thesaurus_labels(unbis_app):
    client = unbis_app.test_client()
    res = client.get("/api/v1/suggest", query_string={"q": "remit"})
    assert res.status_code == 200
    assert {"text": "remittances", "kind": "concept", "lang": "en"} in res.json["suggestions"]
    russian = client.get("/api/v1/suggest", query_string={"q": "Денежн"}).json
    assert {"text": "Денежные переводы", "kind": "concept", "lang": "ru"} in russian[
        "suggestions"]
    many = client.get("/api/v1/suggest", query_string={"q": "mi", "limit": 500}).json
    assert len(many["suggestions"]) == 50


@pytest.mark.parametrize("q", ["", "a", " a ", "%", "%_", "'; DROP TABLE document; --",
                               "\x00\x00", "\u200b\u200b", "*?", "ä" * 5000,
                               "AND OR NOT", "名", "名字"])
def test_suggest_and_themes_never_fail(client, q):
    res = client.get("/api/v1/suggest", query_string={"q": q})
    assert res.status_code == 200
    assert res.json["q"] == q
    if len(q.strip()) < 2:
        assert res.json["suggestions"] == []
    themes = client.get("/api/v1/themes", query_string={"q": q, "lang": q[:3]})
    assert themes.status_code == 200


def test_suggest_takes_bytes_that_are_not_utf8(client):
    for url in ("/api/v1/suggest?q=%ED%A0%80%FFab", "/api/v1/themes?q=%FF%FEab&lang=%FF"):
        assert client.get(url).status_code == 200


def test_suggest_limit_is_checked(client):
    assert client.get("/api/v1/suggest?q=ab&limit=ten").status_code == 400
    assert client.get("/api/v1/suggest?q=ab&limit=-3").status_code == 200
    assert client.get("/api/v1/themes?q=ab&limit=x").json["error"].startswith("limit")


def test_forms_load_the_theme_picker_and_the_script_is_served(client, editor):
    login(client, editor)
    page = client.get("/upload").get_data(as_text=True)
    assert 'data-suggest-for="themes"' in page
    assert 'data-suggest-url="/api/v1/themes"' in page
    script = client.get("/static/suggest.js")
    assert script.status_code == 200
    assert "datalist" in script.get_data(as_text=True)
    script.close()

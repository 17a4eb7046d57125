"""Every part of a search whose cost grows with the user's input is bounded (capped and
reported, or refused with a 400 naming the bound), no search runs past the time limit,
odd queries get a 400 rather than a 500, and "did you mean" offers only words of
documents the user may see. Through the API and the search page alike."""

from __future__ import annotations

import itertools
import string

import pytest

from kb.extensions import db
from kb.search.whoosh import bounds
from kb.services import groups as groups_service

# One document holds more words starting with "zq" than a prefix may stand for.
MANY = ["zq" + "".join(t) for t in itertools.islice(
    itertools.product(string.ascii_lowercase, repeat=3), bounds.MAX_EXPANSIONS + 100)]


@pytest.fixture
def corpus(upload, process):
    texts = {
        "Migration policy": "Labour migration policy and remittances in Moldova.",
        "Diaspora mapping": "A methodology to map the diaspora and its migration.",
        "Word list": " ".join(MANY),
    }
    for title, text in texts.items():
        res = upload(text.encode(), f"{title}.txt", title=title, year="2015")
        assert res.status_code == 201, res.json
    process()


def api(client, **params):
    return client.get("/api/v1/search", query_string=params)


def page(client, **params):
    res = client.get("/", query_string=params)
    return res.status_code, res.get_data(as_text=True)


def many_words(n: int, joiner: str = " ") -> str:
    return joiner.join(f"w{i}x" for i in range(n))


# The worst query of each refused bound, and the name the error gives the bound.
REFUSED = [
    ({"q": "migration " * 500}, "query length"),
    ({"q": "migration AND " + "(" * (bounds.MAX_DEPTH + 1) + "policy"
      + ")" * (bounds.MAX_DEPTH + 1)}, "nesting depth"),
    ({"q": many_words(bounds.MAX_CLAUSES + 1, " OR ")}, "clauses"),
    ({"q": '"' + many_words(bounds.MAX_CLAUSES + 1) + '"'}, "clauses"),
    ({"q": " OR ".join(f"migration{i}~" for i in range(bounds.MAX_FUZZY_WORDS + 1))},
     "fuzzy words"),
    ({"q": "m*"}, "pattern prefix"),
    ({"q": "m?gration"}, "pattern prefix"),
    ({"q": "policy AND *ation"}, "pattern prefix"),
    ({"q": "a" * (bounds.MAX_PATTERN_CHARS + 1) + "*"}, "pattern length"),
    ({"q": "migration" * 6 + "~2"}, "pattern length"),
    ({"q": "zq*"}, "expansions"),
    ({"q": "zqa* OR zqb* OR zqc* OR zqd* OR zqe* OR zqf* OR zqg*"}, "expansions"),
    ({"q": "migration", "per_page": str(bounds.MAX_PER_PAGE + 1)}, "page size"),
    ({"q": "migration", "page": str(bounds.MAX_RESULTS // 20 + 1)}, "result depth"),
    ({"q": "migration", "page": "9" * 30}, "result depth"),
    ({"q": "migration", "year_from": "99999999999999999999"}, "year_from"),
    ({"q": "migration", "year_to": "-1"}, "year_to"),
    ({"year": "99999999999"}, "year must be"),
]


def test_each_refused_bound_answers_400_naming_it(client, corpus):
    wrong = []
    for params, bound in REFUSED:
        res = api(client, **params)
        status, html = page(client, **params)
        if res.status_code != 400 or bound not in res.json["error"] or status != 400 \
                or bound not in html:
            wrong.append((bound, res.status_code, res.json, status))
    assert not wrong


def test_fuzzy_edit_distance_is_capped_and_reported(client, corpus):
    res = api(client, q="migratio~5")
    assert res.status_code == 200, res.json
    assert res.json["capped"] == [{"bound": "edit_distance", "asked": 5, "applied": 2}]
    assert res.json["total"] == 2  # "migration", two edits away, is still found
    status, html = page(client, q="migratio~5")
    assert status == 200
    assert 'data-capped="edit_distance"' in html
    assert "at most 2 letters off" in html


def test_plain_words_are_capped_and_reported(client, corpus):
    words = bounds.MAX_WORDS + 50
    res = api(client, q=many_words(words - 1) + " migration")
    assert res.status_code == 200, res.json
    assert res.json["capped"] == [{"bound": "words", "asked": words,
                                   "applied": bounds.MAX_WORDS}]
    assert res.json["total"] == 0  # "migration" came after the words searched
    assert api(client, q="migration " + many_words(words - 1)).json["total"] == 2
    status, html = page(client, q=many_words(words))
    assert status == 200
    assert 'data-capped="words"' in html


def test_ordinary_queries_report_nothing_capped(client, corpus):
    for q in ("migration", "migra*", "migratoin~2", "title:diaspora OR policy", ""):
        res = api(client, q=q)
        assert res.status_code == 200, res.json
        assert res.json["capped"] == [], q
    assert api(client, q="migra*").json["total"] == 2
    assert api(client, q="zqab*").json["total"] == 1
    # Bounds at their limit are allowed.
    assert api(client, q=many_words(bounds.MAX_CLAUSES, " OR ")).status_code == 200
    assert api(client, q=" OR ".join(f"migration{i}~" for i in range(
        bounds.MAX_FUZZY_WORDS))).status_code == 200
    assert api(client, q="migration", page=str(bounds.MAX_RESULTS // 100),
               per_page="100").status_code == 200


TIMED = [
    {"q": "migration"},
    {"q": "migration policy", "sort": "newest"},
    {"q": "migra* AND policy"},
    {"q": "migratio~2"},
    {"q": "migrasion"},
    {"q": "migration", "year": "2015"},
    {"q": ""},
]


def test_a_search_past_the_time_limit_answers_503(app, client, corpus):
    app.config["SEARCH_TIME_LIMIT"] = 1e-9
    for params in TIMED:
        res = api(client, **params)
        assert res.status_code == 503, params
        assert "time limit" in res.json["error"]
        status, html = page(client, **params)
        assert status == 503, params
        assert "time limit" in html
    app.config["SEARCH_TIME_LIMIT"] = 2.0
    for params in TIMED:
        assert api(client, **params).status_code == 200, params


ODD = [
    "NOT NOT NOT NOT x", "NOT", "NOT x", "x NOT", "AND", "x AND", "AND x", "OR OR OR",
    "x AND NOT", "AND NOT x", "(", ")", "((x", "x))", "(x OR", "x OR (y AND (z", ")(",
    '"', '"x', 'x"', '""', '"a b c"~5', '"a b"~99999999999999', "title:", "country:",
    "year:", "title: AND", "year:..", "year:[", "year:[2000 TO", "year:]", "year:abc",
    "year:99999999999999999999", "year:[0 TO 99999999999999999999]", "year:2015..99999",
    "year:-5", "year:{2000 TO}", "title:[a TO z]", "country:[A TO Z]", "x~", "x~~", "~",
    "~2", "x~9", "x~2/999999999999", "x~0", "migration~1.5", "x^", "^2", "x^-1",
    "x^99999999999999999999999", "x^1e999", "x^0", "*", "**", "?", "??", "x*y*z*",
    "ab*cd*ef?", "[x TO y]", "{x TO}", "title:(a OR b)", "-x", "+x", "x:y", "::", "\\",
    "a" * 3000, "migration" + "x" * 1000 + "*", "migration~2 " * 40, "\x00", "\U0001f600*",
    "мигра*", "NOT (a AND NOT (b OR NOT c))", "year:2015 AND NOT year:2016",
    "theme:(\"a b\" OR c*)", "type:*", "country:*", "agency:x~2",
]


ODD_PARAMETERS = [
    {"year_from": "99999999999999999999"}, {"year_to": "99999999999999999999"},
    {"year_from": "abc"}, {"year_to": "1e3"}, {"year": "abc"}, {"year": "-99999999999999"},
    {"page": "0"}, {"page": "-1"}, {"page": "x"}, {"per_page": "0"},
    {"per_page": "99999999999999999999"}, {"sort": "x"}, {"expand": "maybe"},
]


def test_odd_queries_and_parameters_never_answer_500(client, corpus):
    wrong = []
    for q in ODD:
        try:  # the test app re-raises what would be a 500
            res = api(client, q=q)
            status = page(client, q=q)[0]
        except Exception as e:  # noqa: BLE001 (each failure is listed below)
            wrong.append((q, repr(e)))
            continue
        if res.status_code not in (200, 400) or status != res.status_code or (
                res.status_code == 400 and not res.json["error"]):
            wrong.append((q, res.status_code, status))
    for params in ODD_PARAMETERS:
        try:
            res = api(client, q="migration", **params)
            status = page(client, q="migration", **params)[0]
        except Exception as e:  # noqa: BLE001
            wrong.append((params, repr(e)))
            continue
        if res.status_code != 400 or not res.json["error"] or status != 400:
            wrong.append((params, res.status_code, status))
    assert not wrong


def test_did_you_mean_corrects_a_few_words_not_a_page_of_them(client, corpus):
    typos = ["migrasion", "polisy", "remitances", "methodolgy", "diasproa", "labuor",
             "moldovaa", "mapp1ng"]
    few = api(client, q=" ".join(typos[:2])).json
    assert few["did_you_mean"] == "migration policy"
    assert len(typos) == bounds.MAX_CORRECTED_WORDS
    assert api(client, q=" ".join(typos)).json["did_you_mean"] is not None
    many = api(client, q=" ".join([*typos, "diasporra"])).json
    assert many["total"] == 0
    assert many["did_you_mean"] is None


# --- did you mean: only words of documents the user may see ---------------------------

HIDDEN = {"restricted": "xylophonesecret", "internal": "quokkalithic",
          "submitted": "wombatosity"}


@pytest.fixture
def hidden(app, upload, make_user, process):
    """A public document on migration, and one document the anonymous visitor may not see
    in each way (restricted to a group, internal, a submitted draft), each holding a word
    of its own; the accounts that may see each one."""
    editor = make_user("editor")
    member = make_user("reader")
    contributor = make_user("contributor")
    with app.app_context():
        group = groups_service.create_group("Country team", None)
        groups_service.add_member(group.group_id, member.email, None)
        db.session.commit()

    def add(title, text, account, **meta):
        res = upload(text.encode(), f"{title}.txt", account=account, title=title, **meta)
        assert res.status_code == 201, res.json

    add("Migration policy", "Labour migration policy and remittances.", editor)
    add("Restricted", f"Notes on {HIDDEN['restricted']} planning.", editor,
        access="restricted", groups=["Country team"])
    add("Internal", f"Notes on {HIDDEN['internal']} planning.", editor, access="internal")
    add("Draft", f"Notes on {HIDDEN['submitted']} planning.", contributor)
    process()
    return {"restricted": member, "internal": member, "submitted": contributor}


def misspelt(word: str) -> str:
    return word[:-2] + word[-1] + word[-2]  # the last two letters swapped


@pytest.mark.parametrize("kind", sorted(HIDDEN))
def test_did_you_mean_never_offers_a_word_of_a_hidden_document(client, hidden, kind):
    word = HIDDEN[kind]
    q = f"migrasion {misspelt(word)}"
    anonymous = api(client, q=q).json
    assert anonymous["did_you_mean"] is not None  # "migration" is offered...
    assert "migration" in anonymous["did_you_mean"]
    assert word not in anonymous["did_you_mean"]  # ...but never the hidden word
    status, html = page(client, q=q)
    assert status == 200
    assert word not in html
    alone = api(client, q=misspelt(word)).json
    assert alone["did_you_mean"] is None
    # Whoever may see the document is offered its word.
    allowed = client.get("/api/v1/search", query_string={"q": q},
                         headers=hidden[kind].headers).json
    assert allowed["did_you_mean"] is not None
    assert word in allowed["did_you_mean"]


def test_the_help_page_documents_every_bound(app, client):
    app.config["SEARCH_TIME_LIMIT"] = 2.0
    html = client.get("/help/search").get_data(as_text=True)
    names = ["edit_distance", "words", "query length", "clauses", "fuzzy words", "nesting depth",
             "pattern prefix", "pattern length", "expansions", "page size", "result depth",
             "corrected words", "search time limit"]
    assert [n for n in names if n not in html] == []
    values = [bounds.MAX_EDIT_DISTANCE, bounds.MAX_WORDS, bounds.MAX_CLAUSES, bounds.MAX_DEPTH,
              bounds.MAX_FUZZY_WORDS, bounds.MAX_PATTERN_CHARS, bounds.MAX_PER_PAGE]
    assert all(f"<td>{v}</td>" in html for v in values)
    assert f"{bounds.MAX_EXPANSIONS:,}" in html and f"{bounds.MAX_RESULTS:,}" in html
    assert "2.0 s" in html

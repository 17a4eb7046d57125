"""What search offers beyond hits: did you mean, translations, more like this, page links."""

from __future__ import annotations

import pytest

from tests.conftest import CORPORA, need_corpora

UNBIS = CORPORA / "unbis" / "unbis-labels.tsv"
SAMPLES = CORPORA / "pdf-samples"


def search(client, headers=None, **params):
    res = client.get("/api/v1/search", query_string=params, headers=headers or {})
    assert res.status_code == 200, res.json
    return res.json


# --- did you mean -----------------------------------------------------------------------

@pytest.fixture
def spelled(upload, process):
    ids = {
        "public": upload(b"Remittances and diaspora investment in Moldova.", "a.txt",
                         title="Remittances in Moldova").json["id"],
        "internal": upload(b"Confidential negotiation memorandum.", "b.txt",
                           title="Memo", access="internal").json["id"],
    }
    process()
    return ids


def test_a_misspelt_query_offers_the_indexed_word(client, spelled):
    res = search(client, q="remitances")
    assert res["total"] == 0
    assert res["did_you_mean"] == "remittances"
    corrected = search(client, q=res["did_you_mean"])
    assert [r["id"] for r in corrected["results"]] == [spelled["public"]]
    html = client.get("/", query_string={"q": "remitances"}).get_data(as_text=True)
    assert "Did you mean" in html and "q=remittances" in html


def test_no_suggestion_when_the_query_finds_enough_or_is_right(client, spelled):
    assert search(client, q="remittances")["did_you_mean"] is None
    assert search(client, q="xqzwv")["did_you_mean"] is None  # nothing near it


def test_a_word_only_in_hidden_documents_is_never_suggested(client, spelled, editor):
    assert search(client, q="memorandun")["did_you_mean"] is None  # anonymous
    assert search(client, editor.headers, q="memorandun")["did_you_mean"] == "memorandum"


# --- cross-language thesaurus -----------------------------------------------------------

@pytest.fixture
def unbis(runner):
    need_corpora(UNBIS)
    res = runner.invoke(args=["thesaurus", "import", str(UNBIS)])
    assert res.exit_code == 0, res.output


def test_the_thesaurus_finds_an_english_document_in_spanish_and_russian(
        client, unbis, upload, process):
    doc = upload(b"Remittances sent home by migrant workers reduce poverty in rural areas.",
                 "r.txt", title="Workers abroad", language="en").json["id"]
    other = upload(b"Health services for returning families.", "h.txt", title="Health",
                   language="en").json["id"]
    process()
    for q in ("remesas", "денежные переводы"):
        res = search(client, q=q)
        assert [r["id"] for r in res["results"]] == [doc], q
        also = {a["label"].casefold() for e in res["expansions"] for a in e["also"]}
        assert "remittances" in also
        assert res["expand"] is True
        off = search(client, q=q, expand="0")
        assert off["total"] == 0 and off["expansions"] == [] and off["expand"] is False
    assert other not in {r["id"] for r in search(client, q="remesas")["results"]}
    html = client.get("/", query_string={"q": "remesas"}).get_data(as_text=True)
    assert "Also searched" in html and "remittances" in html and "expand=0" in html
    html = client.get("/", query_string={"q": "remesas", "expand": "0"}).get_data(as_text=True)
    assert "Searched only the words as typed" in html


def test_direct_matches_rank_above_translations(client, unbis, upload, process):
    english = upload(b"Remittances and their costs.", "e.txt", title="E", language="en").json
    spanish = upload(b"Las remesas y sus costos.", "s.txt", title="S",
                     language="es").json
    process()
    ids = [r["id"] for r in search(client, q="remesas")["results"]]
    assert ids == [spanish["id"], english["id"]]


def test_function_words_of_a_recognised_label_are_not_searched(client, unbis, upload, process):
    war = upload(b"Prisoners of war were released after the talks.", "w.txt", title="Talks",
                 language="en").json["id"]
    quoting = upload(b"The Casa de la Cultura de Lima and the Plaza de Armas, de facto.",
                     "q.txt", title="Lima", language="en").json["id"]
    process()
    res = search(client, q="prisioneros de guerra")
    assert [r["id"] for r in res["results"]] == [war]
    assert quoting in {r["id"] for r in search(client, q="prisioneros de guerra",
                                                expand="0")["results"]}


def test_bad_expand_is_a_400(client):
    res = client.get("/api/v1/search", query_string={"q": "x", "expand": "maybe"})
    assert res.status_code == 400 and "expand" in res.json["error"]


# --- more like this ---------------------------------------------------------------------

SIMILAR = {
    "seed": "Remittance costs: migrants in Moldova send money home through banks and "
            "money transfer operators; the fees of remittance transfers are high.",
    "near": "Money transfer operators and banks charge fees on remittance transfers sent "
            "by migrants; lowering remittance costs helps families in Moldova.",
    "middle": "Diaspora investment: migrants in Moldova put savings into small businesses.",
    "far": "School enrolment and health services for children in rural Serbia.",
}


@pytest.fixture
def similar_set(upload, process):
    ids = {k: upload(v.encode(), f"{k}.txt", title=k.title()).json["id"]
           for k, v in SIMILAR.items()}
    hidden = upload(SIMILAR["near"].encode() + b" Internal.", "hidden.txt", title="Hidden",
                    access="internal").json["id"]
    process()
    return ids, hidden


def test_more_like_this_puts_the_nearest_document_first(client, similar_set, editor):
    ids, hidden = similar_set
    res = client.get(f"/api/v1/documents/{ids['seed']}/similar")
    assert res.status_code == 200
    found = [d["id"] for d in res.json["results"]]
    assert found[0] == ids["near"]
    assert ids["seed"] not in found and hidden not in found
    assert found.index(ids["near"]) < found.index(ids["middle"])
    assert ids["far"] not in found
    signed = client.get(f"/api/v1/documents/{ids['seed']}/similar", headers=editor.headers)
    assert hidden in [d["id"] for d in signed.json["results"]]
    html = client.get(f"/documents/{ids['seed']}").get_data(as_text=True)
    assert "More like this" in html and f'href="/documents/{ids["near"]}/near"' in html
    assert "Hidden" not in html


def test_more_like_this_of_a_hidden_document_is_404(client, similar_set):
    _, hidden = similar_set
    assert client.get(f"/api/v1/documents/{hidden}/similar").status_code == 404


# --- page links -------------------------------------------------------------------------

def test_a_snippet_links_to_its_pdf_page(client, upload, process):
    pdf = need_corpora(SAMPLES) / "009-pdflatex-geotopo" / "GeoTopo-komprimiert.pdf"
    doc = upload(pdf, "GeoTopo.pdf", title="GeoTopo").json["id"]
    process()
    res = search(client, q="Kurvensatz")
    assert [r["id"] for r in res["results"]] == [doc]
    assert {s["page"] for s in res["results"][0]["snippets"]} == {23}
    link = f'href="/documents/{doc}/download#page=23"'
    assert link in client.get("/", query_string={"q": "Kurvensatz"}).get_data(as_text=True)
    detail = client.get(f"/documents/{doc}", query_string={"q": "Kurvensatz"})
    assert link in detail.get_data(as_text=True)

"""The programme's controlled vocabularies (issue 17): GCM objectives, SDG targets and
outcome areas, through the API, the manifest, search, the forms, bulk edits, browse pages
and OAI-PMH."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from tests.conftest import csrf_from, login, post_multipart


def _doc(client, doc_id, account):
    return client.get(f"/api/v1/documents/{doc_id}", headers=account.headers).json


def test_api_takes_validates_and_returns_the_codes(upload, client, editor):
    res = upload(b"remittances text", "a.txt", title="A", gcm=["GCM-20", "gcm-19;20"],
                 sdg=["10.7", "sdg-10.c"], area=["area-evidence"])
    assert res.status_code == 201, res.json
    body = res.json
    # Any case, a bare number, ";"-separated; duplicates once, in the order given.
    assert body["gcm"] == ["gcm-20", "gcm-19"]
    assert body["sdg"] == ["sdg-10.7", "sdg-10.c"]
    assert body["area"] == ["area-evidence"]
    doc_id = body["id"]

    res = client.patch(f"/api/v1/documents/{doc_id}", json={"gcm": ["gcm-1"], "area": None},
                       headers=editor.headers)
    assert res.status_code == 200, res.json
    got = _doc(client, doc_id, editor)
    assert (got["gcm"], got["sdg"], got["area"]) == (["gcm-1"], ["sdg-10.7", "sdg-10.c"], [])

    res = client.patch(f"/api/v1/documents/{doc_id}", json={"gcm": ["gcm-24"],
                                                            "sdg": ["sdg-1.1"]},
                       headers=editor.headers)
    assert res.status_code == 400
    assert set(res.json["fields"]) == {"gcm", "sdg"}
    assert "gcm-24" in res.json["fields"]["gcm"]
    assert _doc(client, doc_id, editor)["gcm"] == ["gcm-1"]

    res = upload(b"other text", "b.txt", title="B", area=["area-nowhere"])
    assert res.status_code == 400 and "area" in res.json["fields"]


def test_changes_are_in_the_history_and_survive_the_trash(upload, client, editor, make_user):
    admin = make_user("admin")
    doc_id = upload(b"text", "a.txt", title="A", gcm=["gcm-3"]).json["id"]
    client.patch(f"/api/v1/documents/{doc_id}", json={"gcm": ["gcm-3", "gcm-7"],
                                                      "sdg": ["sdg-16.9"]},
                 headers=editor.headers)
    changes = client.get(f"/api/v1/documents/{doc_id}/history",
                         headers=editor.headers).json["changes"]
    assert changes[0]["changes"]["gcm"] == [["gcm-3"], ["gcm-3", "gcm-7"]]
    assert changes[0]["changes"]["sdg"] == [[], ["sdg-16.9"]]

    # Reverting to the first edit... there is only one edit: revert to it changes nothing;
    # a later edit, then a revert, brings the codes back.
    first = changes[0]["change_id"]
    client.patch(f"/api/v1/documents/{doc_id}", json={"gcm": []}, headers=editor.headers)
    res = client.post(f"/api/v1/documents/{doc_id}/history/{first}/revert",
                      headers=editor.headers)
    assert res.status_code == 200, res.json
    assert res.json["gcm"] == ["gcm-3", "gcm-7"]

    assert client.post(f"/api/v1/documents/{doc_id}/withdraw",
                       headers=editor.headers).status_code == 200
    assert client.delete(f"/api/v1/documents/{doc_id}", headers=admin.headers).status_code == 204
    assert client.post(f"/api/v1/documents/{doc_id}/restore",
                       headers=admin.headers).status_code == 200
    got = _doc(client, doc_id, admin)
    assert (got["gcm"], got["sdg"]) == (["gcm-3", "gcm-7"], ["sdg-16.9"])


def test_taxonomy_lists_each_vocabulary_in_code_order_in_the_reader_language(client):
    lists = client.get("/api/v1/taxonomy").json
    assert [t["code"] for t in lists["gcm"]] == [f"gcm-{n}" for n in range(1, 24)]
    assert [t["code"] for t in lists["sdg"]] == [
        "sdg-3.c", "sdg-4.b", "sdg-5.2", "sdg-8.7", "sdg-8.8", "sdg-10.7", "sdg-10.c",
        "sdg-16.2", "sdg-16.9", "sdg-17.18"]
    assert [t["code"] for t in lists["area"]] == [
        "area-evidence", "area-policy", "area-capacity", "area-coordination"]
    assert set(lists["gcm"][0]) == {"code", "label"}
    assert lists["gcm"][19]["label"].startswith("Promote faster, safer and cheaper transfer")
    target = next(t for t in lists["sdg"] if t["code"] == "sdg-10.7")
    assert target["goal"] == "Goal 10: Reduced inequalities"

    fr = client.get("/api/v1/taxonomy", headers={"Accept-Language": "fr"}).json
    assert fr["gcm"][10]["label"] == "Gérer les frontières de manière intégrée, sûre et " \
                                     "coordonnée"
    assert next(t for t in fr["sdg"] if t["code"] == "sdg-10.7")["goal"] == \
        "Objectif 10 : Inégalités réduites"
    es = client.get("/api/v1/taxonomy", headers={"Accept-Language": "es-ES,es;q=0.9"}).json
    assert es["area"][3]["label"] == "Mecanismos de coordinación"
    ru = client.get("/api/v1/taxonomy", headers={"Accept-Language": "ru"}).json
    assert ru["area"][3]["label"] == "Механизмы координации"
    # The codes never change with the language.
    assert [t["code"] for t in ru["gcm"]] == [t["code"] for t in lists["gcm"]]


def test_search_filters_and_counts_each_vocabulary(upload, client, process):
    ids = {}
    for name, gcm, sdg, area in (("a", ["gcm-20"], ["sdg-10.c"], ["area-evidence"]),
                                 ("b", ["gcm-20", "gcm-19"], [], ["area-policy"]),
                                 ("c", [], ["sdg-10.7"], [])):
        ids[name] = upload(f"remittances {name}".encode(), f"{name}.txt", title=name,
                           gcm=gcm, sdg=sdg, area=area).json["id"]
    process()
    res = client.get("/api/v1/search").json
    assert {f["value"]: f["count"] for f in res["facets"]["gcm"]} == {"gcm-20": 2, "gcm-19": 1}
    assert {f["value"]: f["count"] for f in res["facets"]["sdg"]} == {"sdg-10.c": 1,
                                                                     "sdg-10.7": 1}
    assert {f["value"]: f["count"] for f in res["facets"]["area"]} == {"area-evidence": 1,
                                                                      "area-policy": 1}
    label = next(f["label"] for f in res["facets"]["gcm"] if f["value"] == "gcm-20")
    assert label.startswith("Promote faster, safer and cheaper")

    res = client.get("/api/v1/search", query_string={"gcm": "gcm-20"}).json
    assert sorted(r["id"] for r in res["results"]) == sorted([ids["a"], ids["b"]])
    assert res["results"][0]["gcm"]
    res = client.get("/api/v1/search", query_string={"gcm": "GCM-19", "area": "area-policy"})
    assert [r["id"] for r in res.json["results"]] == [ids["b"]]
    res = client.get("/api/v1/search", query_string=[("sdg", "sdg-10.7"), ("sdg", "10.c")])
    assert sorted(r["id"] for r in res.json["results"]) == sorted([ids["a"], ids["c"]])

    page = client.get("/search", query_string={"gcm": "gcm-20"}).get_data(as_text=True)
    assert 'data-facet="gcm"' in page and 'data-chip="gcm"' in page

    # The query language names them too, with or without the list's name in the code.
    def found(q):
        res = client.get("/api/v1/search", query_string={"q": q})
        assert res.status_code == 200, res.json
        return sorted(r["id"] for r in res.json["results"])

    assert found("gcm:20") == found("gcm:GCM-20") == sorted([ids["a"], ids["b"]])
    assert found("sdg:10.7") == [ids["c"]]
    assert found("area:policy OR sdg:10.c") == sorted([ids["a"], ids["b"]])
    assert found("remittances gcm:19") == [ids["b"]]  # a code next to words narrows
    assert found("gcm:99") == []

    fr = client.get("/api/v1/search", headers={"Accept-Language": "fr"}).json
    label = next(f["label"] for f in fr["facets"]["area"] if f["value"] == "area-evidence")
    assert label == "Données probantes sur la migration et le développement"


def test_manifest_columns_import_and_unknown_codes_stop_the_import(runner, client,
                                                                   tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("alpha text")
    (docs / "b.txt").write_text("beta text")
    manifest = docs / "manifest.csv"
    manifest.write_text("file,title,gcm,sdg,area\n"
                        "a.txt,A,gcm-20;gcm-1,sdg-10.7,area-capacity\n"
                        "b.txt,B,gcm-99,,\n")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "line 3, column 'gcm'" in res.output and "gcm-99" in res.output
    assert client.get("/api/v1/search").json["total"] == 0

    manifest.write_text("file,title,gcm,sdg,area\n"
                        "a.txt,A,gcm-20;gcm-1,sdg-10.7,area-capacity\n"
                        "b.txt,B,,,\n")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 0, res.output
    found = client.get("/api/v1/search", query_string={"area": "area-capacity"}).json
    assert [r["title"] for r in found["results"]] == ["A"]
    assert found["results"][0]["gcm"] == ["gcm-20", "gcm-1"]
    assert found["results"][0]["sdg"] == ["sdg-10.7"]

    # The search's CSV export carries the codes, in the manifest's columns.
    text = client.get("/search/export.csv", query_string={"gcm": "gcm-1"}).get_data(
        as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["gcm"], r["sdg"], r["area"]) for r in rows] == [
        ("gcm-20; gcm-1", "sdg-10.7", "area-capacity")]


@pytest.fixture
def roles(make_user):
    return {role: make_user(role) for role in ("reader", "contributor", "editor", "admin")}


def _submit_upload(client, **fields):
    token = csrf_from(client.get("/upload").get_data(as_text=True))
    data, name = fields.pop("file")
    fields["file"] = FileStorage(io.BytesIO(data), name)
    return post_multipart(client, "/upload", {"csrf_token": token, "access": "public",
                                              **fields})


def test_the_forms_offer_pick_and_keep_the_codes(client, editor):
    login(client, editor)
    page = client.get("/upload").get_data(as_text=True)
    # A plain multiple select per list (the page's script makes it searchable).
    for name in ("gcm", "sdg", "area"):
        assert f'<select data-multiselect="{name}"' in page or \
            f'data-multiselect="{name}"' in page
        assert f'name="{name}"' in page and "multiple" in page
    assert '<option value="gcm-23">23. Strengthen international cooperation' in page
    assert "10.7 Facilitate orderly, safe, regular and responsible migration and mobility " \
           "of people — Goal 10: Reduced inequalities" in page

    res = _submit_upload(client, file=(b"remittances and the diaspora", "n.txt"),
                         title="Notes", gcm=["gcm-20", "gcm-19"], sdg=["sdg-10.c"],
                         area=["area-coordination"])
    assert res.status_code == 302, res.get_data(as_text=True)
    doc_id = int(res.headers["Location"].rstrip("/").split("/")[-1])
    got = _doc(client, doc_id, editor)
    assert (got["gcm"], got["sdg"], got["area"]) == (["gcm-20", "gcm-19"], ["sdg-10.c"],
                                                     ["area-coordination"])

    edit = client.get(f"/documents/{doc_id}/edit").get_data(as_text=True)
    assert '<option selected value="gcm-20">' in edit or \
        '<option value="gcm-20" selected>' in edit
    res = client.post(f"/documents/{doc_id}/edit", data={
        "csrf_token": csrf_from(edit), "title": "Notes", "access": "public",
        "gcm": ["gcm-1"], "sdg": [], "area": ["area-policy", "area-evidence"]})
    assert res.status_code == 302, res.get_data(as_text=True)
    got = _doc(client, doc_id, editor)
    assert (got["gcm"], got["sdg"], got["area"]) == (["gcm-1"], [],
                                                     ["area-policy", "area-evidence"])

    # A code the list does not hold is named on its field, and nothing changes.
    res = client.post(f"/documents/{doc_id}/edit", data={
        "csrf_token": csrf_from(edit), "title": "Notes", "access": "public",
        "gcm": ["gcm-1", "gcm-42"]})
    assert res.status_code == 400
    assert 'id="gcm-error"' in res.get_data(as_text=True)
    assert _doc(client, doc_id, editor)["gcm"] == ["gcm-1"]


def test_the_form_labels_follow_the_interface_language(client, editor):
    login(client, editor)
    page = client.get("/upload", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Mecanismos de coordinación" in page
    assert "Objetivo 10: Reducción de las desigualdades" in page


def _bulk(client, ids, code, action):
    page = client.get("/search").get_data(as_text=True)
    return client.post("/search/bulk", data={
        "csrf_token": csrf_from(page), "ids": [str(i) for i in ids], "code": code,
        "action": action, "back": "/search?q=text"})


def test_editors_add_and_remove_a_code_on_several_documents(upload, client, process, roles):
    editor = roles["editor"]
    ids = [upload(f"text {n}".encode(), f"{n}.txt", title=f"T{n}", gcm=gcm,
                  account=editor).json["id"]
           for n, gcm in enumerate((["gcm-1"], [], ["gcm-20"]))]
    process()
    login(client, editor)
    page = client.get("/search").get_data(as_text=True)
    assert 'id="bulk-form"' in page
    assert page.count('form="bulk-form"') == 3

    res = _bulk(client, ids, "gcm-20", "add")
    assert res.status_code == 302 and res.headers["Location"] == "/search?q=text"
    assert [_doc(client, i, editor)["gcm"] for i in ids] == [
        ["gcm-1", "gcm-20"], ["gcm-20"], ["gcm-20"]]
    assert "2 documents changed. 1 was already so." in \
        client.get("/search").get_data(as_text=True)
    # Each change is in the document's history, and the index follows.
    change = client.get(f"/api/v1/documents/{ids[0]}/history",
                        headers=editor.headers).json["changes"][0]
    assert change["action"] == "bulk-edit"
    assert change["changes"]["gcm"] == [["gcm-1"], ["gcm-1", "gcm-20"]]
    process()
    found = client.get("/api/v1/search", query_string={"gcm": "gcm-20"}).json
    assert found["total"] == 3

    res = _bulk(client, ids[:2], "sdg-10.7", "add")
    res = _bulk(client, ids, "gcm-20", "remove")
    assert [_doc(client, i, editor)["gcm"] for i in ids] == [["gcm-1"], [], []]
    assert [_doc(client, i, editor)["sdg"] for i in ids] == [["sdg-10.7"], ["sdg-10.7"], []]
    process()
    assert client.get("/api/v1/search", query_string={"gcm": "gcm-20"}).json["total"] == 0

    # Bounded: more than 100 documents at once changes nothing.
    res = _bulk(client, [*ids, *range(10_000, 10_100)], "area-policy", "add")
    assert res.status_code == 302
    assert all(_doc(client, i, editor)["area"] == [] for i in ids)
    # A code no list holds changes nothing either.
    _bulk(client, ids, "gcm-99", "add")
    assert [_doc(client, i, editor)["gcm"] for i in ids] == [["gcm-1"], [], []]


@pytest.mark.parametrize("role", ["contributor", "reader"])
def test_only_editors_and_admins_may_edit_in_bulk(upload, client, process, roles, role):
    editor, other = roles["editor"], roles[role]
    ids = [upload(f"text {n}".encode(), f"{n}.txt", title=f"T{n}",
                  account=editor).json["id"] for n in range(2)]
    if role == "contributor":
        # Even on the contributor's own submitted document.
        ids.append(upload(b"mine", "mine.txt", title="Mine", account=other).json["id"])
    process()
    login(client, other)
    page = client.get("/search").get_data(as_text=True)
    assert 'id="bulk-form"' not in page and 'form="bulk-form"' not in page
    res = client.post("/search/bulk", data={
        "csrf_token": csrf_from(page), "ids": [str(i) for i in ids], "code": "gcm-5",
        "action": "add"})
    assert res.status_code == 403
    assert all(_doc(client, i, editor)["gcm"] == [] for i in ids)
    assert all(not any(c["action"] == "bulk-edit" for c in client.get(
        f"/api/v1/documents/{i}/history", headers=editor.headers).json["changes"])
        for i in ids)

    # Signed out: the same refusal.
    client.get("/logout")
    anonymous = client.post("/search/bulk", data={"ids": [str(ids[0])], "code": "gcm-5",
                                                  "action": "add"})
    assert anonymous.status_code in (400, 403)
    assert _doc(client, ids[0], editor)["gcm"] == []


def test_browse_pages_list_documents_per_objective_target_and_area(upload, client, process):
    a = upload(b"text a", "a.txt", title="Remittance costs", gcm=["gcm-20"],
               sdg=["sdg-10.c"], area=["area-evidence"]).json["id"]
    upload(b"text b", "b.txt", title="Border management", gcm=["gcm-11"])
    process()
    page = client.get("/browse/gcm/gcm-20")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Promote faster, safer and cheaper transfer of remittances" in html
    assert "Remittance costs" in html and "Border management" not in html
    assert f'/documents/{a}' in html
    # Other spellings lead to the canonical address; an unknown code is not found.
    res = client.get("/browse/gcm/20")
    assert res.status_code == 308 and res.headers["Location"].endswith("/browse/gcm/gcm-20")
    assert client.get("/browse/gcm/gcm-24").status_code == 404
    html = client.get("/browse/sdg/sdg-10.c").get_data(as_text=True)
    assert "Remittance costs" in html and "Goal 10: Reduced inequalities" in html
    html = client.get("/browse/area/area-evidence").get_data(as_text=True)
    assert "Remittance costs" in html and "Border management" not in html

    # The lists: every concept in code order, counted, zero included.
    html = client.get("/browse/gcm").get_data(as_text=True)
    order = [html.index(f'data-value="gcm-{n}"') for n in range(1, 24)]
    assert order == sorted(order)
    assert 'data-value="gcm-20"' in html and 'data-count="1"' in html
    html = client.get("/browse/sdg").get_data(as_text=True)
    assert html.index("Goal 8: Decent work") < html.index('data-value="sdg-8.7"') \
        < html.index("Goal 10: Reduced inequalities") < html.index('data-value="sdg-10.7"')
    fr = client.get("/browse/area", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Mécanismes de coordination" in fr


def test_oai_sets_name_each_code_of_public_documents(upload, client, process, make_user):
    upload(b"public text", "a.txt", title="Public", gcm=["gcm-20"], sdg=["sdg-10.7"],
           area=["area-policy"])
    upload(b"internal text", "b.txt", title="Internal", gcm=["gcm-2"], access="internal")
    process()
    sets = client.get("/oai", query_string={"verb": "ListSets"}).get_data(as_text=True)
    for spec in ("gcm", "sdg", "area", "gcm:gcm-20", "sdg:sdg-10.7", "area:area-policy"):
        assert f"<setSpec>{spec}</setSpec>" in sets
    assert "GCM objective: Promote faster, safer and cheaper" in sets
    assert "gcm:gcm-2<" not in sets  # only what a harvester may see

    listed = client.get("/oai", query_string={"verb": "ListIdentifiers",
                                              "metadataPrefix": "oai_dc",
                                              "set": "gcm:gcm-20"}).get_data(as_text=True)
    assert listed.count("<header>") == 1 and "<setSpec>sdg:sdg-10.7</setSpec>" in listed
    parent = client.get("/oai", query_string={"verb": "ListIdentifiers",
                                              "metadataPrefix": "oai_dc",
                                              "set": "area"}).get_data(as_text=True)
    assert parent.count("<header>") == 1


def test_the_document_page_names_its_codes_in_the_reader_language(upload, client, process):
    doc_id = upload(b"text", "a.txt", title="A", gcm=["gcm-11"], sdg=["sdg-16.9"]).json["id"]
    process()
    html = client.get(f"/documents/{doc_id}", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)
    assert 'href="/browse/gcm/gcm-11">Gérer les frontières de manière intégrée' in html
    assert "Objectif 16 : Paix, justice et institutions efficaces" in html

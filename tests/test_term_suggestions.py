"""Suggestions (issue 17 item 4): when a document's text is extracted, kb proposes GCM
objectives and SDG targets from it, with the phrases found and where; editors accept or
dismiss each one, nothing is applied without them, and a dismissed one stays dismissed."""

from __future__ import annotations

import logging

from kb.extensions import db
from kb.models import Document
from kb.services import term_suggestions
from tests.conftest import csrf_from, login

FRENCH = ("Rapport sur les envois de fonds des travailleurs en Moldavie. Les envois de fonds "
          "représentent une part importante du revenu des ménages; le coût des envois de "
          "fonds reste élevé.").encode()
ENGLISH = (b"Remittances and development. Remittances sent home by workers abroad pay for "
           b"schooling; lowering the cost of remittances helps families.")
OFF_TOPIC = b"Minutes of the library committee: opening hours, new shelves and the budget."


def _suggestions(client, doc_id, account):
    return client.get(f"/api/v1/documents/{doc_id}/suggestions", headers=account.headers)


def _open(client, doc_id, account):
    return {s["code"]: s for s in _suggestions(client, doc_id, account).json["suggestions"]
            if s["state"] == "open"}


def _terms(app, doc_id, vocabulary):
    with app.app_context():
        return db.session.get(Document, doc_id).terms(vocabulary)


def test_processing_proposes_codes_with_their_evidence(client, editor, upload, process):
    fr = upload(FRENCH, "envois.txt", title="Note", language="fr").json["id"]
    en = upload(ENGLISH, "remit.txt", title="Household income").json["id"]
    other = upload(OFF_TOPIC, "minutes.txt", title="Minutes").json["id"]
    process()
    found = _open(client, fr, editor)
    assert {"gcm-20", "sdg-10.c"} <= set(found)
    evidence = found["gcm-20"]["evidence"]
    assert {"phrase": "envois de fonds", "lang": "fr", "where": "body",
            "count": 3} in evidence
    assert found["gcm-20"]["label"].startswith("Promote faster, safer and cheaper transfer")
    assert found["sdg-10.c"]["score"] > 0
    assert {"gcm-20", "sdg-10.c"} <= set(_open(client, en, editor))
    assert _open(client, other, editor) == {}
    # Proposed, never applied: the document has no term until an editor decides.
    assert _terms(client.application, fr, "gcm") == []


def test_an_editor_accepts_and_dismisses_from_the_page(app, client, editor, upload, process):
    doc_id = upload(FRENCH, "envois.txt", title="Les envois de fonds").json["id"]
    process()
    browser = app.test_client()
    login(browser, editor)
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "Suggested from the text" in page
    assert 'data-suggestion="gcm-20"' in page and "envois de fonds" in page
    token = csrf_from(page)
    # Without the CSRF token nothing happens.
    assert browser.post(f"/documents/{doc_id}/suggestions/gcm-20/accept").status_code == 400
    assert _terms(app, doc_id, "gcm") == []

    res = browser.post(f"/documents/{doc_id}/suggestions/gcm-20/accept",
                       data={"csrf_token": token})
    assert res.status_code == 302
    assert _terms(app, doc_id, "gcm") == ["gcm-20"]
    changes = client.get(f"/api/v1/documents/{doc_id}/history",
                         headers=editor.headers).json["changes"]
    assert changes[0]["action"] == "suggestion-accept"
    assert changes[0]["changes"]["gcm"] == [[], ["gcm-20"]]

    res = browser.post(f"/documents/{doc_id}/suggestions/sdg-10.c/dismiss",
                       data={"csrf_token": token})
    assert res.status_code == 302
    page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert 'data-suggestion="gcm-20"' not in page
    assert 'data-suggestion="sdg-10.c"' not in page
    assert _terms(app, doc_id, "sdg") == []
    states = {s["code"]: s["state"] for s in
              _suggestions(client, doc_id, editor).json["suggestions"]}
    assert states["gcm-20"] == "accepted" and states["sdg-10.c"] == "dismissed"
    # Deciding twice is refused with a reason, not a 500.
    again = client.post(f"/api/v1/documents/{doc_id}/suggestions/sdg-10.c/dismiss",
                        headers=editor.headers)
    assert again.status_code == 400 and "already dismissed" in again.json["error"]

    # Read again: the dismissed one is not proposed again, the accepted one stays a term.
    assert client.post(f"/api/v1/documents/{doc_id}/reextract",
                       headers=editor.headers).status_code == 202
    process()
    assert _open(client, doc_id, editor) == {}
    states = {s["code"]: s["state"] for s in
              _suggestions(client, doc_id, editor).json["suggestions"]}
    assert states == {"gcm-20": "accepted", "sdg-10.c": "dismissed"}
    assert _terms(app, doc_id, "gcm") == ["gcm-20"]


def test_accept_all_and_the_api(app, client, editor, upload, process):
    doc_id = upload(ENGLISH, "remit.txt", title="Remittances").json["id"]
    process()
    res = client.post(f"/api/v1/documents/{doc_id}/suggestions/gcm-20/accept",
                      headers=editor.headers)
    assert res.status_code == 200
    assert {s["code"]: s["state"] for s in res.json["suggestions"]}["gcm-20"] == "accepted"
    assert client.post(f"/api/v1/documents/{doc_id}/suggestions/gcm-99/accept",
                       headers=editor.headers).status_code == 404
    browser = app.test_client()
    login(browser, editor)
    token = csrf_from(browser.get(f"/documents/{doc_id}").get_data(as_text=True))
    assert browser.post(f"/documents/{doc_id}/suggestions/accept-all",
                        data={"csrf_token": token}).status_code == 302
    assert _terms(app, doc_id, "gcm") == ["gcm-20"]
    assert _terms(app, doc_id, "sdg") == ["sdg-10.c"]
    assert _open(client, doc_id, editor) == {}


def test_readers_and_contributors_never_see_or_decide_them(app, client, make_user, upload,
                                                          process):
    contributor, reader = make_user("contributor"), make_user("reader")
    doc_id = upload(ENGLISH, "remit.txt", title="Remittances", account=contributor).json["id"]
    process()
    editor = make_user("editor")
    assert client.post(f"/api/v1/documents/{doc_id}/publish",
                       headers=editor.headers).status_code == 200
    assert "gcm-20" in _open(client, doc_id, editor)
    for account in (contributor, reader):
        assert _suggestions(client, doc_id, account).status_code == 403
        assert client.post(f"/api/v1/documents/{doc_id}/suggestions/gcm-20/accept",
                           headers=account.headers).status_code == 403
        browser = app.test_client()
        login(browser, account)
        page = browser.get(f"/documents/{doc_id}").get_data(as_text=True)
        assert "Suggested from the text" not in page and "data-suggestion" not in page
        token = csrf_from(page)
        assert browser.post(f"/documents/{doc_id}/suggestions/gcm-20/accept",
                            data={"csrf_token": token}).status_code == 403
    assert client.get(f"/api/v1/documents/{doc_id}/suggestions").status_code == 403
    assert client.post(f"/api/v1/documents/{doc_id}/suggestions/gcm-20/accept"
                       ).status_code == 401
    assert _terms(app, doc_id, "gcm") == []
    assert "gcm-20" in _open(client, doc_id, editor)


def test_thesaurus_labels_join_the_rules(tmp_path, client, runner, editor, upload, process):
    tsv = tmp_path / "tiny.tsv"
    # A concept a rule names by its English label (gcm-16: "social integration"), with a
    # Spanish label the rule does not write itself.
    tsv.write_text("en\tes\nsocial integration\tintegración social de prueba\n",
                   encoding="utf-8")
    assert runner.invoke(args=["thesaurus", "import", str(tsv)]).exit_code == 0
    doc_id = upload("La integración social de prueba de los recién llegados.".encode(),
                    "es.txt", title="Integración social de prueba").json["id"]
    process()
    found = _open(client, doc_id, editor)
    assert "gcm-16" in found
    assert found["gcm-16"]["evidence"][0] == {
        "phrase": "integración social de prueba", "lang": "es", "where": "title", "count": 1}


def test_a_failure_of_the_rules_never_fails_processing(client, editor, upload, process,
                                                       monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("rules broken")

    monkeypatch.setattr(term_suggestions, "propose", broken)
    doc_id = upload(ENGLISH, "remit.txt", title="Remittances").json["id"]
    with caplog.at_level(logging.ERROR):
        process()
    assert client.get(f"/api/v1/documents/{doc_id}",
                      headers=editor.headers).json["status"] == "ready"
    assert "term suggestions for document" in caplog.text
    assert _open(client, doc_id, editor) == {}


def test_rules_weigh_where_phrases_occur():
    rules = term_suggestions.compile_rules()
    long_text = " ".join(["word"] * 20_000) + " remittances"
    assert term_suggestions.propose("", "", long_text, rules) == []  # one mention in a book
    found = term_suggestions.propose("Remittances", "", long_text, rules)
    assert [p.code for p in found] == ["gcm-20", "sdg-10.c"]
    # Russian stems fold as the text does (денежн* finds денежных and денежные).
    found = term_suggestions.propose("Денежные переводы", "", "", rules)
    assert {p.code for p in found} == {"gcm-20", "sdg-10.c"}
    # "trafficking" alone (drugs, arms) is not trafficking in persons.
    assert term_suggestions.propose("Drug trafficking", "", "", rules) == []


def test_a_new_title_or_summary_renews_the_open_suggestions(client, editor, upload, process):
    doc_id = upload(OFF_TOPIC, "minutes.txt", title="Minutes").json["id"]
    process()
    assert _open(client, doc_id, editor) == {}

    def patch(**fields):
        etag = client.get(f"/api/v1/documents/{doc_id}", headers=editor.headers).headers["ETag"]
        res = client.patch(f"/api/v1/documents/{doc_id}", json=fields,
                           headers={**editor.headers, "If-Match": etag})
        assert res.status_code == 200, res.json

    patch(title="Lowering the cost of remittances sent home by migrant workers")
    found = _open(client, doc_id, editor)
    assert "gcm-20" in found
    assert any(e["where"] == "title" for e in found["gcm-20"]["evidence"])
    # A decision stands: dismissed stays dismissed when the summary changes.
    assert client.post(f"/api/v1/documents/{doc_id}/suggestions/gcm-20/dismiss",
                       headers=editor.headers).status_code == 200
    patch(summary="Remittances: the cost of remittances to Moldova.")
    assert "gcm-20" not in _open(client, doc_id, editor)
    # Other metadata leave the suggestions alone; a title back to the minutes drops the
    # ones it brought.
    patch(title="Minutes", summary="")
    assert _open(client, doc_id, editor) == {}

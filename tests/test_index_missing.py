"""A missing or damaged search index: /healthz and searches say to run `kb reindex` (503),
document pages still show, uploads are stored and wait, and `kb reindex` brings it all
back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.models import Job

WHOOSH_WORDS = ("FileStorage", "pickle", "_MAIN_", "Traceback", "EmptyIndexError")


def _delete_folder(index: Path) -> None:
    shutil.rmtree(index)


def _corrupt_toc(index: Path) -> None:
    [toc] = index.glob("_MAIN_*.toc")
    toc.write_bytes(toc.read_bytes()[:40])


DAMAGES: list[Callable[[Path], None]] = [_delete_folder, _corrupt_toc]


@pytest.fixture(params=DAMAGES, ids=lambda f: f.__name__.strip("_"))
def broken(request, app, upload, process) -> int:
    """An instance with one ready document whose index was then lost; returns its id."""
    res = upload(b"Seasonal labour migration and remittances in Moldova.", "moldova.txt",
                 title="Seasonal labour in Moldova")
    process()
    request.param(Path(app.config["INDEX_DIR"]))
    return int(res.json["id"])


def _no_engine_text(text: str) -> None:
    assert not any(word in text for word in WHOOSH_WORDS), text


def test_healthz_says_to_run_reindex(client, broken):
    res = client.get("/healthz")
    assert res.status_code == 503
    assert res.json["status"] == "unavailable" and res.json["index"] == "unavailable"
    assert res.json["database"] == "ok"
    [reason] = [r for r in res.json["reasons"] if "index" in r]
    assert "An administrator should run `kb reindex`" in reason
    assert "kb reindex" in res.json["error"]
    _no_engine_text(res.get_data(as_text=True))


def test_searches_answer_503_with_what_to_run(client, broken):
    api = client.get("/api/v1/search?q=remittances")
    assert api.status_code == 503
    assert "search index" in api.json["error"] and "`kb reindex`" in api.json["error"]
    _no_engine_text(api.get_data(as_text=True))
    page = client.get("/?q=remittances")
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    assert "The search index is" in html and "kb reindex" in html
    _no_engine_text(html)


def test_document_pages_still_show(client, broken):
    res = client.get(f"/documents/{broken}?q=remittances")
    assert res.status_code == 200
    assert "Seasonal labour in Moldova" in res.get_data(as_text=True)


def test_uploads_wait_for_the_index_then_reindex_brings_all_back(app, client, upload, process,
                                                                 runner, broken):
    res = upload(b"Diaspora bonds and return migration to Armenia.", "armenia.txt",
                 title="Diaspora bonds")
    assert res.status_code == 201
    new_id = res.json["id"]
    process()
    process()
    doc = client.get(f"/api/v1/documents/{new_id}").json
    assert doc["status"] == "processing" and doc["error"] is None  # waiting, not failed
    with app.app_context():
        from kb.extensions import db

        [job] = db.session.scalars(select(Job).where(Job.doc_id == new_id)).all()
        assert (job.state, job.kind, job.attempts) == ("queued", "index", 0)
        assert "kb reindex" in (job.last_error or "")

    done = runner.invoke(args=["reindex"])
    assert done.exit_code == 0, done.output
    assert client.get("/healthz").status_code == 200
    process()
    assert client.get(f"/api/v1/documents/{new_id}").json["status"] == "ready"
    found = client.get("/api/v1/search?q=migration").json
    assert {r["id"] for r in found["results"]} == {broken, new_id}


def test_init_recreates_a_lost_index(client, runner, broken):
    done = runner.invoke(args=["init"])
    assert done.exit_code == 0, done.output
    found = client.get("/api/v1/search?q=remittances").json
    assert [r["id"] for r in found["results"]] == [broken]

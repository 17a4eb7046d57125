"""Several workers share one queue: no job is taken twice, and only a worker allowed to
write the index writes it (the others extract and hand over)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from kb.extensions import db
from kb.models import Document, Job
from kb.services import processing, queue
from tests.conftest import kb_env, same_instance, wait_for

KB = str(Path(sys.executable).parent / "kb")
SUMMARY = re.compile(r"Ran (\d+) jobs \(extract (\d+), index (\d+), ocr (\d+)\); "
                     r"wrote (\d+) documents to the index\.")


def summary_of(out: str) -> dict[str, int]:
    match = SUMMARY.search(out)
    assert match, out
    total, extract, index, ocr, indexed = map(int, match.groups())
    return {"total": total, "extract": extract, "index": index, "ocr": ocr,
            "indexed": indexed}


def test_three_workers_two_without_the_index_make_each_document_ready_once(
        app, client, upload):
    # Runs on SQLite and on PostgreSQL (with KB_TEST_DATABASE_URL): SQLite serialises the
    # three processes' writes, PostgreSQL's claims skip the rows another worker is taking.
    n = 200
    ids = [upload(f"labour mobility report {i}".encode(), f"r{i}.txt").json["id"]
           for i in range(n)]
    env = kb_env(app, KB_WORKER_BATCH="5", KB_WORKER_POLL_SECONDS="0.1")
    # The extractors start first, so that all three find work.
    commands = [[KB, "worker", "--no-index"], [KB, "worker", "--no-index"], [KB, "worker"]]
    workers = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for c in commands]
    try:
        def none_processing() -> bool:
            with app.app_context():
                left = db.session.scalar(select(func.count()).select_from(Document)
                                         .where(Document.status == "processing"))
                db.session.remove()
            assert all(w.poll() is None for w in workers), "a worker ended early"
            return left == 0

        wait_for("every document processed", none_processing, bound=300, every=0.2)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    assert all("Traceback" not in err for _out, err in outputs), outputs
    extractor_a, extractor_b, indexer = (summary_of(out) for out, _err in outputs)

    # Each document's extract job was claimed once, by one of the three.
    assert extractor_a["extract"] + extractor_b["extract"] + indexer["extract"] == n
    # Only the indexing worker wrote the index: what the others extracted, it indexed.
    assert extractor_a["index"] == extractor_b["index"] == 0
    assert extractor_a["indexed"] == extractor_b["indexed"] == 0
    assert indexer["index"] == extractor_a["extract"] + extractor_b["extract"]
    assert indexer["indexed"] == n
    with app.app_context():
        jobs = db.session.execute(select(Job.doc_id, Job.state, Job.attempts, Job.kind)).all()
    assert sorted(j.doc_id for j in jobs) == sorted(ids)  # one job per document
    assert {(j.state, j.attempts) for j in jobs} == {("done", 0)}
    assert {j.kind for j in jobs} == {"extract", "index"}  # some were handed over

    statuses = {client.get(f"/api/v1/documents/{i}").json["status"] for i in ids}
    assert statuses == {"ready"}
    found: list[int] = []
    for page in (1, 2, 3):
        res = client.get("/api/v1/search", query_string={"q": "mobility", "per_page": 100,
                                                         "page": page}).json
        assert res["total"] == n
        found += [r["id"] for r in res["results"]]
    assert sorted(found) == sorted(ids)  # each document in the index exactly once


def test_a_claim_skips_a_job_another_worker_is_taking(app, upload, database_url):
    if database_url is None:
        pytest.skip("row locks are PostgreSQL's (KB_TEST_DATABASE_URL); SQLite has none to "
                    "skip: its writers take turns")
    first, second = (upload(f"note {i}".encode(), f"n{i}.txt").json["id"] for i in range(2))
    # Waiting for a locked row would end after 3 s with an error instead of hanging.
    other = same_instance(app, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"options": "-c lock_timeout=3000"}})
    holder = create_engine(database_url)
    try:
        with holder.connect() as conn, other.app_context():
            # Another worker is in the middle of claiming the first document's job.
            conn.execute(text("SELECT job_id FROM job WHERE doc_id = :d FOR UPDATE"),
                         {"d": first})
            jobs = processing.claim(queue.this_process("worker"), 1)
            assert [j.doc_id for j in jobs] == [second]
            conn.rollback()
            db.session.remove()
            db.engine.dispose()
    finally:
        holder.dispose()


def test_concurrency_runs_several_processes_of_which_one_indexes(app, client, upload):
    ids = [upload(f"circular migration note {i}".encode(), f"c{i}.txt").json["id"]
           for i in range(30)]
    env = kb_env(app, KB_WORKER_BATCH="3", KB_WORKER_POLL_SECONDS="0.1")
    parent = subprocess.Popen([KB, "worker", "--concurrency", "3"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def all_ready() -> bool:
            assert parent.poll() is None, parent.communicate()
            states = {client.get(f"/api/v1/documents/{i}").json["status"] for i in ids}
            return states == {"ready"}

        wait_for("every document ready", all_ready, bound=120)
    finally:
        parent.send_signal(signal.SIGTERM)
        out, err = parent.communicate(timeout=60)
    assert parent.returncode == 0, (out, err)
    summaries = [summary_of(line) for line in out.splitlines() if SUMMARY.search(line)]
    assert len(summaries) == 3, (out, err)  # three processes, each says what it did
    assert sum(s["extract"] for s in summaries) == len(ids)
    assert sorted(s["indexed"] > 0 for s in summaries) == [False, False, True]
    assert client.get("/api/v1/search", query_string={"q": "circular"}).json["total"] == 30


def test_once_with_concurrency_is_refused(runner):
    res = runner.invoke(args=["worker", "--once", "--concurrency", "2"])
    assert res.exit_code == 2
    assert "--once runs a single process" in res.output

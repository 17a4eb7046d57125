"""`kb import` as a pipeline: progress per finished document, resuming an interrupted import."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from kb import importer
from kb.extensions import db
from kb.models import Document, Job
from kb.services import documents, queue

WORDS = ("remittances", "diaspora", "labour", "migration", "return", "skills")


def write_files(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"note-{i:02d}.txt"
        path.write_text(f"Note {i} on {WORDS[i % len(WORDS)]} and development planning.\n")
        paths.append(path)
    return paths


def a_dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_progress_counts_finished_documents_and_the_import_is_searchable(app, client,
                                                                         tmp_path):
    folder = tmp_path / "notes"
    paths = write_files(folder, 7)
    (folder / "again.txt").write_bytes(paths[0].read_bytes())  # a duplicate
    seen: list[str] = []
    totals: list[int] = []

    def progress(items: Iterator[importer.Item], total: int) -> Iterator[importer.Item]:
        totals.append(total)
        for item in items:
            seen.append(item.label)
            yield item

    with app.app_context():
        report = importer.run_import(folder, None, 2, None, progress)
    assert report.summary() == "imported 7, skipped 1 as duplicates, failed 0"
    assert totals == [8]
    assert sorted(seen) == sorted(p.name for p in folder.iterdir())
    found = client.get("/api/v1/search", query_string={"q": "diaspora"}).json
    assert found["total"] == 1
    assert client.get("/api/v1/search").json["total"] == 7


def test_an_interrupted_import_is_finished_by_the_next(app, runner, client, tmp_path):
    folder = tmp_path / "notes"
    paths = write_files(folder, 5)
    dead = queue.Owner("import", os.uname().nodename, a_dead_pid(), None)
    # Stored and recorded, then the importer died.
    with app.app_context(), paths[1].open("rb") as fh:
        stuck = documents.ingest(fh, paths[1].name, {"title": ["Stuck"]}, None,
                                 job_owner=dead, workflow="published").doc_id
    assert client.get(f"/api/v1/documents/{stuck}").json["status"] == "processing"

    res = runner.invoke(args=["import", str(folder)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == (
        "imported 5 (1 resumed), skipped 0 as duplicates, failed 0")
    assert client.get(f"/api/v1/documents/{stuck}").json["status"] == "ready"
    assert client.get("/api/v1/search", query_string={"q": "diaspora"}).json["total"] == 1
    with app.app_context():
        assert db.session.query(Job).filter(Job.state != "done").count() == 0
        assert db.session.query(Document).count() == 5

    again = runner.invoke(args=["import", str(folder)])
    assert again.output.strip().splitlines()[-1] == (
        "imported 0, skipped 5 as duplicates, failed 0")


def test_a_document_a_live_process_works_on_is_left_to_it(app, runner, tmp_path):
    folder = tmp_path / "notes"
    paths = write_files(folder, 2)
    alive = queue.this_process("worker")  # this very process
    with app.app_context(), paths[0].open("rb") as fh:
        documents.ingest(fh, paths[0].name, {"title": ["Busy"]}, None, job_owner=alive,
                         workflow="published")
    res = runner.invoke(args=["import", str(folder)])
    assert res.output.strip().splitlines()[-1] == (
        "imported 1, skipped 1 as duplicates, failed 0")


def test_console_progress_shows_rate_and_time_left(tmp_path, capsys):
    items = [importer.Item(path=tmp_path / f"{i}.txt", meta={}, label=str(i)) for i in range(3)]
    assert list(importer.console_progress(iter(items), 3)) == items


def test_documents_the_busy_index_refused_are_left_to_the_worker(app, runner, client, process,
                                                                tmp_path):
    from kb.search.whoosh.index import writer

    folder = tmp_path / "notes"
    write_files(folder, 3)
    app.config["INDEX_LOCK_TIMEOUT"] = 0.2
    with writer(Path(app.config["INDEX_DIR"]), 1.0):  # another process is committing
        res = runner.invoke(args=["import", str(folder)])
    lines = res.output.strip().splitlines()
    # Not searchable is not imported: counted as failed, with an exit code that says so.
    assert res.exit_code == 1
    assert lines[-1] == ("imported 0, skipped 0 as duplicates, failed 3 "
                         "(3 of them stored, to be made searchable by the worker)")
    assert sum(line.startswith("failed: note-") and "not yet searchable" in line
               and "worker" in line for line in lines) == 3
    assert client.get("/api/v1/search").json["total"] == 0
    deadline = time.monotonic() + 15
    while client.get("/api/v1/search").json["total"] < 3:  # retried after a short delay
        assert time.monotonic() < deadline, "the worker did not index the documents"
        time.sleep(0.5)
        process()  # the background worker indexes them

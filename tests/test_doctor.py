"""`kb doctor [--repair]`: the database, the stored files and the index agree; what
--repair fixes is gone at the next check."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from kb import context, search
from kb.extensions import db
from kb.models import Document, Job, utcnow
from kb.services import processing


def _blob(app, data: bytes) -> Path:
    sha = hashlib.sha256(data).hexdigest()
    return Path(app.config["UPLOAD_DIR"]) / sha[:2] / sha[2:4] / sha


@pytest.fixture
def docs(upload, app) -> list[tuple[int, Path, bytes]]:
    """Three documents: (id, stored file, bytes)."""
    made = []
    for n in range(3):
        data = f"Document {n} on diaspora engagement and return migration. ".encode() * 50
        res = upload(data, f"doc{n}.txt")
        assert res.status_code == 201
        made.append((res.json["id"], _blob(app, data), data))
    return made


def test_clean_instance_says_no_problems(runner, docs):
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "no problems found"


def test_each_damaged_file_is_named_with_what_to_do(runner, docs):
    (missing, m_path, _), (short, s_path, s_data), (changed, c_path, c_data) = docs
    m_path.unlink()
    s_path.write_bytes(s_data[:10])
    c_path.write_bytes(c_data.replace(b"diaspora", b"DIASPORA"))  # same size
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines[-1] == "3 problems found"
    problems = [line for line in lines if line.startswith("problem: ")]
    assert len(problems) == 3
    assert problems[0].startswith(f"problem: document {missing} (doc0.txt, version 1): its "
                                  "stored file is missing. Copy it back from a backup to "
                                  f"{m_path}")
    assert problems[1].startswith(f"problem: document {short} (doc1.txt, version 1): its "
                                  f"stored file has 10 bytes where {len(s_data):,} were stored")
    assert problems[2].startswith(f"problem: document {changed} (doc2.txt, version 1): its "
                                  "stored file's bytes changed")
    assert all("withdraw and delete the document" in p for p in problems)


def test_quick_compares_sizes_only(runner, docs):
    _, path, data = docs[0]
    path.write_bytes(data.replace(b"diaspora", b"DIASPORA"))
    assert runner.invoke(args=["doctor", "--quick"]).exit_code == 0
    assert runner.invoke(args=["doctor"]).exit_code == 1


def test_missing_file_found_in_quarantine_says_to_move_it_back(runner, docs, app):
    doc_id, path, _ = docs[0]
    quarantine = Path(app.config["UPLOAD_DIR"]) / "quarantine"
    quarantine.mkdir()
    path.rename(quarantine / path.name)
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 1
    assert (f"problem: document {doc_id} (doc0.txt, version 1): its stored file is missing. "
            f"It is in quarantine: move {quarantine / path.name} back to {path}.") in res.output


def test_leftovers_are_notes_and_old_orphans_problems(runner, docs, app):
    uploads = Path(app.config["UPLOAD_DIR"])
    (uploads / "tmp" / "upload-cut-off").write_bytes(b"half an upl")
    (uploads / "tmp" / "upload-under-way").write_bytes(b"the first bytes")
    hours_ago = time.time() - 5 * 3600
    os.utime(uploads / "tmp" / "upload-cut-off", (hours_ago, hours_ago))
    for n in range(2):  # stored, then the process was killed before recording them
        data = f"orphan {n}".encode()
        _blob(app, data).parent.mkdir(parents=True, exist_ok=True)
        _blob(app, data).write_bytes(data)
    os.utime(_blob(app, b"orphan 0"), (hours_ago, hours_ago))
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == (f"problem: stored file {_blob(app, b'orphan 0')} is named by no record "
                        "(left by a crash or by a purged document, 5.0 h ago; the worker's "
                        "sweep would have moved it). --repair moves it to the quarantine "
                        "folder (never deletes it).")
    notes = [line for line in lines if line.startswith("note: ")]
    assert notes[0].startswith(f"note: 2 partial uploads in {uploads / 'tmp'} (1 older than "
                               "4 h, which the worker's sweep")
    assert notes[1].startswith("note: 1 stored files no record names, younger than 4 h "
                               "(normal after a document is purged from the trash, or an "
                               "upload being recorded)")
    assert lines[-1] == "1 problem found"


def _dead_pid() -> int:
    """The id of a process that has ended."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _found(client, account, query: str) -> list[int]:
    res = client.get("/api/v1/search", query_string={"q": query, "per_page": 50},
                     headers=account.headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    return [hit["id"] for hit in res.json["results"]]


def test_every_kind_of_damage_is_named_repaired_and_gone(app, client, runner, upload,
                                                         process, editor):
    words = ["albatross", "bergamot", "cormorant", "dromedary", "eucalyptus", "flamingo",
             "gazelle"]
    ids = {}
    for word in words:
        res = upload(f"A report about the {word} and its habitat. ".encode() * 20,
                     f"{word}.txt", title=f"The {word} report")
        assert res.status_code == 201, res.get_data(as_text=True)
        ids[word] = res.json["id"]
    process()
    assert all(_found(client, editor, word) == [ids[word]] for word in words)
    missing, twice, stale, gone, job_doc, stuck = (ids[w] for w in words[:6])
    orphan = b"stored, then the process was killed before recording it"
    with app.app_context():
        index_dir, timeout = context.index_dir(), context.lock_timeout()
        search.delete_documents(index_dir, [missing], timeout)
        record = processing.record_for(db.session.get(Document, twice))
        # Two updates of one document in one commit: Whoosh replaces what was committed
        # before, not what the same commit added: the document ends up in the index twice.
        search.write_records(index_dir, [record, record], timeout)
        db.session.get(Document, stale).title = "The zanzibar report"  # not re-indexed
        db.session.delete(db.session.get(Document, gone))  # the index keeps it
        db.session.get(Document, job_doc).status = "processing"
        dead = _dead_pid()
        host = os.uname().nodename
        db.session.add(Job(doc_id=job_doc, kind="extract", state="running",
                           locked_by=f"worker:{host}:{dead}", locked_host=host,
                           locked_pid=dead, locked_started=1, locked_at=utcnow(),
                           heartbeat_at=utcnow()))
        db.session.get(Document, stuck).status = "processing"  # and no job
        db.session.commit()
        job_id = db.session.scalar(select(Job.job_id).where(Job.state == "running"))
    orphan_path = _blob(app, orphan)
    orphan_path.parent.mkdir(parents=True, exist_ok=True)
    orphan_path.write_bytes(orphan)
    hours_ago = time.time() - 5 * 3600
    os.utime(orphan_path, (hours_ago, hours_ago))
    assert _found(client, editor, "albatross") == []
    assert _found(client, editor, "bergamot") == [twice, twice]
    assert _found(client, editor, "zanzibar") == []

    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 1, res.output
    problems = [line for line in res.output.splitlines() if line.startswith("problem: ")]
    expected = [
        (f"problem: stored file {orphan_path} is named by no record", "--repair moves it "
         "to the quarantine folder (never deletes it)."),
        (f"problem: document {missing} is missing from the search index",
         "--repair writes it to the index from its record, once."),
        (f"problem: document {twice} is in the search index 2 times",
         "--repair writes it to the index from its record, once."),
        (f"problem: document {stale} is stale in the search index: the metadata there "
         "differ from the record's (indexed as the record was at ",
         "--repair writes it to the index from its record, once."),
        (f"problem: document {gone} is in the search index but no longer in the database",
         "--repair removes it from the index."),
        (f"problem: document {job_doc}: its extract job {job_id} is stuck `running`: its "
         f"holder (process {dead} on {host}) has ended.", "--repair gives the job back to "
         "the queue, where a worker takes it again."),
        (f"problem: document {stuck} is stuck `processing`: no job is queued or running for "
         "it", "--repair queues a new extract job for it."),
    ]
    assert len(problems) == len(expected), res.output
    for line, (start, end) in zip(problems, expected, strict=True):
        assert line.startswith(start) and line.endswith(end), line
    assert res.output.splitlines()[-1] == "7 problems found"

    res = runner.invoke(args=["doctor", "--repair"])
    assert res.exit_code == 0, res.output
    assert ("repaired: 1 jobs given back to the queue; 1 documents queued for extraction; "
            "3 documents written to the index; 1 removed from the index; 1 stored files "
            "moved to quarantine") in res.output
    assert res.output.splitlines()[-1] == "no problems left"
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == "no problems found"

    process()  # the job given back and the new extract job
    for word in words:
        expected_ids = [] if word == "dromedary" else [ids[word]]
        assert _found(client, editor, word) == expected_ids, word
    assert _found(client, editor, "zanzibar") == [stale]
    quarantined = Path(app.config["UPLOAD_DIR"]) / "quarantine" / orphan_path.name
    assert quarantined.read_bytes() == orphan and not orphan_path.exists()
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 0, res.output
    assert "1 files in quarantine" in res.output


def test_an_unreadable_index_is_rebuilt(app, client, runner, upload, process, editor):
    doc_id = upload(b"Notes on the quetzal. " * 20, "quetzal.txt").json["id"]
    process()
    index_dir = Path(app.config["INDEX_DIR"])
    (index_dir / "kb-schema-version").write_text("1")  # as an older kb left it
    res = runner.invoke(args=["doctor"])
    assert res.exit_code == 1, res.output
    assert ("problem: the search index cannot be used: The search index was built by another "
            "version of kb.") in res.output
    assert "--repair rebuilds the index from the database (as `kb reindex` does)." in res.output
    res = runner.invoke(args=["doctor", "--repair"])
    assert res.exit_code == 0, res.output
    assert "repaired: index rebuilt (1 documents)" in res.output
    assert _found(client, editor, "quetzal") == [doc_id]

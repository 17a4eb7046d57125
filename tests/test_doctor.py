"""`kb doctor`: stored files against their records, and leftovers counted."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest


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


def test_leftovers_are_counted_as_notes(runner, docs, app):
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
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if line.startswith("note: ")]
    assert notes[0].startswith(f"note: 2 partial uploads in {uploads / 'tmp'} (1 older than "
                               "4 h, which the worker's sweep")
    assert notes[1].startswith("note: 2 stored files no record names (normal after a "
                               "document is deleted, or left by a crash); 1 older than 4 h")
    assert res.output.strip().splitlines()[-1] == "no problems found"

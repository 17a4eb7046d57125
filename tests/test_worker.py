"""Background work: index writes are safe when several finish at once, and retried."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kb.search.whoosh.index import writer
from tests.conftest import kb_env

KB = str(Path(sys.executable).parent / "kb")


def test_a_locked_index_delays_indexing_without_losing_the_upload(app, client, upload,
                                                                  process):
    app.config["INDEX_LOCK_TIMEOUT"] = 0.2
    doc_id = upload(b"seasonal workers and circular migration", "s.txt").json["id"]
    with writer(Path(app.config["INDEX_DIR"]), timeout=1.0):  # someone else is writing
        process()
    doc = client.get(f"/api/v1/documents/{doc_id}").json
    assert doc["status"] == "processing"
    assert client.get("/api/v1/search?q=seasonal").json["total"] == 0

    from kb.extensions import db
    from kb.models import Job

    with app.app_context():
        job = db.session.query(Job).filter_by(doc_id=doc_id).one()
        assert (job.state, job.attempts) == ("queued", 1)
        assert "busy" in (job.last_error or "")
    time.sleep(2.1)  # the retry is scheduled two seconds later
    process()
    assert client.get(f"/api/v1/documents/{doc_id}").json["status"] == "ready"
    assert client.get("/api/v1/search?q=seasonal").json["total"] == 1


def test_two_workers_at_once_index_every_document_once(app, client, upload):
    ids = [upload(f"report number {i} on labour mobility".encode(), f"r{i}.txt").json["id"]
           for i in range(24)]
    env = kb_env(app, KB_WORKER_BATCH="3")
    workers = [subprocess.Popen([KB, "worker", "--once"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    ran = [int(out.split()[1]) for out, _err in outputs]
    assert sum(ran) == len(ids)  # each job claimed by exactly one worker
    assert all("LockError" not in err and "Traceback" not in err for _out, err in outputs)
    statuses = {client.get(f"/api/v1/documents/{i}").json["status"] for i in ids}
    assert statuses == {"ready"}
    found = client.get("/api/v1/search", query_string={"q": "mobility", "per_page": 100}).json
    assert found["total"] == len(ids)
    assert sorted(r["id"] for r in found["results"]) == sorted(ids)

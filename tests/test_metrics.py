"""GET /metrics: who may read it, what it counts, and the real `kb serve` summing the
counters of its gunicorn workers."""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from kb.extensions import db
from kb.models import Job, utcnow
from tests.conftest import Account, csrf_from, free_port, kb_env, login, same_instance, wait_for

KB = str(Path(sys.executable).parent / "kb")
SCRAPER_TOKEN = "scraper-secret-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a metrics page, by name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape(client: FlaskClient, headers: dict[str, str]) -> Samples:
    res = client.get("/metrics", headers=headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    return parse(res.get_data(as_text=True))


def test_metrics_are_hidden_from_everyone_but_admins_and_the_scrapers_token(
        app: Flask, client: FlaskClient, make_user: Callable[[str], Account]) -> None:
    admin, reader, editor = make_user("admin"), make_user("reader"), make_user("editor")
    assert client.get("/metrics").status_code == 404
    for account in (reader, editor):
        assert client.get("/metrics", headers=account.headers).status_code == 404
    # A token that is no one's is refused as on every route; without METRICS_TOKEN
    # configured, the scrapers' token is no one's either.
    assert client.get("/metrics", headers={"Authorization": "Bearer nonsense"}
                      ).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"}
                      ).status_code == 401

    by_token = client.get("/metrics", headers=admin.headers)
    assert by_token.status_code == 200
    assert by_token.mimetype == "text/plain"
    assert by_token.headers["Cache-Control"] == "no-store"
    assert value(parse(by_token.get_data(as_text=True)), "kb_jobs_queued") == 0

    login(client, editor)
    assert client.get("/metrics").status_code == 404
    signed_in = app.test_client()
    login(signed_in, admin)
    res = signed_in.get("/metrics")
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    assert "kb_documents_by_status" in res.get_data(as_text=True)

    with_token = same_instance(app, METRICS_TOKEN=SCRAPER_TOKEN)
    scraped = with_token.test_client()
    try:
        res = scraped.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER_TOKEN}"})
        assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
        assert "kb_jobs_queued" in res.get_data(as_text=True)
        assert scraped.get("/metrics", headers={
            "Authorization": f"Bearer {SCRAPER_TOKEN}x"}).status_code == 401
        assert scraped.get("/metrics").status_code == 404
        # The scrapers' token opens /metrics only, not the API.
        assert scraped.get("/api/v1/search", headers={
            "Authorization": f"Bearer {SCRAPER_TOKEN}"}).status_code == 401
    finally:
        with with_token.app_context():
            db.engine.dispose()


def test_counters_and_gauges_follow_uploads_processing_downloads_and_searches(
        app: Flask, client: FlaskClient, make_user: Callable[[str], Account],
        upload: Callable[..., Any], process: Callable[[], None]) -> None:
    admin, contributor = make_user("admin"), make_user("contributor")
    before = scrape(client, admin.headers)
    assert value(before, "kb_uploads_total", via="api") == 0
    assert value(before, "kb_searches_total", via="web") == 0
    assert value(before, "kb_search_seconds_count") == 0

    good = upload(b"seasonal labour migration and remittances", "good.txt").json["id"]
    upload(b"%PDF-1.4\nnothing a PDF reader could use", "broken.pdf")
    web = app.test_client()
    login(web, contributor)
    page = web.get("/upload").get_data(as_text=True)
    res = web.post("/upload", data={
        "csrf_token": csrf_from(page), "title": "Diaspora workshop", "access": "public",
        "file": (io.BytesIO(b"diaspora engagement workshop notes"), "workshop.txt")})
    assert res.status_code == 302

    queued = scrape(client, admin.headers)
    assert value(queued, "kb_uploads_total", via="api") == 2
    assert value(queued, "kb_uploads_total", via="web") == 1
    assert value(queued, "kb_documents_by_status", status="processing") == 3
    assert value(queued, "kb_documents_by_workflow", workflow="published") == 2
    assert value(queued, "kb_documents_by_workflow", workflow="submitted") == 1
    assert value(queued, "kb_jobs_queued") == 3
    with app.app_context():  # the first job has waited ten minutes
        db.session.execute(update(Job).where(Job.doc_id == good)
                           .values(run_after=utcnow() - timedelta(minutes=10)))
        db.session.commit()
    assert (value(scrape(client, admin.headers), "kb_jobs_oldest_queued_seconds") or 0) >= 600

    process()
    with client.get(f"/documents/{good}/download") as download:
        assert download.status_code == 200
    assert client.get("/", query_string={"q": "remittances"}).status_code == 200
    found = client.get("/api/v1/search", query_string={"q": "migration"})
    assert [r["id"] for r in found.json["results"]] == [good]

    after = scrape(client, admin.headers)
    assert value(after, "kb_documents_by_status", status="ready") == 2
    assert value(after, "kb_documents_by_status", status="failed") == 1
    assert value(after, "kb_documents_by_status", status="processing") == 0
    assert value(after, "kb_extraction_failures", error_code="corrupt") == 1
    assert value(after, "kb_jobs_queued") == 0
    assert value(after, "kb_jobs_oldest_queued_seconds") == 0
    assert value(after, "kb_downloads_total") == 1
    assert value(after, "kb_searches_total", via="web") == 1
    assert value(after, "kb_searches_total", via="api") == 1
    assert value(after, "kb_search_seconds_count") == 2
    assert value(after, "kb_search_seconds_bucket", le="+Inf") == 2
    assert (value(after, "kb_index_segments") or 0) >= 1


def test_a_missing_index_leaves_its_gauge_out_and_the_rest_answers(
        app: Flask, client: FlaskClient, make_user: Callable[[str], Account]) -> None:
    admin = make_user("admin")
    assert value(scrape(client, admin.headers), "kb_index_segments") == 0  # new, empty
    shutil.rmtree(app.config["INDEX_DIR"])
    samples = scrape(client, admin.headers)
    assert value(samples, "kb_index_segments") is None
    assert value(samples, "kb_jobs_queued") == 0


class Server:
    """A real `kb serve` with two gunicorn workers on the app's instance and database."""

    def __init__(self, app: Flask, log: Path) -> None:
        self.env = kb_env(app, KB_METRICS_TOKEN=SCRAPER_TOKEN, KB_WORKER_POLL_SECONDS="0.2")
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = log

    @contextlib.contextmanager
    def running(self) -> Iterator[subprocess.Popen[bytes]]:
        port = self.url.rsplit(":", 1)[1]
        with self.log.open("ab") as out:
            proc = subprocess.Popen([KB, "serve", "--host", "127.0.0.1", "--port", port,
                                     "--workers", "2"], env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for("kb serve to answer", lambda: self._up(proc))
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def _up(self, proc: subprocess.Popen[bytes]) -> bool:
        assert proc.poll() is None, self.log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def get(self, path: str, token: str) -> bytes:
        req = urllib.request.Request(self.url + path,
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as res:
            return bytes(res.read())


def test_kb_serve_sums_every_workers_counters_and_empties_the_folder_at_start(
        app: Flask, make_user: Callable[[str], Account], tmp_path: Path) -> None:
    reader = make_user("reader")
    folder = Path(app.config["INSTANCE_DIR"]) / "metrics"
    server = Server(app, tmp_path / "serve.log")

    def writers() -> set[str]:
        """The processes that made counters (one file per process and kind)."""
        return {p.stem.rsplit("_", 1)[1] for p in folder.glob("histogram_*.db")}

    searches = 0
    with server.running():
        # Searches in parallel, on new connections, until both workers have answered some.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            while len(writers()) < 2:
                assert searches < 400, f"one worker answered all {searches} searches"
                batch = [pool.submit(server.get, "/api/v1/search?q=migration", reader.token)
                         for _ in range(8)]
                for f in batch:
                    f.result()
                searches += len(batch)
        page = server.get("/metrics", SCRAPER_TOKEN).decode()
        samples = parse(page)
        assert value(samples, "kb_searches_total", via="api") == searches
        assert value(samples, "kb_search_seconds_count") == searches
        assert value(samples, "kb_jobs_queued") == 0
    left = {p.name for p in folder.iterdir()}
    assert left, "the counters' files are kept until the next start"

    with server.running():
        assert not {p.name for p in folder.iterdir()} & left
        samples = parse(server.get("/metrics", SCRAPER_TOKEN).decode())
        assert value(samples, "kb_searches_total", via="api") == 0
        assert value(samples, "kb_search_seconds_count") == 0

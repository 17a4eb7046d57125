"""Uploads are streamed to the store in chunks: multipart or as the raw request body."""

from __future__ import annotations

import hashlib
import io

import pytest

from kb.errors import TooLarge
from kb.storage import CHUNK, FileStore

TEXT = b"Remittances and diaspora engagement in national development strategies.\n"


def test_raw_body_upload_is_stored_with_its_name_and_metadata(client, editor, process):
    res = client.post("/api/v1/documents", data=TEXT * 1000, headers=editor.headers,
                      content_type="application/octet-stream",
                      query_string={"filename": "notes.txt", "title": "Raw notes",
                                    "countries": ["MDA", "SRB"], "type": "report"})
    assert res.status_code == 201, res.json
    body = res.json
    assert body["title"] == "Raw notes"
    assert body["countries"] == ["MDA", "SRB"]
    assert body["files"][0]["filename"] == "notes.txt"
    assert body["files"][0]["sha256"] == hashlib.sha256(TEXT * 1000).hexdigest()
    process()
    found = client.get("/api/v1/search", query_string={"q": "diaspora"}).json
    assert [r["id"] for r in found["results"]] == [body["id"]]


def test_raw_body_upload_takes_the_name_from_content_disposition(client, editor):
    res = client.post("/api/v1/documents", data=TEXT, content_type="application/octet-stream",
                      headers={**editor.headers,
                               "Content-Disposition": 'attachment; filename="plan.txt"'},
                      query_string={"title": "Plan"})
    assert res.status_code == 201, res.json
    assert res.json["files"][0]["filename"] == "plan.txt"


def test_raw_body_upload_refuses_what_multipart_refuses(app, client, editor, make_user):
    raw = {"content_type": "application/octet-stream", "headers": editor.headers}
    no_name = client.post("/api/v1/documents", data=TEXT, query_string={"title": "T"}, **raw)
    assert no_name.status_code == 400
    assert "filename" in no_name.json["fields"]
    unknown = client.post("/api/v1/documents", data=TEXT, **raw,
                          query_string={"filename": "a.txt", "title": "T", "colour": "blue"})
    assert unknown.status_code == 400
    assert unknown.json["fields"] == {"colour": "unknown field"}
    empty = client.post("/api/v1/documents", data=b"", **raw,
                        query_string={"filename": "a.txt", "title": "T"})
    assert empty.status_code == 400
    app.config["MAX_UPLOAD_MB"] = 1
    big = client.post("/api/v1/documents", data=b"x" * (1024 * 1024 + 1), **raw,
                      query_string={"filename": "big.txt", "title": "T"})
    assert big.status_code == 413
    reader = make_user("reader")
    res = client.post("/api/v1/documents", data=TEXT, content_type="application/octet-stream",
                      headers=reader.headers, query_string={"filename": "a.txt", "title": "T"})
    assert res.status_code == 403
    anonymous = client.post("/api/v1/documents", data=TEXT,
                            content_type="application/octet-stream",
                            query_string={"filename": "a.txt", "title": "T"})
    assert anonymous.status_code == 401


class ChunkedOnly(io.RawIOBase):
    """A stream that refuses to be read whole: each read must name a bounded size."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.largest = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert 0 < size <= CHUNK, f"read({size}): the store must read in chunks"
        self.largest = max(self.largest, size)
        n = min(size, self.left)
        self.left -= n
        return b"a" * n


def test_the_store_reads_in_chunks_and_hashes_while_writing(tmp_path):
    store = FileStore(tmp_path / "uploads")
    stream = ChunkedOnly(5 * CHUNK + 7)
    staged = store.stage(stream, max_bytes=10 * CHUNK)
    assert staged.size == 5 * CHUNK + 7
    assert staged.sha256 == hashlib.sha256(b"a" * (5 * CHUNK + 7)).hexdigest()
    assert staged.path.stat().st_size == staged.size
    with pytest.raises(TooLarge):
        store.stage(ChunkedOnly(3 * CHUNK), max_bytes=2 * CHUNK)
    assert [p.name for p in (tmp_path / "uploads" / "tmp").iterdir()] == [staged.path.name]

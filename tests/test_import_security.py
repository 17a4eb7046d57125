"""`kb import` reads only inside the folder it is given, never kb's own files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_import import write_manifest

SECRET = "root:x:0:0:zanzibarpassword:/root:/bin/bash\n"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder to import with one ordinary file, and beside it (outside) a secret file."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("an ordinary report on remittances")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text(SECRET)
    return folder


def stored_nothing(app, client) -> bool:
    """No document recorded, none searchable and no file kept in the store."""
    stored = [p for p in Path(app.config["UPLOAD_DIR"]).rglob("*")
              if p.is_file() and "tmp" not in p.relative_to(app.config["UPLOAD_DIR"]).parts]
    return client.get("/api/v1/search").json["total"] == 0 and not stored


def secret_found(client) -> bool:
    return client.get("/api/v1/search", query_string={"q": "zanzibarpassword"}).json["total"] > 0


@pytest.mark.parametrize("row", ["../outside/passwd", "sub/../../outside/passwd", "ABSOLUTE"])
def test_a_manifest_row_leading_out_of_the_folder_stops_the_import(app, runner, client, docs,
                                                                   row):
    target = str(docs.parent / "outside" / "passwd") if row == "ABSOLUTE" else row
    manifest = write_manifest(docs, "file,title", "a.txt,A", f"{target},Passwords")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "nothing was imported" in res.output
    assert f"line 3, column 'file': {target!r}: it leads outside {docs}" in res.output
    assert stored_nothing(app, client)


def test_a_manifest_row_naming_a_link_out_of_the_folder_stops_the_import(app, runner, client,
                                                                        docs):
    (docs / "notes.txt").symlink_to(docs.parent / "outside" / "passwd")
    (docs / "elsewhere").symlink_to(docs.parent / "outside")
    manifest = write_manifest(docs, "file,title", "a.txt,A", "notes.txt,Notes",
                              "elsewhere/passwd,Through a linked folder")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "line 3, column 'file': 'notes.txt': it leads outside" in res.output
    assert "line 4, column 'file': 'elsewhere/passwd': it leads outside" in res.output
    assert stored_nothing(app, client)


def test_links_that_stay_inside_the_folder_are_imported(app, runner, client, docs):
    (docs / "sub").mkdir()
    (docs / "sub" / "b.txt").write_text("a second report on diaspora bonds")
    (docs / "alias.txt").symlink_to(docs / "sub" / "b.txt")
    manifest = write_manifest(docs, "file,title", "alias.txt,Alias", "sub/../a.txt,A")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1] == "imported 2, skipped 0 as duplicates, failed 0"
    found = client.get("/api/v1/search", query_string={"q": "diaspora"}).json["results"]
    assert [r["title"] for r in found] == ["Alias"]


def test_folder_mode_reports_links_out_of_the_folder_and_does_not_import_them(
        app, runner, client, docs):
    outside = docs.parent / "outside"
    (outside / "more.txt").write_text("zanzibarpassword again, in a linked folder")
    (docs / "leak.txt").symlink_to(outside / "passwd")
    (docs / "linked").symlink_to(outside)
    (docs / "sub").mkdir()
    (docs / "sub" / "deep.txt").symlink_to("../../outside/passwd")
    (docs / "b.txt").write_text("a second report on diaspora bonds")
    (docs / "alias.txt").symlink_to(docs / "b.txt")  # inside: fine (a duplicate of b.txt)
    res = runner.invoke(args=["import", str(docs)])
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1, res.output
    for name in ("leak.txt", "linked", "sub/deep.txt"):
        assert f"failed: {name}: a symbolic link and it leads outside {docs}; not imported" \
            in lines
    assert lines[-1] == "imported 2, skipped 1 as duplicates, failed 3"
    assert not secret_found(client)
    assert client.get("/api/v1/search").json["total"] == 2


def test_kb_s_own_folders_cannot_be_imported(app, runner, client, tmp_path):
    (tmp_path / "a.txt").write_text("an ordinary report on remittances")
    instance = Path(app.config["INSTANCE_DIR"])
    (instance / "secret_key").write_text("zanzibarpassword")
    for folder, name in ((tmp_path, "instance"), (instance, "instance"),
                         (instance / "index", "instance"),
                         (Path(app.config["UPLOAD_DIR"]), "upload")):
        res = runner.invoke(args=["import", str(folder)])
        assert res.exit_code == 1, res.output
        assert f"inside kb's {name} folder" in res.output
        assert "nothing was imported" in res.output
    assert stored_nothing(app, client)


def test_a_manifest_row_naming_kb_s_secret_key_stops_the_import(app, runner, client, docs):
    instance = Path(app.config["INSTANCE_DIR"])
    (instance / "secret_key").write_text("zanzibarpassword")
    (docs / "key.txt").symlink_to(instance / "secret_key")
    manifest = write_manifest(docs, "file,title", "a.txt,A", "../instance/secret_key,Key",
                              "key.txt,Key")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert res.exit_code == 1
    assert "line 3, column 'file': '../instance/secret_key': it leads outside" in res.output
    assert "line 4, column 'file': 'key.txt': it leads outside" in res.output
    assert stored_nothing(app, client)


def test_a_hard_link_to_kb_s_own_file_is_not_imported(app, runner, client, docs):
    key = Path(app.config["INSTANCE_DIR"]) / "secret_key"
    key.write_text("zanzibarpassword")
    os.link(key, docs / "key.txt")
    res = runner.invoke(args=["import", str(docs)])
    assert "failed: key.txt: it is a hard link to one of kb's own files; not imported" \
        in res.output.splitlines()
    assert res.output.strip().splitlines()[-1] == "imported 1, skipped 0 as duplicates, failed 1"
    assert not secret_found(client)


def test_a_fifo_named_in_a_manifest_fails_without_hanging(app, runner, client, docs):
    os.mkfifo(docs / "pipe.txt")
    manifest = write_manifest(docs, "file,title", "a.txt,A", "pipe.txt,Pipe")
    res = runner.invoke(args=["import", str(docs), "--manifest", str(manifest)])
    assert "failed: pipe.txt: it is not a regular file; not imported" in res.output.splitlines()
    assert client.get("/api/v1/search").json["total"] == 1

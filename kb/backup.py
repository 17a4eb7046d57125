"""`kb backup` and `kb restore`: a consistent copy of a running repository, and a new
instance made from one.

A backup folder holds every stored file once, by its SHA-256 (``files/ab/cd/<sha>``, as in
the store), so a second backup into the same folder copies only the files that are new;
and one folder per backup under ``snapshots/`` with the database (SQLite's online backup
API, or ``pg_dump`` for PostgreSQL), the secret key and ``manifest.json``, which names every
file with its SHA-256 and size and is written last: a snapshot without it is incomplete and
never restored. The search index is not copied: `kb restore` rebuilds it from the database,
which is the source of truth, so that no copy of an index caught mid-commit can be restored.

PDFs' first-page thumbnails are copied too (``files/thumbs/``, small, and costly to draw
again for a whole repository), each named in the manifest with its own SHA-256; a
restored file whose thumbnail the backup lacks shows its type icon. Files sent ahead of
the upload form and never used (pending uploads) are not: they are a day's drafts, and
`kb restore` drops their records.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from kb import context
from kb.errors import KbError
from kb.extensions import db
from kb.storage import FileStore, sha256_of

FORMAT = 1
CHUNK = 1024 * 1024
Echo = Callable[[str], None]


class BackupError(KbError):
    """A backup that cannot be written, or one that must not be restored."""


@dataclass(frozen=True)
class BackupReport:
    snapshot: Path
    documents: int
    files: int
    new_files: int
    new_bytes: int
    database_bytes: int
    seconds: float

    def summary(self) -> str:
        return (f"backup {self.snapshot.name}: {self.documents:,} documents, "
                f"{self.files:,} stored files ({self.new_files:,} new, "
                f"{_mb(self.new_bytes)} copied), database {_mb(self.database_bytes)}, "
                f"in {self.seconds:.1f} s -> {self.snapshot}")


@dataclass(frozen=True)
class RestoreReport:
    snapshot: Path
    documents: int
    files: int
    indexed: int
    seconds: float

    def summary(self) -> str:
        return (f"restored {self.snapshot.name}: {self.documents:,} documents, "
                f"{self.files:,} stored files, {self.indexed:,} indexed, "
                f"in {self.seconds:.1f} s")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _is_postgres() -> bool:
    return make_url(current_app.config["DATABASE_URL"]).get_backend_name() == "postgresql"


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for pg_dump/pg_restore/psql, with the password in the
    environment (never on a command line that `ps` shows)."""
    parsed = make_url(url)
    args = ["--no-password"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return [*args, "--dbname", parsed.database or "postgres"], env


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise BackupError(f"{cmd[0]} is not installed; it is needed for PostgreSQL "
                          "databases (Debian: apt-get install postgresql-client).") from e
    if done.returncode != 0:
        raise BackupError(f"{cmd[0]} failed: {done.stderr.strip()[-2000:]}")


# ---------------------------------------------------------------------------- backup


def _dump_database(target_dir: Path) -> tuple[str, list[tuple[str, int]], int, list[str]]:
    """Write a consistent copy of the database into ``target_dir``; returns its file name,
    the (sha256, size) of every stored file that copy names, its document count, and the
    stored files it says have a thumbnail."""
    query = "SELECT sha256, size FROM stored_file ORDER BY sha256"
    count = "SELECT count(*) FROM document"
    thumbs = "SELECT sha256 FROM stored_file WHERE thumb_width IS NOT NULL ORDER BY sha256"
    if _is_postgres():
        url = current_app.config["DATABASE_URL"]
        name = "database.pgdump"
        with db.engine.connect() as conn:
            # One snapshot for the file list and pg_dump: what the dump holds is exactly
            # what the list names.
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            rows = [(str(s), int(n)) for s, n in conn.execute(text(query))]
            documents = int(conn.execute(text(count)).scalar_one())
            drawn = [str(s) for (s,) in conn.execute(text(thumbs))]
            args, env = _pg_args(url)
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", "--file", str(target_dir / name), *args], env)
            conn.rollback()
        return name, rows, documents, drawn
    database = make_url(current_app.config["DATABASE_URL"]).database
    if not database:
        raise BackupError("Only file databases can be backed up (SQLite in memory cannot).")
    name = "database.sqlite3"
    source = sqlite3.connect(database)
    target = sqlite3.connect(target_dir / name)
    try:
        with target:
            source.backup(target)  # SQLite's online backup: consistent while others write
        rows = [(str(s), int(n)) for s, n in target.execute(query)]
        documents = int(target.execute(count).fetchone()[0])
        drawn = [str(s) for (s,) in target.execute(thumbs)]
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        target.close()
        source.close()
    return name, rows, documents, drawn


def _copy_verified(source: Path, target: Path, sha256: str | None) -> str:
    """Copy ``source`` to ``target`` through a temporary file renamed into place, hashing
    the bytes on the way; refuse them when they differ from ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    tmp = Path(tmp_name)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        found = digest.hexdigest()
        if sha256 is not None and found != sha256:
            raise BackupError(f"{source} is damaged: its SHA-256 is {found}, not {sha256}.")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return found


def backup(dest: Path, echo: Echo) -> BackupReport:
    """Back the repository up into ``dest`` while it runs (see the module's docstring)."""
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    snapshots = dest / "snapshots"
    work = snapshots / f".{stamp}.incomplete"
    final = snapshots / stamp
    try:
        work.mkdir(parents=True)
        os.chmod(dest, 0o700)  # password hashes, token hashes and the secret key are inside
    except OSError as e:
        raise BackupError(f"Cannot write the backup into {dest}: {e}") from e
    try:
        echo("database: copying")
        db_name, rows, documents, drawn = _dump_database(work)
        database_bytes = (work / db_name).stat().st_size
        echo(f"database: {_mb(database_bytes)}, {documents:,} documents, "
             f"{len(rows):,} stored files")
        store = context.store()
        files = FileStore(dest / "files")
        new_files = new_bytes = 0
        for i, (sha256, size) in enumerate(rows, start=1):
            target = files.path_for(sha256)
            if not (target.is_file() and target.stat().st_size == size):
                source = store.path_for(sha256)
                if not source.is_file():
                    raise BackupError(f"The stored file {sha256} is missing from "
                                      f"{store.root}; run `kb doctor`.")
                _copy_verified(source, target, sha256)
                new_files += 1
                new_bytes += size
            if i % 500 == 0 or i == len(rows):
                echo(f"files: {i:,}/{len(rows):,} ({new_files:,} new)")
        thumbnails = _copy_thumbnails(store, files, drawn)
        secret = Path(current_app.config["INSTANCE_DIR"]) / "secret_key"
        secret_name = None
        if secret.is_file():
            secret_name = "secret_key"
            shutil.copyfile(secret, work / secret_name)
            os.chmod(work / secret_name, 0o600)
        manifest = {
            "format": FORMAT,
            "created_at": stamp,
            "database": {"kind": "postgresql" if _is_postgres() else "sqlite",
                         "file": db_name, "sha256": sha256_of(work / db_name),
                         "size": database_bytes},
            "secret_key": ({"file": secret_name, "sha256": sha256_of(work / secret_name)}
                           if secret_name else None),
            "documents": documents,
            "files": [{"sha256": s, "size": n} for s, n in rows],
            "thumbnails": thumbnails,
        }
        os.sync()  # every file on disk before the manifest says the snapshot is whole
        _write_json(work / "manifest.json", manifest)
        os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(final, documents, len(rows), new_files, new_bytes, database_bytes,
                        time.monotonic() - started)


def _copy_thumbnails(store: FileStore, files: FileStore, drawn: list[str]) -> list[dict[str, str]]:
    """Copy the thumbnails of ``drawn`` stored files that are there into the backup's
    files; returns them for the manifest (the stored file's SHA-256 and the PNG's)."""
    copied = []
    for sha256 in drawn:
        source = store.thumbnail_path(sha256)
        if not source.is_file():
            continue  # drawn again by a re-extraction; the restored file shows an icon
        target = files.thumbnail_path(sha256)
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            png = sha256_of(target)
        else:
            png = _copy_verified(source, target, None)
        copied.append({"sha256": sha256, "png_sha256": png})
    return copied


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- restore


def newest_snapshot(src: Path) -> Path:
    """The newest complete snapshot of a backup folder (or ``src`` itself when it is one)."""
    if (src / "manifest.json").is_file():
        return src
    complete = sorted(p for p in (src / "snapshots").glob("*")
                      if not p.name.startswith(".") and (p / "manifest.json").is_file())
    if not complete:
        raise BackupError(f"{src} holds no complete backup (no snapshots/*/manifest.json).")
    return complete[-1]


def _backup_files(snapshot: Path) -> FileStore:
    """The stored files of a backup folder (shared by its snapshots), laid out as kb's."""
    return FileStore(snapshot.parent.parent / "files")


def _read_manifest(snapshot: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BackupError(f"{snapshot / 'manifest.json'} cannot be read: {e}") from e
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{snapshot} was written in backup format "
                          f"{manifest.get('format')!r}; this kb reads format {FORMAT}.")
    return dict(manifest)


def _instance_is_empty() -> str | None:
    """Why this instance cannot be restored into (None when it can)."""
    tables = inspect(db.engine).get_table_names()
    if tables:
        return (f"the database {_masked_url()} already has tables ({', '.join(tables[:3])}"
                f"{', ...' if len(tables) > 3 else ''})")
    uploads = Path(current_app.config["UPLOAD_DIR"])
    if uploads.is_dir() and any(p.is_file() for p in _walk_files(uploads)):
        return f"the upload folder {uploads} is not empty"
    return None


def _walk_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            yield Path(dirpath) / name


def _masked_url() -> str:
    return make_url(current_app.config["DATABASE_URL"]).render_as_string(hide_password=True)


def verify(snapshot: Path, echo: Echo) -> dict[str, Any]:
    """Check every file a snapshot names against its SHA-256; returns the manifest."""
    manifest = _read_manifest(snapshot)
    database = manifest["database"]
    checks = [(snapshot / database["file"], database["sha256"])]
    if manifest.get("secret_key"):
        checks.append((snapshot / manifest["secret_key"]["file"],
                       manifest["secret_key"]["sha256"]))
    files = _backup_files(snapshot)
    checks += [(files.path_for(f["sha256"]), f["sha256"]) for f in manifest["files"]]
    checks += [(files.thumbnail_path(t["sha256"]), t["png_sha256"])
               for t in manifest.get("thumbnails", [])]
    for i, (path, sha256) in enumerate(checks, start=1):
        if not path.is_file():
            raise BackupError(f"The backup is damaged: {path} is missing; nothing restored.")
        if sha256_of(path) != sha256:
            raise BackupError(f"The backup is damaged: {path} does not have the SHA-256 the "
                              "manifest records; nothing restored.")
        if i % 500 == 0 or i == len(checks):
            echo(f"verified: {i:,}/{len(checks):,} files")
    return manifest


def restore(src: Path, echo: Echo) -> RestoreReport:
    """Make this (empty) instance a copy of the backup in ``src``, searchable on return."""
    from kb import migrate, search
    from kb.services import processing

    started = time.monotonic()
    snapshot = newest_snapshot(src)
    why = _instance_is_empty()
    if why is not None:
        raise BackupError(f"kb restore needs a new instance, but {why}. Point "
                          "KB_INSTANCE_DIR, KB_UPLOAD_DIR and KB_DATABASE_URL at empty ones.")
    echo(f"restoring {snapshot}")
    manifest = verify(snapshot, echo)  # before anything is written: refuse a damaged backup
    database = manifest["database"]
    kind = "postgresql" if _is_postgres() else "sqlite"
    if database["kind"] != kind:
        raise BackupError(f"The backup holds a {database['kind']} database; this instance "
                          f"is configured for {kind} ({_masked_url()}).")
    instance = Path(current_app.config["INSTANCE_DIR"])
    instance.mkdir(parents=True, exist_ok=True)
    _restore_database(snapshot / database["file"])
    echo(f"database: restored ({_mb(database['size'])})")
    if manifest.get("secret_key"):
        secret = instance / "secret_key"
        tmp = secret.with_name("secret_key.tmp")
        shutil.copyfile(snapshot / manifest["secret_key"]["file"], tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, secret)
        current_app.config["SECRET_KEY"] = secret.read_text(encoding="ascii").strip()
    store = context.store()
    files = _backup_files(snapshot)
    total = len(manifest["files"])
    for i, entry in enumerate(manifest["files"], start=1):
        sha256 = entry["sha256"]
        _copy_verified(files.path_for(sha256), store.path_for(sha256), sha256)
        if i % 500 == 0 or i == total:
            echo(f"files: {i:,}/{total:,}")
    thumbnails = manifest.get("thumbnails", [])
    for entry in thumbnails:
        sha256 = entry["sha256"]
        _copy_verified(files.thumbnail_path(sha256), store.thumbnail_path(sha256),
                       entry["png_sha256"])
    migrate.upgrade()  # a backup made by an older kb
    _forget_what_was_not_copied({t["sha256"] for t in thumbnails})
    index_dir = context.index_dir()
    search.create(index_dir, fresh=True)
    echo("index: rebuilding")
    indexed = processing.rebuild_index()
    return RestoreReport(snapshot, int(manifest["documents"]), total, indexed,
                         time.monotonic() - started)


def _forget_what_was_not_copied(thumbnails: set[str]) -> None:
    """The restored records name no thumbnail and no pending upload the backup lacks."""
    from sqlalchemy import delete, select, update

    from kb.models import PendingUpload, StoredFile

    drawn = set(db.session.scalars(select(StoredFile.sha256).where(
        StoredFile.thumb_width.is_not(None))))
    missing = sorted(drawn - thumbnails)
    for start in range(0, len(missing), 500):
        db.session.execute(update(StoredFile)
                           .where(StoredFile.sha256.in_(missing[start:start + 500]))
                           .values(thumb_width=None, thumb_height=None))
    db.session.execute(delete(PendingUpload))
    db.session.commit()


def _restore_database(dump: Path) -> None:
    if _is_postgres():
        args, env = _pg_args(current_app.config["DATABASE_URL"])
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", *args,
              str(dump)], env)
        return
    database = make_url(current_app.config["DATABASE_URL"]).database
    assert database
    db.engine.dispose()
    source = sqlite3.connect(dump)
    target = sqlite3.connect(database)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()
    db.engine.dispose()

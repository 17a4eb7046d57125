"""The file store: the only code that touches the upload folder.

Blobs are addressed by their SHA-256, written to a temporary file while being hashed and
renamed into place, so a crash never leaves a half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask_babel import gettext as _

from kb.errors import (
    FileDamaged,
    StorageError,
    StorageFull,
    TooLarge,
    ValidationError,
    disk_full,
)

CHUNK = 1024 * 1024
# Staged uploads are named so in <root>/tmp.
PARTIAL_PREFIX = "upload-"
# What a pending upload's public id is made of (secrets.token_urlsafe).
_PUBLIC_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
@dataclass(frozen=True)
class StagedFile:
    """An upload written to a temporary file and hashed, not yet kept."""

    path: Path
    sha256: str
    size: int
    head: bytes  # the first bytes, for sniffing the type


class FileStore:
    """Content-addressed local storage under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _tmp_dir(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def path_for(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise StorageError("invalid blob address")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def stage(self, stream: IO[bytes], max_bytes: int) -> StagedFile:
        """Copy a stream to a temporary file, hashing it; refuse it past ``max_bytes``.

        Whatever goes wrong, no partial file is left behind.
        """
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix=PARTIAL_PREFIX)
        except OSError as e:
            raise _write_error(e, _("The file store cannot take files right now")) from e
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(_("The file is larger than the limit of %(limit)s MB.",
                                         limit=max_bytes // (1024 * 1024)))
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:
            path.unlink(missing_ok=True)
            raise _write_error(e, _("The file could not be written")) from e
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            empty = _("The file is empty.")
            raise ValidationError(empty, fields={"file": empty})
        return StagedFile(path=path, sha256=digest.hexdigest(), size=size, head=head)

    def keep(self, staged: StagedFile) -> Path:
        """Move a staged file to its content address (atomic rename); on failure the staged
        file is discarded."""
        return self._move(staged, self.path_for(staged.sha256))

    def _move(self, staged: StagedFile, target: Path) -> Path:
        """Rename a staged file to ``target``; on failure the staged file is discarded."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, target)
        except OSError as e:
            self.discard(staged)
            raise _write_error(e, _("The file could not be stored")) from e
        return target

    def discard(self, staged: StagedFile) -> None:
        """Forget a staged file that will not be kept."""
        staged.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> IO[bytes]:
        """Open a stored blob for reading."""
        try:
            return self.path_for(sha256).open("rb")
        except OSError as e:
            raise StorageError(_("The stored file is missing or unreadable: %(reason)s",
                                 reason=e.strerror or e)) from e

    def local_path(self, sha256: str) -> Path:
        """A real local path to the blob, for tools that need one (extractors, send_file)."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise StorageError(_("The stored file is missing."))
        return path

    def checked_path(self, sha256: str, size: int) -> Path:
        """The blob's path once its size is the recorded one (a stat, no reading); else
        FileDamaged saying what is wrong."""
        path = self.path_for(sha256)
        try:
            found = path.stat().st_size
        except FileNotFoundError as e:
            raise FileDamaged(_("The stored file is missing from the file store. An "
                                "administrator should run `kb doctor`, which lists the "
                                "damaged files.")) from e
        except OSError as e:
            raise StorageError(_("The stored file cannot be read (%(reason)s). An "
                                 "administrator should run `kb doctor`, which lists the "
                                 "damaged files.", reason=e.strerror or e)) from e
        if found != size:
            raise FileDamaged(_("The stored file is damaged: it has %(found)s bytes where "
                                "%(size)s were stored. An administrator should run `kb "
                                "doctor`, which lists the damaged files.",
                                found=f"{found:,}", size=f"{size:,}"))
        return path

    def digest(self, sha256: str) -> str:
        """The SHA-256 of the blob's bytes as they are on disk now (reads the whole file)."""
        return sha256_of(self.path_for(sha256))

    def blobs(self) -> Iterator[tuple[str, Path]]:
        """Every stored blob, as (hash, path); partial uploads and quarantine left out."""
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for second in sorted(first.glob("[0-9a-f][0-9a-f]")):
                for path in sorted(second.iterdir()):
                    name = path.name
                    if len(name) == 64 and name[:4] == first.name + second.name \
                            and path.is_file():
                        yield path.name, path

    def partial_uploads(self) -> list[Path]:
        """Files in the staging folder: uploads under way, or cut off and left behind."""
        tmp = self.root / "tmp"
        return sorted(p for p in tmp.iterdir() if p.is_file()) if tmp.is_dir() else []

    # Files sent ahead of the upload form (kb.services.pending): each under its pending
    # upload's random public id, until its form claims it or the sweep deletes it.
    @property
    def pending_dir(self) -> Path:
        """Where files sent ahead of the upload form wait for their form."""
        return self.root / "pending"

    def _pending_path(self, public_id: str) -> Path:
        if not public_id or any(c not in _PUBLIC_ID_CHARS for c in public_id):
            raise StorageError("invalid pending upload id")
        return self.pending_dir / public_id

    def park(self, staged: StagedFile, public_id: str) -> Path:
        """Keep a staged file as a pending upload (atomic rename); on failure it is
        discarded."""
        return self._move(staged, self._pending_path(public_id))

    def parked(self, public_id: str) -> Path | None:
        """The file of a pending upload, or None when it is gone."""
        path = self._pending_path(public_id)
        return path if path.is_file() else None

    def keep_parked(self, public_id: str, sha256: str) -> Path:
        """Store a pending upload's file at its content address; the pending file stays
        (a second link) until ``unpark``, so that a failure to record it loses nothing."""
        source = self._pending_path(public_id)
        target = self.path_for(sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix=PARTIAL_PREFIX)
            os.close(fd)
            link = Path(name)
            link.unlink()
            try:
                try:
                    os.link(source, link)
                except FileNotFoundError:
                    raise
                except OSError:  # a file system without hard links: a copy, then
                    shutil.copyfile(source, link)
                os.replace(link, target)
            finally:
                link.unlink(missing_ok=True)
        except FileNotFoundError as e:
            raise StorageError(_("The file sent ahead of the form is no longer on the "
                                 "server; choose it again.")) from e
        except OSError as e:
            raise _write_error(e, _("The file could not be stored")) from e
        return target

    def unpark(self, public_id: str) -> None:
        """Delete a pending upload's file (claimed, or never claimed in time)."""
        self._pending_path(public_id).unlink(missing_ok=True)

    def pending_files(self) -> list[Path]:
        """The files of pending uploads."""
        d = self.pending_dir
        return sorted(p for p in d.iterdir() if p.is_file()) if d.is_dir() else []

    # First-page thumbnails (PNG), derived from a stored file and keyed by its SHA-256.
    def thumbnail_path(self, sha256: str) -> Path:
        """Where the thumbnail of the blob with this hash lives (whether or not it exists)."""
        self.path_for(sha256)  # checks the address
        return self.root / "thumbs" / sha256[:2] / f"{sha256}.png"

    def keep_thumbnail(self, sha256: str, png: bytes) -> Path:
        """Write a blob's thumbnail through a temporary file renamed into place."""
        target = self.thumbnail_path(sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(png)
                os.replace(name, target)
            except BaseException:
                Path(name).unlink(missing_ok=True)
                raise
        except OSError as e:
            raise _write_error(e, _("The thumbnail could not be stored")) from e
        return target

    def thumbnails(self) -> Iterator[tuple[str, Path]]:
        """Every stored thumbnail, as (the blob's hash, path)."""
        root = self.root / "thumbs"
        if not root.is_dir():
            return
        for folder in sorted(root.iterdir()):
            if folder.is_dir():
                for path in sorted(folder.glob("*.png")):
                    if len(path.stem) == 64 and path.is_file():
                        yield path.stem, path

    def delete(self, sha256: str) -> bool:
        """Delete a blob and its thumbnail for good (a purge, once no record names it);
        returns whether the blob was there."""
        self.thumbnail_path(sha256).unlink(missing_ok=True)
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StorageError(f"The stored file could not be deleted: {e.strerror or e}.") \
                from e
        return True

    @property
    def quarantine_dir(self) -> Path:
        """Where stored files no record names are moved (never deleted)."""
        return self.root / "quarantine"

    def quarantined(self) -> list[Path]:
        """The files in quarantine."""
        q = self.quarantine_dir
        return sorted(p for p in q.iterdir() if p.is_file()) if q.is_dir() else []

    def quarantine(self, sha256: str) -> Path:
        """Move a blob out of the store into the quarantine folder, under its hash."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        target = self.quarantine_dir / sha256
        os.replace(self.path_for(sha256), target)
        return target


def older_than(path: Path, seconds: float, now: float) -> bool:
    """Whether the file was last written more than ``seconds`` before ``now``."""
    return now - path.stat().st_mtime > seconds


def _write_error(e: OSError, what: str) -> StorageError:
    if disk_full(e):
        return StorageFull(_("There is no space left on the server to store this file, so "
                             "nothing was kept. Try again later; an administrator must free "
                             "disk space in the upload folder."))
    return StorageError(_("%(what)s: %(reason)s.", what=what, reason=e.strerror or e))


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes as they are on disk now (reads the whole file)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()

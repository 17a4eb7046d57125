"""The file store: the only code that touches the upload folder.

Blobs are addressed by their SHA-256, written to a temporary file while being hashed and
renamed into place, so a crash never leaves a half-written blob under a real name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from kb.errors import StorageError, TooLarge, ValidationError

CHUNK = 1024 * 1024


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
        """Copy a stream to a temporary file, hashing it; refuse it past ``max_bytes``."""
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            fd, name = tempfile.mkstemp(dir=self._tmp_dir(), prefix="upload-")
        except OSError as e:
            raise StorageError(f"The file store cannot take files right now: {e}") from e
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(
                            f"The file is larger than the limit of {max_bytes // (1024 * 1024)} MB."
                        )
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if size == 0:
            path.unlink(missing_ok=True)
            raise ValidationError("The file is empty.", fields={"file": "The file is empty."})
        return StagedFile(path=path, sha256=digest.hexdigest(), size=size, head=head)

    def keep(self, staged: StagedFile) -> Path:
        """Move a staged file to its content address (atomic rename)."""
        target = self.path_for(staged.sha256)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, target)
        except OSError as e:
            raise StorageError(f"The file could not be stored: {e}") from e
        return target

    def discard(self, staged: StagedFile) -> None:
        """Forget a staged file that will not be kept."""
        staged.path.unlink(missing_ok=True)

    def open(self, sha256: str) -> IO[bytes]:
        """Open a stored blob for reading."""
        try:
            return self.path_for(sha256).open("rb")
        except OSError as e:
            raise StorageError(f"The stored file is missing or unreadable: {e}") from e

    def local_path(self, sha256: str) -> Path:
        """A real local path to the blob, for tools that need one (extractors, send_file)."""
        path = self.path_for(sha256)
        if not path.is_file():
            raise StorageError("The stored file is missing.")
        return path

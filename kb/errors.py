"""Domain exceptions: each carries a message a person can act on.

Translation rule: a message is translated when the exception is raised, in the language
of the request being answered (``flask_babel.gettext``; outside a request, e.g. in the
CLI or the worker, it stays English). A message kept in a module-level constant is a
``lazy_gettext`` string, and ``KbError`` makes it a plain ``str`` at raise time, so the
message of every exception is fixed text, whatever reads it later. ``error_code`` and
field names are for programs: never translated.
"""

from __future__ import annotations

import errno
import sqlite3

# What "no space left" looks like: an OS error (no space, or the quota), or a database
# that refused a write for it (SQLite's SQLITE_FULL, PostgreSQL's disk_full class 53100).
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` means a disk (of the files, the index or the database) is full."""
    if isinstance(error, OSError):
        return error.errno in _FULL_ERRNOS
    orig = getattr(error, "orig", None)  # a SQLAlchemy DBAPIError's driver exception
    return (getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(orig, "pgcode", None) == "53100")


class KbError(Exception):
    """Base of every error kb raises on purpose; ``str(e)`` is shown to users."""

    status_code = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        message = str(message)  # a lazy_gettext constant: translated now (see above)
        super().__init__(message)
        self.message = message
        self.fields = {name: str(text) for name, text in (fields or {}).items()}


class ValidationError(KbError):
    """Input that does not fit: names the fields and what is wrong with each."""


class DuplicateError(KbError):
    """The same bytes are already stored, in document ``doc_id`` (for kb's own use, e.g. a
    resumed import); ``shown_id`` is that id only when the uploader may see the document
    (or, ``in_trash``, may restore it from the trash), else None: answers name no document
    the uploader may not know exists."""

    status_code = 409

    def __init__(self, message: str, doc_id: int, *, visible: bool = False,
                 in_trash: bool = False) -> None:
        super().__init__(message)
        self.doc_id = doc_id
        self.shown_id = doc_id if visible or in_trash else None
        # Shown only to those who manage the trash: the document is there, to restore.
        self.in_trash = in_trash


class NotFound(KbError):
    """The thing does not exist, or the user may not know that it does."""

    status_code = 404


class Gone(KbError):
    """The document was purged from the trash; its tombstone answers for it."""

    status_code = 410


class Forbidden(KbError):
    """The user knows the thing exists but may not do this to it."""

    status_code = 403


class Unauthorized(KbError):
    """The action needs a signed-in user or an API token."""

    status_code = 401


class PreconditionFailed(KbError):
    """The request's ``If-Match`` names a state of the thing that is no longer its state."""

    status_code = 412


class TooLarge(KbError):
    """The upload exceeds the configured size limit."""

    status_code = 413


class QueryError(KbError):
    """A search query or parameter that cannot be understood."""


class SearchTimeout(KbError):
    """A search stopped at the configured time limit (SEARCH_TIME_LIMIT)."""

    status_code = 503


class StorageError(KbError):
    """The file store could not keep or return a file."""

    status_code = 500


class StorageFull(StorageError):
    """A disk kb writes to has no space (or no quota) left."""

    status_code = 507


class FileDamaged(StorageError):
    """A stored file is missing or differs from its record (``kb doctor`` lists them)."""


class IndexBusy(KbError):
    """The search index stayed locked by another writer past the timeout."""

    status_code = 503


class IndexUnavailable(KbError):
    """The search index is missing, damaged or of another version: `kb reindex` rebuilds it."""

    status_code = 503


class ExtractionError(KbError):
    """A stored file whose text could not be read; ``code`` names the kind of failure."""

    def __init__(self, message: str, code: str = "corrupt") -> None:
        super().__init__(message)
        self.code = code


class UnsupportedType(KbError):
    """The file's bytes are of no type kb can read."""

    status_code = 415


class MailError(KbError):
    """An email could not be sent; ``permanent`` when trying again cannot help (the server
    refused it for good, or the settings are wrong)."""

    status_code = 502

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class OaiError(KbError):
    """An OAI-PMH protocol error: ``code`` is the protocol's (badArgument, noRecordsMatch,
    ...); /oai answers it as an <error> element with status 200, as the protocol says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

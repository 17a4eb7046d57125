"""Opening the index, the one writer context manager, and reusable searchers."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flask_babel import gettext as _
from whoosh import index as whoosh_index
from whoosh.codec.base import Segment as WhooshSegment
from whoosh.index import EmptyIndexError, FileIndex, LockError
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, IndexWriter

from kb.errors import IndexBusy, IndexUnavailable
from kb.search.types import IndexedEntry
from kb.search.whoosh import flat, internals
from kb.search.whoosh.ranking import Ranking
from kb.search.whoosh.schema import (
    FLAT_PREFIXES,
    SCHEMA_VERSION,
    IndexRecord,
    build_schema,
    to_fields,
)

VERSION_FILE = "kb-schema-version"

log = logging.getLogger(__name__)

# Segments' files are read from Whoosh's memory map in place (kb.search.whoosh.internals).
internals.read_compound_files_in_place()
def create(index_dir: Path, *, fresh: bool = False) -> None:
    """Create an empty index (or keep the existing one unless ``fresh``, outdated or
    unreadable)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    version_file = index_dir / VERSION_FILE
    if not fresh and not needs_rebuild(index_dir):
        return
    whoosh_index.create_in(str(index_dir), build_schema())
    version_file.write_text(str(SCHEMA_VERSION))


def needs_rebuild(index_dir: Path) -> bool:
    """True when the index is missing, unreadable or built with another schema version."""
    return problem(index_dir) is not None


def problem(index_dir: Path) -> str | None:
    """What is wrong with the index, saying what to run; None when it opens."""
    try:
        open_index(index_dir, quiet=True)
    except IndexUnavailable as e:
        return e.message
    return None


def _schema_version(index_dir: Path) -> str | None:
    try:
        return (index_dir / VERSION_FILE).read_text().strip()
    except FileNotFoundError:
        return None


def open_index(index_dir: Path, *, quiet: bool = False) -> FileIndex:
    """Open the index, retrying while a concurrent commit swaps its table of contents.

    A missing, unreadable or outdated index raises IndexUnavailable, which says to run
    `kb reindex`; the cause goes to the log unless ``quiet`` (it names server paths).
    """
    say = log.debug if quiet else log.error
    attempts = 20
    for attempt in range(attempts):
        try:
            ix = whoosh_index.open_dir(str(index_dir))
        except FileNotFoundError as e:
            if attempt == attempts - 1:
                raise _unreadable(index_dir, e, say) from e
            # A commit deleted the TOC we listed; the next listing finds the new one.
            time.sleep(0.01 * (attempt + 1))
        except EmptyIndexError as e:
            say("search index: none in %s", index_dir)
            raise IndexUnavailable(_(
                "The search index is missing. An administrator should run `kb reindex` "
                "(or `kb init`) to rebuild it from the database; uploads are still "
                "stored, and processed once it is back.")) from e
        except Exception as e:  # Whoosh reading a damaged file raises anything (pickle...)
            raise _unreadable(index_dir, e, say) from e
        else:
            version = _schema_version(index_dir)
            if version != str(SCHEMA_VERSION):
                say("search index: %s has schema version %s, this kb needs %s",
                    index_dir, version, SCHEMA_VERSION)
                raise IndexUnavailable(_(
                    "The search index was built by another version of kb. An administrator "
                    "should run `kb reindex` to rebuild it; uploads are still stored, and "
                    "processed once it is back."))
            return ix
    raise AssertionError("unreachable")


def segment_count(index_dir: Path) -> int:
    """How many segments the index has now (read from its table of contents); raises
    IndexUnavailable like ``open_index``."""
    # Whoosh has no public call for it (kb.search.whoosh.internals).
    return len(internals.segments(open_index(index_dir, quiet=True)))


def _unreadable(index_dir: Path, e: Exception,
                say: Callable[..., None]) -> IndexUnavailable:
    internals.close_toc_streams(e)
    say("search index: %s cannot be read: %s: %s", index_dir, type(e).__name__, e)
    return IndexUnavailable(_(
        "The search index is damaged and cannot be read. An administrator should run "
        "`kb reindex` to rebuild it from the database; uploads are still stored, and "
        "processed once it is back."))


def _codec() -> flat.Codec:
    """Whoosh's codec, writing the body fields' postings as flat arrays too (kb.search.whoosh.flat),
    and without per-block field length statistics: Whoosh reads a length back from disk
    for every posting it writes (13% of indexing time) only to bound scores for its
    block-skipping optimisation, which kb does not use (exact totals and facets need
    every match; see kb.search.whoosh.arrays and query._collect)."""
    codec = flat.Codec(FLAT_PREFIXES)
    codec.length_stats = False
    return codec


# Whoosh merges segments by passing every posting through Python again: about as slow as
# indexing the documents anew (1,555 speeches in one segment: 58 s). Its default policy
# (MERGE_SMALL) sooner or later merges most of a large index in one commit: seen importing
# 15,000 documents, a commit merging 8,500 of them held the write lock for minutes. kb
# merges small segments only, ten of a size at a time (sizes 1-9 and 10-99 documents):
# the one-document segments of uploads are gathered, and a merge never takes more than
# about 1,000 documents. Larger segments (import batches) stay as they are; the numpy
# search path (kb.search.whoosh.arrays) keeps the cost of many segments low, and `kb reindex`
# rebuilds the index as one.
MERGE_FACTOR = 10
MERGE_TIERS = (1, 10, 100)


def merge_small_tiers(writer: IndexWriter, segments: list[WhooshSegment]) -> list[WhooshSegment]:
    """A Whoosh merge policy: merges MERGE_FACTOR or more segments of one small tier, and
    drops segments whose every document was deleted or replaced."""
    keep = [s for s in segments if s.doc_count() > 0]
    for low, high in zip(MERGE_TIERS, MERGE_TIERS[1:], strict=False):
        tier = [s for s in keep if low <= s.doc_count_all() < high]
        if len(tier) >= MERGE_FACTOR:
            for segment in tier:
                reader = SegmentReader(writer.storage, writer.schema, segment)
                writer.add_reader(reader)
                reader.close()
            keep = [s for s in keep if s not in tier]
    return keep


@contextmanager
def writer(index_dir: Path, timeout: float, *, clear: bool = False) -> Iterator[IndexWriter]:
    """The only way to write: commit on success, cancel and re-raise on failure.

    With ``clear`` the commit replaces everything the index held before.
    """
    ix = open_index(index_dir)
    try:
        w = ix.writer(timeout=timeout, delay=0.05, codec=_codec())
    except LockError as e:
        raise IndexBusy(_(
            "The search index is busy with another update; the work will be retried.")) from e
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    else:
        try:
            w.commit(mergetype=CLEAR if clear else merge_small_tiers)
        except BaseException:
            _abandon(w)
            raise


def _abandon(w: IndexWriter) -> None:
    """After a failed commit (e.g. a full disk): close its files, release the lock (which
    Whoosh keeps otherwise) and remove the segment it was writing (which would hold the
    space that the next attempt needs), so that the write can succeed once it can."""
    try:
        w.cancel()
    except Exception:
        lock = getattr(w, "writelock", None)
        if lock is not None:
            lock.release()
    segment = getattr(w, "newsegment", None)
    if segment is None:
        return
    prefix = segment.segment_id()
    for name in list(w.storage.list()):
        if name.startswith(prefix):
            with contextlib.suppress(OSError):
                w.storage.delete_file(name)


def write_records(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Add or replace documents in one commit; returns how many were written."""
    n = 0
    with writer(index_dir, timeout) as w:
        for rec in records:
            w.update_document(**to_fields(rec))
            n += 1
    return n


def rewrite_records(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Write documents in one commit, each once, whatever the index held of them: every
    entry of their ids is deleted first (Whoosh's update_document replaces only the
    first, so a document in the index twice stays twice). Returns how many were written."""
    unique = {rec.doc_id: rec for rec in records}
    with writer(index_dir, timeout) as w:
        for doc_id in unique:
            w.delete_by_term("doc_id", doc_id)
        for rec in unique.values():
            w.add_document(**to_fields(rec))
    return len(unique)


def delete_documents(index_dir: Path, doc_ids: Iterable[int], timeout: float) -> None:
    """Remove documents from the index in one commit."""
    with writer(index_dir, timeout) as w:
        for doc_id in doc_ids:
            w.delete_by_term("doc_id", doc_id)


def indexed_entries(index_dir: Path) -> list[IndexedEntry]:
    """Every live entry of the index, in index order; a document written twice is listed
    twice. Raises IndexUnavailable when the index cannot be opened."""
    ix = open_index(index_dir)
    with ix.reader() as reader:
        return [IndexedEntry(int(stored["doc_id"]), str(stored.get("updated_at") or ""),
                             str(stored.get("meta_digest") or ""))
                for stored in reader.all_stored_fields()]


class SearcherCache:
    """One searcher per thread and index folder, refreshed only when the index changed."""

    def __init__(self) -> None:
        self._local = threading.local()

    def get(self, index_dir: Path) -> Searcher:
        cache: dict[str, Searcher] = self._local.__dict__.setdefault("searchers", {})
        key = str(index_dir)
        searcher = cache.get(key)
        if searcher is not None:
            try:
                if searcher.up_to_date():
                    return searcher
            except FileNotFoundError:
                pass
            # A fresh searcher rather than refresh(): Whoosh's reader reuse kept segments of
            # an index rebuilt in place (seen after `kb reindex`), doubling documents.
            old = _segment_ids(searcher)
            searcher.close()
        else:
            old = set()
        searcher = open_index(index_dir).searcher(weighting=Ranking())
        cache[key] = searcher
        if old:
            # Segments merged away or replaced: their files are deleted, and the flat
            # arrays' memory maps of them let go (or the disk space stays taken).
            flat.forget(old - _segment_ids(searcher))
        return searcher


def _segment_ids(searcher: Searcher) -> set[str]:
    return {r.segment().segment_id() for r, _ in searcher.reader().leaf_readers()
            if r.segment() is not None}


searchers = SearcherCache()


def rebuild(index_dir: Path, records: Iterable[IndexRecord], timeout: float) -> int:
    """Replace the index's content with ``records`` in one commit (searches go on meanwhile)."""
    if needs_rebuild(index_dir):
        create(index_dir, fresh=True)
    n = 0
    with writer(index_dir, timeout, clear=True) as w:
        for rec in records:
            w.add_document(**to_fields(rec))
            n += 1
    return n

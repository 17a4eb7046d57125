"""Every use kb makes of a private part of Whoosh, in one place, each saying what it relies on.

Whoosh has no public way to do these things fast enough (or at all); a change upstream in
any of them would not raise but give wrong postings, lengths or matches. So Whoosh is
pinned (``whoosh-reloaded==2.7.5`` in pyproject.toml) and tests/test_whoosh_pinned.py
fails, naming the part, when the installed Whoosh is another version or any name below
lost the shape relied on. Nothing else in kb touches a Whoosh name with a leading
underscore (the same test reads kb/search/whoosh/ to check it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3FieldWriter, W3PostingsWriter, _lenfield
from whoosh.collectors import FilterCollector
from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile
from whoosh.index import FileIndex
from whoosh.query import Wildcard

# The version whose sources every entry below was read in.
PINNED = "2.7.5"


# --- reading -------------------------------------------------------------------------------

def length_column(reader: Any, fieldname: str) -> Iterable[int] | None:
    """One segment's field lengths, one byte a document (whoosh.util.numeric.length_to_byte),
    or None for a reader that is not a whoosh3 segment.

    Relies on: ``SegmentReader._perdoc`` (the segment's W3PerDocReader),
    ``W3PerDocReader._cached_reader(name, column)`` and ``_lenfield(fieldname)`` (the name
    of the length column, ``"_%s_L"``), read as ``LENGTHS_COLUMN``. Public
    ``doc_field_length`` gives the same values one call per document (100 times slower).
    """
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is None:
        return None
    column: Iterable[int] | None = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    return column


def has_blocks(matcher: Any) -> bool:
    """True for a whoosh3 block matcher (W3LeafMatcher), which ``blocks`` can read."""
    return hasattr(matcher, "_next_block") and hasattr(matcher, "_read_data")


def blocks(matcher: Any) -> Iterable[tuple[Any, Any]]:
    """A leaf matcher's postings a block at a time: (document number deltas, the first one
    absolute; weights as None for all 1.0, one float for all, or one each).

    Relies on: ``W3LeafMatcher._data`` (None until ``_read_data()`` decodes the current
    block into (ids, weights, values)), ``_read_data()`` and ``_next_block()`` (moves on,
    inactive after the last block). Public ``id()``/``weight()``/``next()`` go one posting
    at a time (kb.search.whoosh.arrays falls back to them for other matchers).
    """
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        yield matcher._data[0], matcher._data[1]
        matcher._next_block()


def wildcard_parts(leaf: Wildcard) -> tuple[str, str]:
    """A Wildcard query's regular expression and the literal prefix before its first
    wildcard character.

    Relies on: ``Wildcard._get_pattern()`` (fnmatch-style pattern to a regex) and
    ``Wildcard._find_prefix(text)``: what Whoosh's own Wildcard matching uses, so that
    kb's bounded expansion matches the same words.
    """
    return leaf._get_pattern(), leaf._find_prefix(leaf.text)


def allowed(collector: FilterCollector) -> set[int] | None:
    """The global document numbers a FilterCollector lets through (None: all).

    Relies on: ``FilterCollector._allow``, set by ``prepare()`` from ``allow=`` (a set of
    global document numbers, None when ``allow`` is empty).
    """
    allow: set[int] | None = collector._allow
    return allow


def segments(ix: FileIndex) -> list[Any]:
    """The index's segments as its table of contents lists them (no reader opened).

    Relies on: ``FileIndex._segments()`` (reads the TOC only).
    """
    return list(ix._segments())


def compound_buffer(storage: Any, name: str) -> tuple[Any, int] | None:
    """For a file inside a compound segment: Whoosh's own memory map of the segment and
    the file's offset in it; None when the segment is not compound or has no such file.

    Relies on: a compound segment's reader storage being an overlay whose ``a`` is the
    CompoundStorage, ``CompoundStorage._source`` (the mmap, kept open while views of it
    exist) and ``CompoundStorage.range(name)`` ((offset, length)).
    """
    compound: Any = getattr(storage, "a", None)
    source = getattr(compound, "_source", None)
    if source is None or not compound.file_exists(name):
        return None
    return source, compound.range(name)[0]


def close_toc_streams(e: BaseException) -> None:
    """Close the file Whoosh's TOC reading leaves open when a damaged TOC makes it raise
    (no try/finally there): a file descriptor per failed open otherwise, until collected.

    Relies on: ``whoosh.index.TOC.read`` holding the open file in a local named ``stream``.
    """
    tb = e.__traceback__
    while tb is not None:
        stream = tb.tb_frame.f_locals.get("stream")
        if stream is not None and hasattr(stream, "close"):
            stream.close()
        tb = tb.tb_next


# --- memory --------------------------------------------------------------------------------

class _ViewFile:
    """A read-only file over a buffer (a view of Whoosh's memory map): each read copies
    only the bytes it returns."""

    def __init__(self, buf: Any) -> None:
        self._view = memoryview(buf).cast("B")
        self._pos = 0
        self.closed = False

    def read(self, size: int | None = -1) -> bytes:
        start, n = self._pos, len(self._view)
        if start >= n:
            return b""
        end = n if size is None or size < 0 else min(n, start + size)
        self._pos = end
        return self._view[start:end].tobytes()

    def readinto(self, b: Any) -> int:
        out = memoryview(b).cast("B")
        data = self.read(len(out))
        out[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        start, n = self._pos, len(self._view)
        limit = n if size is None or size < 0 else min(n, start + size)
        end, at, chunk = limit, start, 256
        while at < limit:
            upto = min(limit, at + chunk)
            found = self._view[at:upto].tobytes().find(b"\n")
            if found >= 0:
                end = at + found + 1
                break
            at, chunk = upto, chunk * 2
        return self.read(end - start) if end > start else b""

    def __iter__(self) -> Any:
        while line := self.readline():
            yield line

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._view.release()  # lets Whoosh close its memory map when nothing else holds it


class _InPlaceBufferFile(BufferFile):
    """Whoosh's BufferFile, its reads served from the buffer in place: the stock one copies
    the whole file into a BytesIO first (a segment's 200 MB postings file per searcher, so
    per thread and per commit: seconds and gigabytes at 50,000 documents)."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewFile(buf)


def read_compound_files_in_place() -> None:
    """Have the files of compound segments read from Whoosh's memory map in place (every
    searcher of every thread and process then shares the operating system's pages of
    the segment instead of holding copies).

    Relies on: ``CompoundStorage.open_file`` building ``BufferFile(buf, name=name)`` (the
    name looked up in ``whoosh.filedb.compound``'s globals) on a memoryview of its mmap;
    ``BufferFile`` keeping that view in ``_buf`` (read by its ``get``) and reading through
    ``self.file`` (StructFile's read, seek, tell, and pickle's read and readline).
    """
    compound.BufferFile = _InPlaceBufferFile


# --- writing -------------------------------------------------------------------------------

class Recorder(Protocol):
    """What receives a flat field's postings (kb.search.whoosh.flat)."""

    ids: Any
    weights: Any

    def start(self, btext: bytes) -> None: ...


class _RecordingPostingsWriter(W3PostingsWriter):
    """Whoosh's postings writer, handing each block's ids and weights to a recorder too.

    Relies on: ``W3PostingsWriter._write_block(last)`` being called with the block's
    postings in ``_ids`` (absolute document numbers) and ``_weights`` before they are
    cleared, and ``finish_postings`` inlining a term of fewer than ``_inlinelimit``
    postings that never wrote a block.
    """

    def __init__(self, recorder: Recorder, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    def _write_block(self, last: bool = False) -> None:
        self._recorder.ids.extend(self._ids)
        self._recorder.weights.extend(self._weights)
        super()._write_block(last)

    def finish_postings(self) -> Any:
        if not self.written() and len(self) < self._inlinelimit:  # inlined: no block
            self._recorder.ids.extend(self._ids)
            self._recorder.weights.extend(self._weights)
        return super().finish_postings()


class RecordingFieldWriter(W3FieldWriter):
    """Whoosh's field writer, also recording the postings of the fields whose names start
    with ``codec.flat_prefixes``; at close, ``finish(create_file, recorders)`` writes them.

    Relies on: ``W3FieldWriter._codec``, ``_postfile`` (the postings file),
    ``_postwriter`` (replaced after ``start_field``), ``_create_file(ext)`` (a new file
    of the segment) and the codec's ``_blocklimit``, ``_compression`` and
    ``_inlinelimit`` (the postings writer's arguments).
    """

    def __init__(self, codec: Any, storage: Any, segment: Any,
                 recorder: Callable[[], Recorder],
                 finish: Callable[[Callable[[str], Any], dict[str, Recorder]], None]) -> None:
        super().__init__(codec, storage, segment)
        self._new_recorder = recorder
        self._finish = finish
        self._recorders: dict[str, Recorder] = {}
        self._recorder: Recorder | None = None

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        super().start_field(fieldname, fieldobj)
        self._recorder = None
        codec = self._codec
        if fieldname.startswith(codec.flat_prefixes):
            self._recorder = self._recorders.setdefault(fieldname, self._new_recorder())
            self._postwriter = _RecordingPostingsWriter(
                self._recorder, self._postfile, blocklimit=codec._blocklimit,
                compression=codec._compression, inlinelimit=codec._inlinelimit)

    def start_term(self, btext: bytes) -> None:
        super().start_term(btext)
        if self._recorder is not None:
            self._recorder.start(btext)

    def close(self) -> None:
        self._finish(self._create_file, self._recorders)
        super().close()

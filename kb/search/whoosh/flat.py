"""Each segment's body postings and term vectors as flat arrays, written beside Whoosh's.

Whoosh keeps a posting list as zlib-compressed pickles of 128 postings each, positions
and character offsets included. Scoring a common word at 15,000 documents meant
decompressing and unpickling about 150 such blocks per word (the positions thrown away),
and relevance feedback decoded each first result's term vector the same way: most of a
search's time when the words were not cached yet. The codec here (``Codec``, used by
kb.search.whoosh.index's one writer) writes the same postings a second time while Whoosh writes
them, as a small file inside the segment (``<segment>.kbf``, assembled into its compound
``.seg`` and deleted with it):

    terms       the field's terms, ascending (numpy bytes "S", found by binary search)
    starts      where each term's postings begin (int64, one more than the terms)
    ids         document numbers in the segment, ascending within a term (int32)
    weights     term frequencies, as Whoosh stores them (float32)
    doc_terms   the postings turned around, by document then term: each document's
    doc_weights term vector as term numbers (int32) and frequencies (float32),
    doc_starts  marking where each document's begins (int64)

Reading is a binary search and two slices of the segment's memory map: nothing decoded,
nothing copied. Whoosh's own files stay the index (phrases, snippets, other fields); these
arrays are derived from the same postings as they are written, for the fields named when
the codec is made. A segment without the file (written by another codec; kb's index is
rebuilt from schema 7 on) reads as None, and callers use Whoosh's postings.
"""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3Codec

from kb.search.whoosh import internals
from kb.search.whoosh.caches import Cache

EXTENSION = ".kbf"
_MAGIC = b"KBFLAT02"
_HEAD = struct.Struct("<8sQ")
_ALIGN = 8


class _Recorder:
    """One field's postings as they are written: terms, where each begins, ids, weights."""

    def __init__(self) -> None:
        self.terms: list[bytes] = []
        self.starts = array("q")
        self.ids = array("I")
        self.weights = array("f")

    def start(self, btext: bytes) -> None:
        self.terms.append(btext)
        self.starts.append(len(self.ids))

    def arrays(self) -> dict[str, np.ndarray]:
        ids = np.frombuffer(self.ids, dtype=np.uint32).astype(np.int32) if self.ids \
            else np.zeros(0, dtype=np.int32)
        starts = np.append(np.frombuffer(self.starts, dtype=np.int64) if self.starts
                           else np.zeros(0, dtype=np.int64), len(ids)).astype(np.int64)
        width = max((len(t) for t in self.terms), default=1) or 1
        weights = np.frombuffer(self.weights, dtype=np.float32) if self.weights \
            else np.zeros(0, dtype=np.float32)
        docs = int(ids.max()) + 1 if len(ids) else 0
        counts = np.bincount(ids, minlength=docs) if docs else np.zeros(0, dtype=np.int64)
        # The postings turned around: by document, then term (a stable sort keeps each
        # document's terms in the postings' term order, ascending).
        order = np.argsort(ids, kind="stable")
        term_of = np.repeat(np.arange(len(self.terms), dtype=np.int32), np.diff(starts))
        return {
            "terms": np.array(self.terms, dtype=f"S{width}"),
            "starts": starts,
            "ids": ids,
            "weights": weights,
            "doc_starts": np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
            "doc_terms": term_of[order].astype(np.int32),
            "doc_weights": weights[order],
        }


class Codec(W3Codec):
    """Whoosh's codec, also writing the fields whose names start with ``flat_prefixes``
    as flat arrays (see the module's docstring)."""

    def __init__(self, flat_prefixes: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.flat_prefixes = flat_prefixes

    def field_writer(self, storage: Any, segment: Any) -> internals.RecordingFieldWriter:
        return internals.RecordingFieldWriter(self, storage, segment, _Recorder, self._finish)

    def _finish(self, create_file: Any, recorders: dict[str, Any]) -> None:
        _write(create_file(EXTENSION), self.flat_prefixes,
               {name: rec.arrays() for name, rec in recorders.items()})


def _write(dbfile: Any, prefixes: tuple[str, ...],
           fields: dict[str, dict[str, np.ndarray]]) -> None:
    """A header (JSON: the prefixes recorded, each array's dtype, length and offset)
    followed by the arrays."""
    layout: dict[str, dict[str, tuple[str, int, int]]] = {}
    offset = 0
    for name, arrays in fields.items():
        layout[name] = {}
        for key, a in arrays.items():
            layout[name][key] = (a.dtype.str, len(a), offset)
            offset += -(-a.nbytes // _ALIGN) * _ALIGN
    header = json.dumps({"prefixes": list(prefixes), "fields": layout}).encode("utf-8")
    header += b" " * (-(_HEAD.size + len(header)) % _ALIGN)
    dbfile.write(_HEAD.pack(_MAGIC, len(header)) + header)
    for arrays in fields.values():
        for a in arrays.values():
            data = np.ascontiguousarray(a).tobytes()
            dbfile.write(data + b"\0" * (-len(data) % _ALIGN))
    dbfile.close()


@dataclass(frozen=True)
class Field:
    """One field of one segment, as arrays over the segment's memory map."""

    terms: np.ndarray
    starts: np.ndarray
    ids: np.ndarray
    weights: np.ndarray
    doc_starts: np.ndarray
    doc_terms: np.ndarray
    doc_weights: np.ndarray

    def find(self, btext: bytes) -> int:
        """The term's number, or -1."""
        terms = self.terms
        if len(btext) > terms.dtype.itemsize or not len(terms):
            return -1
        i = int(np.searchsorted(terms, btext))
        return i if i < len(terms) and terms[i] == btext else -1

    def postings(self, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """A term's document numbers (ascending) and weights; empty if absent."""
        i = self.find(btext)
        if i < 0:
            return self.ids[:0], self.weights[:0]
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        return self.ids[a:b], self.weights[a:b]

    def doc_frequency(self, btext: bytes) -> int:
        """In how many of the segment's documents (deleted ones too) the term occurs."""
        i = self.find(btext)
        return 0 if i < 0 else int(self.starts[i + 1] - self.starts[i])

    def doc_vector(self, docnum: int) -> tuple[np.ndarray, np.ndarray]:
        """A document's term numbers (ascending) and their frequencies."""
        if docnum + 1 >= len(self.doc_starts):
            return self.doc_terms[:0], self.doc_weights[:0]
        a, b = int(self.doc_starts[docnum]), int(self.doc_starts[docnum + 1])
        return self.doc_terms[a:b], self.doc_weights[a:b]

    def vector(self, docnum: int) -> tuple[np.ndarray, np.ndarray]:
        """A document's terms (ascending bytes) and their frequencies."""
        numbers, weights = self.doc_vector(docnum)
        return self.terms[numbers], weights


_EMPTY = Field(terms=np.zeros(0, dtype="S1"), starts=np.zeros(1, dtype=np.int64),
               ids=np.zeros(0, dtype=np.int32), weights=np.zeros(0, dtype=np.float32),
               doc_starts=np.zeros(1, dtype=np.int64), doc_terms=np.zeros(0, dtype=np.int32),
               doc_weights=np.zeros(0, dtype=np.float32))


@dataclass(frozen=True)
class _Segment:
    prefixes: tuple[str, ...]
    fields: dict[str, Field]

    def get(self, fieldname: str) -> Field | None:
        found = self.fields.get(fieldname)
        if found is None and fieldname.startswith(self.prefixes):
            return _EMPTY  # recorded, but no document of the segment has the field
        return found


def _read(buffer: Any, base: int) -> _Segment | None:
    magic, header_len = _HEAD.unpack_from(buffer, base)
    if magic != _MAGIC:
        return None
    header = json.loads(bytes(buffer[base + _HEAD.size:base + _HEAD.size + header_len]))
    start = base + _HEAD.size + header_len
    out: dict[str, Field] = {}
    for name, layout in header["fields"].items():
        arrays = {key: np.frombuffer(buffer, dtype=np.dtype(dtype), count=count,
                                     offset=start + offset)
                  for key, (dtype, count, offset) in layout.items()}
        out[name] = Field(**arrays)
    return _Segment(tuple(header["prefixes"]), out)


def _open(reader: Any) -> _Segment | None:
    segment = reader.segment()
    if segment is None:
        return None
    name = segment.make_filename(EXTENSION)
    storage = reader.storage()
    inside = internals.compound_buffer(storage, name)
    if inside is not None:
        # Views of Whoosh's own memory map of the segment: it is kept alive while they
        # are (CompoundStorage.close leaves a map with exported buffers to them).
        return _read(*inside)
    if not storage.file_exists(name):
        return None
    f = storage.open_file(name)
    try:
        data = f.read()
    finally:
        f.close()
    return _read(data, 0)


# Segments opened, by segment id (a segment never changes): the arrays are views, so an
# entry costs little memory of its own. Searchers forget segments the index no longer
# has (kb.search.whoosh.index.SearcherCache); the bound only limits open maps.
_segments: Cache[tuple[_Segment | None]] = Cache("segments")


def field(reader: Any, fieldname: str) -> Field | None:
    """The flat arrays of ``fieldname`` in the segment ``reader`` reads, or None when the
    segment has none (the field is not flat, or the segment was written otherwise)."""
    segment = reader.segment()
    if segment is None:
        return None
    # Wrapped in a tuple: a segment without flat arrays is remembered as (None,).
    (opened,) = _segments.get_or_build(segment.segment_id(), lambda: (_open(reader),))
    return None if opened is None else opened.get(fieldname)


def forget(segment_ids: Iterable[str]) -> None:
    """Let go of the arrays of segments no longer in the index (searchers still reading
    them open them again)."""
    for key in segment_ids:
        _segments.pop(key)

"""The private parts of Whoosh that kb relies on (kb/search/whoosh/internals.py) are there,
with the shape relied on, in the Whoosh installed: a different Whoosh fails here, by
name, instead of giving silently wrong postings, lengths or matches (issue 15, item 2)."""

from __future__ import annotations

import ast
import inspect
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import whoosh.codec.whoosh3 as w3
import whoosh.collectors
import whoosh.filedb.compound
import whoosh.filedb.structfile
import whoosh.index
import whoosh.query
import whoosh.reading

from kb.search import textdata
from kb.search.whoosh import internals

ROOT = Path(__file__).resolve().parent.parent


def _pin() -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = [d for d in deps if d.startswith("whoosh-reloaded==")]
    assert found, "pyproject.toml must pin whoosh-reloaded with =="
    return found[0].split("==", 1)[1]


def test_installed_whoosh_is_the_pinned_one():
    pin = _pin()
    assert pin == internals.PINNED, (
        f"pyproject.toml pins whoosh-reloaded {pin}, kb/search/whoosh/internals.py was read "
        f"against {internals.PINNED}: re-read every entry there before moving the pin")
    installed = metadata.version("whoosh-reloaded")
    assert installed == pin, (
        f"whoosh-reloaded {installed} is installed, kb is pinned to {pin}: kb reads private "
        "parts of Whoosh (kb/search/whoosh/internals.py); install the pinned version")


def _source(obj: object) -> str:
    return inspect.getsource(obj)  # type: ignore[arg-type]


def _params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


# (what, check): each a private name internals.py uses, and the shape it relies on.
PROBES = {
    "whoosh3._lenfield names the length column": lambda: (
        w3._lenfield("body_en") == "_body_en_len"),
    "whoosh3.LENGTHS_COLUMN is one byte a document": lambda: (
        type(w3.LENGTHS_COLUMN).__name__ == "NumericColumn" and w3.LENGTHS_COLUMN._typecode == "B"),
    "SegmentReader._perdoc is set in __init__": lambda: "self._perdoc = " in _source(
        whoosh.reading.SegmentReader.__init__),
    "W3PerDocReader._cached_reader(colname, column)": lambda: _params(
        w3.W3PerDocReader._cached_reader) == ["self", "fieldname", "column"],
    "W3LeafMatcher._read_data / _next_block / _data": lambda: (
        _params(w3.W3LeafMatcher._read_data) == ["self"]
        and _params(w3.W3LeafMatcher._next_block) == ["self"]
        and "self._data = loads(" in _source(w3.W3LeafMatcher._read_data)
        and "self._goto(" in _source(w3.W3LeafMatcher._next_block)
        and "self._data = None" in _source(w3.W3LeafMatcher._goto)),
    "block ids are deltas (first absolute) but for term vectors": lambda: (
        "self._mini_ids()" in _source(w3.W3PostingsWriter._write_block)
        and "delta_encode(ids)" in _source(w3.W3PostingsWriter._mini_ids)
        and inspect.signature(w3.W3Codec.postings_writer).parameters["byteids"].default
        is False),
    "Wildcard._get_pattern / _find_prefix(text)": lambda: (
        _params(whoosh.query.Wildcard._get_pattern) == ["self"]
        and _params(whoosh.query.Wildcard._find_prefix) == ["self", "text"]
        and whoosh.query.Wildcard("f", "mig*ion")._find_prefix("mig*ion") == "mig"),
    "FilterCollector._allow is set from allow= in prepare": lambda: (
        "self._allow = ftc(allow) if allow else None"
        in _source(whoosh.collectors.FilterCollector.prepare)),
    "FileIndex._segments() reads the TOC": lambda: _params(
        whoosh.index.FileIndex._segments) == ["self"],
    "CompoundStorage._source (mmap) and range(name)": lambda: (
        "self._source = mmap.mmap" in _source(whoosh.filedb.compound.CompoundStorage.__init__)
        and _params(whoosh.filedb.compound.CompoundStorage.range) == ["self", "name"]),
    "CompoundStorage.open_file makes a BufferFile of its mmap's view": lambda: (
        "buf = memoryview_(self._source, offset, length)" in _source(
            whoosh.filedb.compound.CompoundStorage.open_file)
        and "f = BufferFile(buf, name=name)" in _source(
            whoosh.filedb.compound.CompoundStorage.open_file)
        and whoosh.filedb.compound.BufferFile is internals._InPlaceBufferFile),
    "BufferFile keeps _buf for get() and reads through self.file": lambda: (
        _params(whoosh.filedb.structfile.BufferFile.__init__)
        == ["self", "buf", "name", "onclose"]
        and "self._buf[position" in _source(whoosh.filedb.structfile.BufferFile.get)
        and "self.file.read(" in _source(whoosh.filedb.structfile.StructFile.read)
        and "load_pickle(self.file)" in _source(whoosh.filedb.structfile.StructFile.read_pickle)),
    "TOC.read keeps its open file in `stream`": lambda: re.search(
        r"\bstream = storage\.open_file", _source(whoosh.index.TOC.read)) is not None,
    "W3PostingsWriter._write_block(last), _ids, _weights, _inlinelimit": lambda: (
        _params(w3.W3PostingsWriter._write_block) == ["self", "last"]
        and all(f"self.{n}" in _source(w3.W3PostingsWriter)
                for n in ("_ids", "_weights", "_inlinelimit"))),
    "W3PostingsWriter(postfile, blocklimit, compression=, inlinelimit=)": lambda: {
        "postfile", "blocklimit", "compression", "inlinelimit"} <= set(_params(
            w3.W3PostingsWriter.__init__)),
    "W3FieldWriter._codec, _postfile, _postwriter, _create_file(ext)": lambda: (
        all(f"self.{n} = " in _source(w3.W3FieldWriter.__init__)
            for n in ("_codec", "_postfile", "_postwriter"))
        and _params(w3.W3FieldWriter._create_file) == ["self", "ext"]),
    "W3Codec._blocklimit, _compression, _inlinelimit": lambda: all(
        hasattr(w3.W3Codec(), n) for n in ("_blocklimit", "_compression", "_inlinelimit")),
}


@pytest.mark.parametrize("what", list(PROBES))
def test_private_whoosh_name_has_the_shape_relied_on(what):
    try:
        ok = PROBES[what]()
    except Exception as e:  # a missing name: say which
        pytest.fail(f"Whoosh changed: {what}: {type(e).__name__}: {e} "
                    "(see kb/search/whoosh/internals.py)")
    assert ok, f"Whoosh changed: {what} (see kb/search/whoosh/internals.py)"


def test_private_names_are_used_in_internals_only():
    """Outside internals.py, kb's engine reads no ``obj._name`` of Whoosh: every attribute
    with a leading underscore is read off ``self``/``cls`` or one of kb's own modules."""
    own = {"self", "cls", "local", "flat", "arrays", "bounds", "internals", "query"}
    found = []
    for path in sorted((ROOT / "kb" / "search").rglob("*.py")):
        if path.name == "internals.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in own)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
                found += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}"
                          for a in node.names if a.name.startswith("_")]
    assert not found, "\n".join(found)


def test_copied_text_data_equals_whooshs():
    """kb.search.textdata copies Whoosh's accent map and stop lists (so that the thesaurus
    needs no Whoosh); they must stay what Whoosh ships."""
    from whoosh.lang.stopwords import stoplists
    from whoosh.support.charset import accent_map

    assert dict(accent_map) == textdata.ACCENT_MAP
    for lang, words in textdata.STOPLISTS.items():
        assert words == stoplists[lang], lang


def test_segment_files_are_read_in_place_as_bytesio_would_read_them(tmp_path):
    """A compound segment's files are read from Whoosh's memory map in place (the stock
    BufferFile copies each whole file per searcher: gigabytes at 50,000 documents), and
    every way Whoosh reads them gives what BytesIO gives."""
    import io
    import pickle

    from kb import search

    index_dir = tmp_path / "index"
    search.create(index_dir)
    search.write_records(index_dir, [search.IndexRecord(
        doc_id=1, title="Remittances", summary="", doc_type=None, countries=(), agencies=(),
        themes=(), language="en", year=None, phase=None, access="public", created_ts=1,
        pages=("Remittances and diaspora savings.",))], timeout=10)
    segment = next(index_dir.glob("*.seg"))
    storage = whoosh.filedb.compound.CompoundStorage(
        whoosh.filedb.structfile.StructFile(segment.open("rb")), use_mmap=True)
    try:
        name = max(storage.list(), key=storage.file_length)
        opened = storage.open_file(name)
        assert isinstance(opened.file, internals._ViewFile)  # no copy made
        expected = bytes(opened._buf)
        assert opened.read() == expected and len(expected) > 0
        opened.close()
    finally:
        storage.close()

    blob = pickle.dumps({"a": [1, 2.5, "é"]}) + b"line one\nline two\n" + bytes(range(256)) * 9
    ours, stock = internals._ViewFile(blob), io.BytesIO(blob)
    assert pickle.load(ours) == pickle.load(stock) and ours.tell() == stock.tell()
    for op in (lambda f: f.readline(), lambda f: f.read(5), lambda f: f.seek(-10, 2),
               lambda f: f.read(), lambda f: f.read(), lambda f: f.seek(3),
               lambda f: f.readline(4), lambda f: f.seek(2, 1), lambda f: f.readline(),
               lambda f: list(f), lambda f: f.seek(10_000), lambda f: f.read(3)):
        assert op(ours) == op(stock) and ours.tell() == stock.tell()
    buffer = bytearray(7)
    ours.seek(1)
    assert ours.readinto(buffer) == 7 and bytes(buffer) == blob[1:8]

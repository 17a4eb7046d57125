"""Checks a ZIP-based file (DOCX, XLSX, PPTX, ODF, EPUB) before any library opens it.

python-docx, openpyxl and the rest trust the archive: a "ZIP bomb" (a small file that
unpacks to gigabytes), thousands of entries, or entries that overlap one another (this
Python predates zipfile's own check for those) would exhaust memory or time. Everything
here reads only the archive's directory and local headers, never the compressed data,
except ``refuse_xml_declarations``, which streams the XML parts within the checked sizes.

Python's zipfile stops reading an entry at its declared size, so once the declared sizes
pass these checks they bound what any library can unpack.
"""

from __future__ import annotations

import re
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kb.errors import ExtractionError

MB = 1024 * 1024

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_LOCAL = b"PK\x03\x04"
_READABLE_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                     zipfile.ZIP_LZMA}
_S_IFMT = 0o170000
_S_IFLNK = 0o120000
# A central directory entry is 46 bytes plus its name, extra field and comment; real
# archives stay far below this many bytes per entry.
_DIRECTORY_BYTES_PER_ENTRY = 1024

_DRIVE = re.compile(r"[A-Za-z]:")
_DAMAGED = ("Open it in the program that made it, save a new copy and upload that.")


@dataclass(frozen=True)
class ZipLimits:
    """What a readable archive may hold; ``ratio`` applies to entries over ``ratio_from``."""

    max_entries: int = 10_000
    max_total: int = 500 * MB
    max_entry: int = 200 * MB
    max_ratio: int = 100
    ratio_from: int = 1 * MB


LIMITS = ZipLimits()


def configure(limits: ZipLimits) -> None:
    """Set the limits that later checks use (e.g. from the app's configuration)."""
    global LIMITS
    LIMITS = limits


def _corrupt(what: str) -> ExtractionError:
    return ExtractionError(f"The file cannot be read: {what}. {_DAMAGED}",
                           code="corrupt")


def _megabytes(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n < 1024 * MB else f"{n / (1024 * MB):,.1f} GB"


def directory_bounds(path: Path) -> tuple[int, int]:
    """The entry count and directory size an archive declares, read from its end record.

    Read before zipfile parses the directory, whose size alone could exhaust memory.
    """
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            tail_len = min(size, 22 + 65_535)
            f.seek(size - tail_len)
            tail = f.read(tail_len)
            at = tail.rfind(_EOCD)
            if at < 0 or len(tail) - at < 22:
                raise _corrupt("its end record is missing (it may be truncated)")
            (_, _, _, _, entries, dir_size, _, _) = struct.unpack("<4s4H2LH", tail[at:at + 22])
            if entries == 0xFFFF or dir_size == 0xFFFFFFFF:
                locator_at = at - 20
                if locator_at < 0 or tail[locator_at:locator_at + 4] != _EOCD64_LOCATOR:
                    raise _corrupt("its ZIP64 end record is missing")
                (_, _, record_at, _) = struct.unpack("<4sLQL", tail[locator_at:at])
                f.seek(record_at)
                record = f.read(56)
                if len(record) < 56 or record[:4] != _EOCD64:
                    raise _corrupt("its ZIP64 end record is damaged")
                (_, _, _, _, _, _, _, entries, dir_size, _) = struct.unpack("<4sQ2H2L4Q", record)
    except OSError as e:
        raise _corrupt(f"it could not be read ({e})") from e
    return entries, dir_size


def check_directory(path: Path, limits: ZipLimits | None = None) -> None:
    """Refuse an archive whose directory is too big to read safely."""
    limits = limits or LIMITS
    entries, dir_size = directory_bounds(path)
    if entries > limits.max_entries or dir_size > limits.max_entries * _DIRECTORY_BYTES_PER_ENTRY:
        raise _too_many(limits)


def _too_many(limits: ZipLimits) -> ExtractionError:
    return ExtractionError(
        f"The file is an archive of more than {limits.max_entries:,} parts, more than a real "
        "document has (it may be a 'ZIP bomb'); it is not read.", code="too-large")


def _check_name(info: zipfile.ZipInfo) -> None:
    raw = info.orig_filename
    parts = raw.replace("\\", "/").split("/")
    if "\x00" in raw or raw.startswith(("/", "\\")) or _DRIVE.match(raw) or ".." in parts:
        shown = raw.replace("\x00", "\\0")[:100]
        raise _corrupt(f"it holds a part with an unsafe name ({shown!r})")
    if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
        raise _corrupt(f"it holds a symbolic link ({raw[:100]!r}), which documents never do")


def _data_ranges(path: Path, infos: list[zipfile.ZipInfo]) -> list[tuple[int, int, str]]:
    """(start of local header, end of compressed data, name) of each entry."""
    ranges = []
    with path.open("rb") as f:
        for info in infos:
            f.seek(info.header_offset)
            header = f.read(30)
            if len(header) < 30 or header[:4] != _LOCAL:
                raise _corrupt(f"the header of {info.filename!r} is missing or damaged")
            name_len, extra_len = struct.unpack("<2H", header[26:30])
            end = info.header_offset + 30 + name_len + extra_len + info.compress_size
            ranges.append((info.header_offset, end, info.filename))
    return ranges


def check(path: Path, limits: ZipLimits | None = None) -> list[zipfile.ZipInfo]:
    """Refuse an archive that would unpack too large or is malformed; returns its entries.

    Raises ``ExtractionError`` with code ``too-large`` for bombs (too many entries, too
    large in total or in one entry, compressed beyond any real document, or overlapping
    entries) and ``corrupt`` for damaged or unsafe archives.
    """
    limits = limits or LIMITS
    check_directory(path, limits)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            struct.error) as e:
        raise _corrupt(str(e) or type(e).__name__) from e
    if len(infos) > limits.max_entries:
        raise _too_many(limits)
    names: set[str] = set()
    total = 0
    for info in infos:
        _check_name(info)
        if info.filename in names:
            raise _corrupt(f"the part {info.filename!r} appears twice")
        names.add(info.filename)
        if info.flag_bits & 0x1:
            raise ExtractionError("Parts of the file are password-protected; upload a copy "
                                  "without a password.", code="encrypted")
        if info.compress_type not in _READABLE_METHODS:
            raise _corrupt(f"{info.filename!r} uses a compression method "
                           f"({info.compress_type}) that cannot be read")
        if info.file_size > limits.max_entry:
            raise ExtractionError(
                f"One part of the file ({info.filename}) unpacks to "
                f"{_megabytes(info.file_size)}, more than the limit of "
                f"{_megabytes(limits.max_entry)} per part (it may be a 'ZIP bomb'); it is "
                "not read. If the file is genuine, split it into smaller files.",
                code="too-large")
        if (info.file_size > limits.ratio_from
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise ExtractionError(
                f"One part of the file ({info.filename}) is compressed more than "
                f"{limits.max_ratio} to 1, far beyond any real document: it looks made to "
                "exhaust memory (a 'ZIP bomb') and is not read.", code="too-large")
        total += info.file_size
    if total > limits.max_total:
        raise ExtractionError(
            f"The file unpacks to {_megabytes(total)}, more than the limit of "
            f"{_megabytes(limits.max_total)} (it may be a 'ZIP bomb'); it is not read. If the "
            "file is genuine, split it into smaller files.", code="too-large")
    try:
        ranges = sorted(_data_ranges(path, infos))
    except OSError as e:
        raise _corrupt(str(e)) from e
    for (_, end, name), (start, _, other) in zip(ranges, ranges[1:], strict=False):
        if start < end:
            raise ExtractionError(
                f"Parts of the file overlap inside the archive ({name} and {other}), a trick "
                "used to make small files unpack to huge sizes (a 'ZIP bomb'); it is not "
                f"read. {_DAMAGED}", code="too-large")
    return infos


# Markup that declares entities: the way to an "XML bomb" (billion laughs) or to reading
# other files (external entities). In every encoding an XML part may use.
_ENTITY = tuple("<!ENTITY".encode(e) for e in ("ascii", "utf-16-le", "utf-16-be"))
_DOCTYPE = tuple("<!DOCTYPE".encode(e) for e in ("ascii", "utf-16-le", "utf-16-be"))
_XML_SUFFIXES = (".xml", ".rels", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg")


def refuse_xml_declarations(path: Path, infos: Iterable[zipfile.ZipInfo], *,
                            allow_doctype: bool = False) -> None:
    """Refuse XML parts that declare a document type or entities, before any parser sees them.

    Office Open XML forbids document type declarations and ODF never uses them; EPUB's
    XHTML may name a DOCTYPE (``allow_doctype``) but never needs to declare entities.
    """
    needles = _ENTITY if allow_doctype else _ENTITY + _DOCTYPE
    keep = max(len(n) for n in needles)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in infos:
                suffix = PurePosixPath(info.filename.lower()).suffix
                if info.is_dir() or suffix not in _XML_SUFFIXES:
                    continue
                with zf.open(info) as part:
                    carry = b""
                    while chunk := part.read(MB):
                        window = carry + chunk
                        if any(n in window for n in needles):
                            raise ExtractionError(
                                f"The file's part {info.filename} declares XML entities or a "
                                "document type, which real documents of this kind never do; "
                                "it may be crafted to exhaust memory (an 'XML bomb') and is "
                                f"not read. {_DAMAGED}", code="corrupt")
                        carry = window[-keep:]
    except ExtractionError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
        raise _corrupt(str(e) or type(e).__name__) from e


def check_document(path: Path, *, allow_doctype: bool = False,
                   limits: ZipLimits | None = None) -> list[zipfile.ZipInfo]:
    """Both checks, as every ZIP-based extractor runs them first; returns the entries."""
    infos = check(path, limits)
    refuse_xml_declarations(path, infos, allow_doctype=allow_doctype)
    return infos

"""What files say about themselves, in one shape: title, author, created, modified, language."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pycountry
from defusedxml import ElementTree as SafeET

MAX_VALUE = 500
_SPACE = re.compile(r"\s+")
# W3CDTF / ISO 8601 as Office, ODF, EPUB and HTML write dates: 2014, 2014-05, 2014-05-03,
# 2014-05-03T10:00, with seconds, fractions and a zone or Z.
_ISO = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
                  r"(?:Z|[+-]\d{2}:?\d{2})?)?)?)?")


def clean(value: object) -> str | None:
    """A metadata value as one line of text, or None when there is nothing in it."""
    if value is None:
        return None
    printable = "".join(ch for ch in str(value) if ch.isprintable() or ch.isspace())
    found = _SPACE.sub(" ", printable).strip()
    return found[:MAX_VALUE] or None


def iso_datetime(value: object) -> str | None:
    """A date as ISO 8601: datetimes in UTC with a Z (naive ones are taken as UTC, as
    Office core properties are), dates and partial dates as written."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    text = clean(value)
    if text is None:
        return None
    match = _ISO.match(text)
    if match is None:
        return None
    found = match.group(0)
    if len(found) > 10:
        try:
            parsed = datetime.fromisoformat(found.replace(" ", "T").replace("Z", "+00:00"))
        except ValueError:
            return found[:10]
        return iso_datetime(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))
    return found


def iso_language(value: object) -> str | None:
    """An ISO 639-1 code from a tag such as en-GB, a code such as fra, or a name such as
    Spanish; None when none can be derived (e.g. Word's "x-none")."""
    text = clean(value)
    if text is None:
        return None
    primary = re.split(r"[-_\s]", text, maxsplit=1)[0].lower()
    if len(primary) == 2 and primary.isalpha():
        found = pycountry.languages.get(alpha_2=primary)
    elif len(primary) == 3 and primary.isalpha():
        found = (pycountry.languages.get(alpha_3=primary)
                 or pycountry.languages.get(bibliographic=primary))
    else:
        try:
            found = pycountry.languages.lookup(text)
        except LookupError:
            return None
    code = getattr(found, "alpha_2", None) if found is not None else None
    return str(code) if code else None


def build(*, title: object = None, author: object = None, created: object = None,
          modified: object = None, language: object = None) -> dict[str, str]:
    """The metadata keys that have a value, each normalised."""
    found = {
        "title": clean(title),
        "author": clean(author),
        "created": iso_datetime(created),
        "modified": iso_datetime(modified),
        "language": iso_language(language),
    }
    return {k: v for k, v in found.items() if v}


MAX_PART = 4 * 1024 * 1024
_DC = "{http://purl.org/dc/elements/1.1/}"
_DCTERMS = "{http://purl.org/dc/terms/}"
_CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"


def xml_part(zf: zipfile.ZipFile, name: str) -> Any | None:
    """A small XML part of an archive, parsed with entities refused; None if absent or big."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART:
        return None
    return SafeET.fromstring(zf.read(info))


def ooxml_core(path: Path) -> dict[str, str]:
    """An Office file's core properties (docProps/core.xml) as written, nothing invented.

    Read here rather than through python-docx, python-pptx or openpyxl, which fill a
    missing part with defaults ("PowerPoint Presentation", the time of reading).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            name = "docProps/core.xml"
            rels = xml_part(zf, "_rels/.rels")
            for rel in rels if rels is not None else ():
                if rel.get("Type") == _CORE_REL and rel.get("Target"):
                    name = rel.get("Target").lstrip("/")
            core = xml_part(zf, name)
    except (zipfile.BadZipFile, OSError, ValueError, SafeET.ParseError):
        return {}  # the text may still be there: metadata is never worth a failure
    if core is None:
        return {}
    return build(title=core.findtext(f"{_DC}title"), author=core.findtext(f"{_DC}creator"),
                 created=core.findtext(f"{_DCTERMS}created"),
                 modified=core.findtext(f"{_DCTERMS}modified"),
                 language=core.findtext(f"{_DC}language"))

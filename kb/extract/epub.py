"""EPUB with zipfile, defusedxml and the HTML extractor: one page per spine item.

The package document (OPF) names the reading order (the spine) and the book's Dublin
Core metadata; each XHTML item of the spine is read like a web page.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from defusedxml import ElementTree as SafeET

from kb.errors import ExtractionError
from kb.extract import Extracted, meta, webpage, zipguard

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_READABLE = {"application/xhtml+xml", "text/html"}


def _damaged(what: str) -> ExtractionError:
    return ExtractionError(
        f"The EPUB book could not be read: {what}. Open it in an e-book editor (e.g. Calibre "
        "or Sigil), save a new copy and upload that.", code="corrupt")


def _package(zf: zipfile.ZipFile) -> tuple[str, Any]:
    """The package document's path and parsed root, found through META-INF/container.xml."""
    container = meta.xml_part(zf, "META-INF/container.xml")
    if container is None:
        raise _damaged("its META-INF/container.xml is missing")
    rootfile = container.find(f"{_CONTAINER}rootfiles/{_CONTAINER}rootfile")
    full_path = rootfile.get("full-path") if rootfile is not None else None
    if not full_path:
        raise _damaged("its container names no package document")
    package = meta.xml_part(zf, full_path)
    if package is None:
        raise _damaged(f"its package document {full_path} is missing")
    return full_path, package


def _metadata(package: Any) -> dict[str, str]:
    found = package.find(f"{_OPF}metadata")
    if found is None:
        return {}
    modified = None
    for item in found.iter(f"{_OPF}meta"):
        if item.get("property") == "dcterms:modified":
            modified = item.text
    created = None
    for item in found.iter(f"{_DC}date"):
        event = item.get(f"{_OPF}event") or item.get("event")
        if event in (None, "publication", "creation"):
            created = created or item.text
    return meta.build(title=found.findtext(f"{_DC}title"),
                      author=found.findtext(f"{_DC}creator"),
                      created=created, modified=modified,
                      language=found.findtext(f"{_DC}language"))


def spine_names(opf_path: str, package: Any) -> list[str]:
    """The archive names of the spine's (X)HTML items, in reading order."""
    base = posixpath.dirname(opf_path)
    manifest = {}
    for item in package.iter(f"{_OPF}item"):
        if item.get("id") and item.get("href"):
            manifest[item.get("id")] = (item.get("href"), item.get("media-type", ""))
    names = []
    for ref in package.iter(f"{_OPF}itemref"):
        href, media_type = manifest.get(ref.get("idref", ""), (None, ""))
        if href is None or media_type not in _READABLE:
            continue
        href = unquote(href.split("#", 1)[0])
        names.append(posixpath.normpath(posixpath.join(base, href)))
    return names


def extract(path: Path) -> Extracted:
    """Each spine item's visible text as one page (chapter files, in reading order)."""
    zipguard.check_document(path, allow_doctype=True)
    try:
        with zipfile.ZipFile(path) as zf:
            opf_path, package = _package(zf)
            pages = []
            for name in spine_names(opf_path, package):
                try:
                    data = zf.read(name)
                except KeyError:
                    pages.append("")  # a missing chapter keeps the numbering of the rest
                    continue
                pages.append(webpage.parse(webpage.decode(data)).text())
    except ExtractionError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RecursionError,
            SafeET.ParseError) as e:
        raise _damaged(f"{type(e).__name__}: {e}"[:200]) from e
    return Extracted(pages=tuple(pages) or ("",), metadata=_metadata(package))

"""RTF with striprtf: the document's text as one page, with its \\info title and author."""

from __future__ import annotations

import re
from pathlib import Path

from striprtf.striprtf import rtf_to_text

from kb.errors import ExtractionError
from kb.extract import Extracted, meta

_CODEPAGE = re.compile(rb"\\ansicpg(\d{3,5})")
# {\title ...} and {\author ...} in the \info group: plain text in simple files.
_INFO = re.compile(r"\{\\(title|author)\s+((?:[^{}\\]|\\[^{}])*)\}")
_TIME = re.compile(r"\{\\(creatim|revtim)((?:\\(?:yr|mo|dy|hr|min|sec)\d+)+)\s*\}")


def _codepage(data: bytes) -> str:
    """The code page of the file's 8-bit characters (\\ansicpgN), else Windows-1252."""
    found = _CODEPAGE.search(data[:4096])
    if found is not None:
        name = f"cp{int(found.group(1))}"
        try:
            b"".decode(name)
        except LookupError:
            return "cp1252"
        return name
    return "cp1252"


def _info(source: str, codepage: str) -> dict[str, str]:
    """Title and author from the \\info group, and its creation and revision dates."""
    found: dict[str, object] = {
        key: rtf_to_text(f"{{\\rtf1\\ansi\\ansicpg{codepage[2:]} {value}}}", errors="replace")
        for key, value in _INFO.findall(source[:65536])
    }
    for key, parts in _TIME.findall(source[:65536]):
        values = dict(re.findall(r"\\([a-z]+)(\d+)", parts))
        if "yr" in values:
            stamp = f"{int(values['yr']):04d}-{int(values.get('mo', 1)):02d}-" \
                    f"{int(values.get('dy', 1)):02d}"
            found["created" if key == "creatim" else "modified"] = stamp
    return meta.build(title=found.get("title"), author=found.get("author"),
                      created=found.get("created"), modified=found.get("modified"))


def extract(path: Path) -> Extracted:
    """An RTF document's text as one page."""
    data = path.read_bytes()
    codepage = _codepage(data)
    source = data.decode(codepage, "replace")
    try:
        found = rtf_to_text(source, errors="replace")
        metadata = _info(source, codepage)
    except (ValueError, LookupError, IndexError, RecursionError) as e:
        raise ExtractionError(
            f"The RTF document could not be read ({type(e).__name__}); it may be damaged. "
            "Open it in Word or LibreOffice, save a new copy and upload that.",
            code="corrupt",
        ) from e
    lines = (line.rstrip() for line in found.replace("\r\n", "\n").split("\n"))
    return Extracted(pages=("\n".join(lines).strip("\n"),), metadata=metadata)

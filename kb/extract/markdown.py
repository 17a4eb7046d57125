"""Markdown: read as text, without the emphasis and code markers around words.

The search index keeps ``*`` inside words (for wildcards), so ``*remittances*`` would not
be found by "remittances" if the markers stayed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from kb.extract import Extracted, text

# *, ** and ` anywhere; _ and __ only at a word's edge (snake_case names keep theirs).
_MARKERS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")


def plain(source: str) -> str:
    """Markdown source with emphasis and code markers removed."""
    return _MARKERS.sub("", source)


def extract(path: Path) -> Extracted:
    """A Markdown file as text, one page (or several at form feeds, as plain text)."""
    found = text.extract(path)
    return replace(found, pages=tuple(plain(p) for p in found.pages))

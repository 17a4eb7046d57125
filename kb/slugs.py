"""Readable slugs of document titles, for page links such as /documents/42/remittances-in-moldova.

The slug is decoration: the id alone names the document (kb.views.documents), so a slug
is never stored, never looked up, and a title change only changes the link shown next.
"""

from __future__ import annotations

import re

from anyascii import anyascii

MAX_SLUG_CHARS = 60
_WORD = re.compile(r"[a-z0-9]+")
# Letters an apostrophe joins stay one word: "children's" -> "childrens", not "children-s".
_APOSTROPHES = re.compile(r"['’ʼ`]")


def slugify(title: str) -> str:
    """Lowercase ASCII words of a title joined by hyphens, whole words up to
    MAX_SLUG_CHARS ("" when none is left). Other scripts are transliterated (anyascii):
    Cyrillic "Миграция" gives "migratsiya", Arabic its consonants."""
    words = _WORD.findall(_APOSTROPHES.sub("", anyascii(title[:1000])).lower())
    slug = ""
    for word in words:
        longer = f"{slug}-{word}" if slug else word
        if len(longer) > MAX_SLUG_CHARS:
            break
        slug = longer
    if not slug and words:  # a first word longer than the bound is cut
        slug = words[0][:MAX_SLUG_CHARS]
    return slug

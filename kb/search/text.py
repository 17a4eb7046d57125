"""Text rules the engine and the thesaurus share, without any search engine: the word
pattern, stop words, accent and letter folding, document language -> analysis language."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from kb.search.textdata import ACCENT_MAP as accent_map
from kb.search.textdata import STOPLISTS as stoplists

# Languages with a Snowball stemmer; anything else is analysed as OTHER.
LANGUAGES: tuple[str, ...] = ("en", "fr", "es", "ru", "ro", "sr", "ar")
OTHER = "xx"

_ALGORITHMS = {
    "en": "english",
    "fr": "french",
    "es": "spanish",
    "ru": "russian",
    "ro": "romanian",
    "sr": "serbian",
    "ar": "arabic",
}

# Document language codes that one of our stemmers serves. Croatian, Bosnian and
# Montenegrin share the Serbian stemmer (it reads both scripts); Moldavian is Romanian.
_ALIASES = {
    "hr": "sr",
    "bs": "sr",
    "sh": "sr",
    "cnr": "sr",
    "srp": "sr",
    "hrv": "sr",
    "bos": "sr",
    "mo": "ro",
    "ron": "ro",
    "rum": "ro",
    "eng": "en",
    "fra": "fr",
    "fre": "fr",
    "spa": "es",
    "rus": "ru",
    "ara": "ar",
}

# A word: letters and digits, with the combining marks that can sit inside one (decomposed
# accents, Arabic tashkeel) and soft hyphens left in PDF text. Everything else separates
# words: "co-development" gives "co" and "development", "l'homme" gives "l" and "homme".
# Digits joined by dots stay one word: SDG target "10.7", as the previous analyzer kept it.
_MARKS = (
    "\u00ad\u0300-\u036f\u0483-\u0489\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc"
    "\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
WORD_PATTERN = rf"\d+(?:\.\d+)+|[^\W_]+(?:[{_MARKS}]+[^\W_]*)*"

# Stop words: the Snowball lists that Whoosh ships, minus words that are content words in
# this programme's documents ("estado(s)" is a past participle of "estar" but also "State"),
# plus the French article "les" that the list lacks (it has "le", "la", "des"). Romanian,
# Serbian and Arabic get none: no standard list ships with Whoosh, a home-made one drops
# content words (Arabic "من" is "from" and "who"), and BM25 already gives words that occur
# everywhere almost no weight.
_STOP_EXCEPTIONS = {
    "es": {"estado", "estados", "estada", "estadas", "sentido", "sentidos", "sentida",
           "sentidas", "sentid", "siente", "sintiendo"},
}
_STOP_ADDITIONS = {"fr": {"les"}}
STOP_WORDS: dict[str, frozenset[str]] = {
    lang: (stoplists[lang] - _STOP_EXCEPTIONS.get(lang, set())) | _STOP_ADDITIONS.get(lang, set())
    for lang in ("en", "fr", "es", "ru")
}

_SERBIAN_CYRILLIC = dict(
    zip(
        "абвгдђежзијклљмнњопрстћуфхцчџш",
        ["a", "b", "v", "g", "d", "đ", "e", "ž", "z", "i", "j", "k", "l", "lj", "m", "n", "nj",
         "o", "p", "r", "s", "t", "ć", "u", "f", "h", "c", "č", "dž", "š"],
        strict=True,
    )
)
_ARABIC_INDIC_DIGITS = {
    **{0x0660 + i: str(i) for i in range(10)},
    **{0x06F0 + i: str(i) for i in range(10)},
}
_ARABIC_TASHKEEL = "".join(chr(c) for c in range(0x064B, 0x0653)) + "\u0640"  # + tatweel


def _table(*maps: dict[str, str], delete: str = "") -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for m in maps:
        table.update({ord(k): v for k, v in m.items()})
    table.update({ord(c): None for c in delete})
    return table


_COMMON = _table({chr(k): v for k, v in _ARABIC_INDIC_DIGITS.items()}, delete="\u00ad")

# Normalisation before the stop words and the stemmer, which sees the text as written, only
# lower-cased: French and Spanish rules need the accents. The Snowball Serbian, Romanian,
# Russian and Arabic stemmers normalise these letters themselves; doing it here as well
# makes stop words and prefix queries ("мигра*") see the same letters. Arabic alef and
# ta marbuta forms are left to the stemmer: folding them first changed the stems of 34 and
# 1,229 of 5,612 Arabic UNBIS words, mostly for the worse ("الإنكليزية" kept its ending).
_PRE_STEM: dict[str, dict[int, str | None]] = {
    "en": _COMMON,
    "fr": _COMMON,
    "es": _COMMON,
    "ru": {**_COMMON, **_table({"ё": "е"})},
    "ro": {**_COMMON, **_table({"ş": "ș", "ţ": "ț"})},
    "sr": {**_COMMON, **_table(_SERBIAN_CYRILLIC)},
    "ar": {**_COMMON, **_table(delete=_ARABIC_TASHKEEL)},
}

# Accent folding of Latin letters (Whoosh's accent_map: Cyrillic and Arabic are not in it).
# Its entries for combining marks are wrong (U+0308 -> "t"), so those are deleted instead.
_LATIN_FOLD = {
    **accent_map,
    **_table({"œ": "oe", "æ": "ae"}, delete="".join(chr(c) for c in range(0x0300, 0x0370))),
}

# fold() and OTHER: everything above at once, plus the Arabic letter variants that people
# type interchangeably (no stemmer depends on them here).
_FOLD_ALL = {
    **_COMMON,
    **_LATIN_FOLD,
    **_table({"ё": "е"}),
    **_table(
        {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"}, delete=_ARABIC_TASHKEEL
    ),
}
# Outside a Serbian field only words written wholly in the Serbian alphabet are
# transliterated: Russian "район" (й) and Ukrainian "міграція" (і) stay Cyrillic instead
# of turning into mixed-script "raйon".
_SERBIAN_TO_FOLDED = _table({c: lat.translate(_LATIN_FOLD) for c, lat in _SERBIAN_CYRILLIC.items()})
_SERBIAN_WORD = re.compile("[" + "".join(_SERBIAN_CYRILLIC) + "]+")
_CYRILLIC_WORD = re.compile("[\u0400-\u04ff]+")


def _latin_if_serbian(match: re.Match[str]) -> str:
    word = match.group()
    return word.translate(_SERBIAN_TO_FOLDED) if _SERBIAN_WORD.fullmatch(word) else word


def _finder(table: dict[int, str | None]) -> Callable[[str], object]:
    # str.translate with a dict costs about 1 us a word: only call it on words it changes.
    return re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(table)) + "]").search


_PRE_STEM_NEEDED = {lang: _finder(table) for lang, table in _PRE_STEM.items()}
_LATIN_FOLD_NEEDED = _finder(_LATIN_FOLD)

# Stemmed languages whose terms are folded after stemming (Serbian is Latin by then).
_LATIN_SCRIPT = frozenset({"en", "fr", "es", "ro", "sr"})


def _fold_latin(text: str) -> str:
    if text.isascii() or not _LATIN_FOLD_NEEDED(text):
        return text
    return text.translate(_LATIN_FOLD)


def field_language(code: str | None) -> str:
    """The analysis language (one of LANGUAGES, else OTHER) for a document language code."""
    if not code:
        return OTHER
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    if primary in _ALGORITHMS:
        return primary
    return _ALIASES.get(primary, OTHER)


def fold(text: str) -> str:
    """Case, accents, Serbian Cyrillic and Arabic letter variants folded; no stemming."""
    text = unicodedata.normalize("NFC", text).casefold()
    return _CYRILLIC_WORD.sub(_latin_if_serbian, text).translate(_FOLD_ALL)

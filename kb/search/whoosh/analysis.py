"""Per-language text analysis for the index: words, normalisation, stop words, stems, folding."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import Stemmer
from whoosh.analysis import Analyzer, Filter, RegexTokenizer, StopFilter
from whoosh.lang.stopwords import stoplists
from whoosh.support.charset import accent_map

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


# The Snowball Arabic stemmer strips "ال", "بال", "لل" but not "وال" / "فال" ("and the"):
# "والمهاجرين" stayed "والمهاجر" while "المهاجرين" gave "مهاجر". The conjunction is dropped
# first (as Lucene's Arabic stemmer does) from words of 5 letters or more, so that "والد"
# (father) keeps its "و"; "والدين" (parents) does meet "الدين" (the religion): the price.
_ARABIC_AND_THE = ("وال", "فال")

# Query-parser wildcard characters (whoosh.qparser.WildcardPlugin).
_WILDCARDS = frozenset("*?\u055e\u061f\u1367")

# Terms cached per thread and language, the cache emptied when full (no LRU bookkeeping:
# the frequent words are back at once). The 23 MB of UN speeches hold 27,500 distinct
# words; a 20,000-word cache answered 98% of lookups (10,000: 95%), in about 3 MB.
_STEM_CACHE_SIZE = 20_000

# A word's index term and, for accented Latin-script words, the term of the word typed
# without its accents where that differs.
Terms = tuple[str, str | None]


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


class NormalizeFilter(Filter):
    """Composes accents (NFC), case-folds, applies the language's letters (OTHER: fold)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        if self.lang == OTHER:
            for t in tokens:
                text = t.text
                t.text = text.lower() if text.isascii() else fold(text)
                yield t
            return
        table = _PRE_STEM[self.lang]
        needed = _PRE_STEM_NEEDED[self.lang]
        arabic = self.lang == "ar"
        normalize = unicodedata.normalize
        for t in tokens:
            text = t.text
            # Every key of the tables is non-ASCII: plain ASCII words only need lower().
            if text.isascii():
                t.text = text.lower()
            else:
                text = normalize("NFC", text).casefold()
                if needed(text):
                    text = text.translate(table)
                if arabic and len(text) >= 5 and text.startswith(_ARABIC_AND_THE):
                    text = text[1:]
                t.text = text
            yield t


class SnowballFilter(Filter):
    """Stems with the language's Snowball algorithm (PyStemmer), then folds Latin accents."""

    # Terms are not words as written: Whoosh skips this filter (no_morph=True) when it fills
    # a TEXT(spelling=True) field's separate spelling field.
    is_morph = True

    def __init__(self, lang: str) -> None:
        if lang not in _ALGORITHMS:
            raise ValueError(f"no Snowball stemmer for language {lang!r}")
        self.lang = lang
        # A PyStemmer Stemmer "must not be called concurrently" (its docstring) and cannot be
        # pickled: one per thread, created on first use, never part of the pickled state.
        self._local = threading.local()

    # Whoosh pickles the schema, analyzers included, into the index's TOC file: only the
    # language is stored (renaming this class or module makes old indexes unreadable).
    def __getstate__(self) -> dict[str, str]:
        return {"lang": self.lang}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.lang = state["lang"]
        self._local = threading.local()

    # Whoosh compares schemas (and so analyzers) field by field.
    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.lang == self.lang

    def _thread_state(self) -> tuple[dict[str, Terms], Callable[[str], Terms]]:
        local = self._local
        try:
            return local.cache, local.terms
        except AttributeError:
            pass
        # PyStemmer's own cache is off: a dict in front of it is 2-4 times faster.
        stem_word = Stemmer.Stemmer(_ALGORITHMS[self.lang], 0).stemWord

        def terms(word: str) -> Terms:
            root = stem_word(word) or word
            if self.lang not in _LATIN_SCRIPT:
                return root, None
            # Accents are folded after stemming (the suffix rules need them), but a word
            # typed without them can stem differently: "activité" -> "activ", "activite" ->
            # "activit"; Romanian "migrația" -> "migr", "migratia" -> "migrat". That was
            # 26% of the accented words of the French man pages, 27% Spanish, 16% Romanian,
            # 2% Serbian. The index also gets the stem of the unaccented word, at the same
            # position, so that an unaccented query meets accented text.
            folded = _fold_latin(root)
            plain = _fold_latin(word)
            bare = (stem_word(plain) or plain) if plain != word else folded
            return folded, (bare if bare != folded else None)

        local.cache, local.terms = {}, terms
        return local.cache, terms

    def terms(self, word: str) -> Terms:
        """The term of one normalised word, and the term of it typed without accents."""
        cache, terms = self._thread_state()
        found = cache.get(word)
        if found is None:
            if not _WILDCARDS.isdisjoint(word):
                return self._pattern(word, terms), None
            found = terms(word)
            if len(cache) >= _STEM_CACHE_SIZE:
                cache.clear()
            cache[word] = found
        return found

    def _pattern(self, pattern: str, terms: Callable[[str], Terms]) -> str:
        # The query parser hands a prefix or wildcard word ("migration*") to the analyzer
        # whole (process_text with tokenize=False, removestops=False), so every filter, this
        # one included, sees "migration*". The index holds stems ("migrat"): a prefix longer
        # than the stem finds nothing, not even "migration" itself. So the prefix before a
        # trailing "*" is stemmed. On 400 words x all their prefixes (UNGDC English, UNBIS
        # French, Spanish, Russian, Arabic) the stemmed prefix matched the word's stem in
        # 84-99% of cases (Arabic 76%: the stemmer strips the article), the prefix as typed in
        # 65-74% (Arabic 11%), at the cost of also matching other words of the same stem.
        # Other wildcards ("m?gration") cannot be stemmed: left as typed, folded.
        head = pattern.rstrip("*")
        if head and _WILDCARDS.isdisjoint(head):
            return terms(head)[0] + "*"
        return _fold_latin(pattern) if self.lang in _LATIN_SCRIPT else pattern

    def __call__(self, tokens: Iterator[Any]) -> Iterator[Any]:
        cache, _ = self._thread_state()
        for t in tokens:
            if t.stopped:
                yield t
                continue
            text = t.text
            found = cache.get(text)
            term, bare = self.terms(text) if found is None else found
            t.text = term
            yield t
            # A query word stays one term: the parser would combine two with AND or OR.
            if bare is not None and t.mode == "index":
                t.text = bare
                yield t


def analyzer(lang: str) -> Analyzer:
    """The analyzer for index field and query text in ``lang`` (LANGUAGES or OTHER)."""
    if lang != OTHER and lang not in _ALGORITHMS:
        raise ValueError(f"unknown analysis language {lang!r}")
    chain = RegexTokenizer(WORD_PATTERN) | NormalizeFilter(lang)
    if lang in STOP_WORDS:
        # minsize=1: a single digit is a word ("SDG 8"); Whoosh's default of 2 drops it.
        chain = chain | StopFilter(stoplist=STOP_WORDS[lang], minsize=1)
    if lang == OTHER:
        return chain  # NormalizeFilter folded the words; no stemmer
    return chain | SnowballFilter(lang)

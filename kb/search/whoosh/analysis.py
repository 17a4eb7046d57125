"""Per-language text analysis for the index: words, normalisation, stop words, stems, folding."""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import Stemmer
from whoosh.analysis import Analyzer, Filter, RegexTokenizer, StopFilter

# The rules shared with the thesaurus live in kb.search.text (no Whoosh there); re-exported
# here for the engine's modules.
from kb.search.text import (
    _ALGORITHMS,
    _LATIN_SCRIPT,
    _PRE_STEM,
    _PRE_STEM_NEEDED,
    LANGUAGES,
    OTHER,
    STOP_WORDS,
    WORD_PATTERN,
    _fold_latin,
    field_language,
    fold,
)

__all__ = ["LANGUAGES", "OTHER", "STOP_WORDS", "WORD_PATTERN", "NormalizeFilter",
           "SnowballFilter", "analyzer", "field_language", "fold"]

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

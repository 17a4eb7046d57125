"""What one search may cost: every part of a query whose cost grows with the user's input
is bounded, either capped (the applied value is reported with the result) or refused
with a QueryError that names the bound, and a search runs against a deadline.

The bounds are documented on /help/search (templates/search/help.html); keep both in step.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask_babel import gettext as _
from whoosh import query as wq
from whoosh.codec.base import Automata
from whoosh.searching import Searcher

from kb.errors import QueryError
from kb.i18n import number
from kb.search.limits import (
    CHECK_EVERY,
    MAX_CLAUSES,
    MAX_CORRECTED_WORDS,
    MAX_DEPTH,
    MAX_EDIT_DISTANCE,
    MAX_EXPANSIONS,
    MAX_FUZZY_WORDS,
    MAX_PATTERN_CHARS,
    MAX_PER_PAGE,
    MAX_QUERY_CHARS,
    MAX_RESULTS,
    MAX_WORDS,
    MAX_YEAR,
    MIN_PATTERN_CHARS,
    MIN_YEAR,
    NO_DEADLINE,
    Cap,
    Deadline,
)
from kb.search.whoosh import internals

__all__ = ["CHECK_EVERY", "MAX_CLAUSES", "MAX_CORRECTED_WORDS", "MAX_DEPTH", "MAX_EDIT_DISTANCE",
           "MAX_EXPANSIONS", "MAX_FUZZY_WORDS", "MAX_PATTERN_CHARS", "MAX_PER_PAGE",
           "MAX_QUERY_CHARS", "MAX_RESULTS", "MAX_WORDS", "MAX_YEAR", "MIN_PATTERN_CHARS",
           "MIN_YEAR", "NO_DEADLINE", "Cap", "Deadline", "bound_parsed", "cap_words",
           "check_depth", "check_length", "expand", "fuzzy_words", "needs_expansion"]


def check_length(text: str) -> None:
    """Refuse a query longer than MAX_QUERY_CHARS."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(_("The query is %(count)s characters long; at most %(limit)s are "
                           "searched (query length).", count=number(len(text)),
                           limit=number(MAX_QUERY_CHARS)))


_QUOTED = re.compile(r'"[^"]*"')


def check_depth(text: str) -> None:
    """Refuse parentheses nested deeper than MAX_DEPTH (quoted text aside)."""
    depth = deepest = 0
    for ch in _QUOTED.sub(" ", text):
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
    if deepest > MAX_DEPTH:
        raise QueryError(_("The query nests parentheses %(count)s deep; at most %(limit)s "
                           "levels are allowed (nesting depth).", count=deepest,
                           limit=MAX_DEPTH))


def cap_words(words: list[str]) -> tuple[list[str], Cap | None]:
    """The plain words, kept to the first MAX_WORDS distinct ones (repeats stay)."""
    distinct = list(dict.fromkeys(w.casefold() for w in words))
    if len(distinct) <= MAX_WORDS:
        return words, None
    keep = set(distinct[:MAX_WORDS])
    return [w for w in words if w.casefold() in keep], Cap("words", len(distinct), MAX_WORDS)


_PATTERN_SPECIALS = frozenset("*?[")


def bound_parsed(q: wq.Query) -> tuple[wq.Query, tuple[Cap, ...]]:
    """A parsed query-language query checked against the bounds: fuzzy edit distances
    capped, too many clauses or too short or long patterns refused."""
    # The parser repeats each word in every default field (body, title...): a clause is
    # counted once for all of them, by its text and place in the query.
    clauses: dict[tuple[object, ...], int] = {}
    caps: list[Cap] = []
    for leaf in q.leaves():
        if isinstance(leaf, wq.Phrase):
            clauses[("phrase", tuple(leaf.words))] = len(leaf.words)
        else:
            clauses[(type(leaf).__name__, str(getattr(leaf, "text", "")),
                     getattr(leaf, "startchar", None))] = 1
        if isinstance(leaf, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            text = str(leaf.text)
            shown = _shown(leaf)
            if len(text) > MAX_PATTERN_CHARS:
                raise QueryError(_("%(word)s: a prefix, wildcard or fuzzy word may have at "
                                   "most %(limit)s letters (pattern length).", word=shown,
                                   limit=MAX_PATTERN_CHARS))
            if isinstance(leaf, wq.Wildcard):
                head = next((i for i, ch in enumerate(text) if ch in _PATTERN_SPECIALS),
                            len(text))
                if head < MIN_PATTERN_CHARS:
                    raise QueryError(_("%(word)s: type at least %(limit)s letters before * "
                                       "or ? (pattern prefix).", word=shown,
                                       limit=MIN_PATTERN_CHARS))
            elif isinstance(leaf, wq.Prefix) and len(text) < MIN_PATTERN_CHARS:
                raise QueryError(_("%(word)s: type at least %(limit)s letters before * "
                                   "(pattern prefix).", word=shown, limit=MIN_PATTERN_CHARS))
    fuzzy_words = sum(1 for kind, *_ in clauses if kind == "FuzzyTerm")
    if fuzzy_words > MAX_FUZZY_WORDS:
        raise QueryError(_("The query has %(count)s fuzzy words (word~); at most %(limit)s "
                           "are searched (fuzzy words).", count=fuzzy_words,
                           limit=MAX_FUZZY_WORDS))
    count = sum(clauses.values())
    if count > MAX_CLAUSES:
        raise QueryError(_("The query has %(count)s words and clauses; at most %(limit)s "
                           "are searched (clauses).", count=count, limit=MAX_CLAUSES))
    fuzzy = [leaf.maxdist for leaf in q.leaves()
             if isinstance(leaf, wq.FuzzyTerm) and leaf.maxdist > MAX_EDIT_DISTANCE]
    if fuzzy:
        caps.append(Cap("edit_distance", int(max(fuzzy)), MAX_EDIT_DISTANCE))

        def capped(leaf: wq.Query) -> wq.Query:
            if isinstance(leaf, wq.FuzzyTerm) and leaf.maxdist > MAX_EDIT_DISTANCE:
                return wq.FuzzyTerm(leaf.fieldname, leaf.text, boost=leaf.boost,
                                    maxdist=MAX_EDIT_DISTANCE,
                                    prefixlength=leaf.prefixlength)
            return leaf

        q = q.accept(capped)
    return q, tuple(caps)


def _shown(leaf: wq.Query) -> str:
    text = str(leaf.text)
    if isinstance(leaf, wq.Prefix):
        return text + "*"
    if isinstance(leaf, wq.FuzzyTerm):
        return f"{text}~{leaf.maxdist}"
    return text


class Expanded(wq.MultiTerm):
    """A prefix, wildcard or fuzzy word replaced by the index words it stands for,
    found once (``expand``): Whoosh would look them up again in every segment's matcher,
    the snippets once more, with no bound. Matched and scored as the original query is."""

    def __init__(self, original: wq.MultiTerm, words: Iterable[bytes]) -> None:
        self.original = original
        self.fieldname = original.fieldname
        self.text = getattr(original, "text", "")
        self.boost = original.boost
        self.constantscore = original.constantscore
        self.words = tuple(sorted(set(words)))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Expanded) and self.original == other.original
                and self.words == other.words)

    def __hash__(self) -> int:
        return hash(self.original) ^ hash(self.words)

    def __repr__(self) -> str:
        return f"Expanded({self.original!r}, {len(self.words)} words)"

    def _btexts(self, ixreader: object) -> Iterator[bytes]:
        fieldname = self.fieldname
        return (w for w in self.words if (fieldname, w) in ixreader)  # type: ignore[operator]


# Term ranges are left to Whoosh: they are only allowed on catalogue fields (country:,
# type:...), whose lists of values are short.
_MULTI = (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)


def needs_expansion(q: wq.Query) -> bool:
    """True when ``q`` holds a prefix, wildcard or fuzzy word."""
    return any(isinstance(leaf, _MULTI) for leaf in q.leaves())


def expand(searcher: Searcher, q: wq.Query, deadline: Deadline) -> wq.Query:
    """``q`` with every prefix, wildcard and fuzzy word replaced by the index words it
    stands for; more than MAX_EXPANSIONS of them in all is refused."""
    count = 0
    dfas: dict[tuple[str, int, int], Any] = {}
    segments = [sub.reader() for sub, _ in searcher.leaf_searchers()]
    # A language's body field also holds the document's title, summary and themes
    # (kb.search.whoosh.schema): a pattern's words in those fields are among its words in the
    # body, so the index's words are scanned once per pattern and language, not per field.
    in_body: dict[tuple[object, ...], list[list[bytes]]] = {}

    def body_words(leaf: wq.Query, body: str) -> list[list[bytes]]:
        key = (type(leaf), body, leaf.text, getattr(leaf, "maxdist", None),
               getattr(leaf, "prefixlength", None))
        found = in_body.get(key)
        if found is None:
            scanned = copy.copy(leaf)
            scanned.fieldname = body
            found = in_body[key] = [_scan(reader, scanned, dfas, deadline)
                                    for reader in segments]
        return found

    def visit(leaf: wq.Query) -> wq.Query:
        nonlocal count
        if not isinstance(leaf, _MULTI) or leaf.fieldname not in searcher.schema:
            return leaf
        fieldname = leaf.fieldname
        body = _body_field(fieldname)
        if body not in searcher.schema:
            body = fieldname
        words: set[bytes] = set()
        for reader, found in zip(segments, body_words(leaf, body), strict=True):
            if body == fieldname:
                words.update(found)
            else:
                words.update(w for w in found if (fieldname, w) in reader)
            if len(words) > MAX_EXPANSIONS:
                break
        count += len(words)
        if count > MAX_EXPANSIONS:
            raise _too_many(leaf)
        deadline.check()
        return Expanded(leaf, words)

    return q.accept(visit)


def _body_field(fieldname: str) -> str:
    """The body field of the language of a text field ("title_fr" -> "body_fr")."""
    name, sep, lang = fieldname.partition("_")
    return f"body_{lang}" if sep and name in ("title", "summary", "themes") else fieldname


def _too_many(leaf: wq.Query) -> QueryError:
    return QueryError(_("%(word)s stands for more than %(limit)s words of the index "
                        "(expansions): type more letters or a smaller edit distance.",
                        word=_shown(leaf), limit=number(MAX_EXPANSIONS)))


def _scan(reader: Any, leaf: wq.Query, dfas: dict[tuple[str, int, int], Any],
          deadline: Deadline) -> list[bytes]:
    """The words of one segment ``leaf`` stands for (at most MAX_EXPANSIONS + 1)."""
    words: list[bytes] = []
    for n, btext in enumerate(_candidates(reader, leaf, dfas), 1):
        if btext is not None:
            words.append(btext)
            if len(words) > MAX_EXPANSIONS:
                raise _too_many(leaf)
        if not n % CHECK_EVERY:
            deadline.check()
    return words


def _candidates(reader: Any, leaf: wq.Query, dfas: dict[tuple[str, int, int], Any],
                ) -> Iterator[bytes | None]:
    """The words of one segment ``leaf`` stands for; None for each word read but not
    matched (so that the caller can look at the clock while a pattern scans)."""
    fieldname = leaf.fieldname
    field = reader.schema[fieldname]
    if isinstance(leaf, wq.FuzzyTerm):
        yield from fuzzy_words(reader, fieldname, leaf.text, int(leaf.maxdist),
                               int(leaf.prefixlength), dfas)
    elif isinstance(leaf, wq.Wildcard):
        regex, head = internals.wildcard_parts(leaf)
        pattern = re.compile(regex)
        for btext in reader.expand_prefix(fieldname, head):
            yield btext if pattern.match(field.from_bytes(btext)) else None
    else:
        yield from reader.expand_prefix(fieldname, leaf.text)


def fuzzy_words(reader: Any, fieldname: str, text: str, maxdist: int, prefix: int,
                dfas: dict[tuple[str, int, int], Any]) -> Iterator[bytes]:
    """The words of one segment's field within ``maxdist`` edits of ``text`` sharing its
    first ``prefix`` letters; the automaton is built once per query (``dfas``), not once
    per field and segment as Whoosh's FuzzyTerm does."""
    field = reader.schema[fieldname]
    if not reader.doc_count_all():
        return
    cursor = getattr(reader, "cursor", None)
    if cursor is None:  # not a segment: Whoosh's own (slow) scan
        for word in reader.terms_within(fieldname, text, maxdist, prefix=prefix):
            yield field.to_bytes(word)
        return
    key = (text, maxdist, prefix)
    dfa = dfas.get(key)
    if dfa is None:
        dfa = dfas[key] = Automata.levenshtein_dfa(text, maxdist, prefix)
    try:
        cur = cursor(field.spelling_fieldname(fieldname))
    except KeyError:  # a field without words in this segment
        return
    for word in Automata.find_matches(dfa, cur):
        yield field.to_bytes(word) if isinstance(word, str) else word

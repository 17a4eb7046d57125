"""Understanding a query: plain words as people type them, or the query language.

Plain words (no operators, fields, quotes or wildcards) are a natural-language query:
every word is looked for, documents matching more of them (and the rarer ones) rank first,
repeated words weigh more, punctuation is ignored. Anything else goes through Whoosh's
query parser: "phrases", AND/OR/NOT, field:value, prefix*, fuzzy~, year:2015..2017.

Either way the words are analysed once per language the index holds: a text field of the
query ("title", "body", ...) becomes the same field of every language ("title_fr", ...).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from flask_babel import gettext as _
from whoosh import fields, qparser
from whoosh import query as wq
from whoosh.analysis import LowercaseFilter, RegexTokenizer

from kb.errors import QueryError
from kb.search.whoosh import bounds
from kb.search.whoosh.analysis import STOP_WORDS, WORD_PATTERN, analyzer
from kb.search.whoosh.schema import text_field

# Query-time boosts. The body field holds all of a document's text, metadata included
# (kb.search.whoosh.schema), so these are what a word in the title, summary or themes earns on
# top. Measured on CISI with bench/relevance.py --tune (nDCG@10 falls from about 0.42 at
# title boosts up to 0.25 to 0.40 at 0.5, 0.385 at 1.0 and 0.36 at 2.0): a small boost,
# enough to rank a title match first among otherwise equal documents.
FIELD_BOOSTS = {"body": 1.0, "title": 0.1, "summary": 0.1, "themes": 0.1}

# Names a user may put before a colon, and the index field each stands for.
TEXT_NAMES = {"title": "title", "summary": "summary", "theme": "themes", "themes": "themes",
              "body": "body", "text": "body"}
KEYWORD_NAMES = ("country", "agency", "type", "language", "phase", "year", "gcm", "sdg",
                 "area")
# Lists whose codes start with the list's name ("gcm-20", "sdg-10.7", "area-policy"): the
# name may be left out after the colon ("gcm:20", "sdg:10.7", "area:policy").
CODE_LISTS = ("gcm", "sdg", "area")

# How much a thesaurus expansion weighs against the user's own words.
EXPANSION_WEIGHT = 0.5

_WORD = re.compile(WORD_PATTERN)
_FIELD = re.compile(r"(?<![\w:])(" + "|".join([*TEXT_NAMES, *KEYWORD_NAMES]) + r"):(?=\S)",
                    re.IGNORECASE)
_OPERATOR = re.compile(r"(?<=\S)\s+(AND|OR|AND NOT)\s+(?=\S)|(?:^|(?<=\s))NOT\s+(?=\S)")
# Quotes around one word are emphasis, not a phrase: plain words still.
_SYNTAX = re.compile(r'"[^"\w]*\w+\W+\w[^"]*"|\w[*?]\w|\w\*|~\d*(?:\s|$)|[\[\]{}]|\^\d')
_YEARS = re.compile(r"\byear:(\d{4})?\.\.(\d{4})?(?![\w.])", re.IGNORECASE)
_TRAILING_QUESTION = re.compile(r"(?<=\w)\?+(?=\s|$|[.,;:!)])")


@dataclass(frozen=True)
class Understood:
    """A query ready for the index: ``words`` (language, term, weight) when plain words."""

    query: wq.Query
    natural: bool
    # Per language: the analysed terms of a natural-language query and their weights.
    weights: dict[str, dict[str, float]]
    empty: bool = False  # nothing left to search for (only common words or punctuation)
    # Bounds applied to the query (kb.search.whoosh.bounds): what was asked, what is searched.
    capped: tuple[bounds.Cap, ...] = ()


def is_query_language(text: str) -> bool:
    """True when the text uses the query language rather than plain words."""
    return bool(_FIELD.search(text) or _OPERATOR.search(text) or _SYNTAX.search(text))


def _raw_schema() -> fields.Schema:
    # Words are only lower-cased here, accents kept: each language's analyzer (stemmers
    # need accents) runs afterwards, in _localise.
    raw = RegexTokenizer(WORD_PATTERN) | LowercaseFilter()
    return fields.Schema(
        **{name: fields.TEXT(analyzer=raw) for name in set(TEXT_NAMES.values())},
        country=fields.KEYWORD(lowercase=False),
        agency=fields.KEYWORD(lowercase=False),
        type=fields.ID,
        language=fields.ID,
        phase=fields.ID,
        year=fields.NUMERIC(int, bits=32, signed=False),
        **{name: fields.KEYWORD(lowercase=False) for name in CODE_LISTS},
    )


class _SideBySide(wq.Or):
    """Parts typed side by side, with no operator between them: alternatives that rank,
    which a field of the catalogue among them narrows (``_narrowing``). An OR typed stays
    a plain ``Or``: "country:MDA OR country:SRB" finds either country."""


class _SideBySideGroup(qparser.OrGroup):
    qclass = _SideBySide


@lru_cache(maxsize=1)
def _parser() -> qparser.QueryParser:
    parser = qparser.MultifieldParser(list(FIELD_BOOSTS), _raw_schema(),
                                      fieldboosts=FIELD_BOOSTS, group=_SideBySideGroup)
    parser.add_plugin(qparser.GtLtPlugin())
    parser.add_plugin(qparser.FuzzyTermPlugin())
    return parser


def _errors(q: wq.Query) -> list[str]:
    found = [str(q.error)] if getattr(q, "error", None) else []
    for child in q.children():
        found.extend(_errors(child))
    return found


def _terms(lang: str, text: str) -> list[str]:
    return [t.text for t in analyzer(lang)(text, mode="query")]


def _localise(q: wq.Query, langs: Sequence[str]) -> wq.Query:
    """The parsed query with every text field turned into that field in each language."""
    if not q.is_leaf():
        return q.apply(lambda child: _localise(child, langs))
    name = q.field()
    if name in KEYWORD_NAMES:
        return _keyword(q)
    if name not in FIELD_BOOSTS:
        return q
    options: list[wq.Query] = []
    for lang in langs:
        fieldname = text_field(name, lang)
        if isinstance(q, wq.Phrase):
            words = [t for w in q.words for t in _terms(lang, w)]
            if words:
                options.append(wq.Phrase(fieldname, words, slop=q.slop, boost=q.boost)
                               if len(words) > 1 else wq.Term(fieldname, words[0], boost=q.boost))
        elif isinstance(q, wq.FuzzyTerm):
            words = _terms(lang, q.text)
            if words:
                options.append(wq.FuzzyTerm(fieldname, words[0], boost=q.boost,
                                            maxdist=q.maxdist, prefixlength=q.prefixlength))
        elif isinstance(q, (wq.Prefix, wq.Wildcard)):
            # The analyzer stems a prefix's head and folds a wildcard word (analysis.py).
            pattern = analyzer(lang)(q.text + ("*" if isinstance(q, wq.Prefix) else ""),
                                     tokenize=False, removestops=False, mode="query")
            for token in pattern:
                text = token.text
                if isinstance(q, wq.Prefix):
                    options.append(wq.Prefix(fieldname, text.rstrip("*"), boost=q.boost))
                else:
                    options.append(wq.Wildcard(fieldname, text, boost=q.boost))
        elif isinstance(q, wq.Term):
            words = _terms(lang, str(q.text))
            if len(words) == 1:
                options.append(wq.Term(fieldname, words[0], boost=q.boost))
            elif words:
                options.append(wq.Phrase(fieldname, words, boost=q.boost))
        else:
            raise QueryError(_("This kind of query is not supported on %(field)s: use "
                               "words, \"phrases\", prefix* or fuzzy~.", field=name))
    return wq.Or(options) if options else wq.NullQuery


def _keyword(q: wq.Query) -> wq.Query:
    # Codes are stored as the taxonomy writes them: countries and agencies in capitals,
    # document types, languages, phases and the lists' codes in lower case.
    if isinstance(q, wq.Term) and isinstance(q.text, str):
        name = q.field()
        value = q.text.upper() if name in ("country", "agency") else q.text.lower()
        if name in CODE_LISTS and not value.startswith(f"{name}-"):
            value = f"{name}-{value}"
        return wq.Term(name, value, boost=q.boost)
    return q


def _only_keywords(q: wq.Query) -> bool:
    if q.is_leaf():
        return q.field() in KEYWORD_NAMES
    return all(_only_keywords(child) for child in q.children())


def _narrowing(q: wq.Query) -> wq.Query:
    """Words side by side are alternatives (ranked by how many match), but a field of the
    catalogue (country:, year:, ...) next to them narrows: "migration year:2015..2017".
    Every group comes back a plain ``Or`` (an OR typed was one already)."""
    if type(q) is _SideBySide:
        filters = [c for c in q.subqueries if _only_keywords(c)]
        words = [c for c in q.subqueries if not _only_keywords(c)]
        if filters:
            q = wq.And([*filters, wq.Or(words)] if words else filters)
    return q.accept(lambda node: wq.Or(node.subqueries, boost=node.boost)
                    if type(node) is _SideBySide else node)


def _tidy(text: str) -> str:
    """What people type around the query language: open quotes, question marks."""
    text = _TRAILING_QUESTION.sub("", text)
    if text.count('"') % 2:
        i = text.rfind('"')
        text = text[:i] + text[i + 1:]
    return _YEARS.sub(lambda m: "year:[" + " TO ".join(
        (m.group(1) or "", m.group(2) or "")).strip() + "]", text)


def natural_weights(text: str, langs: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each language's analysed terms of plain words, weighted by how often they occur."""
    out: dict[str, dict[str, float]] = {}
    for lang in langs:
        counts = Counter(_terms(lang, text))
        if counts:
            out[lang] = {t: float(n) for t, n in counts.items()}
    return out


def weighted_query(weights: dict[str, dict[str, float]],
                   names: Sequence[str] = tuple(FIELD_BOOSTS)) -> wq.Query:
    """An OR of every (language, term) over the text fields ``names`` with their boosts."""
    return wq.Or([
        wq.Term(text_field(name, lang), term, boost=FIELD_BOOSTS[name] * w)
        for lang, terms in weights.items()
        for term, w in terms.items()
        for name in names
    ])


def expansion_query(labels: Sequence[str], langs: Sequence[str]) -> wq.Query | None:
    """Thesaurus labels (other languages' names of a concept) as phrases, weighed below."""
    options: list[wq.Query] = []
    for label in labels:
        for lang in langs:
            words = _terms(lang, label)
            for name, boost in FIELD_BOOSTS.items():
                fieldname = text_field(name, lang)
                b = EXPANSION_WEIGHT * boost
                if len(words) == 1:
                    options.append(wq.Term(fieldname, words[0], boost=b))
                elif words:
                    options.append(wq.Phrase(fieldname, words, boost=b))
    return wq.Or(options) if options else None


# A query that matches nothing: never NullQuery, which And() drops (matching everything).
NOTHING = wq.Term("workflow", "-nothing-")


def function_words(text: str, lang: str) -> list[str]:
    """The words of ``text`` that are function words ("de", "la") in ``lang``."""
    stops = STOP_WORDS.get(lang, frozenset())
    return [w for w in _WORD.findall(text) if w.casefold() in stops]


def understand(text: str, langs: Sequence[str],
               quiet: frozenset[str] = frozenset()) -> Understood:
    """The user's text as a query over the given languages' fields; plain words in
    ``quiet`` (case-folded) are not searched for."""
    text = text.strip()
    if not text:
        return Understood(wq.Every(), natural=False, weights={})
    bounds.check_length(text)
    if is_query_language(text):
        bounds.check_depth(text)
        tidy = _tidy(text)
        q = _parse(tidy)
        problems = _errors(q)
        if problems:
            raise QueryError(_("The query could not be understood (%(problem)s). Check "
                               "field names, numbers and ranges, e.g. year:2014..2018.",
                               problem=problems[0]))
        q, capped = bounds.bound_parsed(q)
        q = _localise(_narrowing(q), langs).normalize()
        if q is wq.NullQuery:
            return Understood(NOTHING, natural=False, weights={}, empty=True, capped=capped)
        return Understood(q, natural=False, weights={}, capped=capped)
    words, cap = bounds.cap_words([w for w in _WORD.findall(text) if w.casefold() not in quiet])
    weights = natural_weights(" ".join(words), langs)
    caps = (cap,) if cap else ()
    if not weights:
        return Understood(NOTHING, natural=True, weights={}, empty=True, capped=caps)
    return Understood(weighted_query(weights), natural=True, weights=weights, capped=caps)


# What Whoosh's parser raises on some malformed queries ("NOT NOT x" leaves an empty
# group it then indexes; a huge number overflows): a mistake of the query, not of kb.
_PARSER_FAILURES = (IndexError, ValueError, TypeError, OverflowError, RecursionError)


def _parse(text: str) -> wq.Query:
    try:
        return _parser().parse(text)
    except _PARSER_FAILURES as e:
        raise QueryError(_("The query could not be understood: check that every operator "
                           "(AND, OR, NOT) stands between words and that parentheses and "
                           "quotes are closed.")) from e

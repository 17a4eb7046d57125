"""The multilingual thesaurus: import, cross-language query expansion, theme choices.

A thesaurus file is tab-separated, one concept a line, one column per language, under a
header of ISO 639-1 codes. Its labels are kept as written and in a folded form (case,
accents, Serbian Cyrillic and punctuation set aside) that queries are matched against.
Every process keeps the folded labels in memory and reloads them when the version row,
bumped by each import, changes: an import takes effect without a restart.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pycountry
from sqlalchemy import delete, func, insert, select, update

from kb import audit
from kb.errors import ValidationError
from kb.extensions import db
from kb.models import Concept, ConceptLabel, ThesaurusState, utcnow
from kb.search import STOP_WORDS, fold

MAX_LABEL = 500
MAX_SOURCE = 100
MAX_BAD_LINES_SHOWN = 10
# What one query may bring in: a long query cannot turn into hundreds of terms.
MAX_CONCEPTS = 5
MAX_LABELS_PER_CONCEPT = 8
MAX_QUERY_CHARS = 1000
STATE_ID = 1

# Scripts written without spaces between words: each character is a unit of matching, so
# that a label such as 人才外流 is found inside a longer run of characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT = re.compile(f"[{_CJK}]|[^\\W_{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD = re.compile(r"[^\W_]+")
# A word as typed: letters and digits with the combining marks that sit inside words
# (decomposed accents, Cyrillic, Hebrew, Arabic and Devanagari signs), or one CJK character.
_MARKS = ("\u00ad\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf-\u05c7\u0610-\u061a"
          "\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
          "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u1ab0-\u1aff"
          "\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f")
_TYPED_UNIT = re.compile(f"[{_CJK}]|(?:[^\\W_{_CJK}]|[{_MARKS}])+")
_CYRILLIC_END = re.compile("[\u0400-\u04ff]$")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})

# Words too common to stand for a concept when typed alone: the index's stop words (en,
# fr, es, ru). Measured on UNBIS: after folding, its French "thé" (tea) is the English
# "the", its French "or" (gold) the English "or", "maïs" the French "mais" and "té" the
# Spanish "te"; matched, each would expand nearly every query. The test is made on the
# word as typed, not folded: "thé" still finds tea, "Togo" the country and "того" nothing.
_STOP_WORDS = frozenset(unicodedata.normalize("NFC", w).casefold()
                        for words in STOP_WORDS.values() for w in words)


def normalise(text: str) -> str:
    """The folded form stored and matched: folded words joined by one space."""
    return " ".join(_WORD.findall(fold(text)))


def prefix_forms(prefix: str) -> tuple[str, ...]:
    """The folded forms a typed prefix may have in a folded label or title.

    Folding puts a Cyrillic word in Latin only if all its letters are Serbian, so the
    start of a Russian word ("денеж" of "денежные") can fold unlike the word: the form
    with the last word kept in Cyrillic is tried too (a Russian letter appended keeps it).
    """
    forms = [normalise(prefix)]
    if _CYRILLIC_END.search(prefix):
        forms.append(normalise(prefix + "ы")[:-1])
    return tuple(dict.fromkeys(f for f in forms if f))


@dataclass(frozen=True)
class ImportReport:
    source: str
    concepts: int
    labels: int
    languages: tuple[str, ...]
    version: int
    replaced: int  # concepts of the same source removed by this import
    skipped: int  # lines with no label at all

    def summary(self) -> str:
        return (f"imported {self.concepts:,} concepts, {self.labels:,} labels in "
                f"{', '.join(self.languages)} from {self.source} (version {self.version})")


@dataclass(frozen=True)
class Expansion:
    """A concept whose label occurs in a query, with its labels in the other languages."""

    matched: str  # the words of the query that matched, as typed
    lang: str  # the language of the label they matched
    label: str  # that label as the thesaurus writes it
    concept_id: int
    labels: tuple[tuple[str, str], ...]  # (lang, label) in the other languages


@dataclass(frozen=True)
class LabelMatch:
    lang: str
    label: str
    concept_id: int


@dataclass(frozen=True)
class Stats:
    version: int
    changed_at: datetime | None
    sources: tuple[tuple[str, int], ...]  # (source, concepts)
    labels_by_lang: tuple[tuple[str, int], ...]


# -- import -------------------------------------------------------------------------------


def _header(cells: list[str]) -> tuple[str, ...]:
    codes: list[str] = []
    for number, cell in enumerate(cells, start=1):
        code = cell.strip().lower()
        if not code:
            raise ValidationError(f"Column {number} of the header is empty: each column "
                                  "needs an ISO 639-1 language code such as en.")
        if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
            raise ValidationError(f"Column {number} of the header, {cell.strip()!r}, is not "
                                  "an ISO 639-1 language code (two letters, such as en).")
        if code in codes:
            raise ValidationError(f"Column {number} of the header repeats {code!r} (column "
                                  f"{codes.index(code) + 1}): one column per language.")
        codes.append(code)
    return tuple(codes)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 file, without their ends; a byte-order mark is dropped."""
    try:
        with path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise ValidationError(f"Line {number} of {path.name} is not UTF-8 text "
                                          f"(byte {e.start + 1}): save the file as UTF-8.") from e
                yield number, line.rstrip("\r\n")
    except OSError as e:
        raise ValidationError(f"Cannot read {path}: {e.strerror or e}.") from e


def read_file(path: Path) -> tuple[tuple[str, ...], list[list[tuple[str, str, str]]], int]:
    """The languages, the concepts (labels as (lang, label, folded)) and the number of
    lines with no label, of a thesaurus file; refuses the whole file at the first doubt."""
    languages: tuple[str, ...] = ()
    concepts: list[list[tuple[str, str, str]]] = []
    bad: list[tuple[int, int]] = []
    too_long: list[int] = []
    skipped = 0
    for number, line in _lines(path):
        if not line.strip() and "\t" not in line:
            continue  # blank; a line of tabs only is a concept without labels
        cells = line.split("\t")
        if not languages:
            languages = _header(cells)
            continue
        if len(cells) != len(languages):
            bad.append((number, len(cells)))
            continue
        labels = []
        for lang, cell in zip(languages, cells, strict=True):
            label = " ".join(cell.split())
            if not label:
                continue
            if len(label) > MAX_LABEL:
                too_long.append(number)
                break
            labels.append((lang, label, normalise(label)[:MAX_LABEL]))
        if labels:
            concepts.append(labels)
        else:
            skipped += 1
    if not languages:
        raise ValidationError(f"{path.name} is empty: it needs a header of ISO 639-1 codes "
                              "and one concept a line.")
    if bad:
        shown = ", ".join(f"line {n} ({c})" for n, c in bad[:MAX_BAD_LINES_SHOWN])
        hidden = len(bad) - MAX_BAD_LINES_SHOWN
        more = f" and {hidden} more" if hidden > 0 else ""
        raise ValidationError(
            f"{len(bad)} line(s) of {path.name} do not have the header's {len(languages)} "
            f"tab-separated columns: {shown}{more}. Nothing was imported.")
    if too_long:
        raise ValidationError(f"Line {too_long[0]} of {path.name} has a label longer than "
                              f"{MAX_LABEL} characters. Nothing was imported.")
    if not concepts:
        raise ValidationError(f"{path.name} has no concept with a label: nothing to import.")
    return languages, concepts, skipped


def import_file(path: Path | str, *, source: str | None = None,
                replace: bool = True) -> ImportReport:
    """Load a thesaurus file in one transaction, replacing the earlier import of its source."""
    path = Path(path)
    name = " ".join((source if source is not None else path.stem).split())
    if not name or len(name) > MAX_SOURCE:
        raise ValidationError(f"The source name must have 1 to {MAX_SOURCE} characters.")
    languages, concepts, skipped = read_file(path)
    try:
        replaced = 0
        if replace:
            old = select(Concept.concept_id).where(Concept.source == name)
            db.session.execute(delete(ConceptLabel).where(ConceptLabel.concept_id.in_(old)))
            replaced = db.session.execute(
                delete(Concept).where(Concept.source == name)).rowcount or 0  # type: ignore[attr-defined]
        # Core inserts on the tables: the ORM's bulk path costs twice the time here.
        concept_table, label_table = Concept.__table__, ConceptLabel.__table__
        now = utcnow()
        ids = db.session.scalars(
            insert(concept_table).returning(concept_table.c.concept_id,
                                            sort_by_parameter_order=True),
            [{"source": name, "created_at": now} for _ in concepts],
        ).all()
        rows = [{"concept_id": concept_id, "lang": lang, "label": label, "folded": folded}
                for concept_id, labels in zip(ids, concepts, strict=True)
                for lang, label, folded in labels]
        db.session.execute(insert(label_table), rows)
        version = _bump_version()
        audit.record("thesaurus-import", target_type="thesaurus", target_id=name,
                     detail=f"{len(concepts)} concepts, {len(rows)} labels, version {version}",
                     actor_email="command line", commit=False)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ImportReport(source=name, concepts=len(concepts), labels=len(rows),
                        languages=tuple(sorted(languages)), version=version,
                        replaced=replaced, skipped=skipped)


def _bump_version() -> int:
    bumped = db.session.execute(
        update(ThesaurusState).where(ThesaurusState.state_id == STATE_ID)
        .values(version=ThesaurusState.version + 1, changed_at=utcnow()))
    if not bumped.rowcount:  # type: ignore[attr-defined]
        db.session.add(ThesaurusState(state_id=STATE_ID, version=1, changed_at=utcnow()))
        db.session.flush()
    return int(db.session.scalar(
        select(ThesaurusState.version).where(ThesaurusState.state_id == STATE_ID)) or 0)


# -- the labels in memory -----------------------------------------------------------------


# A label in memory: (concept_id, lang, label as written, folded).
_Label = tuple[int, str, str, str]
_OFFSET_BITS = 10  # a tail is (label position << 10) | offset: folded labels are <= 500


@dataclass(frozen=True)
class _Vocabulary:
    state: tuple[int, datetime | None]
    labels: tuple[_Label, ...]  # by concept, then language
    # Folded label -> the labels (positions in `labels`) folded so.
    phrases: dict[str, tuple[int, ...]]
    # Concept -> its labels (positions in `labels`).
    concepts: dict[int, range]
    longest: int  # units (words, CJK characters) of the longest label
    languages: tuple[str, ...]
    # Every word-initial tail of every folded label, in the order of the tails' text, for
    # prefix look-ups (the text itself is not kept: it is a slice of the label's).
    tails: array[int]

    def tail(self, entry: int) -> str:
        return self.labels[entry >> _OFFSET_BITS][3][entry & ((1 << _OFFSET_BITS) - 1):]


_lock = threading.Lock()
_vocabularies: dict[str, _Vocabulary] = {}


def _state() -> tuple[int, datetime | None]:
    row = db.session.execute(
        select(ThesaurusState.version, ThesaurusState.changed_at)
        .where(ThesaurusState.state_id == STATE_ID)).first()
    return (0, None) if row is None else (int(row[0]), row[1])


def _vocabulary() -> _Vocabulary:
    """This process's copy of the labels, reloaded when another import has happened.

    One primary-key read per call (0.4 ms on SQLite, measured): cheap enough to run on
    every search, so that no process ever answers with an outdated thesaurus.
    """
    state = _state()
    # Keyed by database too: several apps (tests, tools) may share one process.
    key = db.engine.url.render_as_string(hide_password=True)
    vocabulary = _vocabularies.get(key)
    if vocabulary is not None and vocabulary.state == state:
        return vocabulary
    with _lock:
        vocabulary = _vocabularies.get(key)
        if vocabulary is None or vocabulary.state != state:
            vocabulary = _load(state)
            _vocabularies[key] = vocabulary
    return vocabulary


def _load(state: tuple[int, datetime | None]) -> _Vocabulary:
    labels: list[_Label] = []
    phrases: dict[str, list[int]] = {}
    first: dict[int, int] = {}
    tails = array("q")
    longest = 0
    langs: dict[str, str] = {}
    rows = db.session.execute(
        select(ConceptLabel.concept_id, ConceptLabel.lang, ConceptLabel.label,
               ConceptLabel.folded).order_by(ConceptLabel.concept_id, ConceptLabel.lang))
    for concept_id, lang, label, folded in rows:
        at = len(labels)
        labels.append((concept_id, langs.setdefault(lang, lang), label, folded))
        first.setdefault(concept_id, at)
        if not folded:
            continue
        phrases.setdefault(folded, []).append(at)
        longest = max(longest, len(_UNIT.findall(folded)))
        # Folded labels are words joined by one space: a word starts after each space.
        space = -1
        while True:
            tails.append(at << _OFFSET_BITS | (space + 1))
            space = folded.find(" ", space + 1)
            if space < 0:
                break
    # Rows come by concept: a concept's labels run from its first to the next one's.
    bounds = [*first.values(), len(labels)]
    vocabulary = _Vocabulary(
        state=state, labels=tuple(labels),
        phrases={k: tuple(v) for k, v in phrases.items()},
        concepts={c: range(bounds[i], bounds[i + 1]) for i, c in enumerate(first)},
        longest=longest, languages=tuple(sorted(langs)), tails=tails,
    )
    vocabulary.tails[:] = array("q", sorted(tails, key=vocabulary.tail))
    return vocabulary


# -- expansion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    text: str  # folded: a word, or one CJK character
    start: int  # offsets in the (NFC) query
    end: int
    segment: int  # a match never spans two segments (split by operators and wildcards)
    glued: bool  # follows the previous unit with nothing between (CJK characters)
    alone: bool  # a CJK character with no CJK character beside it
    typed: str  # the query's characters for it, case-folded only


def _is_cjk(text: str) -> bool:
    return bool(_CJK_CHAR.fullmatch(text))


def _query_units(query: str) -> list[_Unit]:
    units: list[_Unit] = []
    segment = 0
    for chunk in re.finditer(r"\S+", query):
        if chunk.group() in _OPERATORS or "*" in chunk.group() or "?" in chunk.group():
            segment += 1
            continue
        # Each word (or CJK character) is folded whole, as the labels were: the fold of a
        # Cyrillic word depends on all of its letters (Serbian or not).
        previous_end = -1
        for m in _TYPED_UNIT.finditer(query, chunk.start(), chunk.end()):
            pieces = _UNIT.findall(fold(m.group()))
            for n, piece in enumerate(pieces):
                cjk = _is_cjk(piece)
                alone = cjk and not _is_cjk(query[m.start() - 1:m.start()]) and not _is_cjk(
                    query[m.end():m.end() + 1])
                glued = n == 0 and m.start() == previous_end
                units.append(_Unit(piece, m.start(), m.end(), segment, glued, alone,
                                   m.group().casefold()))
            previous_end = m.end()
    return units


def _phrase(window: list[_Unit]) -> str:
    """The units as a folded label writes them: words apart, glued characters together."""
    return window[0].text + "".join(("" if u.glued else " ") + u.text for u in window[1:])


def _usable(window: list[_Unit]) -> bool:
    """Whether a one-unit label may stand for a concept here (longer ones always may)."""
    if len(window) > 1:
        return True
    unit = window[0]
    if _is_cjk(unit.text):
        # One character is usually part of a longer word: only a character on its own.
        return unit.alone
    return len(unit.text) > 1 and unit.typed not in _STOP_WORDS


def expansions(query: str, *, limit: int = MAX_CONCEPTS) -> list[Expansion]:
    """Concepts whose labels occur in the query as whole words (longest first), with their
    labels in the other languages; at most ``limit`` concepts."""
    query = unicodedata.normalize("NFC", query[:MAX_QUERY_CHARS])
    vocabulary = _vocabulary()
    if not vocabulary.phrases:
        return []
    units = _query_units(query)
    found: list[Expansion] = []
    seen: set[int] = set()
    i = 0
    while i < len(units) and len(found) < limit:
        step = 1
        for size in range(min(vocabulary.longest, len(units) - i), 0, -1):
            window = units[i:i + size]
            if window[-1].segment != window[0].segment:
                continue
            owners = vocabulary.phrases.get(_phrase(window))
            if owners is None or not _usable(window):
                continue
            matched = query[window[0].start:window[-1].end]
            for at in owners:
                concept_id, lang, label, folded = vocabulary.labels[at]
                if concept_id in seen or len(found) >= limit:
                    continue
                seen.add(concept_id)
                found.append(Expansion(matched=matched, lang=lang, label=label,
                                       concept_id=concept_id,
                                       labels=_others(vocabulary, concept_id, folded)))
            step = size
            break
        i += step
    return found


def _others(vocabulary: _Vocabulary, concept_id: int, matched: str) -> tuple[tuple[str, str], ...]:
    """The concept's labels other than the one matched, each folded form once."""
    out: list[tuple[str, str]] = []
    seen = {matched}
    for at in vocabulary.concepts.get(concept_id, range(0)):
        _, lang, label, folded = vocabulary.labels[at]
        if folded in seen:
            continue
        seen.add(folded)
        out.append((lang, label))
        if len(out) >= MAX_LABELS_PER_CONCEPT:
            break
    return tuple(out)


# -- look-ups -----------------------------------------------------------------------------


def labels_starting(prefix: str, *, lang: str | None = None, limit: int = 20) -> list[LabelMatch]:
    """Labels with a word starting with the (folded) prefix: labels that start with it
    first, then shorter ones; each label once."""
    if limit < 1:
        return []
    vocabulary = _vocabulary()
    found: dict[str, tuple[tuple[int, int, str], LabelMatch]] = {}
    tails = vocabulary.tails
    for wanted in prefix_forms(prefix):
        at = bisect_left(tails, wanted, key=vocabulary.tail)
        while at < len(tails) and vocabulary.tail(tails[at]).startswith(wanted):
            concept_id, label_lang, label, folded = vocabulary.labels[tails[at] >> _OFFSET_BITS]
            at += 1
            if lang is not None and label_lang != lang:
                continue
            rank = (0 if folded.startswith(wanted) else 1, len(folded), folded)
            previous = found.get(label)
            if previous is None or rank < previous[0]:
                found[label] = (rank, LabelMatch(label_lang, label, concept_id))
            if len(found) >= limit * 20:  # enough to rank from: a short prefix stops here
                break
    ranked = sorted(found.values(), key=lambda item: item[0])
    return [match for _, match in ranked[:limit]]


# How many labels a theme picker is offered by default, and at most.
THEMES_DEFAULT, THEMES_MAX = 20, 50


def theme_choices(prefix: str, lang: str, limit: int = THEMES_DEFAULT) -> list[str]:
    """Thesaurus labels in ``lang`` with a word starting with the (folded) prefix."""
    return [m.label for m in labels_starting(prefix, lang=lang, limit=limit)]


def label_languages() -> list[str]:
    """The languages the thesaurus has labels in, sorted."""
    return list(_vocabulary().languages)


def stats() -> Stats:
    """The version, the concepts of each source and the labels of each language."""
    version, changed_at = _state()
    sources = db.session.execute(
        select(Concept.source, func.count()).group_by(Concept.source).order_by(Concept.source))
    langs = db.session.execute(
        select(ConceptLabel.lang, func.count()).group_by(ConceptLabel.lang)
        .order_by(ConceptLabel.lang))
    return Stats(version=version, changed_at=changed_at,
                 sources=tuple((s, int(n)) for s, n in sources),
                 labels_by_lang=tuple((lang, int(n)) for lang, n in langs))


def concept_labels(label: str, *, lang: str = "en") -> list[tuple[str, str]]:
    """Every (language, label) of the concepts whose label in ``lang`` is ``label`` (after
    folding); empty when no imported concept has it (the term suggestions' UNBIS rules)."""
    vocabulary = _vocabulary()
    out: list[tuple[str, str]] = []
    for at in vocabulary.phrases.get(normalise(label), ()):
        concept_id, label_lang, _label, _folded = vocabulary.labels[at]
        if label_lang != lang:
            continue
        for other in vocabulary.concepts.get(concept_id, range(0)):
            _, other_lang, other_label, _ = vocabulary.labels[other]
            out.append((other_lang, other_label))
    return out

"""GCM objectives and SDG targets proposed from a document's text (issue 17).

When a document's text is extracted, the rules of kb.term_rules (key phrases per language
and UNBIS thesaurus concepts, one rule per code) are matched on its title, summary and the
start of its text; the codes that score enough are stored as open suggestions, with the
phrases found and where. An editor accepts one (it becomes one of the document's terms,
recorded in its history and the audit trail) or dismisses it (never proposed again for
that document). Nothing is ever applied without that decision.

Score of a rule: TITLE_WEIGHT if a phrase is in the title, SUMMARY_WEIGHT if in the
summary, and up to BODY_WEIGHT from the text: the phrases' occurrences per 1,000 words,
full weight at BODY_FULL_RATE (a long document does not win by its length; a text shorter
than MIN_WORDS counts as that long, so that one passing mention in a note is not enough);
a phrase of LONG_PHRASE words or more counts twice.
A code is proposed when its score reaches THRESHOLD, at most MAX_PER_LIST per list, best
first.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from kb import audit, clock, policy, term_rules, vocabularies
from kb.errors import Forbidden, NotFound, ValidationError
from kb.extensions import db
from kb.extract import leading_text
from kb.models import Document, DocumentTerm, TermSuggestion
from kb.services import history, processing, thesaurus

log = logging.getLogger(__name__)

# The lists suggestions are made for (the outcome areas are not read from text).
LISTS = ("gcm", "sdg")
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 2.0
BODY_WEIGHT = 2.0
BODY_FULL_RATE = 2.0  # occurrences per 1,000 words that give the text its full weight
MIN_WORDS = 500
# Measured by bench/suggest.py on 62 hand-labelled documents: at 1.0 precision 0.94 but
# recall 0.24 (one clear sentence in a speech scores 0.4-0.8); 0.75 keeps most suggestions
# right (0.89) and finds 0.40 of the labels; editors decide each one.
THRESHOLD = 0.75
LONG_PHRASE = 4  # words: a phrase this long counts twice
MAX_PER_LIST = 5
# Only the start of a long text is read: the cost is bounded whatever the upload.
MAX_BODY_CHARS = 200_000
MAX_TITLE_CHARS = 2_000
MAX_SUMMARY_CHARS = 20_000
MAX_EVIDENCE = 8  # phrases kept as a suggestion's evidence
ZONES = ("title", "summary", "body")

# A piece of a phrase as written: a word, with ``*`` after it for any ending.
_PIECE = re.compile(r"[^\W_]+\*?")


@dataclass(frozen=True)
class Evidence:
    """A phrase of a rule found in a document: where, and how many times."""

    phrase: str  # as the rule (or the thesaurus) writes it
    lang: str
    where: str  # title | summary | body
    count: int

    def as_json(self) -> dict[str, Any]:
        return {"phrase": self.phrase, "lang": self.lang, "where": self.where,
                "count": self.count}


@dataclass(frozen=True)
class Proposal:
    vocabulary: str
    code: str
    score: float
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class _Phrase:
    text: str
    lang: str
    pattern: str  # a regular expression over folded text (words joined by one space)

    @property
    def words(self) -> int:
        return self.pattern.count(" ") + 1


@dataclass(frozen=True)
class _Rule:
    code: str
    phrases: tuple[_Phrase, ...]
    regex: re.Pattern[str]  # one capturing group per phrase, in order


# What a rule's UNBIS concept brings: the concept's (lang, label) pairs, given its English
# label. The product reads them from the imported thesaurus; the benchmark from the file.
ConceptLabels = Callable[[str], Sequence[tuple[str, str]]]


def fold(text: str) -> str:
    """Text as the rules match it: the thesaurus's folded words joined by one space."""
    return thesaurus.normalise(text)


def phrase_pattern(phrase: str) -> str:
    """The regular expression, over folded text, of a rule's phrase (``*``: any ending)."""
    parts: list[str] = []
    for piece in _PIECE.findall(unicodedata.normalize("NFC", phrase)):
        if piece.endswith("*"):
            # A Cyrillic stem may fold unlike the words it starts (thesaurus.prefix_forms).
            forms = thesaurus.prefix_forms(piece[:-1])
            if forms:
                parts.append("(?:" + "|".join(re.escape(f) for f in forms) + r")\w*")
        else:
            folded = fold(piece)
            if folded:
                parts.append(re.escape(folded))
    return " ".join(parts)


def _compile(code: str, phrases: Iterable[tuple[str, str]]) -> _Rule:
    kept: list[_Phrase] = []
    seen: set[str] = set()
    for lang, text in phrases:
        pattern = phrase_pattern(text)
        if pattern and pattern not in seen:
            seen.add(pattern)
            kept.append(_Phrase(text, lang, pattern))
    # Longer phrases first: "cost of remittances" is one finding, not also "remittances".
    ordered = sorted(kept, key=lambda p: -len(p.pattern))
    body = "|".join(f"({p.pattern})" for p in ordered) or "(?!)"
    return _Rule(code, tuple(ordered), re.compile(rf"(?<!\S)(?:{body})(?!\S)"))


def compile_rules(concept_labels: ConceptLabels | None = None,
                  rules: dict[str, term_rules.Rule] | None = None) -> tuple[_Rule, ...]:
    """The rules ready to match: their phrases, and their UNBIS concepts' labels."""
    compiled = []
    for code, rule in (rules if rules is not None else term_rules.RULES).items():
        phrases = [(lang, text) for lang in term_rules.LANGUAGES
                   for text in rule.get(lang, ())]
        for english in rule.get("unbis", ()):
            if concept_labels is not None:
                phrases.extend(concept_labels(english))
        compiled.append(_compile(code, phrases))
    return tuple(compiled)


@dataclass(frozen=True)
class _Zone:
    name: str
    text: str
    words: int


def _zones(title: str, summary: str, body: str) -> tuple[_Zone, ...]:
    zones = []
    for name, text, limit in (("title", title, MAX_TITLE_CHARS),
                              ("summary", summary, MAX_SUMMARY_CHARS),
                              ("body", body, MAX_BODY_CHARS)):
        folded = fold(text[:limit])
        zones.append(_Zone(name, folded, folded.count(" ") + 1 if folded else 0))
    return tuple(zones)


def _score(rule: _Rule, zones: Sequence[_Zone]) -> tuple[float, tuple[Evidence, ...]]:
    score = 0.0
    evidence: list[Evidence] = []
    for zone in zones:
        if not zone.text:
            continue
        found: Counter[int] = Counter(m.lastindex or 0 for m in rule.regex.finditer(zone.text))
        if not found:
            continue
        # A phrase of LONG_PHRASE words or more names its subject beyond doubt ("global
        # compact for safe, orderly and regular migration"): it counts twice.
        hits = sum(count * (2 if rule.phrases[group - 1].words >= LONG_PHRASE else 1)
                   for group, count in found.items())
        if zone.name == "title":
            score += TITLE_WEIGHT
        elif zone.name == "summary":
            score += SUMMARY_WEIGHT
        else:
            rate = hits * 1000 / max(zone.words, MIN_WORDS)
            score += BODY_WEIGHT * min(1.0, rate / BODY_FULL_RATE)
        for group, count in found.most_common():
            phrase = rule.phrases[group - 1]
            evidence.append(Evidence(phrase.text, phrase.lang, zone.name, count))
    return score, tuple(evidence[:MAX_EVIDENCE])


def propose(title: str, summary: str, body: str, rules: Sequence[_Rule],
            threshold: float = THRESHOLD, limit: int = MAX_PER_LIST) -> list[Proposal]:
    """The codes whose rules score at least ``threshold`` on the text, best first, at most
    ``limit`` per list."""
    zones = _zones(title, summary, body)
    by_list: dict[str, list[Proposal]] = {}
    for rule in rules:
        score, evidence = _score(rule, zones)
        if score >= threshold:
            vocabulary = rule.code.partition("-")[0]
            by_list.setdefault(vocabulary, []).append(
                Proposal(vocabulary, rule.code, round(score, 3), evidence))
    out: list[Proposal] = []
    for vocabulary in LISTS:
        ranked = sorted(by_list.get(vocabulary, []), key=lambda p: (-p.score, p.code))
        out.extend(ranked[:limit])
    return out


# -- in the product: the thesaurus from the database, suggestions stored ------------------


@lru_cache(maxsize=4)
def _cached_rules(labels: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
                  ) -> tuple[_Rule, ...]:
    found = dict(labels)
    return compile_rules(lambda english: found.get(english, ()))


def current_rules() -> tuple[_Rule, ...]:
    """The rules with the labels the imported thesaurus gives their concepts (compiled
    again only when those labels change, e.g. after an import)."""
    wanted = sorted({english for rule in term_rules.RULES.values()
                     for english in rule.get("unbis", ())})
    return _cached_rules(tuple((english, tuple(thesaurus.concept_labels(english)))
                               for english in wanted))


def refresh(doc: Document, pages: Sequence[str]) -> list[TermSuggestion]:
    """Store the document's suggestions from its text (no commit): open ones are replaced
    by those proposed now; a code already on the document, dismissed or accepted before is
    not proposed again. Returns the open suggestions."""
    proposals = propose(doc.title or "", doc.summary or "",
                        leading_text(pages, MAX_BODY_CHARS), current_rules())
    rows = {(r.vocabulary, r.code): r for r in db.session.scalars(
        select(TermSuggestion).where(TermSuggestion.doc_id == doc.doc_id))}
    on_doc = {(t.vocabulary, t.code) for t in doc.term_rows}
    wanted = {(p.vocabulary, p.code): p for p in proposals if (p.vocabulary, p.code)
              not in on_doc}
    kept: list[TermSuggestion] = []
    for key, row in rows.items():
        if row.state == "open" and key not in wanted:
            db.session.delete(row)
    for key, proposal in wanted.items():
        evidence = json.dumps([e.as_json() for e in proposal.evidence], ensure_ascii=False)
        found = rows.get(key)
        if found is None:
            row = TermSuggestion(doc_id=doc.doc_id, vocabulary=proposal.vocabulary,
                                 code=proposal.code, state="open", created_at=clock.now())
            db.session.add(row)
        elif found.state != "open":
            continue  # an editor decided: dismissed stays dismissed
        else:
            row = found
        row.score, row.evidence = proposal.score, evidence
        kept.append(row)
    return kept


def refresh_quietly(doc: Document, pages: Sequence[str]) -> None:
    """``refresh`` after an extraction, in a savepoint: a failure is logged, never fails the
    processing of the document."""
    try:
        with db.session.begin_nested():
            refresh(doc, pages)
    except Exception:  # a suggestion is a convenience; the document's text is what matters
        log.exception("term suggestions for document %s failed", doc.doc_id,
                      extra={"doc_id": doc.doc_id})


def refresh_after_edit(doc: Document, before: Mapping[str, object]) -> None:
    """``refresh_quietly`` from the stored text when an edit changed the title or the
    summary (``before``: history.snapshot), which weigh most; a document still being
    read is refreshed by its extraction."""
    if doc.status == "processing" or (before.get("title"), before.get("summary")) == (
            doc.title, doc.summary or ""):
        return
    pages = processing.stored_pages(doc)
    if pages:
        refresh_quietly(doc, pages)


# -- for editors: see, accept, dismiss -----------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """An open suggestion as an editor sees it."""

    vocabulary: str
    code: str
    label: str
    score: float
    evidence: tuple[Evidence, ...]
    state: str


def _shown(row: TermSuggestion, language: str) -> Shown:
    concept = vocabularies.find(row.vocabulary, row.code)
    try:
        raw = json.loads(row.evidence or "[]")
        evidence = tuple(Evidence(str(e["phrase"]), str(e.get("lang", "")),
                                  str(e["where"]), int(e["count"])) for e in raw)
    except (ValueError, KeyError, TypeError):
        evidence = ()
    return Shown(row.vocabulary, row.code,
                 concept.label(language) if concept is not None else row.code,
                 row.score, evidence, row.state)


def _rows(doc: Document, states: Iterable[str]) -> list[TermSuggestion]:
    order = {code: n for vocabulary in LISTS
             for n, code in enumerate(c.code for c in vocabularies.concepts(vocabulary))}
    rows = db.session.scalars(select(TermSuggestion).where(
        TermSuggestion.doc_id == doc.doc_id, TermSuggestion.state.in_(tuple(states))))
    return sorted(rows, key=lambda r: (LISTS.index(r.vocabulary) if r.vocabulary in LISTS
                                       else len(LISTS), order.get(r.code, 999)))


def shown_to(doc: Document, user: object, language: str = "en") -> list[Shown]:
    """The document's open suggestions, for those who decide them (else none)."""
    if not policy.can_decide_suggestions(user, doc):
        return []
    return [_shown(r, language) for r in _rows(doc, ("open",))]


def listed(doc: Document, user: object, language: str = "en") -> list[Shown]:
    """Every suggestion of the document, open and decided (the API; editors only)."""
    if not policy.can_decide_suggestions(user, doc):
        raise Forbidden(_("Only editors and admins see and decide a document's suggestions."))
    return [_shown(r, language) for r in _rows(doc, ("open", "accepted", "dismissed"))]


def _open_row(doc: Document, code: str, user: object) -> TermSuggestion:
    if not policy.can_decide_suggestions(user, doc):
        raise Forbidden(_("Only editors and admins accept or dismiss suggestions."))
    vocabulary = code.partition("-")[0]
    row = db.session.get(TermSuggestion, (doc.doc_id, vocabulary, code))
    if row is None:
        raise NotFound(_("%(code)s is not suggested for this document.", code=code))
    if row.state != "open":
        raise ValidationError(_("%(code)s was already accepted.", code=code)
                              if row.state == "accepted"
                              else _("%(code)s was already dismissed.", code=code))
    return row


def _decide(row: TermSuggestion, state: str, user: object) -> None:
    row.state, row.decided_at = state, clock.now()
    row.decided_by = getattr(user, "user_id", None)


def _accept(doc: Document, row: TermSuggestion, user: object) -> None:
    before = doc.terms(row.vocabulary)
    if row.code not in before:
        position = db.session.scalar(
            select(func.max(DocumentTerm.position)).where(
                DocumentTerm.doc_id == doc.doc_id,
                DocumentTerm.vocabulary == row.vocabulary))
        doc.term_rows.append(DocumentTerm(
            doc_id=doc.doc_id, vocabulary=row.vocabulary, code=row.code,
            position=0 if position is None else position + 1))
    _decide(row, "accepted", user)


def accept(doc: Document, code: str, user: object) -> Document:
    """Add a suggested code to the document's terms (editors): recorded in its history and
    the audit trail, and the document re-indexed."""
    return accept_many(doc, [code], user)


def accept_all(doc: Document, user: object) -> Document:
    """Accept every open suggestion of the document (editors)."""
    if not policy.can_decide_suggestions(user, doc):
        raise Forbidden(_("Only editors and admins accept or dismiss suggestions."))
    codes = [r.code for r in _rows(doc, ("open",))]
    if not codes:
        raise ValidationError(_("There is no open suggestion to accept."))
    return accept_many(doc, codes, user)


def accept_many(doc: Document, codes: Sequence[str], user: object) -> Document:
    from kb.services import documents

    rows = [_open_row(doc, code, user) for code in codes]
    before = {v: doc.terms(v) for v in {r.vocabulary for r in rows}}
    snapshot = history.snapshot(doc)
    for row in rows:
        _accept(doc, row, user)
    db.session.flush()
    changes = {v: [old, doc.terms(v)] for v, old in before.items() if doc.terms(v) != old}
    history.record(doc, snapshot, user, "suggestion-accept", extra=changes,
                   note="suggested from the text")
    documents.queue_index(doc)
    audit.record("term-accept", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=", ".join(codes), commit=False)
    db.session.commit()
    return doc


def dismiss(doc: Document, code: str, user: object) -> Document:
    """Dismiss a suggestion (editors): it is not proposed again for this document."""
    row = _open_row(doc, code, user)
    _decide(row, "dismissed", user)
    audit.record("term-dismiss", actor=user, target_type="document", target_id=doc.doc_id,
                 detail=code, commit=False)
    db.session.commit()
    return doc

"""The portal around search: what the home page shows, browse pages and their A-Z lists,
and the documents editors feature.

Every count comes from the search engine under the visitor's access filter (the same as
a search's facets), and every title from a database query with the policy inside it, so
a visitor never learns of a document they may not see.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from kb import audit, clock, context, policy, search, taxonomy, vocabularies
from kb.errors import Forbidden, IndexUnavailable, NotFound, SearchTimeout, ValidationError
from kb.extensions import db
from kb.models import Agency, Document
from kb.services import history
from kb.services.documents import get_visible
from kb.services.searching import facet_labels

# The kinds of browse page, by filter parameter (the facets with a page of their own).
KINDS = ("country", "agency", "type", "theme", *vocabularies.NAMES)
# How many documents the home page lists as recent additions and as featured.
RECENT = 6
FEATURED = 8
# How many values of each kind the home page shows (the A-Z lists have them all).
HOME_SHOWN = {"country": 8, "agency": 10, "type": 10, "theme": 15}


@dataclass(frozen=True)
class Count:
    """A facet value, as shown: its label and how many documents the visitor may see."""

    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Holdings:
    """What a visitor may find: the total and each facet's values with their counts."""

    total: int
    facets: dict[str, tuple[Count, ...]]

    def counts(self, kind: str) -> tuple[Count, ...]:
        return self.facets.get(kind, ())


@dataclass(frozen=True)
class Home:
    holdings: Holdings | None  # None when the index cannot answer (``problem`` says why)
    countries: tuple[Count, ...]  # the programme's countries first, even at 0
    agencies: tuple[Count, ...]
    types: tuple[Count, ...]
    themes: tuple[Count, ...]
    recent: tuple[Document, ...]
    featured: tuple[Document, ...]
    empty: bool  # the repository holds no document at all: say how to start
    problem: str | None = None


@dataclass(frozen=True)
class Letter:
    letter: str
    counts: tuple[Count, ...]


@dataclass(frozen=True)
class AtoZ:
    kind: str
    first: tuple[Count, ...]  # the programme's countries, ahead of the letters
    letters: tuple[Letter, ...]


def holdings(user: object) -> Holdings:
    """Everything this user may find, counted by the search engine (one empty search)."""
    result = search.search(
        context.index_dir(), search.SearchRequest(per_page=1, spelling=False),
        policy.visibility(user), snippets=0,
        time_limit=float(current_app.config["SEARCH_TIME_LIMIT"]),
    )
    labels = facet_labels(result)
    return Holdings(result.total, {
        name: tuple(Count(value, labels[name].get(value, value), n) for value, n in pairs)
        for name, pairs in result.facets.items()
    })


def programme_first(counts: tuple[Count, ...], others: int | None = None) -> tuple[Count, ...]:
    """The programme's eight countries in the programme's order (at 0 where none is
    visible), then the other countries by count (the first ``others`` of them)."""
    by_code = {c.value: c for c in counts}
    first = [by_code.get(code) or Count(code, taxonomy.label("country", code), 0)
             for code in taxonomy.PROGRAMME_COUNTRIES]
    rest = [c for c in counts if c.value not in taxonomy.PROGRAMME_COUNTRIES]
    return tuple(first + (rest if others is None else rest[:others]))


def recent(user: object, limit: int = RECENT) -> tuple[Document, ...]:
    """The documents added last that this user may see, newest first."""
    rows = db.session.scalars(
        select(Document).where(policy.visible_documents_clause(user))
        .order_by(Document.created_at.desc(), Document.doc_id.desc()).limit(limit))
    return tuple(d for d in rows if policy.can_view(user, d))


def featured(user: object, limit: int = FEATURED) -> tuple[Document, ...]:
    """The featured tools and methodologies this user may see, last featured first."""
    rows = db.session.scalars(
        select(Document).where(Document.featured_at.is_not(None),
                               policy.visible_documents_clause(user))
        .order_by(Document.featured_at.desc(), Document.doc_id.desc()).limit(limit))
    return tuple(d for d in rows if policy.can_view(user, d))


def home(user: object) -> Home:
    """What the home page shows this user."""
    empty = not db.session.scalar(select(func.count()).select_from(Document))
    held: Holdings | None = None
    problem = None
    try:
        held = holdings(user)
    except (IndexUnavailable, SearchTimeout) as e:
        problem = e.message

    def top(kind: str) -> tuple[Count, ...]:
        return held.counts(kind)[:HOME_SHOWN[kind]] if held else ()

    countries = programme_first(held.counts("country"), HOME_SHOWN["country"]) if held else ()
    return Home(holdings=held, countries=countries, agencies=top("agency"),
                types=top("type"), themes=top("theme"), recent=recent(user),
                featured=featured(user), empty=empty, problem=problem)


def _folded(text: str) -> str:
    """``text`` without accents, case folded: the key of an A-Z order."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def initial(text: str) -> str:
    """The letter a value is listed under: its first letter without accents, '#' for a
    digit or a sign."""
    folded = _folded(text.strip())
    return folded[0].upper() if folded and folded[0].isalpha() else "#"


def a_to_z(user: object, kind: str) -> AtoZ:
    """Every value of ``kind`` that a document this user may see holds, by letter (agencies
    by their code, the rest by label); countries: the programme's eight first."""
    if kind not in KINDS:
        raise NotFound(_("There is no list of %(kind)s.", kind=kind))
    counts = holdings(user).counts(kind)
    first: tuple[Count, ...] = ()
    if kind == "country":
        first = programme_first(counts, 0)
        counts = tuple(c for c in counts if c.value not in taxonomy.PROGRAMME_COUNTRIES)

    def key(c: Count) -> str:
        return c.value if kind == "agency" else c.label

    letters: dict[str, list[Count]] = {}
    for c in sorted(counts, key=lambda c: (_folded(key(c)), key(c))):
        letters.setdefault(initial(key(c)), []).append(c)
    ordered = sorted(letters, key=lambda letter: (letter == "#", letter))
    return AtoZ(kind, first, tuple(Letter(letter, tuple(letters[letter]))
                                   for letter in ordered))


@dataclass(frozen=True)
class Listed:
    """A vocabulary's concept on its list page: code, label, counted."""

    value: str
    label: str
    count: int
    goal: str | None = None


def vocabulary_list(user: object, kind: str) -> tuple[Listed, ...]:
    """Every concept of a vocabulary in code order, with the documents this user may see
    (at 0 where none), labelled in the interface language."""
    counts = {c.value: c.count for c in holdings(user).counts(kind)}
    return tuple(Listed(c.code, vocabularies.label(kind, c.code), counts.get(c.code, 0),
                        vocabularies.goal(c.code) if kind == "sdg" else None)
                 for c in vocabularies.concepts(kind))


def browse_value(kind: str, raw: str) -> str:
    """The value a browse page's address names, as the index holds it; NotFound when it
    names no country, agency or document type there is."""
    value = raw.strip()
    if kind == "country":
        code = taxonomy.normalise_country(value)
        if code is None:
            raise NotFound(_("No country has the code %(code)r.", code=value))
        return code
    if kind == "agency":
        found = db.session.scalar(select(Agency.code).where(
            func.lower(Agency.code) == value.lower()))
        if found is None:
            raise NotFound(_("No agency has the code %(code)r.", code=value))
        return found
    if kind == "type":
        for term in taxonomy.DOCUMENT_TYPES:
            if value.lower() in (term.code, term.label.lower()):
                return term.code
        raise NotFound(_("There is no document type %(code)r.", code=value))
    if kind == "theme":
        theme = taxonomy.normalise_theme(value)
        if not theme:
            raise NotFound(_("Name a theme."))
        return theme
    if kind in vocabularies.VOCABULARIES:
        code = vocabularies.normalise(kind, value)
        if code is None:
            raise NotFound(_("There is no %(kind)s code %(value)s.", kind=kind, value=repr(value)))
        return code
    raise NotFound(_("There are no pages by %(kind)s.", kind=kind))


def value_label(kind: str, value: str) -> str:
    """How a page names a country, agency, document type or theme."""
    if kind == "agency":
        label = db.session.scalar(select(Agency.label).where(Agency.code == value))
        return label or value
    if kind == "theme":
        return value[:1].upper() + value[1:]
    if kind in vocabularies.VOCABULARIES:
        return vocabularies.label(kind, value)
    return taxonomy.label(kind, value)


def browse_intro(kind: str, value: str) -> str:
    """One sentence saying what a browse page holds."""
    if kind in vocabularies.VOCABULARIES:
        return _vocabulary_intro(kind, value)
    label = value_label(kind, value)
    return {
        "country": f"Documents about {label} or from the programme's work there.",
        "agency": f"Documents by {label} ({value}), alone or with other agencies.",
        "type": f"Documents of the type “{label}”.",
        "theme": f"Documents on the theme “{value}”.",
    }[kind]


def _vocabulary_intro(kind: str, value: str) -> str:
    from flask_babel import gettext as _

    if kind == "gcm":
        return _("Documents that serve objective %(number)s of the Global Compact for "
                 "Safe, Orderly and Regular Migration.", number=value.removeprefix("gcm-"))
    if kind == "sdg":
        return _("Documents on target %(target)s of the Sustainable Development Goals "
                 "(%(goal)s).", target=value.removeprefix("sdg-"),
                 goal=vocabularies.goal(value) or "")
    return _("Documents that contribute to the programme's outcome area “%(area)s”.",
             area=vocabularies.label(kind, value))


def set_featured(doc_id: int, on: bool, user: object) -> Document:
    """Mark (``on``) or unmark a document as a featured tool or methodology (editors and
    admins); recorded in the audit trail when it changes anything."""
    doc = get_visible(doc_id, user)
    if not policy.can_feature(user):
        raise Forbidden(_("Only editors and admins choose the featured documents."))
    if on and doc.workflow == "withdrawn":
        raise ValidationError(_("A withdrawn document cannot be featured; restore it first."))
    if on == (doc.featured_at is not None):
        return doc
    before = history.snapshot(doc)
    doc.featured_at = clock.now() if on else None
    history.record(doc, before, user, "feature" if on else "unfeature")
    audit.record("feature" if on else "unfeature", actor=user, target_type="document",
                 target_id=doc.doc_id, commit=False)
    db.session.commit()
    return doc

"""Controlled vocabularies: codes the API and manifest take, labels the pages show.

Labels follow the interface language (kb.i18n): the fixed lists' English labels are
messages of the catalogues; countries and languages are named from CLDR (Babel's locale
data), else pycountry's translations of ISO 3166 and ISO 639, never translated by hand.
"""

from __future__ import annotations

import gettext
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pycountry
from babel import Locale
from flask_babel import gettext as _

from kb.i18n import N_, current_language


@dataclass(frozen=True)
class Term:
    code: str
    # English; a Term of a fixed list shows ``label`` translated (``Term.shown``).
    label: str

    @property
    def shown(self) -> str:
        """The label in the interface language (the English label is its message id)."""
        return _(self.label) if self.label else self.label


def _sort_key(text: str) -> str:
    """Alphabetical in any script: accents do not move a name ("Égypte" among the E)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# The programme's eight countries come first in every country picker.
PROGRAMME_COUNTRIES = ("BGD", "JAM", "MDA", "TUN", "ECU", "KGZ", "MAR", "SRB")

# Not countries, but authors and subjects of the programme's material that users tag and
# filter by like countries (the UN General Debate has the European Union speak as "EU").
# Kept apart so that a page can tell a country from an organisation of countries.
REGIONS = (Term("EU", N_("European Union")),)

DOCUMENT_TYPES = (
    Term("lessons-learned", N_("Lessons learned")),
    Term("methodology", N_("Methodology")),
    Term("tool", N_("Tool")),
    Term("evaluation", N_("Evaluation")),
    Term("report", N_("Report")),
    Term("policy-brief", N_("Policy brief")),
    Term("case-study", N_("Case study")),
    Term("training", N_("Training material")),
    Term("presentation", N_("Presentation")),
    Term("other", N_("Other")),
)

PHASES = (
    Term("pilot", N_("Pilot phase (2011-2013)")),
    Term("phase-2", N_("Phase 2 (2014-2018)")),
    Term("other", N_("Other")),
)

ACCESS_LEVELS = (
    Term("public", N_("Public")),
    Term("internal", N_("Internal (signed-in users)")),
    Term("restricted", N_("Restricted (named groups)")),
)

WORKFLOW_STATES = (
    Term("submitted", N_("Submitted, awaiting review")),
    Term("published", N_("Published")),
    Term("returned", N_("Returned to the uploader")),
    Term("withdrawn", N_("Withdrawn")),
)

# Seed of the agency list; admins edit it afterwards (it lives in the database).
AGENCY_SEED = (
    Term("IOM", "International Organization for Migration"),
    Term("UNDP", "United Nations Development Programme"),
    Term("SDC", "Swiss Agency for Development and Cooperation"),
    Term("GMG", "Global Migration Group"),
    Term("ILO", "International Labour Organization"),
    Term("UNHCR", "Office of the UN High Commissioner for Refugees"),
    Term("UNICEF", "United Nations Children's Fund"),
    Term("UNFPA", "United Nations Population Fund"),
    Term("UN-Women", "UN Women"),
    Term("UNODC", "United Nations Office on Drugs and Crime"),
    Term("UNESCO", "United Nations Educational, Scientific and Cultural Organization"),
    Term("UNITAR", "United Nations Institute for Training and Research"),
    Term("UNDESA", "UN Department of Economic and Social Affairs"),
    Term("OHCHR", "Office of the UN High Commissioner for Human Rights"),
    Term("FAO", "Food and Agriculture Organization"),
    Term("WHO", "World Health Organization"),
    Term("WB", "World Bank"),
    Term("UNCTAD", "UN Conference on Trade and Development"),
    Term("UNEP", "United Nations Environment Programme"),
    Term("UN-Habitat", "UN Human Settlements Programme"),
    Term("UNRC", "UN Regional Commissions"),
)


def countries() -> tuple[Term, ...]:
    """Every ISO 3166-1 country plus the regions, programme countries first, named and
    sorted in the interface language."""
    return _countries(current_language())


@cache
def _countries(locale: str) -> tuple[Term, ...]:
    names = _territory_names(locale)
    iso = {c.alpha_3: Term(c.alpha_3, names(c)) for c in pycountry.countries}
    regions = [Term(t.code, t.shown if locale == "en" else _region_name(t, locale))
               for t in REGIONS]
    first = [iso[code] for code in PROGRAMME_COUNTRIES]
    rest = sorted(
        [t for code, t in iso.items() if code not in PROGRAMME_COUNTRIES] + regions,
        key=lambda t: _sort_key(t.label),
    )
    return tuple(first + rest)


def _english_country(country: object) -> str:
    return str(getattr(country, "common_name", None) or getattr(country, "name", ""))


def _territory_names(locale: str) -> Callable[[object], str]:
    """A country's name in ``locale``: English as pycountry gives it (its common name);
    else CLDR's territory name, else pycountry's translation of ISO 3166."""
    if locale == "en":
        return _english_country
    found_locale = _cldr(locale)
    cldr = found_locale.territories if found_locale else {}
    words = _iso_translation("iso3166-1", locale)

    def name(country: object) -> str:
        english = _english_country(country)
        found = cldr.get(str(getattr(country, "alpha_2", "")))
        if found:
            return str(found)
        return words.gettext(str(getattr(country, "name", english))) if words else english
    return name


def _region_name(term: Term, locale: str) -> str:
    cldr = _cldr(locale)
    return str(cldr.territories.get(term.code, term.label)) if cldr else term.label


@cache
def _cldr(locale: str) -> Locale | None:
    try:
        return Locale.parse(locale)
    except (ValueError, LookupError):
        return None


@cache
def _iso_translation(domain: str, locale: str) -> gettext.NullTranslations | None:
    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[locale])
    except OSError:
        return None


def languages() -> tuple[Term, ...]:
    """ISO 639-1 languages, the programme's seven first, named and sorted in the
    interface language."""
    return _languages(current_language())


@cache
def _languages(locale: str) -> tuple[Term, ...]:
    programme = ("en", "fr", "es", "ru", "ro", "sr", "ar")
    found_locale = _cldr(locale) if locale != "en" else None
    cldr = found_locale.languages if found_locale else {}
    words = _iso_translation("iso639-3", locale) if locale != "en" else None
    all_terms = {}
    for lang in pycountry.languages:
        if not hasattr(lang, "alpha_2"):
            continue
        name = cldr.get(lang.alpha_2) or (words.gettext(lang.name) if words else lang.name)
        all_terms[lang.alpha_2] = Term(lang.alpha_2, str(name))
    rest = sorted((t for c, t in all_terms.items() if c not in programme),
                  key=lambda t: _sort_key(t.label))
    return tuple([all_terms[c] for c in programme] + rest)


FIXED = {
    "type": DOCUMENT_TYPES,
    "phase": PHASES,
    "access": ACCESS_LEVELS,
    "workflow": WORKFLOW_STATES,
}


@cache
def _labels(kind: str, locale: str = "en") -> dict[str, str]:
    if kind == "country":
        return {t.code: t.label for t in _countries(locale)}
    if kind == "language":
        return {t.code: t.label for t in _languages(locale)}
    return {t.code: t.label for t in FIXED[kind]}


def label(kind: str, code: str) -> str:
    """The label of a code of a fixed vocabulary (country, type, phase, language, access),
    in the interface language."""
    if kind in FIXED:
        english = _labels(kind).get(code)
        return _(english) if english else code
    return _labels(kind, current_language()).get(code, code)


def shown(terms: tuple[Term, ...] | list[Term]) -> list[Term]:
    """Terms with their labels in the interface language (a fixed list's)."""
    return [Term(t.code, t.shown) for t in terms]


@cache
def native_name(code: str) -> str:
    """A language's name in that language ("Français" for fr), from pycountry's own
    translations of ISO 639; its English name where none exists (English itself)."""
    name = _labels("language").get(code, code)
    try:
        words = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[code])
    except OSError:
        return name
    native = words.gettext(name)
    return native[:1].upper() + native[1:]


def is_valid(kind: str, code: str) -> bool:
    """Whether ``code`` belongs to the fixed vocabulary ``kind``."""
    return code in _labels(kind)


def normalise_country(raw: str) -> str | None:
    """Accept an alpha-3 code in any case (or alpha-2, a region code); None if unknown."""
    code = raw.strip().upper()
    if is_valid("country", code):
        return code
    if len(code) == 2:
        found = pycountry.countries.get(alpha_2=code)
        if found is not None:
            return str(found.alpha_3)
    return None


def normalise_theme(raw: str) -> str:
    """Trim, fold case and collapse inner whitespace of a free tag."""
    return " ".join(raw.split()).casefold()


# What each extraction outcome means for the person looking at the document.
EXTRACTION_HELP = {
    "encrypted": N_("The PDF is protected by a password. Upload a copy saved without one."),
    "no-text-layer": N_("The file holds images of pages but no text (a scan). It is found by its "
                     "metadata; a version with text, or OCR, makes its content searchable."),
    "corrupt": N_("The file is damaged or not what its type says. Open it in the program that "
               "made it, save a new copy and upload that."),
    "too-large": N_("The file holds more text or data than one document may. Split it into "
                 "parts, or save it without embedded material, and upload again."),
    "timed-out": N_("Reading the file took too long. It may be damaged or very complex: save a "
                 "new copy, or split it, and upload again."),
    "too-much-memory": N_("Reading the file needed too much memory (it may be a compressed "
                       "bomb or damaged). Save a new copy and upload that."),
    "unsupported": N_("Files of this kind cannot be read yet; the file is kept and downloadable."),
    "missing": N_("The stored file is missing from the file store: tell an administrator."),
    "index-failed": N_("The document could not be added to the search index; an administrator "
                    "can run `kb reindex`."),
    "interrupted": N_("Reading the file was interrupted (the reader or the worker was stopped); "
                   "it is tried again by itself."),
    "crashed": N_("Reading the file crashed the program that reads it; the file may be damaged. "
               "Save a new copy and upload that."),
    "disk-full": N_("The server's disk is full; the document is processed by itself once an "
                 "administrator frees space."),
}


def extraction_help(code: str | None) -> str | None:
    """What an extraction outcome means, in the interface language (None if unknown)."""
    english = EXTRACTION_HELP.get(code or "")
    return _(english) if english else None

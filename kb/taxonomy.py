"""Controlled vocabularies: codes the API and manifest take, labels the pages show."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache

import pycountry


@dataclass(frozen=True)
class Term:
    code: str
    label: str


# The programme's eight countries come first in every country picker.
PROGRAMME_COUNTRIES = ("BGD", "JAM", "MDA", "TUN", "ECU", "KGZ", "MAR", "SRB")

# Not countries, but authors and subjects of the programme's material that users tag and
# filter by like countries (the UN General Debate has the European Union speak as "EU").
# Kept apart so that a page can tell a country from an organisation of countries.
REGIONS = (Term("EU", "European Union"),)

DOCUMENT_TYPES = (
    Term("lessons-learned", "Lessons learned"),
    Term("methodology", "Methodology"),
    Term("tool", "Tool"),
    Term("evaluation", "Evaluation"),
    Term("report", "Report"),
    Term("policy-brief", "Policy brief"),
    Term("case-study", "Case study"),
    Term("training", "Training material"),
    Term("presentation", "Presentation"),
    Term("other", "Other"),
)

PHASES = (
    Term("pilot", "Pilot phase (2011-2013)"),
    Term("phase-2", "Phase 2 (2014-2018)"),
    Term("other", "Other"),
)

ACCESS_LEVELS = (
    Term("public", "Public"),
    Term("internal", "Internal (signed-in users)"),
    Term("restricted", "Restricted (named groups)"),
)

WORKFLOW_STATES = (
    Term("submitted", "Submitted, awaiting review"),
    Term("published", "Published"),
    Term("returned", "Returned to the uploader"),
    Term("withdrawn", "Withdrawn"),
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


@cache
def countries() -> tuple[Term, ...]:
    """Every ISO 3166-1 country plus the regions, programme countries first."""
    iso = {
        c.alpha_3: Term(c.alpha_3, getattr(c, "common_name", None) or c.name)
        for c in pycountry.countries
    }
    first = [iso[code] for code in PROGRAMME_COUNTRIES]
    rest = sorted(
        [t for code, t in iso.items() if code not in PROGRAMME_COUNTRIES] + list(REGIONS),
        key=lambda t: t.label,
    )
    return tuple(first + rest)


@cache
def languages() -> tuple[Term, ...]:
    """ISO 639-1 languages, the programme's seven first."""
    programme = ("en", "fr", "es", "ru", "ro", "sr", "ar")
    all_terms = {
        lang.alpha_2: Term(lang.alpha_2, lang.name)
        for lang in pycountry.languages
        if hasattr(lang, "alpha_2")
    }
    rest = sorted((t for c, t in all_terms.items() if c not in programme), key=lambda t: t.label)
    return tuple([all_terms[c] for c in programme] + rest)


@cache
def _labels(kind: str) -> dict[str, str]:
    source = {
        "country": countries(),
        "type": DOCUMENT_TYPES,
        "phase": PHASES,
        "language": languages(),
        "access": ACCESS_LEVELS,
        "workflow": WORKFLOW_STATES,
    }[kind]
    return {t.code: t.label for t in source}


def label(kind: str, code: str) -> str:
    """The label of a code of a fixed vocabulary (country, type, phase, language, access)."""
    return _labels(kind).get(code, code)


@cache
def native_name(code: str) -> str:
    """A language's name in that language ("Français" for fr), from pycountry's own
    translations of ISO 639; its English name where none exists (English itself)."""
    name = label("language", code)
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
    "encrypted": "The PDF is protected by a password. Upload a copy saved without one.",
    "no-text-layer": "The file holds images of pages but no text (a scan). It is found by its "
                     "metadata; a version with text, or OCR, makes its content searchable.",
    "corrupt": "The file is damaged or not what its type says. Open it in the program that "
               "made it, save a new copy and upload that.",
    "too-large": "The file holds more text or data than one document may. Split it into "
                 "parts, or save it without embedded material, and upload again.",
    "timed-out": "Reading the file took too long. It may be damaged or very complex: save a "
                 "new copy, or split it, and upload again.",
    "too-much-memory": "Reading the file needed too much memory (it may be a compressed "
                       "bomb or damaged). Save a new copy and upload that.",
    "unsupported": "Files of this kind cannot be read yet; the file is kept and downloadable.",
    "missing": "The stored file is missing from the file store: tell an administrator.",
    "index-failed": "The document could not be added to the search index; an administrator "
                    "can run `kb reindex`.",
    "interrupted": "Reading the file was interrupted (the reader or the worker was stopped); "
                   "it is tried again by itself.",
    "crashed": "Reading the file crashed the program that reads it; the file may be damaged. "
               "Save a new copy and upload that.",
    "disk-full": "The server's disk is full; the document is processed by itself once an "
                 "administrator frees space.",
}

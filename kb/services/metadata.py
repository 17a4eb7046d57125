"""Validation of document metadata, shared by the form, the API and the import manifest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from kb import taxonomy, vocabularies
from kb.errors import ValidationError
from kb.extensions import db
from kb.models import Agency, Group

FIELDS = ("title", "summary", "type", "countries", "agencies", "themes", "language", "year",
          "phase", "access", "groups", *vocabularies.NAMES)
# Bounds of the fields (the API's description, kb.openapi, states them too).
MAX_TITLE_CHARS = 500
MAX_THEME_CHARS = 100
MIN_YEAR, MAX_YEAR = 1900, 2100
# The largest body of an edit through the API (metadata, not files).
MAX_EDIT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Metadata:
    title: str
    summary: str = ""
    doc_type: str | None = None
    countries: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    language: str | None = None
    year: int | None = None
    phase: str | None = None
    access: str = "public"
    group_ids: tuple[int, ...] = ()
    # The controlled vocabularies' codes, by list (kb.vocabularies): gcm, sdg, area.
    gcm: tuple[str, ...] = ()
    sdg: tuple[str, ...] = ()
    area: tuple[str, ...] = ()

    def terms(self, vocabulary: str) -> tuple[str, ...]:
        """The codes of one controlled vocabulary."""
        return tuple(getattr(self, vocabulary))


def split_values(values: Sequence[str]) -> list[str]:
    """Values of a multi-valued field: repeated fields and ``;``-separated cells alike."""
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(";") if part.strip())
    return out


def _dedupe(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def agency_codes() -> dict[str, str]:
    """Agency codes, upper-cased, to the code as stored."""
    return {code.upper(): code for code in db.session.scalars(select(Agency.code))}


def group_ids_by_name() -> dict[str, int]:
    """Group names, case-folded, to their ids."""
    rows = db.session.execute(select(Group.name, Group.group_id))
    return {name.casefold(): group_id for name, group_id in rows}


def validate(raw: Mapping[str, Sequence[str]], *, require_title: bool = True,
             agencies: dict[str, str] | None = None,
             groups: dict[str, int] | None = None) -> Metadata:
    """Check every field and name each one that is wrong, all at once."""
    # NUL is never meant (PostgreSQL refuses it in text): dropped, not an error.
    raw = {name: [v.replace("\x00", "") if isinstance(v, str) else v for v in values]
           for name, values in raw.items()}
    errors: dict[str, str] = {}
    unknown = sorted(set(raw) - set(FIELDS))
    for name in unknown:
        errors[name] = _("unknown field %(name)r", name=name)

    def one(name: str) -> str:
        values = [v for v in raw.get(name, ()) if v is not None]
        return values[-1].strip() if values else ""

    title = " ".join(one("title").split())
    if require_title and not title:
        errors["title"] = _("A title is required.")
    elif len(title) > MAX_TITLE_CHARS:
        errors["title"] = _("The title is longer than %(num)d characters.",
                            num=MAX_TITLE_CHARS)

    doc_type = one("type") or None
    if doc_type and not taxonomy.is_valid("type", doc_type):
        errors["type"] = _("unknown document type %(code)r", code=doc_type)

    countries: list[str] = []
    bad = []
    for value in split_values(raw.get("countries", ())):
        code = taxonomy.normalise_country(value)
        if code is None:
            bad.append(value)
        else:
            countries.append(code)
    if bad:
        errors["countries"] = _("unknown country code %(codes)s",
                                codes=", ".join(repr(b) for b in bad))

    known_agencies = agencies if agencies is not None else agency_codes()
    agency_list: list[str] = []
    bad = []
    for value in split_values(raw.get("agencies", ())):
        code = known_agencies.get(value.upper())
        if code is None:
            bad.append(value)
        else:
            agency_list.append(code)
    if bad:
        errors["agencies"] = _("unknown agency %(codes)s", codes=", ".join(repr(b) for b in bad))

    themes = [taxonomy.normalise_theme(t) for t in split_values(raw.get("themes", ()))]
    if any(len(t) > MAX_THEME_CHARS for t in themes):
        errors["themes"] = _("A theme is longer than %(num)d characters.", num=MAX_THEME_CHARS)

    language = one("language").lower() or None
    if language and not taxonomy.is_valid("language", language):
        errors["language"] = _("unknown language %(code)r: use an ISO 639-1 code such as en",
                               code=language)

    year: int | None = None
    if one("year"):
        try:
            year = int(one("year"))
        except ValueError:
            errors["year"] = _("year must be a number, not %(value)r", value=one("year"))
        else:
            if not MIN_YEAR <= year <= MAX_YEAR:
                errors["year"] = _("year must be between %(first)d and %(last)d",
                                   first=MIN_YEAR, last=MAX_YEAR)

    phase = one("phase") or None
    if phase and not taxonomy.is_valid("phase", phase):
        errors["phase"] = _("unknown programme phase %(code)r", code=phase)

    access = one("access") or "public"
    if not taxonomy.is_valid("access", access):
        errors["access"] = _("unknown access level %(code)r", code=access)

    group_list: list[int] = []
    if access == "restricted":
        known_groups = groups if groups is not None else group_ids_by_name()
        names = split_values(raw.get("groups", ()))
        bad = [n for n in names if n.casefold() not in known_groups]
        if bad:
            errors["groups"] = _("unknown group %(names)s", names=", ".join(repr(b) for b in bad))
        elif not names:
            errors["groups"] = _("A restricted document needs at least one group.")
        group_list = [known_groups[n.casefold()] for n in names if n.casefold() in known_groups]

    terms: dict[str, tuple[str, ...]] = {}
    for vocabulary in vocabularies.NAMES:
        codes, bad = [], []
        for value in split_values(raw.get(vocabulary, ())):
            code = vocabularies.normalise(vocabulary, value)
            if code is None:
                bad.append(value)
            else:
                codes.append(code)
        if bad:
            errors[vocabulary] = f"unknown {vocabulary} code " + ", ".join(
                repr(b) for b in bad)
        terms[vocabulary] = _dedupe(codes)

    if errors:
        first = next(iter(errors.values()))
        raise ValidationError(_("Please correct the metadata: %(problem)s", problem=first),
                              fields=errors)
    return Metadata(
        title=title, summary=one("summary"), doc_type=doc_type,
        countries=_dedupe(countries), agencies=_dedupe(agency_list),
        themes=_dedupe([t for t in themes if t]), language=language, year=year,
        phase=phase, access=access, group_ids=tuple(dict.fromkeys(group_list)),
        **terms,
    )

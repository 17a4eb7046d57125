"""What a document page says about itself to machines: Highwire Press ``citation_*`` meta
tags (read by Google Scholar and reference managers such as Zotero) and schema.org JSON-LD
(read by general search engines).

Both are built from the facts OAI-PMH serves (kb.services.harvest.describe), so a page, a
harvested record and the sitemap agree. The page's view has already asked the policy
whether the visitor may see the document; a download link is given only when the visitor
may download it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pycountry

from kb import taxonomy
from kb.models import Document
from kb.services import harvest

# Types that are reports to a library (schema.org Report; Scholar's technical report):
# the others (tools, methodologies, training material, presentations) are CreativeWork.
REPORT_TYPES = frozenset({"report", "evaluation", "lessons-learned", "case-study",
                          "policy-brief"})


@dataclass(frozen=True)
class Links:
    page: str  # the canonical page URL, absolute
    download: str | None  # absolute; None without a file or without the right to download


@dataclass(frozen=True)
class PageMetadata:
    tags: tuple[tuple[str, str], ...]  # (name, content) of each <meta>, in order
    json_ld: dict[str, Any]


def describe_page(doc: Document, agency_labels: dict[str, str], links: Links) -> PageMetadata:
    """The meta tags and the JSON-LD object of a document page."""
    d = harvest.describe(doc, agency_labels)
    return PageMetadata(tags=_highwire(d, links), json_ld=_schema_org(d, links, _modified(doc)))


def _modified(doc: Document) -> datetime:
    """The last change a harvester sees (the sitemap's lastmod) for a public document;
    the row's own last change otherwise."""
    record = harvest.record(doc.doc_id)
    return record.datestamp if record is not None and not record.deleted else doc.updated_at


def _highwire(d: harvest.Described, links: Links) -> tuple[tuple[str, str], ...]:
    tags = [("citation_title", d.title)]
    # Corporate authors: Scholar takes a citation_author that is an organisation's name.
    tags += [("citation_author", label) for _code, label in d.agencies]
    if d.year:
        tags.append(("citation_publication_date", str(d.year)))
    if d.agencies:
        tags.append(("citation_publisher", d.agencies[0][1]))
        if d.doc_type in REPORT_TYPES:
            tags.append(("citation_technical_report_institution", d.agencies[0][1]))
    if d.language:
        tags.append(("citation_language", d.language))
    tags += [("citation_keywords", theme) for theme in d.themes]
    tags.append(("citation_abstract_html_url", links.page))
    if links.download and d.file is not None and d.file.content_type == "application/pdf":
        tags.append(("citation_pdf_url", links.download))
    return tuple(tags)


def _schema_org(d: harvest.Described, links: Links, modified: datetime) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Report" if d.doc_type in REPORT_TYPES else "CreativeWork",
        "@id": links.page,
        "url": links.page,
        "name": d.title,
    }
    if d.summary:
        found["description"] = d.summary
    if d.doc_type:
        found["genre"] = taxonomy.label("type", d.doc_type)
    if d.language:
        found["inLanguage"] = d.language
    if d.year:
        found["datePublished"] = str(d.year)
    found["dateModified"] = harvest.utc_text(modified)
    if d.themes:
        found["keywords"] = list(d.themes)
    if d.countries:
        found["spatialCoverage"] = [_place(code) for code in d.countries]
    if d.agencies:
        organisations = [_organisation(code, label) for code, label in d.agencies]
        found["author"] = organisations
        found["publisher"] = organisations[0]
    found["isAccessibleForFree"] = d.access == "public"
    if links.download and d.file is not None:
        found["encoding"] = {"@type": "MediaObject", "contentUrl": links.download,
                             "encodingFormat": d.file.content_type,
                             "contentSize": f"{d.file.size} B"}
    return found


def _organisation(code: str, label: str) -> dict[str, str]:
    found = {"@type": "Organization", "name": label}
    if label != code:
        found["alternateName"] = code
    return found


def _place(code: str) -> dict[str, Any]:
    """A country with its ISO 3166-1 codes; a region (EU) as a place with kb's code."""
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return {"@type": "Place", "name": taxonomy.label("country", code), "identifier": code}
    return {"@type": "Country", "name": taxonomy.label("country", code), "identifier": [
        {"@type": "PropertyValue", "propertyID": "ISO 3166-1 alpha-3", "value": code},
        {"@type": "PropertyValue", "propertyID": "ISO 3166-1 alpha-2",
         "value": country.alpha_2}]}

"""Citations of documents: APA and Chicago text for the page, BibTeX, RIS, CSL-JSON and CSV
for reference managers and spreadsheets, one document or a whole search.

Authors are the document's agencies, as corporate authors (never split into first and
last names); the publisher is the first of them; the URL is the document's page, which
never changes. The APA 7th and Chicago author-date texts are formatted here rather than by
a CSL processor: tests/test_citations.py checks them against citeproc-py rendering our own
CSL-JSON with the CSL project's apa and chicago-author-date styles.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from flask import current_app
from markupsafe import Markup

from kb import csvsafe, search, taxonomy, vocabularies
from kb.models import Document
from kb.services import searching

# Document types cited as reports (BibTeX @techreport with an institution, RIS RPRT, CSL
# "report"); the others (tools, methodologies, training material...) as @misc, GEN and
# CSL "document".
REPORT_TYPES = frozenset({"evaluation", "report", "lessons-learned", "policy-brief",
                          "case-study"})

# Format (the file name's ending) -> (media type, what the page calls it).
FORMATS: dict[str, tuple[str, str]] = {
    "bib": ("application/x-bibtex; charset=utf-8", "BibTeX"),
    "ris": ("application/x-research-info-systems; charset=utf-8", "RIS"),
    "json": ("application/vnd.citationstyles.csl+json; charset=utf-8", "CSL-JSON"),
}
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    **FORMATS, "csv": ("text/csv; charset=utf-8", "CSV")}


@dataclass(frozen=True)
class Cited:
    """What a citation of one document says."""

    doc_id: int
    title: str
    authors: tuple[str, ...]  # the agencies' names, corporate authors
    year: int | None
    doc_type: str | None
    language: str | None  # ISO 639-1
    url: str  # the document's page
    summary: str = ""
    countries: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    # The controlled vocabularies' codes (kb.vocabularies), by list.
    terms: tuple[tuple[str, ...], ...] = ()

    @property
    def key(self) -> str:
        return f"kb{self.doc_id}"

    @property
    def is_report(self) -> bool:
        return self.doc_type in REPORT_TYPES

    @property
    def type_label(self) -> str | None:
        return taxonomy.label("type", self.doc_type) if self.doc_type else None

    @property
    def language_label(self) -> str | None:
        return taxonomy.label("language", self.language) if self.language else None

    @property
    def publisher(self) -> str | None:
        return self.authors[0] if self.authors else None


def cited(doc: Document, agency_labels: Mapping[str, str], url: str) -> Cited:
    """The citation facts of a document whose page is at ``url``."""
    return Cited(
        doc_id=doc.doc_id, title=_line(doc.title), year=doc.year, doc_type=doc.doc_type,
        authors=tuple(_line(agency_labels.get(code, code)) for code in doc.agencies),
        language=doc.language, url=url, summary=_line(doc.summary or ""),
        countries=tuple(taxonomy.label("country", c) for c in doc.countries),
        themes=tuple(doc.themes),
        terms=tuple(tuple(doc.terms(name)) for name in vocabularies.NAMES),
    )


def _line(text: str) -> str:
    """Text on one line: a line break in a title or summary cannot start a new field."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------
# Text for the page


def apa(c: Cited) -> Markup:
    """APA 7th edition reference: Author. (Year). *Title* [Type]. Publisher. URL

    The publisher is left out when it is one of the authors (APA 7, 9.25); without
    agencies the title takes the author's place."""
    year = f"({c.year})" if c.year else "(n.d.)"
    title = Markup("<i>{}</i>").format(c.title)
    if c.type_label:
        title += Markup(" [{}]").format(c.type_label)
    parts: list[Markup] = []
    if c.authors:
        parts += [Markup.escape(_sentence(_apa_names(c.authors))), Markup.escape(year + "."),
                  _sentence_markup(title)]
    else:
        parts += [_sentence_markup(title), Markup.escape(year + ".")]
    if c.publisher and c.publisher not in c.authors:
        parts.append(Markup.escape(_sentence(c.publisher)))
    parts.append(Markup.escape(c.url))
    return Markup(" ").join(parts)


def chicago(c: Cited) -> Markup:
    """Chicago Manual of Style (17th), author-date reference list entry:
    Author. Year. *Title*. Type. Publisher. URL."""
    year = _sentence(str(c.year) if c.year else "n.d.")
    title = Markup("<i>{}</i>").format(_headline(c.title) if c.language == "en" else c.title)
    parts: list[Markup] = []
    if c.authors:
        parts += [Markup.escape(_sentence(_chicago_names(c.authors))), Markup.escape(year),
                  _sentence_markup(title)]
    else:
        parts += [_sentence_markup(title), Markup.escape(year)]
    if c.type_label:
        parts.append(Markup.escape(_sentence(c.type_label)))
    if c.publisher and c.publisher not in c.authors:
        parts.append(Markup.escape(_sentence(c.publisher)))
    parts.append(Markup.escape(c.url + "."))
    return Markup(" ").join(parts)


def _apa_names(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) > 20:  # APA 7: the first 19, an ellipsis, the last
        return ", ".join(names[:19]) + ", . . . " + names[-1]
    return ", ".join(names[:-1]) + ", & " + names[-1]


def _chicago_names(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]}, and {names[1]}"
    if len(names) > 10:  # Chicago 17, 15.9: the first seven, then et al.
        return ", ".join(names[:7]) + ", et al"
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _sentence_markup(text: Markup) -> Markup:
    plain = text.striptags()
    return text if plain.endswith((".", "?", "!")) else text + Markup(".")


# Words a headline-style (title case) English title keeps in lower case, unless first or
# after a colon: the CSL specification's list, as citeproc-py applies it.
STOP_WORDS = frozenset({
    "a", "an", "and", "as", "at", "but", "by", "down", "for", "from", "in", "into", "nor",
    "of", "on", "onto", "or", "over", "so", "the", "till", "to", "up", "via", "with", "yet"})


def _headline(title: str) -> str:
    """Chicago's headline style: lower-case words capitalised except stop words; words
    with a capital already (acronyms, names) left as they are."""
    out = []
    previous = ":"
    for word in title.split(" "):
        if word.islower() and (word not in STOP_WORDS or previous in (":", ".")):
            word = word[:1].upper() + word[1:]
        previous = word[-1:] or previous
        out.append(word)
    return " ".join(out)


# ---------------------------------------------------------------------------------------
# Files for reference managers


def bibtex(items: Iterable[Cited]) -> str:
    """BibTeX entries: @techreport (with its institution) for reports, @misc for the rest;
    agencies in double braces so that no reader splits them into first and last names."""
    entries = []
    for c in items:
        fields: list[tuple[str, str]] = []
        if c.authors:
            fields.append(("author", " and ".join("{" + _tex(a) + "}" for a in c.authors)))
        fields.append(("title", _tex(c.title)))
        if c.is_report:
            if c.publisher:
                fields.append(("institution", _tex(c.publisher)))
            if c.type_label:
                fields.append(("type", _tex(c.type_label)))
        else:
            if c.publisher:
                fields.append(("publisher", _tex(c.publisher)))
            if c.type_label:
                fields.append(("note", _tex(c.type_label)))
        if c.year:
            fields.append(("year", str(c.year)))
        if c.language_label:
            fields.append(("language", _tex(c.language_label)))
        fields.append(("url", _tex(c.url)))
        if c.summary:
            fields.append(("abstract", _tex(c.summary)))
        kind = "techreport" if c.is_report else "misc"
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        entries.append(f"@{kind}{{{c.key},\n{body}\n}}\n")
    return "\n".join(entries)


_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%",
        "$": r"\$", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}"}
_TEX_SPECIAL = re.compile(r"[\\{}&%$#_~^]")


def _tex(text: str) -> str:
    """Text as a BibTeX value: LaTeX's special characters escaped, so braces stay balanced
    and a value cannot end its field."""
    return _TEX_SPECIAL.sub(lambda m: _TEX[m.group()], text)


def ris(items: Iterable[Cited]) -> str:
    """RIS records (RPRT for reports, GEN for the rest), lines ended by CR LF."""
    lines: list[str] = []
    for c in items:
        record = [("TY", "RPRT" if c.is_report else "GEN"), ("ID", c.key), ("TI", c.title)]
        record += [("AU", a) for a in c.authors]
        if c.year:
            record.append(("PY", str(c.year)))
        if c.publisher:
            record.append(("PB", c.publisher))
        if c.type_label:
            record.append(("M3", c.type_label))
        if c.language_label:
            record.append(("LA", c.language_label))
        record.append(("UR", c.url))
        if c.summary:
            record.append(("AB", c.summary))
        record.append(("ER", ""))
        lines += [f"{tag}  - {value}" for tag, value in record]
        lines.append("")
    return "\r\n".join(lines)


def csl_item(c: Cited) -> dict[str, object]:
    """One CSL-JSON item (the Citation Style Language's data format)."""
    item: dict[str, object] = {
        "id": c.key, "type": "report" if c.is_report else "document", "title": c.title}
    if c.authors:
        item["author"] = [{"literal": a} for a in c.authors]
    if c.year:
        item["issued"] = {"date-parts": [[c.year]]}
    if c.publisher:
        item["publisher"] = c.publisher
    if c.type_label:
        item["genre"] = c.type_label
    if c.language:
        item["language"] = c.language
    item["URL"] = c.url
    if c.summary:
        item["abstract"] = c.summary
    return item


def csl_json(items: Iterable[Cited]) -> str:
    """A CSL-JSON array."""
    return json.dumps([csl_item(c) for c in items], ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = ("id", "title", "agencies", "year", "type", "language", "countries",
               "themes", *vocabularies.NAMES, "url", "summary")


def csv_text(items: Iterable[Cited]) -> str:
    """One row a document, through kb.csvsafe: no cell opens as a formula."""
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in items:
        writer.writerow([c.doc_id, c.title, "; ".join(c.authors), c.year or "",
                         c.type_label or "", c.language_label or "", "; ".join(c.countries),
                         "; ".join(c.themes),
                         *("; ".join(codes) for codes in
                           (c.terms or ((),) * len(vocabularies.NAMES))),
                         c.url, c.summary])
    return out.getvalue()


WRITERS: dict[str, Callable[[Iterable[Cited]], str]] = {
    "bib": bibtex, "ris": ris, "json": csl_json, "csv": csv_text}


# ---------------------------------------------------------------------------------------
# Exports of a search


# Results an export reads a search at a time (the search's largest page).
EXPORT_PAGE_SIZE = search.MAX_PER_PAGE


@dataclass(frozen=True)
class Exported:
    """The documents of a search, in result order, up to ``limit`` of ``total``."""

    documents: tuple[Document, ...]
    total: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.total > self.limit


def export_limit() -> int:
    """How many documents an export holds at most (EXPORT_LIMIT, within the search's
    depth bound)."""
    return max(1, min(int(current_app.config["EXPORT_LIMIT"]), search.MAX_RESULTS))


def export(user: object, args: Mapping[str, Sequence[str]]) -> Exported:
    """The documents the search these parameters describe finds for this user, in result
    order (page and page size are ignored), at most ``export_limit()``; QueryError or
    SearchTimeout as the search raises them."""
    limit = export_limit()
    wanted = {k: v for k, v in args.items() if k not in ("page", "per_page")}
    size = min(limit, EXPORT_PAGE_SIZE)
    req = replace(searching.parse_request(wanted, per_page=size), spelling=False)
    expand = searching.expand_wanted(args)
    found: dict[int, Document] = {}
    total = 0
    page = 1
    while len(found) < limit:
        result = searching.run(user, replace(req, page=page), expand=expand, snippets=0)
        total = result.result.total
        for f in result.found:
            found.setdefault(f.doc.doc_id, f.doc)
        if page * size >= min(total, limit) or not result.result.hits:
            break
        page += 1
    return Exported(documents=tuple(found.values())[:limit], total=total, limit=limit)
